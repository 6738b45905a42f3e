"""Typed, validated parameters of the variable impedance controller (no rclpy).

Every field of :class:`ControllerParams` is also a ROS parameter of ``controller_node``
(declared in one place, ``controller_node.PARAMETER_DESCRIPTIONS``). Invalid values are
rejected with a ``ValueError`` that quotes the value and the allowed range.
"""

from dataclasses import dataclass, fields
import math
from typing import Mapping

from exo_contract.checks import MAX_PLAUSIBLE_VELOCITY, PLAUSIBLE_ANGLE_MARGIN

# Units of each numeric field, used in the error messages.
UNITS = {
    'target_inertia': 'kg*m^2',
    'target_damping': 'N*m*s/rad',
    'stiffness_min': 'N*m/rad',
    'stiffness_max': 'N*m/rad',
    'stiffness_compliant': 'N*m/rad',
    'stiffness_ramp_down_time': 's',
    'torque_limit': 'N*m',
    'joint_limit_lower': 'rad',
    'joint_limit_upper': 'rad',
    'joint_limit_margin': 'rad',
    'exo_inertia': 'kg*m^2',
    'exo_gravity_sin': 'N*m',
    'exo_gravity_cos': 'N*m',
    'reference_timeout': 's',
    'joint_state_timeout': 's',
    'interaction_timeout': 's',
    'max_tick': 's',
    'plausible_angle_margin': 'rad',
    'max_plausible_velocity': 'rad/s',
    'interaction_torque_range': 'N*m',
    'max_interaction_torque_rate': 'N*m/s',
    'max_reference_speed': 'rad/s',
    'stability_margin': '(dimensionless)',
    'max_torque_rate': 'N*m/s',
    'fault_recovery_samples': 'samples',
    'estop_heartbeat_timeout': 's',
    'publisher_check_period': 's',
    'max_assist_torque': 'N*m',
    'max_lead': 'rad',
}
# Integer-valued fields (all others in UNITS are floats).
INTEGER_FIELDS = frozenset({'fault_recovery_samples'})


