"""The connected device as the operator tools see it (rclpy glue of exo_arm, exo_prewear_check).

:class:`LifecycleClient` drives a lifecycle node through its standard services
(``/<node>/get_state``, ``/<node>/change_state``: what ``ros2 lifecycle get|set`` call) and
reads its parameters (``/<node>/get_parameters``). :class:`DeviceObserver` listens to what
the graph says about the device: ``/joint_states`` (the effort is the torque bridge_node
wrote to the actuator), ``/exo/controller_state``, the effort commands and bridge_node's and
controller_node's ``/diagnostics``. Nothing here decides; :mod:`exo_bringup.arming` and
:mod:`exo_bringup.prewear` do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import time
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import ParameterType
from rcl_interfaces.srv import GetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from exo_contract.qos import (
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    JOINT_STATES_TOPIC,
    STATE_QOS,
)
from exo_interfaces.msg import ControllerState

BRIDGE = 'bridge_node'
CONTROLLER = 'controller_node'
#: Name of bridge_node's status on /diagnostics (exo_hardware.bridge_node.DIAGNOSTIC_NAME).
BRIDGE_DIAGNOSTIC = 'exo_bridge: actuator'
#: Suffix of controller_node's e-stop status on /diagnostics ('/controller_node: e-stop').
CONTROLLER_ESTOP_DIAGNOSTIC = ': e-stop'
#: Primary lifecycle states by id (lifecycle_msgs/State).
STATE_LABELS = {
    State.PRIMARY_STATE_UNKNOWN: 'unknown', State.PRIMARY_STATE_UNCONFIGURED: 'unconfigured',
    State.PRIMARY_STATE_INACTIVE: 'inactive', State.PRIMARY_STATE_ACTIVE: 'active',
    State.PRIMARY_STATE_FINALIZED: 'finalized',
}
TRANSITIONS = {
    'configure': Transition.TRANSITION_CONFIGURE, 'activate': Transition.TRANSITION_ACTIVATE,
    'deactivate': Transition.TRANSITION_DEACTIVATE, 'cleanup': Transition.TRANSITION_CLEANUP,
}
#: (from, to) primary states of each transition.
TRANSITION_STATES = {'configure': ('unconfigured', 'inactive'),
                     'activate': ('inactive', 'active'),
                     'deactivate': ('active', 'inactive'),
                     'cleanup': ('inactive', 'unconfigured')}
#: Tries of a service call: a request sent just after discovery can go unanswered.
ATTEMPTS = 3
HISTORY = 20000  # samples kept per stream (20 s of 1 kHz joint states)


class DeviceError(RuntimeError):
    """The device did not answer as expected (message says what and what to do)."""


@dataclass(frozen=True)
class JointSample:
    """One /joint_states message: receipt (monotonic), stamp, angle, speed, effort."""

    received: float
    stamp: float
    q: float
    qd: float
    effort: float


@dataclass(frozen=True)
class ControllerSample:
    """One /exo/controller_state message (receipt time monotonic)."""

    received: float
    q: float
    commanded_torque: float
    flags: int


class LifecycleClient:
    """Lifecycle services and parameters of one node (``ros2 lifecycle`` from Python)."""

    def __init__(self, observer: 'DeviceObserver', node_name: str) -> None:
        self.observer = observer
        self.name = node_name
        node = observer.node
        self._get = node.create_client(GetState, f'/{node_name}/get_state')
        self._change = node.create_client(ChangeState, f'/{node_name}/change_state')
        self._params = node.create_client(GetParameters, f'/{node_name}/get_parameters')

    def wait(self, timeout: float) -> bool:
        """Whether the node's lifecycle services appear within ``timeout`` s."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._get.service_is_ready() and self._change.service_is_ready():
                return True
            self.observer.spin(0.05)
        return False

    def state(self, timeout: float = 10.0) -> str:
        """The node's primary state label ('unconfigured', 'inactive', 'active', ...)."""
        response = self.observer.call(self._get, GetState.Request(), timeout,
                                      f'{self.name} get_state', attempts=ATTEMPTS)
        return STATE_LABELS.get(response.current_state.id, response.current_state.label)

    def transition(self, name: str, timeout: float = 30.0) -> bool:
        """Run lifecycle transition ``name`` ('configure', ...); True when it succeeded.

        A request lost in discovery (no answer) is sent again only while the node is still
        in the state the transition starts from.
        """
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[name]
        start, goal = TRANSITION_STATES[name]
        for attempt in range(ATTEMPTS):
            try:
                return bool(self.observer.call(self._change, request, timeout,
                                               f'{self.name} {name}').success)
            except DeviceError:
                state = self.state()
                if state == goal:
                    return True
                if state != start or attempt == ATTEMPTS - 1:
                    raise
        return False

    def parameters(self, names: list[str], timeout: float = 10.0) -> dict[str, Any]:
        """Values of the node's parameters ``names`` (DeviceError if unavailable)."""
        request = GetParameters.Request(names=list(names))
        response = self.observer.call(self._params, request, timeout,
                                      f'{self.name} get_parameters', attempts=ATTEMPTS)
        out = {}
        for name, value in zip(names, response.values, strict=False):
            out[name] = _parameter_value(value)
        return out


