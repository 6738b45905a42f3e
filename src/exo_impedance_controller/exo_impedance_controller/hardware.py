"""Hardware side of the exoskeleton bridge: the last line of defence (pure core, no rclpy).

``bridge_node`` drives one elbow actuator from Python and serves the ros2_control topic
contract; everything it decides lives here and is tested with plain pytest:

* :class:`BridgeParams` -- typed, validated parameters (every field is a ROS parameter);
* :class:`BridgeCore` -- what torque may reach the arm: command timeout, torque clamp,
  joint limits, thermal derating (opensourceleg's :class:`~opensourceleg.math.ThermalModel`),
  e-stop and stop words, one owner per topic, latched faults, soft restart after a zero;
* :class:`ActuatorPort` -- what the bridge needs from any opensourceleg actuator
  (Dephy, T-Motor, Moteus, or the simulated one): open, zero/home, torque mode, read,
  write, disable; opensourceleg's safety decorators check every reading;
* :class:`ArmModel` and :class:`SimulatedElbowActuator` -- the offline actuator: an
  ``opensourceleg`` :class:`~opensourceleg.actuators.base.ActuatorBase` whose hardware is
  a simple arm model (inertia, damping, gravity, hard stops) tied by a cuff spring to a
  virtual human arm that follows a slow sinusoid, so that ``/interaction_torque`` is not
  trivial and the whole bridge runs end to end without a device.

Units: SI, REP-103 (rad, rad/s, N*m, flexion positive); motor currents in mA (the
opensourceleg convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
import importlib
import inspect
import math
import os
from pathlib import Path
import re
import sys
import time
from typing import Any, Callable, Mapping, Optional, Sequence

from opensourceleg.actuators.base import (
    ActuatorBase,
    CONTROL_MODE_CONFIGS,
    CONTROL_MODES,
    ControlModeConfig,
    MOTOR_CONSTANTS,
)
from opensourceleg.extras.safety import SafetyManager
from opensourceleg.extras.safety.safety import custom_criteria, is_within_range
from opensourceleg.logging.exceptions import ControlModeException
from opensourceleg.math import DataPacketCorruptionException, ThermalLimitException, ThermalModel

# The one stop-word recogniser of the graph: a short text on /task_text with a stop word
# ('stop', 'halt', 'emergency stop', ...) latches the bridge's stop like /exo/estop true.
from exo_contract.checks import (
    MAX_PLAUSIBLE_VELOCITY,
    PLAUSIBLE_ANGLE_MARGIN,
    plausible_joint_state,
)
from exo_contract.stop_words import is_stop_command

# --- Safety flags (bitmask in diagnostics) -----------------------------------------------
FLAG_INACTIVE = 1 << 0          # lifecycle not active: output disabled
FLAG_NO_COMMAND = 1 << 1        # no command yet, or the last one is older than the timeout
FLAG_ESTOP = 1 << 2             # /exo/estop is true
FLAG_STOP_WORD = 1 << 3         # a stop word on /task_text (until /exo/estop false)
FLAG_COMMAND_CONFLICT = 1 << 4  # more than one publisher on the command topic
FLAG_SENSOR_CONFLICT = 1 << 5   # someone else publishes /joint_states or /interaction_torque
FLAG_CLAMPED = 1 << 6           # command beyond the torque limit, clamped
FLAG_JOINT_LIMIT = 1 << 7       # torque pushing further past a joint limit removed
FLAG_THERMAL_DERATED = 1 << 8   # thermal scale < 1
FLAG_THERMAL_FAULT = 1 << 9     # hard thermal limit reached (latched)
FLAG_SENSOR_FAULT = 1 << 10     # invalid joint reading (non-finite, implausible)
FLAG_ACTUATOR_FAULT = 1 << 11   # the actuator raised (communication, driver fault; latched)
FLAG_INVALID_COMMAND = 1 << 12  # last command rejected (not one finite value)
FLAG_RAMPING = 1 << 13          # output envelope still rising after a zero (soft restart)

FLAG_NAMES = {
    FLAG_INACTIVE: 'inactive', FLAG_NO_COMMAND: 'no fresh command',
    FLAG_ESTOP: 'e-stop', FLAG_STOP_WORD: 'stop word', FLAG_COMMAND_CONFLICT:
    'several command publishers', FLAG_SENSOR_CONFLICT: 'another sensor publisher',
    FLAG_CLAMPED: 'clamped', FLAG_JOINT_LIMIT: 'joint limit', FLAG_THERMAL_DERATED:
    'thermal derating', FLAG_THERMAL_FAULT: 'thermal fault', FLAG_SENSOR_FAULT:
    'invalid joint reading', FLAG_ACTUATOR_FAULT: 'actuator fault', FLAG_INVALID_COMMAND:
    'invalid command', FLAG_RAMPING: 'ramping up',
}
# Any of these gives exactly zero torque at the actuator.
ZEROING_FLAGS = (FLAG_INACTIVE | FLAG_NO_COMMAND | FLAG_ESTOP | FLAG_STOP_WORD
                 | FLAG_COMMAND_CONFLICT | FLAG_SENSOR_CONFLICT | FLAG_THERMAL_FAULT
                 | FLAG_SENSOR_FAULT | FLAG_ACTUATOR_FAULT)


def flag_names(flags: int) -> list[str]:
    """Names of the bits set in ``flags``, lowest bit first."""
    return [name for bit, name in FLAG_NAMES.items() if flags & bit]


# --- Parameters --------------------------------------------------------------------------
ACTUATOR_KINDS = ('offline', 'dephy', 'tmotor', 'moteus')
HOMING_MODES = ('current', 'hardstop', 'none')
INTERACTION_SENSORS = ('offline', 'none')
_FACTORY_RE = re.compile(r'^[A-Za-z_][\w.]*:[A-Za-z_]\w*$')


@dataclass(frozen=True)
class BridgeParams:
    """Parameters of the hardware bridge (SI units, REP-103). See config/bridge.yaml."""

    # Joint name in /joint_states (and of the effort command's single element).
    joint_name: str = 'exo_elbow_joint'
    # Rate of the read -> check -> write loop and of /joint_states, Hz.
    rate_hz: float = 1000.0
    # A command older than this (receipt time) gives zero torque, s.
    command_timeout: float = 0.01
    # Torque clamp at the actuator, N*m (the actuator's own limit; >= the controller's).
    torque_limit: float = 25.0
    # After any zero the allowed |torque| rises from 0 at this rate (soft restart), N*m/s
    # (at most controller_node's max_torque_rate, 2000: no faster than the controller itself
    # may change).
    resume_torque_rate: float = 500.0
    # Joint range, rad: beyond it torque pushing further out is removed.
    joint_limit_lower: float = 0.0
    joint_limit_upper: float = 2.26893
    # A reading beyond the range by more than this is a sensor fault, rad.
    plausible_angle_margin: float = PLAUSIBLE_ANGLE_MARGIN
    # A joint speed above this is a sensor fault, rad/s.
    max_plausible_velocity: float = MAX_PLAUSIBLE_VELOCITY
    # Actuator: offline | dephy | tmotor | moteus | 'package.module:factory'.
    actuator: str = 'offline'
    # opensourceleg's own offline mode for dephy/tmotor/moteus (stubbed I/O: dry wiring).
    actuator_offline: bool = False
    # Serial port (dephy).
    actuator_port: str = '/dev/ttyACM0'
    # CAN id (tmotor) or servo id (moteus).
    actuator_id: int = 1
    # Motor model (tmotor: AK80-9, AK10-9, ...).
    actuator_model: str = 'AK80-9'
    # Motor turns per joint turn (transmission ratio).
    gear_ratio: float = 20.0
    # +1 when positive actuator rotation is elbow flexion, -1 otherwise.
    direction: int = 1
    # Zeroing at configure: current (the arm is held at home_angle) | hardstop (SDK homing
    # routine, without a wearer) | none (absolute encoder, already calibrated).
    homing: str = 'current'
    # Joint angle of the homing posture, rad.
    home_angle: float = 0.3
    # Interaction torque: offline (the simulated cuff) | none | 'package.module:factory'.
    interaction_sensor: str = 'offline'
    # Multiplies the sensor reading (-1 if it measures the exo on the human).
    interaction_sign: float = 1.0
    # Thermal model: ambient temperature, degC, and factor of safety on the Joule heating.
    thermal_ambient: float = 21.0
    thermal_factor_of_safety: float = 1.0
    # How often the graph is checked for other publishers (one owner per topic), s.
    publisher_check_period: float = 0.05
    # Period of /diagnostics (also sent at once when a zeroing reason appears), s.
    diagnostics_period: float = 0.5
    # Directory of opensourceleg's log file; '' = $ROS_LOG_DIR or ~/.ros/log.
    sdk_log_dir: str = ''
    # --- offline actuator (simulated arm) ---
    offline_inertia: float = 0.03
    offline_damping: float = 0.05
    offline_gravity_sin: float = 1.4695
    offline_gravity_cos: float = 0.00117
    offline_cuff_stiffness: float = 15.0
    offline_cuff_damping: float = 0.3
    offline_human_amplitude: float = 0.1
    offline_human_period: float = 6.0
    offline_hard_stop_stiffness: float = 500.0
    offline_physics_dt: float = 0.0005

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> 'BridgeParams':
        """Build from a mapping (ROS parameters); unknown keys and bad values raise."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f'unknown bridge parameters {unknown}')
        converted = {}
        defaults = cls()
        for name, value in values.items():
            kind = type(getattr(defaults, name))
            if kind is bool:
                if not isinstance(value, bool):
                    raise ValueError(f'{name} must be true or false, got {value!r}')
            elif kind is int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f'{name} must be an integer, got {value!r}')
            elif kind is float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f'{name} must be a number, got {value!r}')
                value = float(value)
            elif not isinstance(value, str):
                raise ValueError(f'{name} must be a string, got {value!r}')
            converted[name] = value
        return cls(**converted)

    def __post_init__(self) -> None:
        """Check every value; the message quotes the rejected one."""
        def check(name, low, high, strict_low=True):
            v = getattr(self, name)
            ok = math.isfinite(v) and (v > low if strict_low else v >= low) and v <= high
            if not ok:
                bound = '(' if strict_low else '['
                raise ValueError(f'{name} = {v!r} outside {bound}{low}, {high}]')

        check('rate_hz', 10.0, 20000.0)
        check('command_timeout', 0.0, 0.1)
        if self.rate_hz * self.command_timeout < 1.0:
            raise ValueError(f'rate_hz = {self.rate_hz!r} is too slow for command_timeout = '
                             f'{self.command_timeout!r}: the loop must tick at least once per '
                             'timeout')
        check('torque_limit', 0.0, 500.0)
        check('resume_torque_rate', 0.0, 1.0e6)
        check('plausible_angle_margin', 0.0, math.pi, strict_low=False)
        check('max_plausible_velocity', 0.0, 1.0e3)
        check('gear_ratio', 0.0, 1.0e4)
        check('thermal_ambient', -40.0, 60.0)
        check('thermal_factor_of_safety', 0.0, 100.0)
        check('publisher_check_period', 0.0, 10.0)
        check('diagnostics_period', 0.0, 60.0)
        check('interaction_sign', -1.0e3, 1.0e3)
        for name in ('joint_limit_lower', 'joint_limit_upper', 'home_angle'):
            check(name, -2.0 * math.pi, 2.0 * math.pi, strict_low=False)
        if self.joint_limit_upper <= self.joint_limit_lower:
            raise ValueError(f'joint_limit_upper = {self.joint_limit_upper!r} must exceed '
                             f'joint_limit_lower = {self.joint_limit_lower!r}')
        if not self.joint_limit_lower <= self.home_angle <= self.joint_limit_upper:
            raise ValueError(f'home_angle = {self.home_angle!r} outside the joint range '
                             f'[{self.joint_limit_lower}, {self.joint_limit_upper}]')
        if self.direction not in (-1, 1):
            raise ValueError(f'direction = {self.direction!r} must be 1 or -1')
        if self.actuator_id < 0:
            raise ValueError(f'actuator_id = {self.actuator_id!r} must be >= 0')
        if not self.joint_name:
            raise ValueError('joint_name must not be empty')
        if self.actuator not in ACTUATOR_KINDS and not _FACTORY_RE.match(self.actuator):
            raise ValueError(f'actuator = {self.actuator!r}: one of {list(ACTUATOR_KINDS)} '
                             "or 'package.module:factory'")
        if self.homing not in HOMING_MODES:
            raise ValueError(f'homing = {self.homing!r}: one of {list(HOMING_MODES)}')
        if (self.interaction_sensor not in INTERACTION_SENSORS
                and not _FACTORY_RE.match(self.interaction_sensor)):
            raise ValueError(f'interaction_sensor = {self.interaction_sensor!r}: one of '
                             f"{list(INTERACTION_SENSORS)} or 'package.module:factory'")
        if self.interaction_sensor == 'offline' and self.actuator != 'offline':
            raise ValueError("interaction_sensor = 'offline' needs actuator = 'offline' (the "
                             f'simulated cuff), got actuator = {self.actuator!r}')
        check('offline_inertia', 0.0, 100.0)
        check('offline_damping', 0.0, 1.0e3, strict_low=False)
        check('offline_gravity_sin', -1.0e3, 1.0e3)
        check('offline_gravity_cos', -1.0e3, 1.0e3)
        check('offline_cuff_stiffness', 0.0, 1.0e4, strict_low=False)
        check('offline_cuff_damping', 0.0, 1.0e3, strict_low=False)
        check('offline_human_amplitude', 0.0, math.pi, strict_low=False)
        check('offline_human_period', 0.0, 1.0e4)
        check('offline_hard_stop_stiffness', 0.0, 1.0e6)
        check('offline_physics_dt', 0.0, 0.01)

    @property
    def zeroing_deadline(self) -> float:
        """Longest time from the last command to a zero torque written: timeout + one tick."""
        return self.command_timeout + 1.0 / self.rate_hz


