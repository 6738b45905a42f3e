"""bridge_node: drive the exoskeleton's actuator from Python, serving the ros2_control contract.

What controller_manager + joint_state_broadcaster + force_torque_sensor_broadcaster +
forward_command_controller do on a ros2_control install, for a lab whose actuator has a
Python driver (opensourceleg: Dephy, T-Motor/CubeMars, Moteus) or no device at all
(``actuator: offline``, a simulated arm):

* publishes ``/joint_states`` (sensor_msgs/JointState, joint ``exo_elbow_joint``; the
  ``effort`` field is the torque written to the actuator after every check) and
  ``/interaction_torque`` (geometry_msgs/WrenchStamped, ``torque.z``) every tick;
* applies ``/exo_effort_controller/commands`` (std_msgs/Float64MultiArray, one value, N*m)
  through :class:`~exo_hardware.core.BridgeCore`, the last line of
  defence: command timeout -> zero, clamp, joint limits, thermal derating, e-stop
  (``/exo/estop``) and stop words (``/task_text``), one owner per topic;
* reports on ``/diagnostics`` (why the torque is zero, who else publishes, temperatures,
  rates, timeout latencies).

A lifecycle node: configure opens the device and zeroes it (homing), activate enables
torque mode, deactivate writes zero and idles the motor, cleanup closes the device. On
SIGINT/SIGTERM the last act is zero torque, then disable (``run_node``'s ``on_stop``). A
SIGKILL cannot be caught: the drive's own watchdog must stop the motor then (docs/safety.md).
The zero comes from the loop, so it is late by as much as a tick is late: on the
exoskeleton's computer give the bridge a real-time priority (``chrt -f 80 ...``) and a core
of its own; ``exo_bench_bridge`` measures the latency.
Pure logic is in :mod:`exo_hardware.core` (with params, ports and arm_model); this module
converts messages.
"""

import math
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import WrenchStamped
from opensourceleg.math import ThermalLimitException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, String

from exo_contract.graph import endpoint_node_name, topic_publishers
from exo_contract.inputs import subscribe_input
from exo_contract.parameters import ParamSpec, specs
from exo_contract.qos import (
    COMMAND_QOS,
    EFFORT_COMMAND_TOPIC,
    GRAPH_TASK_TEXT_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_PUB_QOS,
)
from exo_contract.ros_parameters import declare, refuse_while_configured, values
from exo_contract.runtime import HARDWARE_PRIORITY, run_node
from exo_contract.topics import ESTOP_TOPIC
from exo_hardware.core import (
    BridgeCore,
    BridgeOutput,
    FLAG_ACTUATOR_FAULT,
    FLAG_INACTIVE,
    FLAG_THERMAL_FAULT,
    ZEROING_FLAGS,
)
from exo_hardware.params import BridgeParams
from exo_hardware.ports import (
    ActuatorPort,
    configure_sdk_logging,
    make_actuator,
    make_interaction_sensor,
    SensorReadError,
)

DIAGNOSTICS_TOPIC = '/diagnostics'
DIAGNOSTIC_NAME = 'exo_bridge: actuator'
# Shortest interval between two event-driven diagnostics (a flapping reason), s.
MIN_EVENT_DIAGNOSTIC_INTERVAL = 0.02

# Not a BridgeParams field: read once, at start.
AUTOSTART = ParamSpec('autostart', bool, False, 'Configure (open, home) and activate (torque '
                      'on) at start without an operator: only for a dry run on the offline '
                      'actuator; a device is armed by exo_arm or ros2 lifecycle set.')


