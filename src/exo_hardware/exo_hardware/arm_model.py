"""The offline actuator: an opensourceleg actuator whose hardware is a simple arm model.

:class:`ArmModel` (inertia, damping, gravity, hard stops) is tied by a cuff spring to a virtual
human arm that follows a slow sinusoid, so that ``/interaction_torque`` is not trivial and the
whole bridge runs end to end without a device; :class:`SimulatedElbowActuator` wraps it as an
``opensourceleg`` :class:`~opensourceleg.actuators.base.ActuatorBase`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import time
from typing import Callable, Optional

from opensourceleg.actuators.base import (
    ActuatorBase,
    CONTROL_MODE_CONFIGS,
    CONTROL_MODES,
    ControlModeConfig,
    MOTOR_CONSTANTS,
)
from opensourceleg.logging.exceptions import ControlModeException
from opensourceleg.math import ThermalLimitException, ThermalModel

# The one stop-word recogniser of the graph: a short text on /task_text with a stop word
# ('stop', 'halt', 'emergency stop', ...) latches the bridge's stop like /exo/estop true.


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


# --- Interaction torque sources ----------------------------------------------------------
class OfflineCuffSensor:
    """Interaction torque of the simulated cuff (the offline actuator's arm)."""

    def __init__(self, actuator: SimulatedElbowActuator) -> None:
        self._actuator = actuator

    def read(self) -> float:
        """Torque of the cuff on the exo, N*m."""
        return self._actuator.interaction_torque
