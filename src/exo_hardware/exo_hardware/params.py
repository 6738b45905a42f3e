"""Parameters of the hardware bridge: typed, validated, each one a ROS parameter (pure, no rclpy).

Units: SI, REP-103 (rad, rad/s, N*m, flexion positive); motor currents in mA (the
opensourceleg convention).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
import re
from typing import Any, Mapping

# The one stop-word recogniser of the graph: a short text on /task_text with a stop word
# ('stop', 'halt', 'emergency stop', ...) latches the bridge's stop like /exo/estop true.
from exo_contract.checks import (
    MAX_PLAUSIBLE_VELOCITY,
    PLAUSIBLE_ANGLE_MARGIN,
)

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
