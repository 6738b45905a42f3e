"""``exo_arm``: the operator arms the real device, after checks (and disarms it).

On the real graph (``real.launch.py``, ``exo_launch real``) bridge_node and controller_node
start unconfigured (:data:`exo_bringup.graph.OPERATOR_ARMED`): nothing is opened, homed or
enabled until an operator says so. ``exo_arm`` runs the lifecycle transitions an operator
could run by hand (``ros2 lifecycle set /bridge_node configure`` ...), in this order, and
stops at the first failed check with a message that says what to do:

1. bridge_node **configure**: opens the actuator and homes it (``homing: current``: the
   present posture becomes ``home_angle``, so the elbow must be held there; ``hardstop``:
   the SDK drives the joint to its stop, never with a wearer; ``none``: absolute encoder).
   The motor is not enabled: the bridge publishes /joint_states with zero effort.
2. device checks: joint states arrive, the angle is finite and within the joint range, no
   sensor, thermal or actuator fault, nobody else publishes the hardware topics or the
   effort command, no e-stop or stop word held.
3. controller_node **configure**; checks: it ticks on the bridge's joint states (same angle),
   without an input fault, a second sensor publisher or an e-stop.
4. bridge_node **activate**: torque mode at zero torque (no command yet).
5. controller_node **activate**; check: the bridge applies its commands (no zeroing reason
   left). Otherwise both are deactivated again.

``exo_arm --disarm`` deactivates controller_node (a last zero command) then bridge_node
(zero torque, motor idle). Exit status: 0 armed (or disarmed), 1 refused (reasons printed),
2 the nodes were not found. :func:`bridge_problems` and :func:`controller_problems` are the
checks (pure); the rest is rclpy glue.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Callable, Mapping, Sequence

from exo_bringup.device import (
    BRIDGE,
    CONTROLLER,
    ControllerSample,
    DeviceError,
    DeviceObserver,
    JointSample,
    LifecycleClient,
)
from exo_hardware.core import (
    FLAG_ACTUATOR_FAULT,
    FLAG_COMMAND_CONFLICT,
    FLAG_ESTOP,
    FLAG_SENSOR_CONFLICT,
    FLAG_SENSOR_FAULT,
    FLAG_STOP_WORD,
    FLAG_THERMAL_FAULT,
    ZEROING_FLAGS,
)
from exo_impedance_controller.safety import SafetyFlags

#: Bridge parameters the operator tools read (GetParameters).
BRIDGE_PARAMETERS = ('joint_name', 'homing', 'home_angle', 'joint_limit_lower',
                     'joint_limit_upper', 'command_timeout', 'rate_hz', 'torque_limit', 'actuator')
#: The controller's angle may differ from the bridge's latest by this much (one tick of
#: motion plus delivery), rad.
ANGLE_AGREEMENT = 0.05
#: Controller flags that forbid arming.
CONTROLLER_BLOCKING = (SafetyFlags.NONFINITE_INPUT | SafetyFlags.JOINT_STATE_STALE
                       | SafetyFlags.INPUT_FAULT | SafetyFlags.MULTIPLE_PUBLISHERS
                       | SafetyFlags.ESTOP)
RELEASE_HINT = ("release it where it was set (/exo/estop data: false), or the controller's "
                "service: ros2 service call /controller_node/estop std_srvs/srv/SetBool "
                "'{data: false}'")


def bridge_problems(diag: Mapping[str, str], sample: JointSample | None, lower: float,
                    upper: float) -> list[str]:
    """Why the device may not be armed, from bridge_node's diagnostics and a joint state.

    Args:
        diag: the values of bridge_node's /diagnostics status (``flags``, ``estop``, ...).
        sample: the latest /joint_states message of the bridge (None: none arrived).
        lower: lower joint limit, rad.
        upper: upper joint limit, rad.

    """
    problems = []
    if sample is None:
        problems.append('no /joint_states from bridge_node (is it configured?)')
    elif not (math.isfinite(sample.q) and lower <= sample.q <= upper):
        problems.append(f'the elbow reads {sample.q!r} rad, outside the joint range [{lower}, '
                        f'{upper}]: check the homing posture (home_angle) and the encoder')
    if not diag:
        problems.append('no /diagnostics from bridge_node yet')
        return problems
    try:
        flags = int(diag.get('flags', ''))
    except ValueError:
        return problems + [f'unreadable bridge flags {diag.get("flags")!r}']
    named = {
        FLAG_SENSOR_FAULT: 'invalid joint reading (non-finite or implausible)',
        FLAG_THERMAL_FAULT: 'thermal fault',
        FLAG_ACTUATOR_FAULT: 'actuator fault (communication or driver)',
        FLAG_SENSOR_CONFLICT: 'another node publishes the hardware topics: '
                              + diag.get('sensor_intruders', '?'),
        FLAG_COMMAND_CONFLICT: 'several publishers of the effort command: '
                               + diag.get('command_publishers', '?'),
    }
    for bit, text in named.items():
        if flags & bit:
            problems.append(f'bridge_node: {text}')
    if flags & FLAG_ESTOP or diag.get('estop') == 'True':
        problems.append(f'e-stop held on /exo/estop: {RELEASE_HINT}')
    if flags & FLAG_STOP_WORD or diag.get('stop_word') == 'True':
        problems.append('a stop word on /task_text holds the bridge stopped: release it with '
                        '/exo/estop data: false')
    return problems


def controller_problems(states: Sequence[ControllerSample], bridge_q: float | None,
                        estop_message: str | None = None) -> list[str]:
    """Why the controller may not be armed, from its latest /exo/controller_state.

    Args:
        states: controller states received since it was configured (latest last).
        bridge_q: the bridge's latest joint angle, rad (None: unknown).
        estop_message: controller_node's e-stop status on /diagnostics, if any.

    """
    if not states:
        return ['controller_node publishes no /exo/controller_state: it does not see the '
                'joint states (topic, QoS or ROS_DOMAIN_ID?)']
    last = states[-1]
    problems = []
    flags = SafetyFlags(last.flags)
    if flags & SafetyFlags.ESTOP:
        held = f' ({estop_message})' if estop_message else ''
        problems.append(f'controller_node is e-stopped{held}: {RELEASE_HINT}')
    for bit, text in ((SafetyFlags.NONFINITE_INPUT, 'non-finite input'),
                      (SafetyFlags.JOINT_STATE_STALE, 'joint states stale'),
                      (SafetyFlags.INPUT_FAULT, 'input fault latched'),
                      (SafetyFlags.MULTIPLE_PUBLISHERS, 'more than one publisher on a sensor '
                                                        'topic (see /diagnostics)')):
        if flags & bit:
            problems.append(f'controller_node: {text}')
    if not math.isfinite(last.q):
        problems.append(f'controller_node reads the angle {last.q!r}')
    elif bridge_q is not None and abs(last.q - bridge_q) > ANGLE_AGREEMENT:
        problems.append(f'controller_node reads {last.q:.3f} rad where bridge_node publishes '
                        f'{bridge_q:.3f} rad: another joint state source?')
    return problems


def homing_notice(params: Mapping[str, object]) -> str:
    """What bridge_node's configure will do to the device, for the operator."""
    homing, home = params.get('homing'), params.get('home_angle')
    if homing == 'current':
        deg = math.degrees(float(home))
        return (f"bridge_node homes the actuator (homing 'current'): the elbow's present "
                f'posture becomes {home} rad ({deg:.0f} deg). Hold the exoskeleton elbow at '
                f'{home} rad while it is configured.')
    if homing == 'hardstop':
        return ("bridge_node homes the actuator with homing 'hardstop': the motor DRIVES the "
                'joint to its stop. Nobody may wear the device; keep clear of the link.')
    return (f'bridge_node opens the actuator (homing {homing!r}: no zeroing, absolute '
            'encoder).')


