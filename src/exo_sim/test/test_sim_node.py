"""sim_node, the hardware side of the contract: one command owner, limits, lockstep.

Real rclpy nodes in one process on a private ROS domain: sim_node (the MuJoCo model, the
lexical task resolver) and small nodes that play the controller and an intruder on the
command topic. Nothing asserts on timing: waits are generous deadlines on conditions, and
lockstep behaviour is checked by counting steps and commands.
"""

import math

import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.clock import Clock as RosClock  # noqa: E402
from rclpy.clock import ClockType  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray, String  # noqa: E402

from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    EFFORT_COMMAND_TOPIC,
    GRAPH_TASK_TEXT_QOS,
    GRAPH_TASK_TEXT_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    JOINT_STATES_TOPIC,
    TASK_TEXT_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.task_text_relay import TaskTextRelay  # noqa: E402
from exo_interfaces.msg import ImpedanceReference  # noqa: E402
from exo_sim.params import SimNodeParams  # noqa: E402
from exo_sim.sim_node import command_value, SimNode  # noqa: E402

DEADLINE_S = 60.0  # generous: the machine is shared; only a hang makes a test fail
#: Every state and diagnostic the probe receives (a reliable, deep queue: none is lost).
PROBE_QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


class Graph:
    """sim_node plus helper nodes in one executor; ``probe`` records what sim_node sends."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.executor = SingleThreadedExecutor(context=context)
        self.nodes = []
        self.sim = None
        self.states: list[tuple[int, float]] = []  # (stamp ns, applied effort)
        self.clock: list[int] = []
        self.diagnostics: list[DiagnosticStatus] = []
        self.probe = self.add_node('probe')
        self.probe.create_subscription(
            JointState, JOINT_STATES_TOPIC,
            lambda m: self.states.append((_ns(m.header.stamp), m.effort[0])), PROBE_QOS)
        self.probe.create_subscription(Clock, '/clock',
                                       lambda m: self.clock.append(_ns(m.clock)), PROBE_QOS)
        self.probe.create_subscription(DiagnosticArray, '/diagnostics',
                                       lambda m: self.diagnostics.extend(m.status), PROBE_QOS)

    def add_node(self, name: str):
        node = rclpy.create_node(name, context=self.context)
        self.executor.add_node(node)
        self.nodes.append(node)
        return node

    def add_relay(self) -> TaskTextRelay:
        """task_text_relay, the graph's reader of /task_text (sim_node reads its copy)."""
        relay = TaskTextRelay(context=self.context)
        self.executor.add_node(relay)
        self.nodes.append(relay)
        return relay

    def remove_node(self, node) -> None:
        self.executor.remove_node(node)
        self.nodes.remove(node)
        node.destroy_node()

    def start_sim(self, **params) -> SimNode:
        params.setdefault('language_encoder', 'lexical')
        params.setdefault('command_timeout', 1.0)  # a loaded machine must not expire them
        overrides = [Parameter(k, value=v) for k, v in params.items()]
        self.sim = SimNode(context=self.context, parameter_overrides=overrides)
        self.executor.add_node(self.sim)
        self.nodes.append(self.sim)
        return self.sim

    def command_publisher(self, node, value):
        """Publish ``value`` (a list, or a float) on the command topic every 5 ms."""
        pub = node.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
        data = {'value': value}

        def send() -> None:
            v = data['value']
            pub.publish(Float64MultiArray(data=v if isinstance(v, list) else [v]))

        node.create_timer(0.005, send)
        return data

    def spin_until(self, condition, what: str) -> None:
        self.spinner(self.executor, condition, DEADLINE_S, what)

    def wait_efforts(self, value: float, count: int = 20) -> None:
        """Spin until the last ``count`` applied efforts all equal ``value``."""
        def settled() -> bool:
            tail = [e for _, e in self.states[-count:]]
            return len(tail) == count and all(e == value for e in tail)
        self.spin_until(settled, f'{count} states applying {value} N*m')

    def close(self) -> None:
        self.executor.shutdown()
        for node in list(self.nodes):
            node.destroy_node()


@pytest.fixture
def graph(ros_context, spin_until):
    g = Graph(ros_context)
    g.spinner = spin_until
    try:
        yield g
    finally:
        g.close()


def _command_status(statuses):
    return [s for s in statuses if s.name == 'exo_sim: effort command']


def _value(status: DiagnosticStatus, key: str) -> str:
    return next(kv.value for kv in status.values if kv.key == key)