@dataclass(frozen=True)
class ControllerParams:
    """Parameters of eq. 7-8 and eq. 13 and of the safety layer (SI units, REP-103).

    The exo dynamics (``exo_inertia``, ``exo_gravity_*``) describe the exoskeleton link
    alone: ``M(q) = exo_inertia`` and
    ``g(q) = exo_gravity_sin * sin(q) + exo_gravity_cos * cos(q)`` (MuJoCo bias sign).
    """

    # Name of the controlled joint in /joint_states and /exo/impedance_reference.
    joint_name: str = 'exo_elbow_joint'
    # Target inertia M of eq. 7, kg*m^2, > 0: chosen by the wearer's energy, under a
    # bare-link stability check (README "Target impedance";
    # python -m exo_experiments.evaluation.impedance).
    target_inertia: float = 0.05
    # Target damping D of eq. 7, N*m*s/rad, > 0 (2 D / M = 40 /s, the stiffness growth rate).
    target_damping: float = 1.0
    # Floor K_min of the bounded stiffness, N*m/rad, > 0 (growth from zero is possible).
    stiffness_min: float = 2.0
    # Ceiling of the bounded stiffness, N*m/rad, > stiffness_min.
    stiffness_max: float = 300.0
    # Stiffness a stale reference ramps down to, N*m/rad, in [stiffness_min, stiffness_max].
    stiffness_compliant: float = 2.0
    # Duration of that ramp, s, >= 0.
    stiffness_ramp_down_time: float = 0.5
    # Saturation of the commanded torque, N*m, > 0.
    torque_limit: float = 25.0
    # Joint range, rad; the reference is clamped into [lower + margin, upper - margin].
    joint_limit_lower: float = 0.0
    joint_limit_upper: float = 2.26893
    joint_limit_margin: float = 0.05
    # Exo link inertia M(q) about the joint, kg*m^2, > 0 (placeholder: set from sim model).
    exo_inertia: float = 0.02996
    # Exo gravity torque coefficients, N*m (placeholders: set from sim model).
    exo_gravity_sin: float = 1.4695
    exo_gravity_cos: float = 0.00117
    # Staleness timeouts (receipt time), s, > 0.
    reference_timeout: float = 0.1
    joint_state_timeout: float = 0.02
    interaction_timeout: float = 0.02
    # Upper clamp of the tick length h used by the stiffness-rate bound, s, > 0.
    max_tick: float = 0.005
    # Plausibility of the sensors (an implausible sample is invalid, like NaN, and latches
    # the input fault). A measured angle outside [joint_limit_lower - m, joint_limit_upper +
    # m] is beyond the hard stops: a sensor fault. rad, >= 0.
    plausible_angle_margin: float = PLAUSIBLE_ANGLE_MARGIN
    # |qd| above this is not a human elbow motion (fast voluntary motions peak near 10-15
    # rad/s; the tasks at about 2.2 rad/s). rad/s, > 0.
    max_plausible_velocity: float = MAX_PLAUSIBLE_VELOCITY
    # Range of the interaction torque sensor: |tau_ext| beyond it is invalid. N*m, > 0.
    # (Normal tasks stay below 2 N*m in simulation; set from the sensor datasheet.)
    interaction_torque_range: float = 50.0
    # Largest plausible rate of the interaction torque between valid samples, N*m/s, > 0
    # (simulated tasks stay below 25 N*m/s; 2000 N*m/s allows 2 N*m per 1 kHz sample).
    max_interaction_torque_rate: float = 2000.0
    # Consecutive valid control ticks that end a latched input fault, integer >= 1
    # (100 ticks = 0.1 s at 1 kHz).
    fault_recovery_samples: int = 100
    # Largest speed of the reference angle fed to the law, rad/s, > 0 (task references peak
    # at about 2.2 rad/s, 2.7 rad/s with the trajectory variation of the data set).
    max_reference_speed: float = 6.0
    # Margin eps below the eq. 13 edge: K rises at most by exp(2 h (1 - eps) D/M) per
    # tick, so V strictly decreases with tau_ext = 0. In (0, 1), dimensionless.
    stability_margin: float = 0.05
    # Largest rate of change of the torque command, N*m/s, > 0; the last layer before the
    # actuator. A zero command (fault) is reached within torque_limit / max_torque_rate s.
    # Not lower: with the light target inertia the rate limit's lag destabilises the bare
    # link (no arm in the cuff) at high stiffness (500 N*m/s does, 2000 does not;
    # python -m exo_experiments.evaluation.impedance).
    max_torque_rate: float = 2000.0
    # E-stop heartbeat, s, >= 0 (0 = off). When > 0 and an /exo/estop message has been
    # received, no message for longer than this counts as a stop (latched until an explicit
    # resume). Off by default: the lab's e-stop device decides whether it sends a heartbeat;
    # a device that publishes its state periodically (e.g. at 10 Hz) should set ~0.5 s.
    estop_heartbeat_timeout: float = 0.0
    # Period of controller_node's graph check that each sensor topic has one publisher, s,
    # > 0 (0.5 s: a second publisher is refused within about 0.5 s of its discovery).
    publisher_check_period: float = 0.5
    # Bound on the assistance the spring of eq. 8 can exert, |K (q_d - q)|, N*m, > 0: the
    # reference is moved toward the arm until it holds, whatever publishes it (core.py,
    # "Assistance bound"). The default is policy_node's max_assist_torque (the bound the
    # shipped policy was tuned with, exo_policy.reference_source.MAX_ASSIST_TORQUE_NM).
    max_assist_torque: float = 5.0
    # Bound on the lead of the reference over the measured angle, |q_d - q|, rad, > 0. The
    # default is the shipped policy's max_lead (exo_policy.configuration.PolicyConfig).
    max_lead: float = 0.12

    def __post_init__(self):
        """Coerce ints to float and reject invalid values with a quoted message."""
        if not isinstance(self.joint_name, str):
            raise ValueError(
                f'joint_name must be a non-empty string, got {self.joint_name!r}')
        if not self.joint_name.strip():
            raise ValueError(
                f'joint_name must be a non-empty string, got {self.joint_name!r}')
        for name in UNITS:
            value = getattr(self, name)
            if name in INTEGER_FIELDS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(
                        f'{name} must be an integer ({UNITS[name]}), got {value!r}')
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f'{name} must be a number ({UNITS[name]}), got {value!r}')
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(
                    f'{name} must be a finite number ({UNITS[name]}), got {value!r}')
            object.__setattr__(self, name, value)

        for name in ('target_inertia', 'target_damping', 'stiffness_min', 'torque_limit',
                     'exo_inertia', 'reference_timeout', 'joint_state_timeout',
                     'interaction_timeout', 'max_tick', 'max_plausible_velocity',
                     'interaction_torque_range', 'max_interaction_torque_rate',
                     'max_reference_speed', 'max_torque_rate', 'publisher_check_period',
                     'max_assist_torque', 'max_lead'):
            self._require(getattr(self, name) > 0.0, name, '> 0')
        for name in ('stiffness_ramp_down_time', 'joint_limit_margin',
                     'plausible_angle_margin', 'estop_heartbeat_timeout'):
            self._require(getattr(self, name) >= 0.0, name, '>= 0')
        self._require(0.0 < self.stability_margin < 1.0, 'stability_margin', 'in (0, 1)')
        self._require(self.fault_recovery_samples >= 1, 'fault_recovery_samples', '>= 1')
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
                f'{name} must be {allowed} {UNITS[name]}, got {getattr(self, name)!r}')

    @classmethod
    def from_mapping(cls, d: Mapping[str, object]) -> 'ControllerParams':
        """Build from a mapping of field names; unknown keys and wrong types are rejected."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(
                f'unknown controller parameter(s) {unknown!r}; allowed: {sorted(known)!r}')
        for key, value in d.items():
            if key == 'joint_name':
                if not isinstance(value, str):
                    raise ValueError(
                        f'joint_name must be a string, got {value!r} '
                        f'({type(value).__name__})')
            elif key in INTEGER_FIELDS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(
                        f'{key} must be an integer ({UNITS[key]}), got {value!r} '
                        f'({type(value).__name__})')
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f'{key} must be a number ({UNITS[key]}), got {value!r} '
                    f'({type(value).__name__})')
        return cls(**dict(d))

    def to_dict(self) -> dict:
        """Return the fields as a plain dict (round-trips through from_mapping)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
