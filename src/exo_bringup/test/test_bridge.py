"""Integration: bridge_node (offline actuator) + policy_node + controller_node as processes.

The real-exoskeleton graph of ``exo_launch real`` (hardware:=bridge) over Fast DDS, armed
as an operator arms it (:class:`exo_bringup.arming.Arming`, what ``exo_arm`` runs): the
bridge drives its simulated elbow actuator (opensourceleg ActuatorBase on an arm model with
a cuff spring to a virtual human) and serves the ros2_control topic contract. From the
outside, like a user: a task text closes the loop (finite torques within the clamp, the arm
moves toward the reference), a second publisher on the command topic and the e-stop give
zero torque, and killing controller_node gives zero torque at the actuator (the effort of
/joint_states is what the bridge writes to the actuator). Deadlines are generous (a loaded
2-core machine); nothing asserts on timing. The graph runs on a private ROS domain.
"""

import math
import os
import signal
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')
pytest.importorskip('opensourceleg')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Bool, Float64MultiArray  # noqa: E402

from exo_bringup.arming import Arming  # noqa: E402
from exo_bringup.device import DeviceObserver  # noqa: E402
from exo_bringup.launcher import GraphProcesses  # noqa: E402
from exo_bringup.readiness import missing_text_readers  # noqa: E402
from exo_bringup.send_task import publish_task_text  # noqa: E402
from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    ESTOP_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
    JOINT_STATES_TOPIC,
    STATE_QOS,
)
from exo_contract.tasks import TASKS_BY_ID  # noqa: E402
from exo_contract.topics import ESTOP_TOPIC  # noqa: E402
from exo_hardware.bridge_node import DIAGNOSTIC_NAME  # noqa: E402
from exo_hardware.core import (  # noqa: E402
    FLAG_COMMAND_CONFLICT,
    FLAG_ESTOP,
    FLAG_NO_COMMAND,
    FLAG_STOP_WORD,
    ZEROING_FLAGS,
)
from exo_hardware.params import BridgeParams  # noqa: E402
from exo_impedance_controller.params import ControllerParams  # noqa: E402
from exo_interfaces.msg import ControllerState, ImpedanceReference  # noqa: E402

READY_DEADLINE_S = 180.0
EVENT_DEADLINE_S = 10.0
CLAMP = BridgeParams().torque_limit
MAX_LEAD = ControllerParams().max_lead
HOME = BridgeParams().home_angle


def _stamp(t) -> float:
    return t.sec + t.nanosec * 1e-9


class _Observer:
    def __init__(self, context, graph):
        self.graph = graph
        self.allowed_dead: set[str] = set()
        self.node = rclpy.create_node('test_bridge_observer', context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.states: list[ControllerState] = []
        self.refs: list[ImpedanceReference] = []
        self.commands: list[float] = []
        self.joints: list[tuple[float, float, float]] = []  # (stamp, q, effort)
        self.diags: list[dict] = []
        deep = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2000,
                          reliability=ReliabilityPolicy.BEST_EFFORT)
        self.node.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC,
                                      self.states.append, STATE_QOS)
        self.node.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                      self.refs.append, COMMAND_QOS)
        self.node.create_subscription(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                                      lambda m: self.commands.extend(m.data), COMMAND_QOS)
        self.node.create_subscription(
            JointState, JOINT_STATES_TOPIC,
            lambda m: self.joints.append((_stamp(m.header.stamp), m.position[0],
                                          m.effort[0])), deep)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50)

    def _on_diag(self, msg):
        for status in msg.status:
            if status.name == DIAGNOSTIC_NAME:
                self.diags.append({kv.key: kv.value for kv in status.values})

    def flags(self) -> int:
        return int(self.diags[-1]['flags']) if self.diags else ZEROING_FLAGS

    def spin_until(self, predicate, deadline: float, what: str, logs) -> None:
        end = time.monotonic() + deadline
        while not predicate():
            assert time.monotonic() < end, f'timed out waiting for {what}: ' + (
                f'{self.diags[-1] if self.diags else "no bridge diagnostics"}\n' + logs())
            self.spin(0.05)

    def spin(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.005)
            dead = {n: c for n, c in self.graph.dead().items() if n not in self.allowed_dead}
            assert not dead, f'node exited: {dead}'

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.fixture
def bridge_graph(tmp_path, monkeypatch, ros_domain):
    domain = ros_domain
    monkeypatch.setenv('ROS_LOG_DIR', str(tmp_path / 'ros_log'))  # opensourceleg log too
    graph = GraphProcesses('real', {'hardware': 'bridge', 'policy_mode': 'oracle'},
                           log_dir=tmp_path / 'logs')
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    observer = _Observer(context, graph)
    graph.start()

    def logs() -> str:
        return '\n'.join(f'--- {p.name}\n{p.read_text()[-3000:]}'
                         for p in sorted((tmp_path / 'logs').glob('*.log')))

    try:
        # The real graph starts unarmed: the operator's arming (what exo_arm runs) first.
        arm_node = rclpy.create_node('test_bridge_arming', context=context)
        arm_observer = DeviceObserver(arm_node)
        try:
            arming = Arming(arm_observer, timeout=READY_DEADLINE_S)
            arming.find()
            arming.timeout = EVENT_DEADLINE_S
            problems = arming.arm()
        finally:
            arm_observer.close()
            arm_node.destroy_node()
        assert not problems, (problems, logs())
        yield graph, observer, logs
    finally:
        codes = graph.stop()
        observer.close()
        context.try_shutdown()
    assert codes['bridge_node'] in (0, -signal.SIGINT), (codes, logs())
    assert 'stopped: zero torque written, actuator disabled and closed' in logs()