def test_command_value_accepts_exactly_one_finite_number():
    assert command_value([2.5]) == 2.5
    for data in ([], [1.0, 2.0], [math.nan], [math.inf], [-math.inf]):
        assert command_value(data) is None


def test_parameters_reject_and_quote():
    for field, value in (('torque_limit', 0.0), ('clock_mode', 'fast'),
                         ('lockstep_timeout', 0.0), ('human_memory', '')):
        with pytest.raises(ValueError, match=field) as err:
            SimNodeParams(**{field: value})
        assert repr(value) in str(err.value)
    assert SimNodeParams().torque_limit == 25.0
    assert SimNodeParams().clock_mode == 'realtime'


def test_an_unreadable_human_memory_is_refused(graph, tmp_path):
    with pytest.raises(ValueError, match='memory file') as err:
        graph.start_sim(human_memory=str(tmp_path / 'missing.json'))
    assert 'missing.json' in str(err.value)


def test_torque_limit_above_the_motor_clip_is_refused(graph):
    with pytest.raises(ValueError, match=r'torque_limit must be in \(0, 30\] N\*m') as err:
        graph.start_sim(torque_limit=40.0)
    assert '40.0' in str(err.value)


def test_commands_are_clamped_to_the_torque_limit(graph):
    sim = graph.start_sim()
    controller = graph.add_node('controller_standin')
    command = graph.command_publisher(controller, 1000.0)
    graph.wait_efforts(25.0)
    command['value'] = -1000.0
    graph.wait_efforts(-25.0)
    assert max(abs(e) for _, e in graph.states) == 25.0
    assert sim.clamped_commands > 0
    graph.spin_until(lambda: any(int(_value(s, 'clamped_commands')) > 0
                                 for s in _command_status(graph.diagnostics)),
                     'a diagnostic counting clamped commands')


@pytest.mark.parametrize('bad', [[], [1.0, 2.0], [math.nan], [math.inf]])
def test_invalid_command_gives_zero_and_is_counted(graph, bad):
    sim = graph.start_sim()
    controller = graph.add_node('controller_standin')
    command = graph.command_publisher(controller, 5.0)
    graph.wait_efforts(5.0)
    command['value'] = bad
    graph.wait_efforts(0.0)  # not the last valid 5.0
    assert sim.invalid_commands > 0
    graph.spin_until(lambda: any(int(_value(s, 'invalid_commands')) > 0
                                 for s in _command_status(graph.diagnostics)),
                     'a diagnostic counting invalid commands')
    command['value'] = 5.0
    graph.wait_efforts(5.0)


def test_second_command_publisher_is_refused_and_named(graph):
    sim = graph.start_sim()
    controller = graph.add_node('controller_standin')
    graph.command_publisher(controller, 5.0)
    graph.wait_efforts(5.0)

    intruder = graph.add_node('intruder')
    graph.command_publisher(intruder, 1000.0)

    def named() -> bool:
        return any(s.level == DiagnosticStatus.ERROR
                   and '/intruder' in _value(s, 'publishers')
                   and '/controller_standin' in _value(s, 'publishers')
                   for s in _command_status(graph.diagnostics))
    graph.spin_until(named, 'an ERROR diagnostic naming both publishers')
    assert sim.refusing and sim.command_publishers == ['/controller_standin', '/intruder']
    # While both publish, nothing is applied (counted in states, not in time).
    graph.wait_efforts(0.0)
    seen = len(graph.states)
    graph.spin_until(lambda: len(graph.states) >= seen + 200, '200 more states')
    assert all(e == 0.0 for _, e in graph.states[seen:])
    assert sim.refused_commands > 0

    graph.remove_node(intruder)
    graph.spin_until(lambda: not sim.refusing, 'sim_node to accept commands again')
    graph.wait_efforts(5.0)  # the remaining publisher's command, never the intruder's
    assert sim.command_publishers == ['/controller_standin']


