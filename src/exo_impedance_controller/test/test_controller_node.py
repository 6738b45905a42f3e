"""Node test with real rclpy in one process: finite bounded commands; bad params fail."""

import math
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')

from geometry_msgs.msg import WrenchStamped  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_PUB_QOS,
    STATE_QOS,
)
from exo_impedance_controller.controller_node import ControllerNode  # noqa: E402
from exo_interfaces.msg import ControllerState, ImpedanceReference  # noqa: E402

DEADLINE = 30.0  # s, generous; not a timing requirement
# Every spin_once of the test passes this same timeout. rclpy's Executor keeps the
# generator of ready callbacks from one wait only while spin_once is called with the
# same arguments; a call with other arguments drops it and waits again, and then runs
# only the first ready callback in executor node order (a set, so the order changes from
# run to run). Alternating timeouts therefore starved test_peer whenever controller_node
# came first: its /joint_states subscription is ready again on every iteration.
SPIN_TIMEOUT = 0.002  # s


def test_node_publishes_finite_bounded_commands(ros_context):
    node = ControllerNode(context=ros_context, parameter_overrides=[
        Parameter('torque_limit', value=4.0), Parameter('reference_owner', value='test_peer')])
    peer = rclpy.create_node('test_peer', context=ros_context)
    commands, states = [], []
    peer.create_subscription(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                             lambda m: commands.append(list(m.data)), COMMAND_QOS)
    peer.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, states.append,
                             STATE_QOS)
    js_pub = peer.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
    wr_pub = peer.create_publisher(WrenchStamped, INTERACTION_TORQUE_TOPIC, SENSOR_PUB_QOS)
    ref_pub = peer.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                    COMMAND_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(peer)
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        bad = [math.nan, math.inf, -math.inf, 1e9]
        deadline = time.monotonic() + DEADLINE
        # Let discovery match every endpoint before streaming (not a timing requirement).
        while time.monotonic() < deadline and not (
                js_pub.get_subscription_count() and ref_pub.get_subscription_count()
                and node._cmd_pub.get_subscription_count()
                and node._state_pub.get_subscription_count()):
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        i = 0
        hostile = True

        def clean_torque_seen():
            # After the hostile phase, a clean stream ends the input fault (every bad
            # sample latched it) and the torque rises again from zero.
            invalid = (ControllerState.FLAG_NONFINITE_INPUT
                       | ControllerState.FLAG_INPUT_FAULT)
            return any(not s.safety_flags & invalid
                       and s.commanded_torque[0] != 0.0 for s in states[n_hostile:])

        n_hostile = None
        while time.monotonic() < deadline:
            if hostile and len(commands) >= 60 and len(states) >= 60:
                hostile = False
                n_hostile = len(states)
            if not hostile and clean_torque_seen():
                break
            i += 1
            js = JointState()
            js.header.stamp = node.get_clock().now().to_msg()
            js.name = ['other_joint', 'exo_elbow_joint']
            q = bad[i % 4] if hostile and i % 7 == 0 else 0.5 + 0.01 * math.sin(i)
            js.position = [0.0, q]
            js.velocity = [0.0, 0.1]
            js.effort = [0.0, 0.0]
            ref = ImpedanceReference()
            ref.joint_names = ['exo_elbow_joint']
            ref.reference_angle = [0.6]  # assistance: 0.1 rad ahead
            ref.reference_velocity = [0.0]
            ref.stiffness = [bad[i % 4] if hostile and i % 5 == 0 else 300.0]
            wr = WrenchStamped()
            wr.wrench.torque.z = bad[i % 4] if hostile and i % 3 == 0 else 2.0
            ref_pub.publish(ref)
            wr_pub.publish(wr)
            js_pub.publish(js)
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
            time.sleep(0.001)  # a 1 kHz-like stream, not a busy loop
        assert len(commands) >= 60 and len(states) >= 60
        assert not hostile and clean_torque_seen()
        for c in commands:
            assert len(c) == 1 and math.isfinite(c[0]) and abs(c[0]) <= 4.0
        assert any(c[0] != 0.0 for c in commands)
        for s in states:
            assert s.joint_names == ['exo_elbow_joint']
            assert math.isfinite(s.commanded_torque[0]) and abs(s.commanded_torque[0]) <= 4.0
            assert 2.0 <= s.stiffness_bounded[0] <= 300.0
        assert any(s.safety_flags & ControllerState.FLAG_NONFINITE_INPUT for s in states)
        assert any(s.safety_flags & ControllerState.FLAG_INPUT_FAULT for s in states)

        # Deactivation publishes a zero torque.
        n = len(commands)
        assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and len(commands) == n:
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        assert commands[-1] == [0.0]
        assert node.trigger_cleanup() == TransitionCallbackReturn.SUCCESS
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()