# --- The last line of defence ------------------------------------------------------------
@dataclass
class BridgeOutput:
    """One decision of :meth:`BridgeCore.step`.

    Attributes:
        torque: torque written to the actuator, N*m (joint frame, after every check).
        requested: last valid command, N*m (nan when there is none).
        flags: FLAG_* bits of this step.
        thermal_scale: opensourceleg thermal scale factor in [0, 1].
        envelope: largest |torque| allowed now (soft restart), N*m.
        command_age: age of the last valid command, s (inf when there is none).

    """

    torque: float
    requested: float
    flags: int
    thermal_scale: float
    envelope: float
    command_age: float


class BridgeCore:
    """Decides the torque that reaches the arm, every tick, from the last command.

    Order of one step: latched faults, lifecycle, e-stop / stop word, topic owners, sensor
    plausibility, command age -> zero; else clamp -> joint limits -> thermal derating ->
    soft-restart envelope. Zero is immediate (no ramp down); after any zero the allowed
    torque rises again from 0 at ``resume_torque_rate``.

    Args:
        params: validated bridge parameters.
        motor_constants: thermal parameters of the motor (opensourceleg MOTOR_CONSTANTS).
        tag: actuator name used in the thermal model's messages.

    """

    def __init__(self, params: BridgeParams, motor_constants: MOTOR_CONSTANTS,
                 tag: str = 'exo_elbow') -> None:
        self.params = params
        self.thermal = ThermalModel(motor_constants=motor_constants, actuator_tag=tag,
                                    ambient_temperature=params.thermal_ambient)
        self.active = False
        self._cmd = math.nan
        self._cmd_time: Optional[float] = None
        self._invalid_command = False
        self.estop = False
        self.stop_word = False
        self.command_publishers: tuple[str, ...] = ()
        self.sensor_intruders: tuple[str, ...] = ()
        self.thermal_fault: Optional[str] = None
        self.actuator_fault: Optional[str] = None
        self._thermal_scale = 1.0
        self._envelope = 0.0
        self._last_step: Optional[float] = None
        self._was_fresh = False
        # Counters for diagnostics.
        self.commands_received = 0
        self.commands_rejected = 0
        self.timeouts = 0
        self.last_timeout_latency = math.nan
        self.max_timeout_latency = math.nan

    # ------------------------------------------------------------------ inputs
    def on_command(self, now: float, data: Sequence[float]) -> bool:
        """Take one effort command (one finite value); anything else drops the command."""
        value = data[0] if len(data) == 1 else math.nan
        try:
            value = float(value)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            self.commands_rejected += 1
            self._invalid_command = True
            self._cmd, self._cmd_time = math.nan, None  # zero at the next step
            return False
        self.commands_received += 1
        self._invalid_command = False
        self._cmd, self._cmd_time = value, now
        return True

    def set_estop(self, active: bool) -> None:
        """/exo/estop: true stops; false resumes (and also clears a stop word)."""
        self.estop = bool(active)
        if not active:
            self.stop_word = False

    def on_text(self, text: str) -> bool:
        """A /task_text message: a stop command latches the stop until /exo/estop false."""
        if is_stop_command(text):
            self.stop_word = True
            return True
        return False

    def set_command_publishers(self, names: Sequence[str]) -> None:
        """Publishers of the command topic seen in the graph (more than one: zero)."""
        self.command_publishers = tuple(names)

    def set_sensor_intruders(self, names: Sequence[str]) -> None:
        """Other publishers of the bridge's sensor topics (any: zero)."""
        self.sensor_intruders = tuple(names)

    def set_actuator_fault(self, reason: str) -> None:
        """Latch an actuator fault (zero until :meth:`clear_faults`)."""
        self.actuator_fault = reason

    def clear_faults(self) -> None:
        """Clear latched faults (on re-activation; a hot motor faults again at once)."""
        self.thermal_fault = None
        self.actuator_fault = None

    # ------------------------------------------------------------------ step
    def step(self, now: float, q: float, qd: float, current_ma: float = 0.0,
             case_temperature: Optional[float] = None) -> BridgeOutput:
        """Torque for this tick from the joint reading, the motor current and temperature."""
        p = self.params
        dt = 0.0 if self._last_step is None else min(max(now - self._last_step, 0.0), 0.05)
        self._last_step = now
        flags = 0
        if dt > 0.0 and self.thermal_fault is None:
            self._update_thermal(dt, current_ma, case_temperature)
        if self.thermal_fault is not None:
            flags |= FLAG_THERMAL_FAULT
        if self.actuator_fault is not None:
            flags |= FLAG_ACTUATOR_FAULT
        if not self.active:
            flags |= FLAG_INACTIVE
        if self.estop:
            flags |= FLAG_ESTOP
        if self.stop_word:
            flags |= FLAG_STOP_WORD
        if len(self.command_publishers) > 1:
            flags |= FLAG_COMMAND_CONFLICT
        if self.sensor_intruders:
            flags |= FLAG_SENSOR_CONFLICT
        if not self._plausible(q, qd):
            flags |= FLAG_SENSOR_FAULT
        if self._invalid_command:
            flags |= FLAG_INVALID_COMMAND
        age = math.inf if self._cmd_time is None else now - self._cmd_time
        fresh = age <= p.command_timeout
        if not fresh:
            flags |= FLAG_NO_COMMAND
            if self._was_fresh and self._cmd_time is not None:
                self.timeouts += 1
                self.last_timeout_latency = age
                self.max_timeout_latency = (age if math.isnan(self.max_timeout_latency)
                                            else max(age, self.max_timeout_latency))
        self._was_fresh = fresh
        if self._thermal_scale < 1.0:
            flags |= FLAG_THERMAL_DERATED
        if flags & ZEROING_FLAGS:
            self._envelope = 0.0
            return BridgeOutput(0.0, self._cmd, flags, self._thermal_scale, 0.0, age)

        tau = self._cmd
        if abs(tau) > p.torque_limit:
            tau = math.copysign(p.torque_limit, tau)
            flags |= FLAG_CLAMPED
        if (q >= p.joint_limit_upper and tau > 0.0) or (q <= p.joint_limit_lower and tau < 0.0):
            tau = 0.0
            flags |= FLAG_JOINT_LIMIT
        tau *= self._thermal_scale
        self._envelope = min(p.torque_limit, self._envelope + p.resume_torque_rate * dt)
        if abs(tau) > self._envelope:
            tau = math.copysign(self._envelope, tau)
            flags |= FLAG_RAMPING
        return BridgeOutput(tau, self._cmd, flags, self._thermal_scale, self._envelope, age)

    def _plausible(self, q: float, qd: float) -> bool:
        p = self.params
        return plausible_joint_state(q, qd, p.joint_limit_lower, p.joint_limit_upper,
                                     p.plausible_angle_margin, p.max_plausible_velocity)

    def _update_thermal(self, dt: float, current_ma: float,
                        case_temperature: Optional[float]) -> None:
        try:
            self._thermal_scale = float(self.thermal.update(
                dt=dt, motor_current=current_ma, case_temperature=case_temperature,
                factor_of_safety=self.params.thermal_factor_of_safety))
        except ThermalLimitException as exc:
            self.thermal_fault = str(exc) or 'thermal limit'
            self._thermal_scale = 0.0
        except DataPacketCorruptionException as exc:
            self.actuator_fault = f'current/temperature readings corrupted: {exc}'
        except (TypeError, ValueError) as exc:  # unreadable current or temperature
            self.actuator_fault = f'thermal model input rejected: {exc}'

    def reasons(self, flags: int) -> str:
        """Human-readable reasons of ``flags`` (with the publishers and faults named)."""
        parts = []
        for name in flag_names(flags):
            if name == 'several command publishers':
                name += ' ' + ', '.join(self.command_publishers)
            elif name == 'another sensor publisher':
                name += ' ' + ', '.join(self.sensor_intruders)
            elif name == 'thermal fault' and self.thermal_fault:
                name += f' ({self.thermal_fault})'
            elif name == 'actuator fault' and self.actuator_fault:
                name += f' ({self.actuator_fault})'
            parts.append(name)
        return '; '.join(parts) if parts else 'ok'