class BridgeNode(LifecycleNode):
    """Hardware bridge of the elbow exoskeleton (one actuator, one joint)."""

    def __init__(self, **kwargs) -> None:
        """Declare the parameters; the device is opened in on_configure."""
        super().__init__('bridge_node', **kwargs)
        # Values refused at start: configure fails with them (the node stays unconfigured).
        self._declare_errors: list[str] = declare(self, BridgeParams)
        self._declare_errors += declare(self, [AUTOSTART], read_only=True)
        # Parameters take effect at configure: refused while configured.
        refuse_while_configured(self, [s.name for s in specs(BridgeParams)],
                                lambda: self._core is not None, self._check_change)
        self.params: BridgeParams | None = None
        self._core: BridgeCore | None = None
        self._port: ActuatorPort | None = None
        self._sensor = None
        self._pubs = []
        self._subs = []
        self._command_sub = None
        self._matched_commanders = 0
        self._timers = []
        self._js_pub = self._wrench_pub = self._diag_pub = None
        self._js_msg = JointState()
        self._wrench_msg = WrenchStamped()
        self.last_output: BridgeOutput | None = None
        self._last_zeroing = None
        self._last_event_diag = -math.inf
        self._ticks = 0
        self._late_ticks = 0
        self._last_tick = None
        self._rate_mark = (time.monotonic(), 0, 0)
        self._rates = (0.0, 0.0)
        self._hardware_stopped = False

    def _read_params(self, overrides: dict | None = None) -> BridgeParams:
        return BridgeParams.from_mapping({**values(self, BridgeParams), **(overrides or {})})

    def _check_change(self, changes: dict) -> None:
        self._read_params(changes)

    # -------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate parameters, open and zero the actuator, create topics and timers."""
        log = self.get_logger()
        if self._declare_errors:
            log.error('configure failed: ' + '; '.join(self._declare_errors))
            return TransitionCallbackReturn.FAILURE
        try:
            params = self._read_params()
        except ValueError as exc:
            log.error(f'configure failed: invalid parameter: {exc}')
            return TransitionCallbackReturn.FAILURE
        try:
            sdk_log = configure_sdk_logging(params.sdk_log_dir)
            actuator = make_actuator(params)
            kind = type(actuator).__name__
            self._sensor = make_interaction_sensor(params, actuator)
            self._port = ActuatorPort(actuator, params.direction)
            self._port.open()
            offset = self._port.zero(params.homing, params.home_angle)
        except Exception as exc:  # noqa: BLE001 - any driver error fails the transition
            log.error(f'configure failed: cannot open actuator {params.actuator!r}: '
                      f'{type(exc).__name__}: {exc}')
            self._close_port()
            return TransitionCallbackReturn.FAILURE
        self.params = params
        self._core = BridgeCore(params, actuator.MOTOR_CONSTANTS, actuator.tag)
        self._js_msg = JointState(name=[params.joint_name], position=[0.0], velocity=[0.0],
                                  effort=[0.0])
        self._wrench_msg = WrenchStamped()
        self._wrench_msg.header.frame_id = 'exo_cuff'
        self._js_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
        self._pubs = [self._js_pub]
        if self._sensor is not None:
            self._wrench_pub = self.create_publisher(WrenchStamped, INTERACTION_TORQUE_TOPIC,
                                                     SENSOR_PUB_QOS)
            self._pubs.append(self._wrench_pub)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self._pubs.append(self._diag_pub)
        self._command_sub = self.create_subscription(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                                                     self._on_command, COMMAND_QOS)
        self._matched_commanders = 0
        # E-stop and stop words: live + latched readers, any publisher (exo_contract.inputs).
        self._subs = [
            self._command_sub,
            *subscribe_input(self, Bool, ESTOP_TOPIC, self._on_estop),
            *subscribe_input(self, String, GRAPH_TASK_TEXT_TOPIC, self._on_text),
        ]
        self._timers = [
            self.create_timer(1.0 / params.rate_hz, self._on_tick),
            self.create_timer(params.publisher_check_period, self._on_graph_check),
            self.create_timer(params.diagnostics_period, self._publish_diagnostics),
        ]
        self._hardware_stopped = False
        log.info(f'configured: actuator {params.actuator!r} ({kind}), '
                 f'homing {params.homing!r} at {params.home_angle} rad (offset '
                 f'{offset:.4f} rad motor), command timeout {params.command_timeout} s, clamp '
                 f'{params.torque_limit} N*m, {params.rate_hz} Hz; opensourceleg log in '
                 f'{sdk_log}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Torque mode at zero torque; clears latched faults (they re-trip if still there)."""
        try:
            self._port.enable()
        except Exception as exc:  # noqa: BLE001
            self.get_logger().error(f'activate failed: cannot enable torque mode: {exc}')
            return TransitionCallbackReturn.FAILURE
        self._core.clear_faults()
        self._core.active = True
        self.get_logger().info('active: torque output enabled (soft start from 0 N*m)')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Zero torque, then idle the motor."""
        self._core.active = False
        self._disable_port()
        self.get_logger().info('inactive: zero torque written, motor idle')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Close the device and release topics and timers."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Zero torque, disable, close, release."""
        self.stop_hardware()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Zero torque, disable, close, release."""
        self.stop_hardware()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def stop_hardware(self) -> None:
        """Last act of the node: zero torque, then disable and close the actuator."""
        if self._hardware_stopped:
            return
        self._hardware_stopped = True
        if self._core is not None:
            self._core.active = False
        if self._port is not None:
            self._disable_port()
            self._close_port()
            self.get_logger().info('stopped: zero torque written, actuator disabled and closed')
        if self._js_pub is not None and self.last_output is not None:
            try:  # tell the graph: zero at the actuator
                self._js_msg.effort[0] = 0.0
                self._js_msg.header.stamp = self.get_clock().now().to_msg()
                self._js_pub.publish(self._js_msg)
            except Exception:  # noqa: BLE001 - the context may already be down
                pass

    def _disable_port(self) -> None:
        try:
            self._port.disable()
        except Exception as exc:  # noqa: BLE001
            self.get_logger().error(f'could not disable the actuator cleanly: {exc}')

    def _close_port(self) -> None:
        if self._port is None:
            return
        try:
            self._port.close()
        except Exception as exc:  # noqa: BLE001
            self.get_logger().error(f'could not close the actuator cleanly: {exc}')
        self._port = None

    def _release(self) -> None:
        self._close_port()
        for timer in self._timers:
            self.destroy_timer(timer)
        for sub in self._subs:
            self.destroy_subscription(sub)
        for pub in self._pubs:
            self.destroy_publisher(pub)
        self._timers, self._subs, self._pubs = [], [], []
        self._command_sub = None
        self._js_pub = self._wrench_pub = self._diag_pub = None
        self._core = None
        self._sensor = None

    # -------------------------------------------------------------- inputs
    def _on_command(self, msg: Float64MultiArray) -> None:
        # DDS matching counts a new writer before its first sample arrives (the periodic
        # graph check, which names it, may come milliseconds later): an outside node's first
        # command already finds two publishers and is refused.
        if self._command_sub is not None \
                and self._command_sub.get_publisher_count() != self._matched_commanders:
            self._on_graph_check()
        if self._core is not None and not self._core.on_command(time.monotonic(), msg.data):
            self.get_logger().warning(
                f'rejected effort command {list(msg.data)[:4]!r} (need one finite value): '
                'zero torque', throttle_duration_sec=1.0)

    def _on_estop(self, msg: Bool) -> None:
        if self._core is None:
            return
        self._core.set_estop(msg.data)
        if msg.data:
            self.get_logger().warning('e-stop: zero torque until /exo/estop false')
        else:
            self.get_logger().info('e-stop released (also clears a stop word)')
        self._publish_diagnostics()

    def _on_text(self, msg: String) -> None:
        if self._core is not None and self._core.on_text(msg.data):
            self.get_logger().warning(f'stop word in {msg.data[:80]!r}: zero torque until '
                                      '/exo/estop false')
            self._publish_diagnostics()

    def _on_graph_check(self) -> None:
        core = self._core
        if core is None:
            return
        matched = self._command_sub.get_publisher_count() if self._command_sub else 0
        self._matched_commanders = matched
        commanders = sorted(topic_publishers(self, EFFORT_COMMAND_TOPIC, matched))
        me = self.get_fully_qualified_name()
        intruders = sorted({endpoint_node_name(i)
                            for topic in (JOINT_STATES_TOPIC, INTERACTION_TORQUE_TOPIC)
                            for i in self.get_publishers_info_by_topic(topic)} - {me})
        if len(commanders) > 1 and tuple(commanders) != core.command_publishers:
            self.get_logger().error(f'{len(commanders)} publishers on {EFFORT_COMMAND_TOPIC}: '
                                    f'{", ".join(commanders)}; zero torque until one is left')
        if intruders and tuple(intruders) != core.sensor_intruders:
            self.get_logger().error(f'other publishers of the hardware topics: '
                                    f'{", ".join(intruders)}; zero torque until they are gone')
        changed = (tuple(commanders) != core.command_publishers
                   or tuple(intruders) != core.sensor_intruders)
        core.set_command_publishers(commanders)
        core.set_sensor_intruders(intruders)
        now = time.monotonic()
        if changed and now - self._last_event_diag >= MIN_EVENT_DIAGNOSTIC_INTERVAL:
            # e.g. a writer DDS matched first is named once the ROS graph knows its node
            self._last_event_diag = now
            self._publish_diagnostics()

    # -------------------------------------------------------------- loop
    def _on_tick(self) -> None:
        core, port, p = self._core, self._port, self.params
        if core is None or port is None:
            return
        now = time.monotonic()
        if self._last_tick is not None and now - self._last_tick > 2.0 / p.rate_hz:
            self._late_ticks += 1
        self._last_tick = now
        self._ticks += 1
        q = qd = math.nan
        current, case = 0.0, None
        try:
            r = port.read()
            q, qd, current, case = r.q, r.qd, r.current_ma, r.case_temperature
        except SensorReadError as exc:
            self.get_logger().error(f'invalid joint reading ({exc}): zero torque',
                                    throttle_duration_sec=1.0)
        except ThermalLimitException as exc:  # the driver's own thermal model
            core.thermal_fault = str(exc) or 'driver thermal limit'
        except Exception as exc:  # noqa: BLE001 - communication/driver errors latch a fault
            core.set_actuator_fault(f'{type(exc).__name__}: {exc}')
        out = core.step(now, q, qd, current, case)
        try:
            port.write(out.torque)
        except Exception as exc:  # noqa: BLE001
            core.set_actuator_fault(f'write failed: {type(exc).__name__}: {exc}')
            self.get_logger().error(f'actuator write failed: {exc}', throttle_duration_sec=1.0)
        self.last_output = out

        stamp = self.get_clock().now().to_msg()
        js = self._js_msg
        js.header.stamp = stamp
        js.position[0] = q
        js.velocity[0] = qd
        js.effort[0] = out.torque
        self._js_pub.publish(js)
        if self._sensor is not None:
            try:
                tau_ext = p.interaction_sign * float(self._sensor.read())
            except Exception as exc:  # noqa: BLE001 - publish NaN: the controller faults
                tau_ext = math.nan
                self.get_logger().error(f'interaction sensor failed: {exc}',
                                        throttle_duration_sec=1.0)
            w = self._wrench_msg
            w.header.stamp = stamp
            w.wrench.torque.z = tau_ext
            self._wrench_pub.publish(w)

        zeroing = out.flags & ZEROING_FLAGS
        if zeroing != self._last_zeroing:
            self._last_zeroing = zeroing
            if now - self._last_event_diag >= MIN_EVENT_DIAGNOSTIC_INTERVAL:
                self._last_event_diag = now
                self._publish_diagnostics()

    # -------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        core, out = self._core, self.last_output
        if core is None or self._diag_pub is None:
            return
        now = time.monotonic()
        t0, ticks0, cmds0 = self._rate_mark
        if now - t0 >= 0.25:
            self._rates = ((self._ticks - ticks0) / (now - t0),
                           (core.commands_received - cmds0) / (now - t0))
            self._rate_mark = (now, self._ticks, core.commands_received)
        flags = out.flags if out is not None else FLAG_INACTIVE
        status = DiagnosticStatus(name=DIAGNOSTIC_NAME, hardware_id=self._hardware_id())
        if flags & (FLAG_THERMAL_FAULT | FLAG_ACTUATOR_FAULT):
            status.level = DiagnosticStatus.ERROR
        elif flags & ZEROING_FLAGS:
            status.level = DiagnosticStatus.WARN
        else:
            status.level = DiagnosticStatus.OK
        reasons = core.reasons(flags)
        status.message = ('zero torque: ' + reasons) if flags & ZEROING_FLAGS else reasons
        th = core.thermal

        def ms(x):
            return f'{1e3 * x:.3f}' if math.isfinite(x) else 'nan'

        values = {
            'applied_torque': f'{out.torque:.6f}' if out else '0.0',
            'requested_torque': f'{out.requested:.6f}' if out else 'nan',
            'envelope': f'{out.envelope:.3f}' if out else '0.0',
            'flags': str(flags),
            'reasons': reasons,
            'command_age_ms': ms(out.command_age) if out else 'nan',
            'command_publishers': ', '.join(core.command_publishers),
            'sensor_intruders': ', '.join(core.sensor_intruders),
            'estop': str(core.estop),
            'stop_word': str(core.stop_word),
            'thermal_scale': f'{out.thermal_scale:.4f}' if out else '1.0',
            'winding_temperature_model': f'{th.winding_temperature:.2f}',
            'case_temperature_model': f'{th.case_temperature:.2f}',
            'loop_rate_hz': f'{self._rates[0]:.1f}',
            'command_rate_hz': f'{self._rates[1]:.1f}',
            'ticks': str(self._ticks),
            'late_ticks': str(self._late_ticks),
            'commands_received': str(core.commands_received),
            'commands_rejected': str(core.commands_rejected),
            'command_timeouts': str(core.timeouts),
            'last_timeout_latency_ms': ms(core.last_timeout_latency),
            'max_timeout_latency_ms': ms(core.max_timeout_latency),
            'command_timeout_ms': ms(self.params.command_timeout),
            'torque_limit': str(self.params.torque_limit),
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)

    def _hardware_id(self) -> str:
        if self._port is None:
            return 'bridge_node'
        return f'{self.params.actuator}:{self._port.actuator.tag}'


def _autostart(node: BridgeNode) -> None:
    if not node.get_parameter('autostart').value:
        return
    if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
        # A bridge that cannot open its actuator exits (status 2) so that launchers see it.
        raise ValueError('bridge_node: configure failed (see the log above)')
    node.trigger_activate()


def main(args=None) -> None:
    """Run the bridge; with autostart it configures (opens, zeroes) and activates itself.

    On SIGINT/SIGTERM the spin loop ends and :meth:`BridgeNode.stop_hardware` writes zero
    torque, idles the motor and closes the device before the node is destroyed.
    """
    run_node(BridgeNode, args, on_start=_autostart, on_stop=BridgeNode.stop_hardware,
             realtime_priority=HARDWARE_PRIORITY)


if __name__ == '__main__':
    main()