@pytest.mark.parametrize('name, value, quoted', [
    ('target_damping', -2.0, '-2.0'),     # outside the ROS descriptor range
    ('stiffness_max', 1.0, 'stiffness_max must be > stiffness_min'),  # cross-field
    ('torque_limit', 0.0, 'torque_limit must be in (0, 30] N*m, got 0.0'),
    ('torque_limit', 1000.0, 'torque_limit must be in (0, 30] N*m, got 1000.0'),
])
def test_invalid_parameters_make_configure_fail(ros_context, name, value, quoted):
    node = ControllerNode(context=ros_context, parameter_overrides=[Parameter(name, value=value)])
    logged = []
    real_logger = node.get_logger()

    class _Spy:
        def __getattr__(self, attr):
            return getattr(real_logger, attr)

        def error(self, text, *a, **k):
            logged.append(text)
            return real_logger.error(text, *a, **k)

    node.get_logger = lambda: _Spy()
    try:
        assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
        assert any(quoted in text for text in logged), logged
        if name != 'target_damping':  # a bad override was already logged at construction
            assert any(repr(value) in text for text in logged)
    finally:
        node.destroy_node()


def test_invalid_runtime_parameter_change_is_rejected(ros_context):
    node = ControllerNode(context=ros_context)
    try:
        result = node.set_parameters([Parameter('stiffness_compliant', value=1000.0)])[0]
        assert not result.successful and '1000.0' in result.reason
    finally:
        node.destroy_node()


def test_lockstep_tick_never_runs_on_a_stamp_far_from_the_clock(ros_context):
    """Lockstep: a joint state stamped far from /clock cannot stretch the torque-rate limit.

    Under use_sim_time a sample stamped 1000 s ahead runs its tick on /clock, so the
    command moves by at most the allowance of the clock's own step.
    """
    from rosgraph_msgs.msg import Clock  # noqa: PLC0415
    node = ControllerNode(context=ros_context, parameter_overrides=[
        Parameter('use_sim_time', value=True), Parameter('stiffness_compliant', value=100.0),
        Parameter('stiffness_min', value=100.0), Parameter('reference_owner', value='test_peer')])
    peer = rclpy.create_node('test_peer', context=ros_context)
    states = []
    peer.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, states.append,
                             STATE_QOS)
    clock_pub = peer.create_publisher(Clock, '/clock', 10)
    js_pub = peer.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
    ref_pub = peer.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                    COMMAND_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(peer)

    def stamp(ns):
        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = divmod(ns, 1_000_000_000)
        return msg.clock

    def step(k, q, ahead_ns=0, velocity=0.0):
        ns = k * 1_000_000
        clock_pub.publish(Clock(clock=stamp(ns)))
        for _ in range(3):
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        ref = ImpedanceReference(joint_names=['exo_elbow_joint'], reference_angle=[1.5],
                                 reference_velocity=[0.0], stiffness=[100.0])
        ref.header.stamp = stamp(ns - 1_000_000)
        ref_pub.publish(ref)
        js = JointState(name=['exo_elbow_joint'], position=[q], velocity=[velocity],
                        effort=[0.0])
        js.header.stamp = stamp(ns + ahead_ns)
        n = len(states)
        js_pub.publish(js)
        deadline = time.monotonic() + DEADLINE
        while len(states) == n and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        return states[-1]

    try:
        assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
        assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and not (
                js_pub.get_subscription_count() and ref_pub.get_subscription_count()
                and node._state_pub.get_subscription_count()):
            executor.spin_once(timeout_sec=SPIN_TIMEOUT)
        k = 1
        while step(k, 1.45).commanded_torque[0] < 4.0 and k < 2000:  # 100 * 0.05 rad
            k += 1
        before = states[-1].commanded_torque[0]
        # One sample stamped 1000 s ahead, moving at 19 rad/s (plausible: the damping term
        # asks for about -19 N*m at once). Had the tick run on the sample's stamp, the
        # torque-rate limit would have allowed 1000 s worth of change in one tick.
        after = step(k + 1, 1.45, ahead_ns=1000 * 1_000_000_000,
                     velocity=19.0).commanded_torque[0]
        allowance = node._params.max_torque_rate * 0.002  # two ticks of /clock at most
        assert abs(after - before) <= allowance + 1e-6, (before, after)
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()