# --- Offline actuator: arm model + opensourceleg ActuatorBase ----------------------------
@dataclass
class ArmModel:
    """Exo link on a hinge, tied by a cuff spring-damper to a virtual human forearm.

    ``inertia * qdd = tau_motor + tau_cuff - damping * qd - g(q) + tau_stop``, with
    ``g(q) = gravity_sin sin(q) + gravity_cos cos(q)`` (the torque that holds the link, the
    controller's sign), ``tau_cuff = cuff_stiffness (q_h - q) + cuff_damping (qd_h - qd)``
    (the torque of the cuff on the exo: what ``/interaction_torque`` carries) and
    ``q_h(t) = center + amplitude sin(2 pi t / period)``. Stiff hard stops at the joint
    limits. Semi-implicit Euler steps.
    """

    inertia: float = 0.03
    damping: float = 0.05
    gravity_sin: float = 1.4695
    gravity_cos: float = 0.00117
    cuff_stiffness: float = 15.0
    cuff_damping: float = 0.3
    human_center: float = 0.3
    human_amplitude: float = 0.1
    human_period: float = 6.0
    lower_stop: float = 0.0
    upper_stop: float = 2.26893
    stop_stiffness: float = 500.0
    q: float = field(default=math.nan)
    qd: float = 0.0
    t: float = 0.0

    def __post_init__(self) -> None:
        """Start at rest where the human arm is."""
        if math.isnan(self.q):
            self.q = self.human_angle(0.0)[0]

    def human_angle(self, t: float) -> tuple[float, float]:
        """Angle and speed of the virtual human forearm at time ``t``."""
        w = 2.0 * math.pi / self.human_period
        return (self.human_center + self.human_amplitude * math.sin(w * t),
                self.human_amplitude * w * math.cos(w * t))

    def cuff_torque(self) -> float:
        """Torque of the cuff on the exo now, N*m (flexion positive)."""
        qh, qhd = self.human_angle(self.t)
        return self.cuff_stiffness * (qh - self.q) + self.cuff_damping * (qhd - self.qd)

    def step(self, h: float, tau_motor: float) -> None:
        """Advance by ``h`` seconds with the motor torque ``tau_motor`` held."""
        q, qd = self.q, self.qd
        stop = 0.0
        if q < self.lower_stop:
            stop = self.stop_stiffness * (self.lower_stop - q) - 2.0 * min(qd, 0.0)
        elif q > self.upper_stop:
            stop = self.stop_stiffness * (self.upper_stop - q) - 2.0 * max(qd, 0.0)
        g = self.gravity_sin * math.sin(q) + self.gravity_cos * math.cos(q)
        qdd = (tau_motor + self.cuff_torque() - self.damping * qd - g + stop) / self.inertia
        self.qd = qd + h * qdd
        self.q = q + h * self.qd
        self.t += h