def _assert_zero_from_now(observer, samples: int = 100) -> None:
    """The next ``samples`` joint states (stamped from now on) carry zero effort."""
    now = time.time()
    end = time.monotonic() + EVENT_DEADLINE_S
    while sum(1 for t, _, _ in observer.joints if t >= now) < samples:
        assert time.monotonic() < end, 'too few joint states'
        observer.spin(0.05)
    efforts = [e for t, _, e in observer.joints if t >= now]
    assert all(e == 0.0 for e in efforts), efforts[:20]


def _healthy(observer) -> bool:
    return (bool(observer.diags) and not observer.flags() & ZEROING_FLAGS
            and observer.diags[-1]['command_publishers'] == '/controller_node')


def test_hardware_argument_selects_who_serves_the_hardware_topics():
    def started(values):
        return [name for name, _ in GraphProcesses('real', values).commands]

    assert started({}) == ['bridge_node', 'policy_node', 'controller_node',
                           'task_text_relay']  # default
    assert started({'hardware': 'bridge'})[0] == 'bridge_node'
    # ros2_control: controller_manager comes from real.launch.py (or the robot's bringup).
    assert started({'hardware': 'ros2_control'}) == ['policy_node', 'controller_node',
                                                     'task_text_relay']
    with pytest.raises(ValueError, match='moteus'):
        GraphProcesses('real', {'hardware': 'moteus'})
    bridge = GraphProcesses('real', {}).commands[0][1]
    assert bridge[1:3] == ['-m', 'exo_hardware.bridge_node']
    assert any(arg.endswith('config/bridge.yaml') for arg in bridge)