def _parameter_value(value) -> Any:
    kind = value.type
    if kind == ParameterType.PARAMETER_BOOL:
        return value.bool_value
    if kind == ParameterType.PARAMETER_INTEGER:
        return value.integer_value
    if kind == ParameterType.PARAMETER_DOUBLE:
        return value.double_value
    if kind == ParameterType.PARAMETER_STRING:
        return value.string_value
    return None


def _stamp(t) -> float:
    return t.sec + t.nanosec * 1e-9


class DeviceObserver:
    """A node that watches the device's topics and calls its services.

    Args:
        node: an rclpy node of the caller (its context); the observer adds subscriptions.
        check_alive: called at every spin; raises to abort (e.g. a graph process died).

    """

    def __init__(self, node: Node, check_alive: Callable[[], None] | None = None) -> None:
        self.node = node
        self.executor = SingleThreadedExecutor(context=node.context)
        self.executor.add_node(node)
        self.check_alive = check_alive
        self.joints: deque[JointSample] = deque(maxlen=HISTORY)
        self.states: deque[ControllerSample] = deque(maxlen=HISTORY)
        self.commands: deque[tuple[float, float]] = deque(maxlen=HISTORY)
        self.bridge_diag: dict[str, str] = {}
        self.bridge_diag_count = 0
        self.bridge_diag_stamp = 0.0  # header stamp (bridge_node's clock) of the last one
        self.controller_estop: str | None = None  # message of controller_node's e-stop status
        deep = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2000,
                          reliability=ReliabilityPolicy.BEST_EFFORT)
        self._subs = [
            node.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint, deep),
            node.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, self._on_state,
                                     STATE_QOS),
            node.create_subscription(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                                     self._on_command, COMMAND_QOS),
            node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 50),
        ]

    # ------------------------------------------------------------ callbacks
    def _on_joint(self, msg: JointState) -> None:
        if not msg.position:
            return
        self.joints.append(JointSample(
            time.monotonic(), _stamp(msg.header.stamp), msg.position[0],
            msg.velocity[0] if msg.velocity else float('nan'),
            msg.effort[0] if msg.effort else float('nan')))

    def _on_state(self, msg: ControllerState) -> None:
        if msg.position and msg.commanded_torque:
            self.states.append(ControllerSample(time.monotonic(), msg.position[0],
                                                msg.commanded_torque[0], msg.safety_flags))

    def _on_command(self, msg: Float64MultiArray) -> None:
        if len(msg.data):
            self.commands.append((time.monotonic(), msg.data[0]))

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == BRIDGE_DIAGNOSTIC:
                self.bridge_diag = {kv.key: kv.value for kv in status.values}
                self.bridge_diag_count += 1
                self.bridge_diag_stamp = _stamp(msg.header.stamp)
            elif status.name.endswith(CONTROLLER_ESTOP_DIAGNOSTIC) and CONTROLLER in status.name:
                self.controller_estop = status.message

    # ------------------------------------------------------------ spinning
    def spin(self, seconds: float) -> None:
        """Process callbacks for ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            self.executor.spin_once(timeout_sec=min(0.005, max(end - time.monotonic(), 0.0)))
            if self.check_alive is not None:
                self.check_alive()
            if time.monotonic() >= end:
                return

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Spin until ``predicate()`` holds (True) or ``timeout`` s pass (False)."""
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= end:
                return False
            self.spin(0.01)
        return True

    def call(self, client, request, timeout: float, what: str, attempts: int = 1):
        """Call a service and wait for the response (DeviceError naming ``what``).

        ``attempts`` > 1 (idempotent requests only) sends the request again when a try
        gets no answer within ``timeout / attempts`` s.
        """
        if not client.wait_for_service(timeout_sec=min(timeout, 5.0)):
            raise DeviceError(f'{what}: service {client.srv_name} not available (is the '
                              'real graph running, on this ROS_DOMAIN_ID?)')
        for _ in range(attempts):
            future = client.call_async(request)
            end = time.monotonic() + timeout / attempts
            while not future.done() and time.monotonic() < end:
                self.spin(0.01)
            if future.done():
                break
            client.remove_pending_request(future)
        else:
            raise DeviceError(f'{what}: no answer within {timeout:.0f} s')
        result = future.result()
        if result is None:
            raise DeviceError(f'{what}: the call failed ({future.exception()})')
        return result

    def bridge_flags(self) -> int | None:
        """bridge_node's last flags on /diagnostics (None before any)."""
        try:
            return int(self.bridge_diag['flags'])
        except (KeyError, ValueError):
            return None

    def joints_after(self, t: float) -> list[JointSample]:
        """Joint states received after monotonic time ``t``."""
        return [s for s in self.joints if s.received > t]

    def joints_stamped_after(self, stamp: float) -> list[JointSample]:
        """Joint states stamped (bridge_node's clock) after ``stamp``, in stamp order."""
        return sorted((s for s in self.joints if s.stamp > stamp), key=lambda s: s.stamp)

    def states_after(self, t: float) -> list[ControllerSample]:
        """Controller states received after monotonic time ``t``."""
        return [s for s in self.states if s.received > t]

    def close(self) -> None:
        """Remove the subscriptions and the executor (the caller destroys its node)."""
        for sub in self._subs:
            self.node.destroy_subscription(sub)
        self._subs = []
        self.executor.remove_node(self.node)
        self.executor.shutdown()