# Motor of the offline actuator: Dephy ActPack-like constants (opensourceleg's thermal
# parameters are the defaults of MOTOR_CONSTANTS).
OFFLINE_MOTOR_CONSTANTS = MOTOR_CONSTANTS(
    MOTOR_COUNT_PER_REV=16384, NM_PER_AMP=0.1133, MAX_CASE_TEMPERATURE=80.0,
    MAX_WINDING_TEMPERATURE=110.0)


def _zero_current(actuator: 'SimulatedElbowActuator') -> None:
    actuator._current_ma = 0.0


OFFLINE_CONTROL_MODE_CONFIGS = CONTROL_MODE_CONFIGS(
    IDLE=ControlModeConfig(entry_callback=_zero_current, exit_callback=_zero_current),
    CURRENT=ControlModeConfig(entry_callback=_zero_current, exit_callback=_zero_current),
)


class SimulatedElbowActuator(ActuatorBase):
    """An opensourceleg actuator whose hardware is :class:`ArmModel` (the offline actuator).

    Current control only (like a Dephy ActPack in current mode): ``set_output_torque``
    sets the motor current; :meth:`update` integrates the arm up to the clock's time in
    fixed substeps with that current held (a stall of more than ``max_catchup`` is
    skipped, not replayed). Its encoder starts at an arbitrary offset, so the bridge's
    zeroing matters; the case and winding temperatures come from a second opensourceleg
    ThermalModel heated by the actual current (the plant).

    Args:
        arm: the arm model (its state is the joint state).
        gear_ratio: motor turns per joint turn.
        physics_dt: integration substep, s.
        clock: time source, s (``time.monotonic``; tests pass their own).
        encoder_offset: raw motor angle at joint angle 0, rad.
        ambient_temperature: degC.
        max_catchup: longest interval integrated by one update, s.

    """

    def __init__(self, arm: ArmModel, gear_ratio: float = 20.0, physics_dt: float = 5e-4,
                 clock: Callable[[], float] = time.monotonic, encoder_offset: float = 1.0,
                 ambient_temperature: float = 21.0, max_catchup: float = 0.02,
                 tag: str = 'offline_elbow', frequency: int = 1000) -> None:
        self.arm = arm
        self._physics_dt = physics_dt
        self._clock = clock
        self._encoder_offset = encoder_offset
        self._max_catchup = max_catchup
        self._current_ma = 0.0
        self._last_time: Optional[float] = None
        self._plant_thermal = ThermalModel(OFFLINE_MOTOR_CONSTANTS, actuator_tag=tag,
                                           ambient_temperature=ambient_temperature)
        super().__init__(tag=tag, gear_ratio=gear_ratio,
                         motor_constants=OFFLINE_MOTOR_CONSTANTS, frequency=frequency,
                         offline=False)

    @property
    def _CONTROL_MODE_CONFIGS(self) -> CONTROL_MODE_CONFIGS:  # noqa: N802 (SDK name)
        return OFFLINE_CONTROL_MODE_CONFIGS

    # lifecycle of the "device"
    def start(self) -> None:
        """Open the simulated device (streaming from now on)."""
        self._is_open = True
        self._is_streaming = True
        self._last_time = self._clock()

    def stop(self) -> None:
        """Zero the current, go idle and close."""
        self._current_ma = 0.0
        if self.mode != CONTROL_MODES.IDLE:
            self.set_control_mode(CONTROL_MODES.IDLE)
        self._is_streaming = False
        self._is_open = False

    def update(self) -> None:
        """Integrate the arm up to now with the current held since the last update."""
        now = self._clock()
        if self._last_time is None:
            self._last_time = now
            return
        elapsed = now - self._last_time
        if elapsed > self._max_catchup:
            self._last_time = now - self._max_catchup
            elapsed = self._max_catchup
        n = int(elapsed / self._physics_dt)
        if n <= 0:
            return
        tau = self.output_torque_applied
        for _ in range(n):
            self.arm.step(self._physics_dt, tau)
        h = n * self._physics_dt
        self._last_time += h
        try:
            self._plant_thermal.update(dt=h, motor_current=self._current_ma)
        except ThermalLimitException:
            pass  # the plant only reports temperatures; the bridge's model acts on them

    def home(self, homing_voltage: int = 2000, homing_frequency: Optional[int] = None,
             homing_direction: int = -1, output_position_offset: float = 0.0,
             current_threshold: int = 5000, velocity_threshold: float = 0.001,
             callback: Optional[Callable[[], None]] = None) -> None:
        """Homing routine of the SDK: the simulated arm is already at rest, nothing moves."""
        self._is_homed = True
        if callback is not None:
            callback()

    # commands
    def set_motor_current(self, value: float) -> None:
        """Motor current, mA."""
        self._current_ma = float(value)

    def set_motor_torque(self, value: float) -> None:
        """Motor-side torque, N*m."""
        self.set_motor_current(value / self.MOTOR_CONSTANTS.NM_PER_MILLIAMP)

    def set_output_torque(self, value: float) -> None:
        """Joint-side torque, N*m."""
        self.set_motor_torque(value / self.gear_ratio)

    def set_motor_voltage(self, value: float) -> None:
        """Not supported by the simulated driver (current control only)."""
        raise ControlModeException(tag=self.tag, attribute='set_motor_voltage',
                                   mode=self.mode.name)

    def set_motor_position(self, value: float) -> None:
        """Not supported by the simulated driver (current control only)."""
        raise ControlModeException(tag=self.tag, attribute='set_motor_position',
                                   mode=self.mode.name)

    def set_motor_impedance(self, *args, **kwargs) -> None:
        """Not supported by the simulated driver (current control only)."""
        raise ControlModeException(tag=self.tag, attribute='set_motor_impedance',
                                   mode=self.mode.name)

    def set_output_impedance(self, *args, **kwargs) -> None:
        """Not supported by the simulated driver (current control only)."""
        raise ControlModeException(tag=self.tag, attribute='set_output_impedance',
                                   mode=self.mode.name)

    def set_current_gains(self, kp: float, ki: float, kd: float, ff: float) -> None:
        """Ideal current loop: gains are accepted and ignored."""

    def set_position_gains(self, kp: float, ki: float, kd: float, ff: float) -> None:
        """Not used (current control only)."""

    def _set_impedance_gains(self, k: float, b: float) -> None:
        """Not used (current control only)."""

    # readings
    @property
    def output_torque_applied(self) -> float:
        """Joint torque the current produces, N*m (0 unless in current mode)."""
        if self.mode != CONTROL_MODES.CURRENT:
            return 0.0
        return self._current_ma * self.MOTOR_CONSTANTS.NM_PER_MILLIAMP * self.gear_ratio

    @property
    def motor_position(self) -> float:
        """Motor angle since the zero, rad."""
        raw = self.arm.q * self.gear_ratio + self._encoder_offset
        return raw - self.motor_zero_position

    @property
    def motor_velocity(self) -> float:
        """Motor speed, rad/s."""
        return self.arm.qd * self.gear_ratio

    @property
    def motor_voltage(self) -> float:
        """Not modelled, V."""
        return 0.0

    @property
    def motor_current(self) -> float:
        """Motor current, mA (0 unless in current mode)."""
        return self._current_ma if self.mode == CONTROL_MODES.CURRENT else 0.0

    @property
    def motor_torque(self) -> float:
        """Motor-side torque, N*m."""
        return self.motor_current * self.MOTOR_CONSTANTS.NM_PER_MILLIAMP

    @property
    def case_temperature(self) -> float:
        """Case temperature of the plant, degC."""
        return float(self._plant_thermal.case_temperature)

    @property
    def winding_temperature(self) -> float:
        """Winding temperature of the plant, degC."""
        return float(self._plant_thermal.winding_temperature)

    @property
    def interaction_torque(self) -> float:
        """Cuff torque on the exo, N*m: the offline interaction sensor."""
        return self.arm.cuff_torque()


