"""Validation helpers shared by the configuration dataclasses and the nodes' inputs."""

import math

from exo_contract.tasks import ELBOW_MAX_RAD, ELBOW_MIN_RAD

PLAUSIBLE_ANGLE_MARGIN = 0.3
"""rad: a measured elbow angle this far beyond the joint range is beyond the hard stops."""
MAX_PLAUSIBLE_VELOCITY = 20.0
"""rad/s: faster is not a human elbow motion (fast voluntary motions peak near 10-15)."""
MAX_DEVICE_TORQUE_NM = 30.0
"""N*m: the elbow exoskeleton's motor clip (the simulated model's ``exo_torque_limit``): the
upper end of every torque-limit parameter's range."""


def plausible_joint_state(angle: float, velocity: float, lower: float = ELBOW_MIN_RAD,
                          upper: float = ELBOW_MAX_RAD, margin: float = PLAUSIBLE_ANGLE_MARGIN,
                          max_velocity: float = MAX_PLAUSIBLE_VELOCITY) -> bool:
    """True for a plausible elbow joint state; a sensor fault otherwise (handled like NaN).

    Plausible: a finite angle within ``[lower - margin, upper + margin]`` (rad; default the
    elbow range) and ``|velocity|`` at most ``max_velocity`` (rad/s). The one joint check of
    the controller, the hardware bridge and policy_node.
    """
    return (math.isfinite(angle) and math.isfinite(velocity)
            and lower - margin <= angle <= upper + margin
            and abs(velocity) <= max_velocity)


def check_range(name: str, value: object, low: float, high: float, unit: str) -> None:
    """Raise ValueError quoting ``value`` unless it is a finite number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or not low <= value <= high:
        raise ValueError(f'{name} must be in [{low}, {high}] {unit}, got {value!r}')
