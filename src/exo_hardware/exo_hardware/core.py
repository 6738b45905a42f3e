"""The last line of defence: what torque may reach the arm, every tick (pure, no rclpy).

:class:`BridgeCore` applies the command timeout, torque clamp, joint limits, thermal derating
(opensourceleg's :class:`~opensourceleg.math.ThermalModel`), e-stop and stop words, one owner
per topic, latched faults and the soft restart after a zero; the FLAG_* bits name each
decision on /diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Optional, Sequence

from opensourceleg.actuators.base import (
    MOTOR_CONSTANTS,
)
from opensourceleg.math import DataPacketCorruptionException, ThermalLimitException, ThermalModel

# The one stop-word recogniser of the graph: a short text on /task_text with a stop word
# ('stop', 'halt', 'emergency stop', ...) latches the bridge's stop like /exo/estop true.
from exo_contract.checks import (
    plausible_joint_state,
)
from exo_contract.stop_words import is_stop_command
from exo_hardware.params import BridgeParams

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