# --- Adapter between the bridge and any opensourceleg actuator ---------------------------
class SensorReadError(Exception):
    """A reading failed opensourceleg's safety decorators (non-finite, out of range)."""


@dataclass
class Reading:
    """One actuator reading in the joint frame."""

    q: float
    qd: float
    current_ma: float
    case_temperature: Optional[float]
    winding_temperature: Optional[float]


MIN_CASE_TEMPERATURE = -20.0  # degC: a reading outside is a broken sensor
MAX_CASE_TEMPERATURE = 200.0


class ActuatorPort:
    """What the bridge does with an opensourceleg actuator, whatever its make.

    Coroutine APIs (Moteus) run on a private asyncio loop. The readings the bridge uses
    carry opensourceleg safety decorators (``SafetyManager``): non-finite positions and
    speeds, and case temperatures outside [-20, 200] degC, raise :class:`SensorReadError`.

    Args:
        actuator: an opensourceleg actuator (not started).
        direction: +1 when positive actuator rotation is flexion, -1 otherwise.

    """

    def __init__(self, actuator: ActuatorBase, direction: int = 1) -> None:
        self.actuator = actuator
        self.direction = 1 if direction >= 0 else -1
        self.enabled = False
        self.opened = False
        self._loop = None
        self._safety = SafetyManager()
        finite = custom_criteria(lambda v: v is not None and math.isfinite(v))
        self._safety.add_safety(actuator, 'output_position', finite)
        self._safety.add_safety(actuator, 'output_velocity', finite)
        self._safety.add_safety(actuator, 'case_temperature',
                                is_within_range(MIN_CASE_TEMPERATURE, MAX_CASE_TEMPERATURE))
        self.torque_mode = self._torque_mode()

    def _torque_mode(self) -> CONTROL_MODES:
        configs = self.actuator._CONTROL_MODE_CONFIGS
        for mode in (CONTROL_MODES.CURRENT, CONTROL_MODES.TORQUE):
            if getattr(configs, mode.name, None) is not None:
                return mode
        raise ValueError(f'{type(self.actuator).__name__} has no current or torque mode')

    def _call(self, method: Callable, *args, **kwargs) -> Any:
        result = method(*args, **kwargs)
        if inspect.isawaitable(result):
            if self._loop is None:
                import asyncio
                self._loop = asyncio.new_event_loop()
            result = self._loop.run_until_complete(result)
        return result

    def open(self) -> None:
        """Open the device and start streaming; opensourceleg safety checks from now on."""
        self._call(self.actuator.start)
        self.opened = True
        self._safety.start()
        self._call(self.actuator.update)

    def zero(self, mode: str, home_angle: float) -> float:
        """Zeroing/homing: make the present posture read ``home_angle``; return the offset.

        ``current``: the arm is held at ``home_angle`` (no motion). ``hardstop``: the SDK's
        homing routine first drives the joint to its stop (only without a wearer).
        ``none``: absolute encoder, nothing changes.
        """
        if mode == 'none':
            return 0.0
        if mode == 'hardstop':
            self._call(self.actuator.home)
        self._call(self.actuator.update)
        act = self.actuator
        offset = (act.output_position - self.direction * home_angle) * act.gear_ratio
        act.set_motor_zero_position(act.motor_zero_position + offset)
        return offset

    def enable(self) -> None:
        """Torque mode with zero torque (and the SDK's default current gains where needed)."""
        act = self.actuator
        act.set_control_mode(self.torque_mode)
        gains = getattr(sys.modules.get(type(act).__module__), 'DEFAULT_CURRENT_GAINS', None)
        if gains is not None and self.torque_mode == CONTROL_MODES.CURRENT:
            act.set_current_gains(kp=gains.kp, ki=gains.ki, kd=gains.kd, ff=gains.ff)
        self.enabled = True
        self.write(0.0)

    def read(self) -> Reading:
        """Update the device and read the joint state (joint frame)."""
        act = self.actuator
        self._call(act.update)
        try:
            q = self.direction * act.output_position
            qd = self.direction * act.output_velocity
            case = act.case_temperature
        except ValueError as exc:  # a safety decorator rejected a reading
            raise SensorReadError(str(exc)) from exc
        try:
            winding = float(act.winding_temperature)
        except (TypeError, ValueError):
            winding = None
        return Reading(q, qd, float(act.motor_current), case, winding)

    def write(self, torque: float) -> None:
        """Joint torque, N*m; ignored unless enabled."""
        if self.enabled:  # (Moteus: the command goes out with the next update())
            self.actuator.set_output_torque(self.direction * torque)

    def disable(self) -> None:
        """Zero torque, then idle (motor off). Safe to call more than once."""
        if self.enabled:
            try:
                self.write(0.0)
                self._call(self.actuator.update)
            finally:
                self.enabled = False
                self.actuator.set_control_mode(CONTROL_MODES.IDLE)

    def close(self) -> None:
        """Disable, stop the device, undo the safety decorators. Safe to call twice."""
        try:
            self.disable()
        finally:
            if self.opened:
                self.opened = False
                try:
                    self._call(self.actuator.stop)
                finally:
                    self._safety.stop()
                    if self._loop is not None:
                        self._loop.close()
                        self._loop = None