class Arming:
    """Arm or disarm the device through the lifecycle services, with the checks above.

    Args:
        observer: the device as seen from the graph.
        say: prints a line for the operator.
        timeout: seconds allowed for each wait (services, samples, checks).

    """

    def __init__(self, observer: DeviceObserver, say: Callable[[str], None] = print,
                 timeout: float = 10.0) -> None:
        self.obs = observer
        self.say = say
        self.timeout = timeout
        self.bridge = LifecycleClient(observer, BRIDGE)
        self.controller = LifecycleClient(observer, CONTROLLER)
        self.params: dict[str, object] = {}

    def find(self) -> None:
        """Wait for both nodes' lifecycle services and read the bridge's parameters."""
        for client in (self.bridge, self.controller):
            if not client.wait(self.timeout):
                raise DeviceError(f'{client.name} not found (no /{client.name}/change_state '
                                  'service): start the real graph (exo_launch real / '
                                  'ros2 launch exo_bringup real.launch.py) on this '
                                  'ROS_DOMAIN_ID')
        self.params = self.bridge.parameters(list(BRIDGE_PARAMETERS))

    def states(self) -> tuple[str, str]:
        """(bridge_node state, controller_node state)."""
        return self.bridge.state(), self.controller.state()

    def _fresh_bridge(self, since: float, count: int) -> list[str]:
        joints = self.obs.joints_after(since)
        if self.obs.bridge_diag_count <= count:
            return ['no /diagnostics from bridge_node yet']
        return bridge_problems(self.obs.bridge_diag, joints[-1] if joints else None,
                               float(self.params['joint_limit_lower']),
                               float(self.params['joint_limit_upper']))

    def _wait_clear(self, problems: Callable[[], list[str]]) -> list[str]:
        found: list[str] = []

        def clear() -> bool:
            found[:] = problems()
            return not found

        self.obs.wait_for(clear, self.timeout)
        return found

    def check_bridge(self) -> list[str]:
        """Device checks on fresh bridge data (waits up to the timeout for them to pass)."""
        since, count = time.monotonic(), self.obs.bridge_diag_count
        return self._wait_clear(lambda: self._fresh_bridge(since, count))

    def check_controller(self) -> list[str]:
        """Controller checks on fresh controller states."""
        since = time.monotonic()

        def problems() -> list[str]:
            joints = self.obs.joints_after(since)
            return controller_problems(self.obs.states_after(since),
                                       joints[-1].q if joints else None,
                                       self.obs.controller_estop)
        return self._wait_clear(problems)

    def check_armed(self) -> list[str]:
        """The bridge applies controller_node's commands: no zeroing reason, one commander."""
        since, count = time.monotonic(), self.obs.bridge_diag_count

        def problems() -> list[str]:
            diag = self.obs.bridge_diag
            out = []
            if self.obs.bridge_diag_count <= count:
                return ['no /diagnostics from bridge_node since activation']
            flags = int(diag.get('flags', ZEROING_FLAGS))
            if flags & ZEROING_FLAGS:
                out.append(f'bridge_node still gives zero torque: {diag.get("reasons")}')
            if diag.get('command_publishers') != f'/{CONTROLLER}':
                out.append('effort command publishers: '
                           f'{diag.get("command_publishers")!r} (expected /{CONTROLLER})')
            states = self.obs.states_after(since)
            if not states or states[-1].flags & SafetyFlags.INACTIVE:
                out.append('controller_node output not active')
            return out
        return self._wait_clear(problems)

    def _transition(self, client: LifecycleClient, name: str, why: str) -> list[str]:
        self.say(f'{client.name}: {name}')
        if client.transition(name, timeout=max(self.timeout, 30.0)):
            return []
        return [f'{client.name} {name} failed: {why} (its log says why)']

    def arm(self, confirm: Callable[[str], bool] = lambda text: True) -> list[str]:
        """Arm both nodes in order after the checks; returns the reasons of a refusal."""
        bridge_state, controller_state = self.states()
        self.say(f'bridge_node {bridge_state}, controller_node {controller_state}')
        if controller_state == 'active' and bridge_state != 'active':
            problems = self._transition(self.controller, 'deactivate', 'cannot deactivate')
            if problems:
                return problems
            controller_state = 'inactive'
        if bridge_state == 'unconfigured':
            notice = homing_notice(self.params)
            if not confirm(notice):
                return ['not confirmed by the operator: nothing was configured']
            problems = self._transition(self.bridge, 'configure',
                                        'the actuator could not be opened or homed')
            if problems:
                return problems
            bridge_state = 'inactive'
        elif bridge_state not in ('inactive', 'active'):
            return [f'bridge_node is {bridge_state}: restart the graph']
        problems = self.check_bridge()
        if problems:
            return problems + [f'bridge_node left {bridge_state}'
                               + (' (motor not enabled)' if bridge_state == 'inactive' else '')]
        if controller_state == 'unconfigured':
            problems = self._transition(self.controller, 'configure', 'invalid parameters?')
            if problems:
                return problems
            controller_state = 'inactive'
        elif controller_state not in ('inactive', 'active'):
            return [f'controller_node is {controller_state}: restart the graph']
        problems = self.check_controller()
        if problems:
            return problems + [f'controller_node left {controller_state}, bridge_node '
                               f'{bridge_state}']
        if bridge_state == 'inactive':
            problems = self._transition(self.bridge, 'activate', 'cannot enable torque mode')
            if problems:
                return problems
        if controller_state == 'inactive':
            problems = self._transition(self.controller, 'activate', 'cannot activate')
            if problems:
                self.disarm()
                return problems
        problems = self.check_armed()
        if problems:
            self.disarm()
            return problems + ['disarmed again']
        return []

    def disarm(self) -> list[str]:
        """Deactivate controller_node (a last zero command), then bridge_node (motor idle)."""
        problems = []
        for client in (self.controller, self.bridge):
            if client.state() == 'active':
                problems += self._transition(client, 'deactivate', 'cannot deactivate')
        return problems


