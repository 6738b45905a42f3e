"""Node tests (real rclpy, one process): e-stop topic/service/stop words/heartbeat, one owner.

The test peer streams joint states and a stiff reference far from the arm, so that the
controller assists with a clearly non-zero torque; each test then checks what the safety
inputs do to the command and to ControllerState. Deadlines are generous and only bound a
broken test; nothing here asserts timing.
"""

from itertools import pairwise
import math
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')
pytest.importorskip('std_srvs.srv')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import WrenchStamped  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Bool, Float64MultiArray, String  # noqa: E402
from std_srvs.srv import SetBool  # noqa: E402

from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    ESTOP_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_PUB_QOS,
    STATE_QOS,
    TASK_TEXT_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.task_text_relay import TaskTextRelay  # noqa: E402
from exo_contract.topics import ESTOP_TOPIC  # noqa: E402
from exo_impedance_controller.controller_node import (  # noqa: E402
    ControllerNode,
    DIAGNOSTICS_TOPIC,
)
from exo_interfaces.msg import ControllerState, ImpedanceReference  # noqa: E402

DEADLINE = 30.0  # s, generous; not a timing requirement
SPIN_TIMEOUT = 0.002  # s; the same on every spin_once (see test_controller_node.py)
COMPLIANT = 2.0  # stiffness_compliant default, N*m/rad
RECOVERY = 20  # fault_recovery_samples used here
ESTOP = ControllerState.FLAG_ESTOP
OWNERS = ControllerState.FLAG_MULTIPLE_PUBLISHERS
FAULT = ControllerState.FLAG_INPUT_FAULT


class Rig:
    """controller_node + a peer that plays the sensors, the policy and a lab e-stop device."""

    def __init__(self, ros_context, executor=SingleThreadedExecutor, **params):
        params.setdefault('fault_recovery_samples', RECOVERY)
        params.setdefault('publisher_check_period', 0.1)
        params.setdefault('reference_owner', 'test_peer')  # the peer plays the policy
        self.node = ControllerNode(context=ros_context, parameter_overrides=[
            Parameter(k, value=v) for k, v in params.items()])
        self.peer = rclpy.create_node('test_peer', context=ros_context)
        self.commands, self.states, self.diagnostics = [], [], []
        peer = self.peer
        peer.create_subscription(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                                 lambda m: self.commands.append(m.data[0]), COMMAND_QOS)
        peer.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, self.states.append,
                                 STATE_QOS)
        peer.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self.diagnostics.append,
                                 STATE_QOS)
        self.js_pub = peer.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
        self.wr_pub = peer.create_publisher(WrenchStamped, INTERACTION_TORQUE_TOPIC,
                                            SENSOR_PUB_QOS)
        self.ref_pub = peer.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                             COMMAND_QOS)
        self.estop_pub = peer.create_publisher(Bool, ESTOP_TOPIC, ESTOP_QOS)
        self.text_pub = peer.create_publisher(String, TASK_TEXT_TOPIC, TASK_TEXT_QOS)
        self.client = peer.create_client(SetBool, '/controller_node/estop')
        self.executor = executor(context=ros_context)
        self.executor.add_node(self.node)
        self.executor.add_node(peer)
        self.relay = TaskTextRelay(context=ros_context)  # the graph's reader of /task_text
        self.executor.add_node(self.relay)
        self.extra_nodes = []
        assert self.node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert self.node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        self.run_until(lambda: (self.js_pub.get_subscription_count()
                                and self.ref_pub.get_subscription_count()
                                and self.estop_pub.get_subscription_count()
                                and self.text_pub.get_subscription_count()
                                and self.relay._publisher.get_subscription_count()
                                and self.node._cmd_pub.get_subscription_count()
                                and self.node._state_pub.get_subscription_count()
                                and self.client.service_is_ready()),
                       'discovery', stream=False)

    def add_node(self, name, namespace=''):
        node = rclpy.create_node(name, namespace=namespace, context=self.peer.context)
        self.executor.add_node(node)
        self.extra_nodes.append(node)
        return node

    def joint_state(self):
        js = JointState()
        js.header.stamp = self.node.get_clock().now().to_msg()
        js.name = ['exo_elbow_joint']
        js.position = [0.5]
        js.velocity = [0.0]
        return js

    def tick(self, stream=True):
        if stream:
            ref = ImpedanceReference()
            ref.joint_names = ['exo_elbow_joint']
            ref.reference_angle = [0.6]  # assistance: 0.1 rad ahead of the arm
            ref.reference_velocity = [0.0]
            ref.stiffness = [300.0]
            self.ref_pub.publish(ref)
            self.wr_pub.publish(WrenchStamped())
            self.js_pub.publish(self.joint_state())
        self.executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        self.executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        time.sleep(0.001)  # a 1 kHz-like stream, not a busy loop

    def run_until(self, predicate, what, stream=True, each=None):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            if predicate():
                return
            if each is not None:
                each()
            self.tick(stream)
        raise AssertionError(f'not reached within {DEADLINE} s: {what}')

    def run_ticks(self, n, each=None):
        """Stream until ``n`` more controller states have arrived."""
        start = len(self.states)
        self.run_until(lambda: len(self.states) >= start + n, f'{n} ticks', each=each)
        return self.states[start:]

    def assisting(self):
        s = self.states[-1] if self.states else None
        return (s is not None and not s.safety_flags & (ESTOP | FAULT)
                and s.commanded_torque[0] > 1.0)

    def stopped_at_zero(self):
        s = self.states[-1] if self.states else None
        return (s is not None and s.safety_flags & ESTOP and s.commanded_torque[0] == 0.0
                and self.commands and self.commands[-1] == 0.0)

    def call(self, data):
        future = self.client.call_async(SetBool.Request(data=data))
        self.run_until(future.done, f'service reply to data: {data}')
        return future.result()

    def close(self):
        self.executor.shutdown()
        for node in self.extra_nodes:
            node.destroy_node()
        self.node.destroy_node()
        self.peer.destroy_node()


