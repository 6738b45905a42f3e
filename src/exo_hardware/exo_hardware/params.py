"""Parameters of the hardware bridge: typed, validated, each one a ROS parameter (pure, no rclpy).

Units: SI, REP-103 (rad, rad/s, N*m, flexion positive); motor currents in mA (the
opensourceleg convention).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import re
from typing import Any, Mapping

# The one stop-word recogniser of the graph: a short text on /task_text with a stop word
# ('stop', 'halt', 'emergency stop', ...) latches the bridge's stop like /exo/estop true.
from exo_contract.checks import (
    MAX_DEVICE_TORQUE_NM,
    MAX_PLAUSIBLE_VELOCITY,
    PLAUSIBLE_ANGLE_MARGIN,
)
from exo_contract.parameters import build, check_fields, param

# --- Parameters --------------------------------------------------------------------------
ACTUATOR_KINDS = ('offline', 'dephy', 'tmotor', 'moteus')
HOMING_MODES = ('current', 'hardstop', 'none')
INTERACTION_SENSORS = ('offline', 'none')
_FACTORY_RE = re.compile(r'^[A-Za-z_][\w.]*:[A-Za-z_]\w*$')
PI = math.pi


@dataclass(frozen=True)
class BridgeParams:
    """Parameters of the hardware bridge (SI units, REP-103). See config/bridge.yaml.

    ``torque_limit`` is the actuator's own clamp (>= the controller's); ``resume_torque_rate``
    is at most controller_node's ``max_torque_rate`` (no faster than the controller itself
    may change). The ``offline_*`` parameters describe the simulated arm of
    ``actuator: offline``.
    """

    joint_name: str = param('exo_elbow_joint', "Joint name in /joint_states (and of the effort "
                            "command's single element).", may_be_empty=False)
    rate_hz: float = param(1000.0, 'Rate of the read -> check -> write loop and of '
                           '/joint_states.', 'Hz', low=10.0, high=20000.0, low_open=True)
    command_timeout: float = param(
        0.01, 'A command older than this (receipt time) gives zero torque (written within '
        'command_timeout + 1/rate_hz of the last command).', 's', low=0.0, high=0.1,
        low_open=True)
    torque_limit: float = param(
        25.0, "Torque clamp at the actuator (the actuator's own limit; >= the controller's).",
        'N*m', low=0.0, high=MAX_DEVICE_TORQUE_NM, low_open=True)
    resume_torque_rate: float = param(
        500.0, 'After any zero the allowed |torque| rises from 0 at this rate (soft restart).',
        'N*m/s', low=0.0, high=1.0e6, low_open=True)
    joint_limit_lower: float = param(
        0.0, 'Lower joint limit: below it no torque pushing further down.', 'rad',
        low=-2.0 * PI, high=2.0 * PI)
    joint_limit_upper: float = param(
        2.26893, 'Upper joint limit: above it no torque pushing further up.', 'rad',
        low=-2.0 * PI, high=2.0 * PI)
    plausible_angle_margin: float = param(
        PLAUSIBLE_ANGLE_MARGIN, 'A reading beyond the range by more than this is a sensor '
        'fault (zero torque).', 'rad', low=0.0, high=PI)
    max_plausible_velocity: float = param(
        MAX_PLAUSIBLE_VELOCITY, 'A joint speed above this is a sensor fault.', 'rad/s',
        low=0.0, high=1.0e3, low_open=True)
    actuator: str = param(
        'offline', 'Actuator driver (a factory(params) returns an opensourceleg ActuatorBase).',
        choices=ACTUATOR_KINDS, pattern_note="'package.module:factory'")
    actuator_offline: bool = param(
        False, "opensourceleg's own offline mode for dephy/tmotor/moteus (stubbed I/O: checks "
        'the wiring of the software without a device).')
    actuator_port: str = param('/dev/ttyACM0', 'Serial port of a Dephy actuator.')
    actuator_id: int = param(1, 'CAN id (tmotor) or servo id (moteus).', low=0, high=65535)
    actuator_model: str = param('AK80-9', 'T-Motor model, e.g. AK80-9.')
    gear_ratio: float = param(20.0, 'Motor turns per joint turn (transmission ratio).', '1',
                              low=0.0, high=1.0e4, low_open=True)
    direction: int = param(1, '+1 when positive actuator rotation is elbow flexion, else -1.',
                           low=-1, high=1)
    homing: str = param(
        'current', 'Zeroing at configure: current (arm held at home_angle) | hardstop (SDK '
        'homing routine, never with a wearer) | none (absolute encoder, already '
        'calibrated).', choices=HOMING_MODES)
    home_angle: float = param(0.3, 'Joint angle of the homing posture.', 'rad',
                              low=-2.0 * PI, high=2.0 * PI)
    interaction_sensor: str = param(
        'offline', 'Interaction torque: offline (the simulated cuff) | none | a factory(params) '
        'returning an object with read() -> N*m.', choices=INTERACTION_SENSORS,
        pattern_note="'package.module:factory'")
    interaction_sign: float = param(
        1.0, 'Multiplies the interaction reading (-1 if the sensor measures the exo on the '
        'human).', '1', low=-1.0e3, high=1.0e3, low_open=True)
    thermal_ambient: float = param(21.0, 'Ambient temperature of the thermal model.', 'degC',
                                   low=-40.0, high=60.0, low_open=True)
    thermal_factor_of_safety: float = param(
        1.0, 'Factor of safety on the Joule heating of the thermal model.', '1',
        low=0.0, high=100.0, low_open=True)
    publisher_check_period: float = param(
        0.05, 'Period of the one-owner-per-topic graph check.', 's', low=0.0, high=10.0,
        low_open=True)
    diagnostics_period: float = param(
        0.5, 'Period of /diagnostics (also sent at once when a zeroing reason appears).', 's',
        low=0.0, high=60.0, low_open=True)
    sdk_log_dir: str = param('', "Directory of opensourceleg's log file ('' = $ROS_LOG_DIR or "
                             '~/.ros/log).')
    offline_inertia: float = param(0.03, 'Offline arm: exo link inertia.', 'kg*m^2',
                                   low=0.0, high=100.0, low_open=True)
    offline_damping: float = param(0.05, 'Offline arm: viscous damping.', 'N*m*s/rad',
                                   low=0.0, high=1.0e3)
    offline_gravity_sin: float = param(
        1.4695, 'Offline arm: s of g(q) = s*sin(q) + c*cos(q).', 'N*m', low=-1.0e3, high=1.0e3,
        low_open=True)
    offline_gravity_cos: float = param(0.00117, 'Offline arm: c of g(q).', 'N*m',
                                       low=-1.0e3, high=1.0e3, low_open=True)
    offline_cuff_stiffness: float = param(
        15.0, 'Offline arm: cuff stiffness to the virtual human.', 'N*m/rad',
        low=0.0, high=1.0e4)
    offline_cuff_damping: float = param(0.3, 'Offline arm: cuff damping.', 'N*m*s/rad',
                                        low=0.0, high=1.0e3)
    offline_human_amplitude: float = param(
        0.1, 'Offline arm: amplitude of the human sinusoid about home_angle.', 'rad',
        low=0.0, high=PI)
    offline_human_period: float = param(6.0, 'Offline arm: period of the human sinusoid.', 's',
                                        low=0.0, high=1.0e4, low_open=True)
    offline_hard_stop_stiffness: float = param(
        500.0, 'Offline arm: stiffness of the hard stops.', 'N*m/rad', low=0.0, high=1.0e6,
        low_open=True)
    offline_physics_dt: float = param(0.0005, 'Offline arm: integration substep.', 's',
                                      low=0.0, high=0.01, low_open=True)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> 'BridgeParams':
        """Build from a mapping (ROS parameters); unknown keys and bad values raise."""
        return build(cls, values)

    def __post_init__(self) -> None:
        """Check every value; the message quotes the rejected one."""
        check_fields(self)
        if self.rate_hz * self.command_timeout < 1.0:
            raise ValueError(f'rate_hz = {self.rate_hz!r} is too slow for command_timeout = '
                             f'{self.command_timeout!r}: the loop must tick at least once per '
                             'timeout')
        if self.joint_limit_upper <= self.joint_limit_lower:
            raise ValueError(f'joint_limit_upper = {self.joint_limit_upper!r} must exceed '
                             f'joint_limit_lower = {self.joint_limit_lower!r}')
        if not self.joint_limit_lower <= self.home_angle <= self.joint_limit_upper:
            raise ValueError(f'home_angle = {self.home_angle!r} outside the joint range '
                             f'[{self.joint_limit_lower}, {self.joint_limit_upper}]')
        if self.direction not in (-1, 1):
            raise ValueError(f'direction = {self.direction!r} must be 1 or -1')
        if self.actuator not in ACTUATOR_KINDS and not _FACTORY_RE.match(self.actuator):
            raise ValueError(f'actuator = {self.actuator!r}: one of {list(ACTUATOR_KINDS)} '
                             "or 'package.module:factory'")
        if (self.interaction_sensor not in INTERACTION_SENSORS
                and not _FACTORY_RE.match(self.interaction_sensor)):
            raise ValueError(f'interaction_sensor = {self.interaction_sensor!r}: one of '
                             f"{list(INTERACTION_SENSORS)} or 'package.module:factory'")
        if self.interaction_sensor == 'offline' and self.actuator != 'offline':
            raise ValueError("interaction_sensor = 'offline' needs actuator = 'offline' (the "
                             f'simulated cuff), got actuator = {self.actuator!r}')

    @property
    def zeroing_deadline(self) -> float:
        """Longest time from the last command to a zero torque written: timeout + one tick."""
        return self.command_timeout + 1.0 / self.rate_hz