def test_lockstep_steps_once_per_answered_state(graph):
    sim = graph.start_sim(clock_mode='lockstep', lockstep_timeout=5.0)
    controller = graph.add_node('controller_standin')
    pub = controller.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
    answered: dict[int, float] = {}

    def answer(msg: JointState) -> None:
        # A distinct command per state, so that each step shows which command it applied.
        stamp = _ns(msg.header.stamp)
        answered[stamp] = (stamp // 1_000_000 % 17) * 0.5
        pub.publish(Float64MultiArray(data=[answered[stamp]]))

    controller.create_subscription(JointState, JOINT_STATES_TOPIC, answer, PROBE_QOS)
    graph.spin_until(lambda: len(graph.states) >= 300, '300 lockstep states')
    states = list(graph.states)
    stamps = [t for t, _ in states]
    # Simulated time advances by exactly one physics step per state ...
    assert all(t % 1_000_000 == 0 for t in stamps) and stamps == sorted(set(stamps))
    assert stamps[0] == 1_000_000 and stamps[-1] <= sim._steps * 1_000_000
    # ... every step applies the command that answered the state before it ...
    checked = [effort == answered[t - 1_000_000] for t, effort in states[1:]
               if t - 1_000_000 in answered]
    assert len(checked) > 250 and all(checked)
    # ... one step per command: only the very first step waited for the timeout.
    assert sim.lockstep_timeouts == 1
    assert sim._steps == sim.commands_received + sim.lockstep_timeouts
    # /clock carries the same simulated time as the states.
    graph.spin_until(lambda: graph.clock and graph.clock[-1] >= stamps[-1], '/clock')
    assert set(stamps) <= set(graph.clock)


def test_lockstep_without_answers_steps_after_the_bounded_wait_with_zero(graph):
    sim = graph.start_sim(clock_mode='lockstep', lockstep_timeout=0.01)
    graph.spin_until(lambda: len(graph.states) >= 20, '20 lockstep states')
    stamps = [t for t, _ in graph.states]
    assert all(b - a == 1_000_000 for a, b in zip(stamps, stamps[1:], strict=False))
    assert all(e == 0.0 for _, e in graph.states)
    assert sim.commands_received == 0 and sim.lockstep_timeouts == sim._steps


def test_lockstep_holds_the_last_command_for_command_timeout_then_zero(graph):
    """A controller that stops answering: its last command for command_timeout, then 0."""
    graph.start_sim(clock_mode='lockstep', lockstep_timeout=0.1, command_timeout=0.005)
    controller = graph.add_node('controller_standin')
    pub = controller.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
    answers = []

    def answer(msg: JointState) -> None:
        if len(answers) < 3:
            answers.append(_ns(msg.header.stamp))
            pub.publish(Float64MultiArray(data=[4.0]))

    controller.create_subscription(JointState, JOINT_STATES_TOPIC, answer, PROBE_QOS)
    graph.spin_until(lambda: len(answers) == 3 and graph.states[-1][0] > answers[-1]
                     + 10_000_000, '10 ms of simulated time after the last answer')
    after = [e for t, e in graph.states if t > answers[-1]]
    # The step answered last applies 4.0 at age 0; the steps taken on the timeout apply it
    # while its age in simulated time is within command_timeout (1..5 ms), then 0 N*m.
    assert after[:6] == [4.0] * 6
    assert after[6:] and all(e == 0.0 for e in after[6:])


def _answering_controller(graph):
    """A controller stand-in that answers every joint state with one command (1 N*m)."""
    controller = graph.add_node('controller_standin')
    pub = controller.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
    controller.create_subscription(
        JointState, JOINT_STATES_TOPIC,
        lambda _m: pub.publish(Float64MultiArray(data=[1.0])), PROBE_QOS)
    return controller


def test_lockstep_waits_for_the_policy_reference(graph):
    """Once the simulated time reaches the next reference's, the step waits for it."""
    sim = graph.start_sim(clock_mode='lockstep', lockstep_timeout=5.0)
    _answering_controller(graph)
    policy = graph.add_node('policy_standin')
    pub = policy.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS)
    due: list[int] = []  # reference times (ns) seen on /clock, not yet answered
    sent: list[tuple[int, int]] = []  # (reference stamp, latest state stamp when sent)

    def on_clock(msg: Clock) -> None:
        if _ns(msg.clock) % 10_000_000 == 0:
            due.append(_ns(msg.clock))

    def answer_late() -> None:
        # A slow policy: every reference goes out one 20 ms timer period late (wall).
        while due:
            t = due.pop(0)
            ref = ImpedanceReference(joint_names=['exo_elbow_joint'], reference_angle=[0.3],
                                     reference_velocity=[0.0], stiffness=[2.0])
            ref.header.stamp.sec, ref.header.stamp.nanosec = divmod(t, 1_000_000_000)
            sent.append((t, graph.states[-1][0] if graph.states else 0))
            pub.publish(ref)

    policy.create_subscription(Clock, '/clock', on_clock, PROBE_QOS)
    policy.create_timer(0.02, answer_late, clock=RosClock(clock_type=ClockType.STEADY_TIME))
    graph.spin_until(lambda: len(sent) >= 12, '12 references')
    # Once sim_node has seen a first reference (the policy's grid), the simulation held at
    # each later reference's time until it arrived, however late. The first reference can
    # reach sim_node a step or two after this stand-in's view of the states (messages in
    # flight on a loaded machine), so the grid is known from two periods later on.
    later = [(t, latest) for t, latest in sent if t > sent[0][1] + 20_000_000]
    assert len(later) >= 5 and all(latest <= t for t, latest in later), sent
    assert sim.reference_timeouts == 0 and sim.lockstep_timeouts == 1