@pytest.fixture
def rig_factory(ros_context):
    rigs = []

    def make(**params):
        rig = Rig(ros_context, **params)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


def _events_executor():
    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:
        pytest.skip('rclpy has no EventsExecutor')
    return EventsExecutor


def _assert_stop_ramp(states):
    """From the first ESTOP tick on: |torque| never rises, stiffness compliant, ends at 0."""
    i = next(i for i, s in enumerate(states) if s.safety_flags & ESTOP)
    after = states[i:]
    torques = [abs(s.commanded_torque[0]) for s in after]
    assert all(b <= a for a, b in pairwise(torques))
    assert all(s.stiffness_bounded[0] <= COMPLIANT for s in after)
    assert torques[-1] == 0.0


def test_estop_topic_stops_until_released_and_a_task_text_does_not_resume(rig_factory):
    rig = rig_factory()
    rig.run_until(rig.assisting, 'assistance before the stop')
    n = len(rig.states)
    rig.estop_pub.publish(Bool(data=True))
    rig.run_until(rig.stopped_at_zero, 'zero torque after /exo/estop true')
    _assert_stop_ramp(rig.states[n - 1:])
    rig.text_pub.publish(String(data='lift a heavy box'))
    later = rig.run_ticks(200)
    assert all(s.safety_flags & ESTOP and s.commanded_torque[0] == 0.0 for s in later)
    assert rig.commands[-1] == 0.0
    # The service cannot override a stop still held on the topic; it says who holds it.
    reply = rig.call(False)
    assert not reply.success and '/test_peer' in reply.message
    rig.estop_pub.publish(Bool(data=False))
    rig.run_until(rig.assisting, 'assistance after /exo/estop false')


def test_estop_service_stops_until_resumed(rig_factory):
    rig = rig_factory()
    rig.run_until(rig.assisting, 'assistance before the stop')
    n = len(rig.states)
    reply = rig.call(True)
    assert reply.success and 'stopped' in reply.message
    rig.run_until(rig.stopped_at_zero, 'zero torque after the service stop')
    _assert_stop_ramp(rig.states[n - 1:])
    rig.text_pub.publish(String(data='wave hello'))
    later = rig.run_ticks(200)
    assert all(s.safety_flags & ESTOP and s.commanded_torque[0] == 0.0 for s in later)
    reply = rig.call(False)
    assert reply.success and reply.message == 'resumed'
    rig.run_until(rig.assisting, 'assistance after the service resume')
    stopped = [s for s in rig.states if s.safety_flags & ESTOP]
    assert stopped and all(s.stiffness_bounded[0] <= COMPLIANT for s in stopped)


