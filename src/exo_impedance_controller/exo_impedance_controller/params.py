"""Typed, validated parameters of the variable impedance controller (no rclpy).

Every field of :class:`ControllerParams` is also a ROS parameter of ``controller_node``,
described once (description, unit, range: :func:`exo_contract.parameters.param`). Invalid
values are rejected with a ``ValueError`` that quotes the value and the allowed range.
"""

from dataclasses import dataclass, fields
import math
from typing import Mapping

from exo_contract.checks import (
    MAX_DEVICE_TORQUE_NM,
    MAX_PLAUSIBLE_VELOCITY,
    PLAUSIBLE_ANGLE_MARGIN,
)
from exo_contract.parameters import build, check_fields, param, specs

PI = math.pi


@dataclass(frozen=True)
class ControllerParams:
    """Parameters of eq. 7-8 and eq. 13 and of the safety layer (SI units, REP-103).

    The exo dynamics (``exo_inertia``, ``exo_gravity_*``) describe the exoskeleton link
    alone: ``M(q) = exo_inertia`` and
    ``g(q) = exo_gravity_sin * sin(q) + exo_gravity_cos * cos(q)`` (MuJoCo bias sign).
    ``target_inertia`` is chosen by the wearer's energy under a bare-link stability check,
    and ``max_torque_rate`` is not lower than 2000 N*m/s: with the light target inertia the
    rate limit's lag destabilises the bare link at high stiffness (500 N*m/s does, 2000
    does not); both from ``python -m exo_experiments.evaluation.impedance``. The sensor
    plausibility values are for a human elbow (fast voluntary motions peak near 10-15
    rad/s, the tasks at about 2.2 rad/s; simulated interaction torques stay below 2 N*m and
    25 N*m/s). The e-stop heartbeat is off by default: the lab's e-stop device decides
    whether it sends one (a device publishing its state at 10 Hz should set ~0.5 s).
    """

    joint_name: str = param('exo_elbow_joint', 'Name of the controlled joint in /joint_states '
                            'and the reference.', may_be_empty=False)
    target_inertia: float = param(0.05, 'Target inertia M of eq. 7.', 'kg*m^2',
                                  low=0.0, high=10.0, low_open=True)
    target_damping: float = param(
        1.0, 'Target damping D of eq. 7 (2 D / M is the stiffness growth rate).', 'N*m*s/rad',
        low=0.0, high=100.0, low_open=True)
    stiffness_min: float = param(
        2.0, 'Floor K_min of the bounded stiffness (> 0: growth from zero is possible).',
        'N*m/rad', low=0.0, high=1000.0, low_open=True)
    stiffness_max: float = param(300.0, 'Ceiling of the bounded stiffness, > stiffness_min.',
                                 'N*m/rad', low=0.0, high=1000.0, low_open=True)
    stiffness_compliant: float = param(
        2.0, 'Stiffness a stale reference ramps down to, in [stiffness_min, stiffness_max].',
        'N*m/rad', low=0.0, high=1000.0, low_open=True)
    stiffness_ramp_down_time: float = param(
        0.5, 'Duration of the ramp to stiffness_compliant.', 's', low=0.0, high=60.0)
    torque_limit: float = param(
        25.0, "Saturation of the commanded torque (at most the device's motor clip).", 'N*m',
        low=0.0, high=MAX_DEVICE_TORQUE_NM, low_open=True)
    joint_limit_lower: float = param(0.0, 'Lower joint limit.', 'rad', low=-PI, high=PI)
    joint_limit_upper: float = param(2.26893, 'Upper joint limit, > joint_limit_lower.', 'rad',
                                     low=-PI, high=PI)
    joint_limit_margin: float = param(
        0.05, 'The reference is clamped into [lower + margin, upper - margin].', 'rad',
        low=0.0, high=PI / 2)
    exo_inertia: float = param(0.02996, 'Inertia M(q) of the exo link about the joint.',
                               'kg*m^2', low=0.0, high=10.0, low_open=True)
    exo_gravity_sin: float = param(
        1.4695, 'g(q) = exo_gravity_sin*sin(q) + exo_gravity_cos*cos(q).', 'N*m',
        low=-100.0, high=100.0)
    exo_gravity_cos: float = param(0.00117, 'See exo_gravity_sin.', 'N*m',
                                   low=-100.0, high=100.0)
    reference_timeout: float = param(0.1, 'A reference older than this (receipt time) is '
                                     'stale.', 's', low=0.0, high=10.0, low_open=True)
    joint_state_timeout: float = param(
        0.02, 'A joint state older than this (receipt time) gives zero torque.', 's',
        low=0.0, high=10.0, low_open=True)
    interaction_timeout: float = param(
        0.02, 'An interaction torque older than this (receipt time) counts as 0.', 's',
        low=0.0, high=10.0, low_open=True)
    max_tick: float = param(0.005, 'Upper clamp of the tick length h of the stiffness-rate '
                            'bound.', 's', low=0.0, high=1.0, low_open=True)
    plausible_angle_margin: float = param(
        PLAUSIBLE_ANGLE_MARGIN, 'A joint angle outside [joint_limit_lower - m, '
        'joint_limit_upper + m] is beyond the hard stops: invalid (input fault).', 'rad',
        low=0.0, high=PI)
    max_plausible_velocity: float = param(
        MAX_PLAUSIBLE_VELOCITY, 'A joint velocity above this is not a human elbow motion: '
        'invalid (input fault).', 'rad/s', low=0.0, high=100.0, low_open=True)
    interaction_torque_range: float = param(
        50.0, 'Interaction torque sensor range (set from its datasheet): |tau_ext| beyond it '
        'is invalid (input fault).', 'N*m', low=0.0, high=1000.0, low_open=True)
    max_interaction_torque_rate: float = param(
        2000.0, 'Interaction torque changing faster than this since the last valid sample '
        'is invalid (input fault; 2000 allows 2 N*m per 1 kHz sample).', 'N*m/s',
        low=0.0, high=1.0e6, low_open=True)
    fault_recovery_samples: int = param(
        100, 'Consecutive valid control ticks that end a latched input fault (zero torque '
        'meanwhile; 100 ticks = 0.1 s at 1 kHz).', 'samples', low=1, high=1000000)
    max_reference_speed: float = param(
        6.0, 'Rate limit of the reference angle fed to the law (task references peak at '
        'about 2.2 rad/s).', 'rad/s', low=0.0, high=100.0, low_open=True)
    stability_margin: float = param(
        0.05, 'Margin eps below the eq. 13 edge: K rises at most by exp(2 h (1 - eps) D/M) '
        'per tick, so V strictly decreases with tau_ext = 0.', '1',
        low=0.0, high=1.0, low_open=True, high_open=True)
    max_torque_rate: float = param(
        2000.0, 'Rate limit of the torque command (the last layer before the actuator); a '
        'zero command is reached within torque_limit / max_torque_rate s.', 'N*m/s',
        low=0.0, high=1.0e5, low_open=True)
    estop_heartbeat_timeout: float = param(
        0.0, 'E-stop heartbeat (0 = off): once an /exo/estop message was received, none for '
        'longer than this is a stop (latched until an explicit resume).', 's',
        low=0.0, high=60.0)
    publisher_check_period: float = param(
        0.5, 'Period of the check that /joint_states, /interaction_torque and the reference '
        'have one publisher each (more: refused; sensors: zero torque, reference: compliant).',
        's', low=0.0, high=10.0, low_open=True)
    max_assist_torque: float = param(
        5.0, 'Bound on the assistance of the spring of eq. 8, |K (q_d - q)|: the reference is '
        "moved toward the arm until it holds, whatever publishes it (policy_node's default).",
        'N*m', low=0.0, high=MAX_DEVICE_TORQUE_NM, low_open=True)
    max_lead: float = param(
        0.12, 'Bound on the lead of the reference over the measured angle, |q_d - q| (the '
        "shipped policy's max_lead).", 'rad', low=0.0, high=PI, low_open=True)
    reference_lead_tolerance: float = param(
        0.1, 'A reference whose lead over the measured angle, |q_d - q| as received, exceeds '
        "max_lead plus this (the arm's motion between the policy's measurement and the "
        "controller's) is not assistance: refused, compliant, until fault_recovery_samples "
        'ticks without such a reference.', 'rad', low=0.0, high=PI)

    def __post_init__(self):
        """Coerce ints to float and reject invalid values with a quoted message."""
        check_fields(self)
        self._require(self.stiffness_max > self.stiffness_min, 'stiffness_max',
                      f'> stiffness_min ({self.stiffness_min!r})')
        self._require(
            self.stiffness_min <= self.stiffness_compliant <= self.stiffness_max,
            'stiffness_compliant',
            f'in [stiffness_min, stiffness_max] = '
            f'[{self.stiffness_min!r}, {self.stiffness_max!r}]')
        self._require(self.joint_limit_upper > self.joint_limit_lower, 'joint_limit_upper',
                      f'> joint_limit_lower ({self.joint_limit_lower!r})')
        span = self.joint_limit_upper - self.joint_limit_lower
        self._require(2.0 * self.joint_limit_margin < span, 'joint_limit_margin',
                      f'< (joint_limit_upper - joint_limit_lower) / 2 = {span / 2.0!r}')

    def _require(self, ok: bool, name: str, allowed: str) -> None:
        if not ok:
            raise ValueError(
                f'{name} must be {allowed} {UNIT[name]}, got {getattr(self, name)!r}')

    @classmethod
    def from_mapping(cls, d: Mapping[str, object]) -> 'ControllerParams':
        """Build from a mapping of field names; unknown keys and wrong types are rejected."""
        return build(cls, d)

    def to_dict(self) -> dict:
        """Return the fields as a plain dict (round-trips through from_mapping)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: Unit of each parameter (for messages).
UNIT = {s.name: s.unit for s in specs(ControllerParams)}