# --- Interaction torque sources ----------------------------------------------------------
class OfflineCuffSensor:
    """Interaction torque of the simulated cuff (the offline actuator's arm)."""

    def __init__(self, actuator: SimulatedElbowActuator) -> None:
        self._actuator = actuator

    def read(self) -> float:
        """Torque of the cuff on the exo, N*m."""
        return self._actuator.interaction_torque


class LoadcellTorque:
    """An opensourceleg loadcell (``LoadcellBase``: Dephy amplifier, NB DAQ) as a torque.

    A lab's ``interaction_sensor`` factory can return ``LoadcellTorque(loadcell, 'mz')``
    (or a force axis times ``lever_arm``) for a cuff loadcell on the forearm link.
    """

    def __init__(self, loadcell: Any, axis: str = 'mz', lever_arm: float = 1.0) -> None:
        if axis not in ('fx', 'fy', 'fz', 'mx', 'my', 'mz'):
            raise ValueError(f'axis = {axis!r}: one of fx fy fz mx my mz')
        self._loadcell = loadcell
        self._axis = axis
        self._lever = lever_arm
        if hasattr(loadcell, 'start'):
            loadcell.start()

    def read(self) -> float:
        """Update the loadcell and return the torque, N*m."""
        self._loadcell.update()
        return float(getattr(self._loadcell, self._axis)) * self._lever