@pytest.mark.parametrize('text', ['EMERGENCY STOP!', 'stop', 'Halt.', 'freeze', 'E-Stop'])
def test_stop_words_on_task_text_stop_until_explicit_resume(rig_factory, text):
    rig = rig_factory()
    rig.run_until(rig.assisting, 'assistance before the stop word')
    rig.text_pub.publish(String(data=text))
    rig.run_until(rig.stopped_at_zero, f'zero torque after {text!r}')
    rig.text_pub.publish(String(data='lift a heavy box'))
    later = rig.run_ticks(100)
    assert all(s.safety_flags & ESTOP and s.commanded_torque[0] == 0.0 for s in later)
    rig.estop_pub.publish(Bool(data=False))  # heartbeat off: a false is a resume command
    rig.run_until(rig.assisting, 'assistance after /exo/estop false')


def test_lost_heartbeat_stops_and_a_returning_heartbeat_does_not_resume(rig_factory):
    # A generous timeout with a heartbeat on every tick, so that a busy test machine does
    # not lose the heartbeat by itself.
    rig = rig_factory(estop_heartbeat_timeout=1.0)
    beat = {'on': True}

    def heartbeat():  # a device publishing its state periodically
        if beat['on']:
            rig.estop_pub.publish(Bool(data=False))

    rig.run_until(rig.assisting, 'assistance with a live heartbeat', each=heartbeat)
    alive = rig.run_ticks(300, each=heartbeat)
    assert not any(s.safety_flags & ESTOP for s in alive)
    beat['on'] = False  # the e-stop device goes silent
    rig.run_until(rig.stopped_at_zero, 'zero torque after the heartbeat is lost')
    beat['on'] = True  # it comes back, still reporting false: not a resume command
    later = rig.run_ticks(300, each=heartbeat)
    assert all(s.safety_flags & ESTOP and s.commanded_torque[0] == 0.0 for s in later)
    reply = rig.call(False)
    assert reply.success, reply.message
    rig.run_until(rig.assisting, 'assistance after the explicit resume', each=heartbeat)


def test_second_joint_states_publisher_is_refused_and_named(rig_factory):
    rig = rig_factory()
    rig.run_until(rig.assisting, 'assistance with one publisher')
    intruder = rig.add_node('intruder', namespace='/lab')
    intruder_pub = intruder.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)

    def intrude():  # plausible, finite data: only the second owner is wrong
        intruder_pub.publish(rig.joint_state())

    def refused():
        s = rig.states[-1]
        return s.safety_flags & OWNERS and s.commanded_torque[0] == 0.0

    n_diag = len(rig.diagnostics)
    rig.run_until(refused, 'zero torque with two /joint_states publishers', each=intrude)
    n_zero = len(rig.states) - 1  # the first refused tick at zero torque
    s = rig.states[-1]
    assert s.safety_flags & FAULT and s.stiffness_bounded[0] <= COMPLIANT
    rig.run_until(lambda: any('/lab/intruder' in st.message for d in rig.diagnostics[n_diag:]
                              for st in d.status), 'a diagnostic naming the publishers',
                  each=intrude)
    status = next(st for d in rig.diagnostics[n_diag:] for st in d.status
                  if '/lab/intruder' in st.message)
    assert status.level == status.ERROR
    assert '/test_peer' in status.message and JOINT_STATES_TOPIC in status.message
    values = {kv.key: kv.value for kv in status.values}
    assert values[JOINT_STATES_TOPIC] == '/lab/intruder, /test_peer'

    # Back to one publisher: resume after the recovery count of valid ticks. (The per-tick
    # publisher count may notice the departure before this test looks again, so the ticks
    # are counted from the first refused one.)
    intruder.destroy_publisher(intruder_pub)
    rig.run_until(rig.assisting, 'assistance after the intruder left')
    after = rig.states[n_zero:]
    last_refused = max(i for i, s in enumerate(after) if s.safety_flags & OWNERS)
    first_clean = next(i for i, s in enumerate(after)
                       if i > last_refused and not s.safety_flags & FAULT)
    assert first_clean - last_refused >= RECOVERY
    assert all(s.commanded_torque[0] == 0.0 for s in after[:last_refused + 1])
    assert math.isfinite(after[-1].commanded_torque[0])