def _ask(text: str) -> bool:
    print(text, flush=True)
    try:
        return input('Continue? [y/N] ').strip().lower() in ('y', 'yes')
    except EOFError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_arm``."""
    parser = argparse.ArgumentParser(
        prog='exo_arm', description='Arm the real exoskeleton (bridge_node then '
        'controller_node: configure = homing, activate = torque) after checks, or disarm it.')
    parser.add_argument('--disarm', action='store_true',
                        help='deactivate controller_node then bridge_node (zero torque, '
                             'motor idle)')
    parser.add_argument('--yes', action='store_true',
                        help='do not ask before homing (the notice is still printed)')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds allowed for each wait (default 10)')
    opts = parser.parse_args(argv)
    if not opts.disarm and not opts.yes and not sys.stdin.isatty():
        parser.error('no terminal to confirm the homing posture: pass --yes')
    import rclpy
    rclpy.init()
    node = rclpy.create_node('exo_arm')
    observer = DeviceObserver(node)
    try:
        arming = Arming(observer, timeout=opts.timeout)
        arming.find()
        if opts.disarm:
            problems = arming.disarm()
            done = 'disarmed: zero torque, motor idle'
        else:
            confirm = (lambda text: print(text, flush=True) or True) if opts.yes else _ask
            problems = arming.arm(confirm)
            done = 'ARMED: controller_node drives the actuator through bridge_node'
    except DeviceError as exc:
        print(f'exo_arm: {exc}', file=sys.stderr)
        return 2
    finally:
        observer.close()
        node.destroy_node()
        rclpy.try_shutdown()
    if problems:
        print('exo_arm: REFUSED:\n  - ' + '\n  - '.join(problems), file=sys.stderr)
        return 1
    print(f'exo_arm: {done}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