# --- Factories ---------------------------------------------------------------------------
def load_factory(spec: str) -> Callable:
    """Import ``'package.module:callable'``; a clear ValueError when it cannot be found."""
    module_name, _, attr = spec.partition(':')
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f'cannot load factory {spec!r}: {exc}') from exc


def make_actuator(p: BridgeParams, clock: Callable[[], float] = time.monotonic
                  ) -> ActuatorBase:
    """The actuator named by ``p.actuator`` (not started)."""
    freq = int(round(p.rate_hz))
    if p.actuator == 'offline':
        arm = ArmModel(
            inertia=p.offline_inertia, damping=p.offline_damping,
            gravity_sin=p.offline_gravity_sin, gravity_cos=p.offline_gravity_cos,
            cuff_stiffness=p.offline_cuff_stiffness, cuff_damping=p.offline_cuff_damping,
            human_center=p.home_angle, human_amplitude=p.offline_human_amplitude,
            human_period=p.offline_human_period, lower_stop=p.joint_limit_lower - 0.05,
            upper_stop=p.joint_limit_upper + 0.05,
            stop_stiffness=p.offline_hard_stop_stiffness)
        return SimulatedElbowActuator(arm, gear_ratio=p.gear_ratio,
                                      physics_dt=p.offline_physics_dt, clock=clock,
                                      ambient_temperature=p.thermal_ambient, frequency=freq)
    try:
        if p.actuator == 'dephy':
            from opensourceleg.actuators.dephy import DephyActuator
            return DephyActuator(tag='exo_elbow', port=p.actuator_port,
                                 gear_ratio=p.gear_ratio, frequency=freq,
                                 offline=p.actuator_offline)
        if p.actuator == 'tmotor':
            from opensourceleg.actuators.tmotor import TMotorServoActuator
            return TMotorServoActuator(tag='exo_elbow', motor_type=p.actuator_model,
                                       motor_id=p.actuator_id, gear_ratio=p.gear_ratio,
                                       frequency=freq, offline=p.actuator_offline)
        if p.actuator == 'moteus':
            from opensourceleg.actuators.moteus import MoteusActuator
            return MoteusActuator(tag='exo_elbow', servo_id=p.actuator_id,
                                  gear_ratio=p.gear_ratio, frequency=freq,
                                  offline=p.actuator_offline)
    except ImportError as exc:
        raise ValueError(
            f'actuator {p.actuator!r} needs its driver library ({exc.name or exc}); install '
            "it: dephy -> 'flexsea', tmotor -> 'python-can', moteus -> 'moteus'") from exc
    actuator = load_factory(p.actuator)(p)
    if not isinstance(actuator, ActuatorBase):
        raise ValueError(f'factory {p.actuator!r} returned {type(actuator).__name__}, not an '
                         'opensourceleg ActuatorBase')
    return actuator