def test_second_reference_publisher_makes_the_exo_compliant_and_is_named(rig_factory):
    """A second node on the reference topic: every reference refused, compliant, named."""
    rig = rig_factory()
    rig.run_until(rig.assisting, 'assistance with one publisher')
    intruder = rig.add_node('rogue_policy', namespace='/lab')
    intruder_pub = intruder.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                             COMMAND_QOS)

    def intrude():
        ref = ImpedanceReference()
        ref.joint_names = ['exo_elbow_joint']
        ref.reference_angle = [1.6]
        ref.reference_velocity = [0.0]
        ref.stiffness = [300.0]
        intruder_pub.publish(ref)

    def compliant():
        s = rig.states[-1]
        return (s.safety_flags & OWNERS and s.stiffness_bounded[0] <= COMPLIANT
                and s.error[0] == 0.0)

    n_diag = len(rig.diagnostics)
    rig.run_until(compliant, 'compliant with two reference publishers', each=intrude)
    n_first = len(rig.states) - 1
    s = rig.states[-1]
    assert s.reference_angle[0] == s.position[0]  # the reference follows the arm
    assert not s.safety_flags & FAULT  # the sensors are fine: no input fault
    rig.run_until(lambda: any('/lab/rogue_policy' in st.message
                              for d in rig.diagnostics[n_diag:] for st in d.status),
                  'a diagnostic naming the publishers', each=intrude)
    status = next(st for d in rig.diagnostics[n_diag:] for st in d.status
                  if '/lab/rogue_policy' in st.message)
    assert status.level == status.ERROR
    values = {kv.key: kv.value for kv in status.values}
    assert values[IMPEDANCE_REFERENCE_TOPIC] == '/lab/rogue_policy, /test_peer'

    # Back to one publisher: references taken again after the recovery count.
    intruder.destroy_publisher(intruder_pub)
    rig.run_until(lambda: rig.assisting() and rig.states[-1].stiffness_bounded[0] > COMPLIANT,
                  'assistance after the intruder left')
    after = rig.states[n_first:]
    last_refused = max(i for i, s in enumerate(after) if s.safety_flags & OWNERS)
    first_stiff = next(i for i, s in enumerate(after)
                       if i > last_refused and s.stiffness_bounded[0] > COMPLIANT)
    assert first_stiff - last_refused >= RECOVERY
    assert all(s.stiffness_bounded[0] <= COMPLIANT for s in after[:last_refused + 1])


def test_a_reference_is_taken_only_from_its_owner(rig_factory):
    """A sole reference publisher that is not reference_owner is refused and named.

    Then a node named as the owner, publishing alone: taken after the recovery count.
    """
    rig = rig_factory(reference_owner='policy_node')
    n_diag = len(rig.diagnostics)

    def refused_and_named():
        s = rig.states[-1] if rig.states else None
        return (s is not None and s.safety_flags & OWNERS and s.error[0] == 0.0
                and s.stiffness_bounded[0] <= COMPLIANT
                and any('accepted only from /policy_node' in st.message
                        and '/test_peer' in st.message and st.level == st.ERROR
                        for d in rig.diagnostics[n_diag:] for st in d.status))

    rig.run_until(refused_and_named, 'the peer refused as the reference owner')
    assert not rig.states[-1].safety_flags & FAULT  # the sensors are fine
    assert not any(s.error[0] != 0.0 for s in rig.states)  # never taken
    owner = rig.add_node('policy_node')
    owner_pub = owner.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                       COMMAND_QOS)
    rig.peer.destroy_publisher(rig.ref_pub)
    rig.ref_pub = owner_pub  # the stream now comes from the owner alone
    n = len(rig.states)
    rig.run_until(lambda: rig.assisting() and rig.states[-1].stiffness_bounded[0] > COMPLIANT,
                  'assistance from the owner')
    after = rig.states[n:]
    last_refused = max(i for i, s in enumerate(after) if s.safety_flags & OWNERS)
    first_taken = next(i for i, s in enumerate(after)
                       if i > last_refused and s.error[0] != 0.0)
    assert first_taken - last_refused >= RECOVERY


def test_safety_inputs_work_under_the_events_executor(rig_factory):
    """E-stop and stop words work on rclpy's EventsExecutor, which the nodes run on.

    That executor cannot pass MessageInfo to a callback (exo_contract.runtime).
    """
    rig = rig_factory(executor=_events_executor(), estop_heartbeat_timeout=0.0)
    rig.run_until(rig.assisting, 'assistance before the stop')
    rig.text_pub.publish(String(data='stop now'))
    rig.run_until(rig.stopped_at_zero, 'zero torque after the stop word')
    rig.estop_pub.publish(Bool(data=True))
    rig.estop_pub.publish(Bool(data=False))  # press and release: resumes
    rig.run_until(rig.assisting, 'assistance after the release')