@pytest.mark.integration
def test_bridge_closes_the_loop_and_zeroes_on_every_fault(bridge_graph):
    graph, obs, logs = bridge_graph
    # policy_node reads /task_text once its policy is loaded (compliant references before).
    obs.spin_until(lambda: obs.refs and _healthy(obs)
                   and not missing_text_readers(obs.node, ['policy_node']), READY_DEADLINE_S,
                   'policy references, policy_node reading /task_text and a healthy bridge',
                   logs)

    # --- closed loop: the oracle takes the task and assists. Its reference leads the
    # measured arm by at most max_lead (the controller refuses more), so the exo is moved by
    # a bounded assistance, never dragged to the task's far target.
    publish_task_text(obs.node, 'lift a heavy box')
    obs.spin_until(lambda: any(r.task_id == 'lift_heavy' for r in obs.refs),
                   EVENT_DEADLINE_S, 'the oracle to take the task', logs)
    obs.states.clear()
    obs.joints.clear()
    obs.commands.clear()
    task_end = time.monotonic() + TASKS_BY_ID['lift_heavy'].duration_s
    obs.spin_until(lambda: time.monotonic() > task_end, 3 * EVENT_DEADLINE_S,
                   'the task to run', logs)
    tracked = [s.reference_angle[0] - s.position[0] for s in obs.states]
    angles = [s.position[0] for s in obs.states]  # what the bridge measured, per tick
    efforts = [e for _, _, e in obs.joints]
    assert obs.commands and all(math.isfinite(c) and abs(c) <= CLAMP for c in obs.commands)
    assert efforts and all(math.isfinite(e) and abs(e) <= CLAMP for e in efforts)
    assert all(math.isfinite(q) for q in angles)
    assert tracked and max(abs(e) for e in tracked) <= MAX_LEAD + 1e-6, max(map(abs, tracked))
    assert max(angles) > HOME + 0.05, (max(angles), HOME)  # the assistance moved the exo

    # --- one owner per topic: a second command publisher -> zero, named in diagnostics.
    obs.spin_until(lambda: _healthy(obs), EVENT_DEADLINE_S, 'health after the task', logs)
    rogue = obs.node.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
    obs.spin_until(lambda: obs.flags() & FLAG_COMMAND_CONFLICT, EVENT_DEADLINE_S,
                   'the command conflict', logs)
    # DDS matching may flag the conflict before the ROS graph names the rogue's node.
    obs.spin_until(lambda: '/test_bridge_observer' in obs.diags[-1]['command_publishers'],
                   EVENT_DEADLINE_S, 'the rogue named in diagnostics', logs)
    assert '/controller_node' in obs.diags[-1]['reasons']
    _assert_zero_from_now(obs)
    obs.node.destroy_publisher(rogue)
    obs.spin_until(lambda: _healthy(obs), EVENT_DEADLINE_S, 'health after the rogue', logs)

    # --- e-stop: zero until released.
    estop = obs.node.create_publisher(Bool, ESTOP_TOPIC, ESTOP_QOS)
    estop.publish(Bool(data=True))
    obs.spin_until(lambda: obs.flags() & FLAG_ESTOP, EVENT_DEADLINE_S, 'the e-stop', logs)
    _assert_zero_from_now(obs)
    estop.publish(Bool(data=False))
    obs.spin_until(lambda: _healthy(obs), EVENT_DEADLINE_S, 'health after the e-stop', logs)

    # --- a stop word on /task_text: zero until /exo/estop false.
    publish_task_text(obs.node, 'stop!')
    obs.spin_until(lambda: obs.flags() & FLAG_STOP_WORD, EVENT_DEADLINE_S, 'the stop word',
                   logs)
    _assert_zero_from_now(obs)
    estop.publish(Bool(data=False))
    obs.spin_until(lambda: _healthy(obs), EVENT_DEADLINE_S, 'health after the stop word',
                   logs)

    # --- watchdog: controller_node dies -> zero torque at the actuator, and it stays zero.
    timeouts = int(obs.diags[-1]['command_timeouts'])
    obs.allowed_dead.add('controller_node')
    killed_at = time.time()
    os.killpg(graph.processes['controller_node'].pid, signal.SIGKILL)
    obs.joints.clear()
    obs.spin_until(lambda: any(e == 0.0 and t > killed_at for t, _, e in obs.joints),
                   EVENT_DEADLINE_S, 'zero torque after the controller died', logs)
    first_zero = next(t for t, _, e in obs.joints if e == 0.0 and t > killed_at)
    obs.spin_until(lambda: sum(1 for t, _, _ in obs.joints if t >= first_zero) >= 200,
                   EVENT_DEADLINE_S, 'joint states after the zero', logs)
    after = [e for t, _, e in obs.joints if t >= first_zero]
    assert all(e == 0.0 for e in after), after[:20]
    obs.spin_until(lambda: int(obs.diags[-1]['command_timeouts']) > timeouts,
                   EVENT_DEADLINE_S, 'the timeout in the diagnostics', logs)
    assert obs.flags() & FLAG_NO_COMMAND
