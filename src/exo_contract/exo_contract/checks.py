"""Validation helper shared by the configuration dataclasses of exo_sim and exo_policy."""

import math


def check_range(name: str, value: object, low: float, high: float, unit: str) -> None:
    """Raise ValueError quoting ``value`` unless it is a finite number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or not low <= value <= high:
        raise ValueError(f'{name} must be in [{low}, {high}] {unit}, got {value!r}')
