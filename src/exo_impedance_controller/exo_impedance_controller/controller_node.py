"""Lifecycle node of the variable impedance controller: messages <-> ImpedanceControllerCore.

Subscribes /joint_states (sensor_msgs/JointState), /interaction_torque
(geometry_msgs/WrenchStamped, torque.z) and /exo/impedance_reference
(exo_interfaces/ImpedanceReference); publishes the effort command
(std_msgs/Float64MultiArray, one element) and exo_interfaces/ControllerState. Each joint
state triggers one control tick; a watchdog timer publishes zero torque when joint
states stop. All physics, math and safety logic live in the core (core.py).
"""

from dataclasses import fields
import math
import time

from builtin_interfaces.msg import Time
from geometry_msgs.msg import WrenchStamped
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from exo_contract.qos import (
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_SUB_QOS,
    STATE_QOS,
)
from exo_contract.runtime import run_node
from exo_impedance_controller.core import ControlOutput, ImpedanceControllerCore
from exo_impedance_controller.params import ControllerParams
from exo_interfaces.msg import ControllerState, ImpedanceReference

WATCHDOG_PERIOD = 0.005  # s (200 Hz)

# Every ROS parameter of the node, declared in one place: name -> (description, range).
# Ranges are coarse sanity bounds enforced by ROS; ControllerParams does the exact checks
# (strict inequalities, cross-field constraints) in on_configure.
PARAMETER_DESCRIPTIONS = {
    'joint_name': ('Name of the controlled joint in /joint_states and the reference.', None),
    'target_inertia': ('Target inertia M of eq. 7, kg*m^2, > 0.', (0.0, 100.0)),
    'target_damping': ('Target damping D of eq. 7, N*m*s/rad, > 0.', (0.0, 1.0e4)),
    'stiffness_min': ('Floor K_min of the bounded stiffness, N*m/rad, > 0.', (0.0, 1.0e5)),
    'stiffness_max': ('Ceiling of the bounded stiffness, N*m/rad, > stiffness_min.',
                      (0.0, 1.0e5)),
    'stiffness_compliant': ('Stiffness a stale reference ramps down to, N*m/rad, in '
                            '[stiffness_min, stiffness_max].', (0.0, 1.0e5)),
    'stiffness_ramp_down_time': ('Duration of the ramp to stiffness_compliant, s, >= 0.',
                                 (0.0, 60.0)),
    'torque_limit': ('Saturation of the commanded torque, N*m, > 0.', (0.0, 1.0e3)),
    'joint_limit_lower': ('Lower joint limit, rad.', (-2.0 * math.pi, 2.0 * math.pi)),
    'joint_limit_upper': ('Upper joint limit, rad, > joint_limit_lower.',
                          (-2.0 * math.pi, 2.0 * math.pi)),
    'joint_limit_margin': ('Reference is clamped into [lower + margin, upper - margin], '
                           'rad, >= 0.', (0.0, math.pi)),
    'exo_inertia': ('Inertia M(q) of the exo link about the joint, kg*m^2, > 0.',
                    (0.0, 100.0)),
    'exo_gravity_sin': ('g(q) = exo_gravity_sin*sin(q) + exo_gravity_cos*cos(q), N*m.', None),
    'exo_gravity_cos': ('See exo_gravity_sin, N*m.', None),
    'reference_timeout': ('Reference older than this is stale, s, > 0.', (0.0, 10.0)),
    'joint_state_timeout': ('Joint state older than this gives zero torque, s, > 0.',
                            (0.0, 10.0)),
    'interaction_timeout': ('Interaction torque older than this counts as 0, s, > 0.',
                            (0.0, 10.0)),
    'max_tick': ('Upper clamp of the tick length h of the stiffness-rate bound, s, > 0.',
                 (0.0, 1.0)),
    'plausible_angle_margin': ('A joint angle outside [joint_limit_lower - m, '
                               'joint_limit_upper + m] is invalid (input fault), rad, >= 0.',
                               (0.0, math.pi)),
    'max_plausible_velocity': ('A joint velocity above this is invalid (input fault), '
                               'rad/s, > 0.', (0.0, 1.0e3)),
    'interaction_torque_range': ('Interaction torque sensor range: |tau_ext| beyond it is '
                                 'invalid (input fault), N*m, > 0.', (0.0, 1.0e4)),
    'max_interaction_torque_rate': ('Interaction torque changing faster than this since the '
                                    'last valid sample is invalid (input fault), N*m/s, > 0.',
                                    (0.0, 1.0e7)),
    'fault_recovery_samples': ('Consecutive valid control ticks that end an input fault '
                               '(zero torque meanwhile), integer >= 1.', (1, 1000000)),
    'max_reference_speed': ('Rate limit of the reference angle fed to the law, rad/s, > 0.',
                            (0.0, 1.0e3)),
    'stability_margin': ('Margin eps below the eq. 13 edge: K rises at most by '
                         'exp(2 h (1 - eps) D/M) per tick, in (0, 1).', (0.0, 1.0)),
    'max_torque_rate': ('Rate limit of the torque command (last layer), N*m/s, > 0; zero is '
                        'reached within torque_limit / max_torque_rate s.', (0.0, 1.0e6)),
}
AUTOSTART_DESCRIPTION = 'Configure and activate on start (no lifecycle manager needed).'