def make_interaction_sensor(p: BridgeParams, actuator: ActuatorBase) -> Optional[Any]:
    """The interaction torque source named by ``p.interaction_sensor`` (None: none)."""
    if p.interaction_sensor == 'none':
        return None
    if p.interaction_sensor == 'offline':
        if not isinstance(actuator, SimulatedElbowActuator):
            raise ValueError("interaction_sensor 'offline' needs the offline actuator")
        return OfflineCuffSensor(actuator)
    sensor = load_factory(p.interaction_sensor)(p)
    if not callable(getattr(sensor, 'read', None)):
        raise ValueError(f'factory {p.interaction_sensor!r} returned an object without read()')
    return sensor


def configure_sdk_logging(log_dir: str = '') -> Path:
    """Send opensourceleg's log file to ``log_dir`` (default: the ROS log directory).

    The SDK's global logger otherwise creates a log file in the working directory on its
    first message. Console output of the SDK is limited to warnings.
    """
    from opensourceleg.logging.logger import LOGGER, Logger, LogLevel

    if not log_dir:
        log_dir = os.environ.get('ROS_LOG_DIR') or str(Path.home() / '.ros' / 'log')
    path = Path(log_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    Logger(log_path=str(path), file_name='opensourceleg_bridge',
           stream_level=LogLevel.WARNING, enable_csv_logging=False)
    LOGGER.set_file_name('opensourceleg_bridge')  # recompute the path with the new dir
    return path