def test_lockstep_stops_waiting_for_a_silent_policy(graph):
    sim = graph.start_sim(clock_mode='lockstep', lockstep_timeout=0.05)
    _answering_controller(graph)
    policy = graph.add_node('policy_standin')
    pub = policy.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS)
    graph.spin_until(lambda: len(graph.states) >= 5, '5 states')
    ref = ImpedanceReference(joint_names=['exo_elbow_joint'], reference_angle=[0.3],
                             reference_velocity=[0.0], stiffness=[2.0])
    ref.header.stamp.nanosec = graph.states[-1][0]
    pub.publish(ref)  # one reference, then silence (a dead policy_node)
    graph.spin_until(lambda: sim.reference_timeouts == 1, 'the wait for the next reference')
    steps = sim._steps
    graph.spin_until(lambda: sim._steps >= steps + 100, '100 more steps')
    assert sim.reference_timeouts == 1  # one bounded wait, then no more


def test_lockstep_new_text_starts_at_the_policy_task_start(graph):
    """The simulated human starts a new /task_text when policy_node took it (task_start)."""
    sim = graph.start_sim(clock_mode='lockstep', lockstep_timeout=5.0)
    _answering_controller(graph)
    started = []
    start_task = sim._start_task
    sim._start_task = lambda text: (started.append(sim._steps * 1_000_000), start_task(text))
    policy = graph.add_node('policy_standin')
    pub = policy.create_publisher(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS)
    text: list[str] = []
    taken: list[int] = []  # simulated time (ns) at which this stand-in took the text
    policy.create_subscription(String, GRAPH_TASK_TEXT_TOPIC, lambda m: text.append(m.data),
                               GRAPH_TASK_TEXT_QOS)

    def on_state(msg: JointState) -> None:
        t = _ns(msg.header.stamp)
        if t % 10_000_000:
            return  # a policy tick every 10 ms of simulated time, on the state of its stamp
        if text and not taken:
            # Take the text two ticks after it arrived: a slow policy.
            if len(text) < 3:
                text.append('')
            else:
                taken.append(t)
        ref = ImpedanceReference(joint_names=['exo_elbow_joint'], reference_angle=[0.3],
                                 reference_velocity=[0.0], stiffness=[2.0])
        ref.header.stamp = msg.header.stamp
        if taken:
            ref.task_start.sec, ref.task_start.nanosec = divmod(taken[0], 1_000_000_000)
        pub.publish(ref)

    policy.create_subscription(JointState, JOINT_STATES_TOPIC, on_state, PROBE_QOS)
    graph.spin_until(lambda: len(graph.states) >= 50, '50 states')
    graph.add_relay()
    sender = graph.add_node('operator')
    sender.create_publisher(String, TASK_TEXT_TOPIC, TASK_TEXT_QOS).publish(
        String(data='wave hello'))
    graph.spin_until(lambda: started, 'the text at sim_node')
    assert started == taken  # the same simulated time (ns), however late the policy
    assert sim.text_start_timeouts == 0


def test_lockstep_text_without_a_policy_starts_after_the_bounded_wait(graph):
    sim = graph.start_sim(clock_mode='lockstep', lockstep_timeout=0.2)
    _answering_controller(graph)
    graph.spin_until(lambda: len(graph.states) >= 20, '20 states')
    graph.add_relay()
    sender = graph.add_node('operator')
    sender.create_publisher(String, TASK_TEXT_TOPIC, TASK_TEXT_QOS).publish(
        String(data='wave hello'))
    graph.spin_until(lambda: sim.session.task is not None, 'the task started')
    assert sim.text_start_timeouts == 0  # no policy reference: nothing to wait for


def test_lockstep_repeats_the_clock_while_it_waits(graph):
    """A reader that lost the last /clock (best effort) still gets the awaited time."""
    graph.start_sim(clock_mode='lockstep', lockstep_timeout=1.0)
    graph.spin_until(lambda: len(set(graph.clock)) >= 2, 'two steps without any answer')
    first = graph.clock[0]
    assert graph.clock.count(first) >= 2  # repeated while waiting for the second step