def _stamp_seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class ControllerNode(LifecycleNode):
    """Stability-bounded variable impedance controller of the elbow exoskeleton."""

    def __init__(self, **kwargs):
        """Declare the parameters; resources are created in on_configure."""
        super().__init__('controller_node', **kwargs)
        self._declare_errors = []
        defaults = ControllerParams()
        for f in fields(ControllerParams):
            description, bounds = PARAMETER_DESCRIPTIONS[f.name]
            descriptor = ParameterDescriptor(description=description)
            if bounds is not None and isinstance(getattr(defaults, f.name), int):
                descriptor.integer_range = [
                    IntegerRange(from_value=bounds[0], to_value=bounds[1], step=1)]
            elif bounds is not None:
                descriptor.floating_point_range = [
                    FloatingPointRange(from_value=bounds[0], to_value=bounds[1], step=0.0)]
            self._declare(f.name, getattr(defaults, f.name), descriptor)
        self._declare('autostart', True, ParameterDescriptor(description=AUTOSTART_DESCRIPTION))
        self.add_on_set_parameters_callback(self._validate_parameter_change)

        self._core = None
        self._params = None
        self._cmd_pub = None
        self._state_pub = None
        self._subs = []
        self._watchdog = None
        self._cmd_msg = Float64MultiArray(data=[0.0])
        self._state_msg = None
        self._joint_index = 0
        self._last_js_stamp = Time()
        self._warned_missing_joint = False

    def _declare(self, name, default, descriptor):
        """Declare one parameter; an invalid override is remembered and fails configure."""
        try:
            self.declare_parameter(name, default, descriptor)
        except ParameterException as exc:
            self._declare_errors.append(f'parameter {name!r}: {exc}')
            self.get_logger().error(f'invalid parameter {name!r}: {exc}')
            self.declare_parameter(name, default, descriptor, ignore_override=True)

    # ------------------------------------------------------------- parameters
    def _read_params(self, overrides=None) -> ControllerParams:
        values = {f.name: self.get_parameter(f.name).value for f in fields(ControllerParams)}
        if overrides:
            values.update(overrides)
        return ControllerParams.from_mapping(values)

    def _validate_parameter_change(self, parameters) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in PARAMETER_DESCRIPTIONS}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            self._read_params(changes)
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if self._core is not None:
            self.get_logger().info(
                f'parameters {sorted(changes)} take effect at the next configure')
        return SetParametersResult(successful=True)

    # -------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate parameters into ControllerParams and create publishers/subscriptions."""
        if self._declare_errors:
            self.get_logger().error('configure failed: ' + '; '.join(self._declare_errors))
            return TransitionCallbackReturn.FAILURE
        try:
            params = self._read_params()
        except ValueError as exc:
            self.get_logger().error(f'configure failed: invalid parameter: {exc}')
            return TransitionCallbackReturn.FAILURE
        self._params = params
        self._core = ImpedanceControllerCore(params)
        self._core.active = False
        self._core.reset(time.monotonic(), None)

        msg = ControllerState()
        msg.joint_names = [params.joint_name]
        for name in ('position', 'velocity', 'reference_angle', 'error', 'error_rate',
                     'stiffness_raw', 'stiffness_bounded', 'damping', 'inertia',
                     'commanded_torque', 'interaction_torque'):
            setattr(msg, name, [0.0])
        self._state_msg = msg

        self._cmd_pub = self.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                                              COMMAND_QOS)
        self._state_pub = self.create_publisher(ControllerState, CONTROLLER_STATE_TOPIC,
                                                STATE_QOS)
        self._subs = [
            self.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state,
                                     SENSOR_SUB_QOS),
            self.create_subscription(WrenchStamped, INTERACTION_TORQUE_TOPIC,
                                     self._on_interaction, SENSOR_SUB_QOS),
            self.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                     self._on_reference, COMMAND_QOS),
        ]
        self._watchdog = self.create_timer(WATCHDOG_PERIOD, self._on_watchdog)
        self.get_logger().info(f'configured: {params}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Enable torque output (the stiffness restarts at stiffness_compliant)."""
        self._core.active = True
        self.get_logger().info('active: torque output enabled')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish a zero torque, then disable output."""
        self._core.active = False
        self.publish_zero_torque()
        self.get_logger().info('inactive: zero torque published, output disabled')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release publishers, subscriptions and the watchdog timer."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish a zero torque (if configured) and release everything."""
        if self._core is not None:
            self._core.active = False
        self.publish_zero_torque()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish a zero torque and release everything."""
        self.publish_zero_torque()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self):
        if self._watchdog is not None:
            self.destroy_timer(self._watchdog)
            self._watchdog = None
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        for pub in (self._cmd_pub, self._state_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        self._cmd_pub = None
        self._state_pub = None
        self._core = None

    def publish_zero_torque(self):
        """Publish one zero effort command, if the command publisher exists."""
        if self._cmd_pub is None:
            return
        self._cmd_msg.data[0] = 0.0
        try:
            self._cmd_pub.publish(self._cmd_msg)
        except Exception as exc:  # noqa: BLE001 - context may already be shut down
            self.get_logger().warning(f'could not publish zero torque: {exc}')

    # -------------------------------------------------------------- callbacks
    def _on_joint_state(self, msg: JointState):
        core = self._core
        if core is None:
            return
        now = time.monotonic()
        name = self._params.joint_name
        names = msg.name
        i = self._joint_index
        if i >= len(names) or names[i] != name:
            try:
                i = names.index(name)
            except ValueError:
                if not self._warned_missing_joint:
                    self._warned_missing_joint = True
                    self.get_logger().warning(
                        f'joint {name!r} not in /joint_states names {list(names)!r}; '
                        'ignoring (zero torque once stale)')
                return
            self._joint_index = i
        q = msg.position[i] if i < len(msg.position) else math.nan
        qd = msg.velocity[i] if i < len(msg.velocity) else math.nan
        stamp = msg.header.stamp
        t = _stamp_seconds(stamp)
        if t == 0.0:  # unstamped publisher: fall back to the receipt time
            t = now
        self._last_js_stamp = stamp
        self._publish(core.update(t, q, qd, now), stamp)

    def _on_interaction(self, msg: WrenchStamped):
        if self._core is not None:
            # The header stamp times the rate-plausibility check (receipt times bunch up in
            # the executor); an unstamped publisher falls back to the receipt time.
            stamp = _stamp_seconds(msg.header.stamp)
            self._core.set_interaction(time.monotonic(), msg.wrench.torque.z,
                                       stamp if stamp != 0.0 else None)

    def _on_reference(self, msg: ImpedanceReference):
        core = self._core
        if core is None:
            return
        now = time.monotonic()
        try:
            i = msg.joint_names.index(self._params.joint_name)
        except ValueError:
            return
        q_d = msg.reference_angle[i] if i < len(msg.reference_angle) else math.nan
        k = msg.stiffness[i] if i < len(msg.stiffness) else math.nan
        qd_d = msg.reference_velocity[i] if i < len(msg.reference_velocity) else 0.0
        core.set_reference(now, q_d, qd_d, k)

    def _on_watchdog(self):
        core = self._core
        if core is None:
            return
        out = core.check_timeouts(time.monotonic())
        if out is not None:
            self._publish(out, self._last_js_stamp)

    def _publish(self, out: ControlOutput, js_stamp):
        if self._core.active:
            self._cmd_msg.data[0] = out.torque
            self._cmd_pub.publish(self._cmd_msg)
        m = self._state_msg
        m.header.stamp = self.get_clock().now().to_msg()
        m.joint_state_stamp = js_stamp
        m.tick_period = out.tick_period
        m.position[0] = out.q
        m.velocity[0] = out.qd
        m.reference_angle[0] = out.q_ref
        m.error[0] = out.e
        m.error_rate[0] = out.ed
        m.stiffness_raw[0] = out.k_raw
        m.stiffness_bounded[0] = out.k_bounded
        m.damping[0] = out.damping
        m.inertia[0] = out.inertia
        m.commanded_torque[0] = out.torque
        m.interaction_torque[0] = out.tau_ext
        m.lyapunov_value = out.lyapunov_value
        m.lyapunov_stiffness_term = out.lyapunov_stiffness_term
        m.safety_flags = out.flags
        self._state_pub.publish(m)


def _autostart(node: ControllerNode) -> None:
    if node.get_parameter('autostart').value:
        if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
        else:
            node.get_logger().error('autostart: configure failed; staying unconfigured')


def main(args=None):
    """Run the node; with autostart it configures and activates itself.

    On SIGINT/SIGTERM the spin loop ends, a last zero torque is published while the
    context is still up, then the node is destroyed (:func:`runtime.run_node`).
    """
    run_node(ControllerNode, args, on_start=_autostart,
             on_stop=ControllerNode.publish_zero_torque)

if __name__ == '__main__':
    main()
