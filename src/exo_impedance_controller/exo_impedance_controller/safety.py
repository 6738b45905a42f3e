"""Safety layer: flags, torque saturation, joint limits, staleness watchdog (no rclpy).

Everything here is deterministic in the times it is given (float seconds on one clock:
the node passes receipt times from ``time.monotonic``, the in-process rollout passes
simulation time). A missing input counts as stale.
"""

import enum
import math


class SafetyFlags(enum.IntFlag):
    """Bits of ControllerState.safety_flags (values mirror the FLAG_* constants)."""

    NONE = 0
    STIFFNESS_RATE_LIMITED = 1
    STIFFNESS_CLAMPED = 2
    TORQUE_SATURATED = 4
    JOINT_LIMIT = 8
    REFERENCE_STALE = 16
    JOINT_STATE_STALE = 32
    NONFINITE_INPUT = 64
    INTERACTION_STALE = 128
    INACTIVE = 256


def is_finite(*values: float) -> bool:
    """Return True when every value is a finite real number."""
    for v in values:
        if not math.isfinite(v):
            return False
    return True


def saturate_torque(tau: float, limit: float) -> tuple:
    """Return ``(clipped torque, saturated)``; a non-finite torque becomes 0 (saturated)."""
    if tau != tau or tau in (math.inf, -math.inf):
        return 0.0, True
    if tau > limit:
        return limit, True
    if tau < -limit:
        return -limit, True
    return tau, False


def clamp_reference(q_d: float, lower: float, upper: float, margin: float) -> tuple:
    """Return ``(q_d clamped into [lower + margin, upper - margin], clamped)``."""
    lo = lower + margin
    hi = upper - margin
    if q_d < lo:
        return lo, True
    if q_d > hi:
        return hi, True
    return q_d, False


def joint_limit_filter(tau: float, q: float, lower: float, upper: float) -> tuple:
    """Remove torque that pushes q further outside [lower, upper]; return (tau, active)."""
    if q > upper and tau > 0.0:
        return 0.0, True
    if q < lower and tau < 0.0:
        return 0.0, True
    return tau, q > upper or q < lower


class StalenessTimer:
    """Age of the last receipt against a timeout; missing or from the future is stale."""

    def __init__(self, timeout: float):
        """Create a timer that has never seen a message."""
        self.timeout = float(timeout)
        self.last = None

    def clear(self) -> None:
        """Forget the last receipt (the input is missing again)."""
        self.last = None

    def note(self, now: float) -> None:
        """Record a receipt at ``now``."""
        self.last = now

    def is_stale(self, now: float) -> bool:
        """Return True if nothing was received in [now - timeout, now]."""
        if self.last is None:
            return True
        age = now - self.last
        return not (0.0 <= age <= self.timeout)  # NaN age is stale too


class ReferenceSupervisor:
    """Watchdog state machine over the impedance reference.

    FRESH: the last valid reference (angle, velocity, raw stiffness) is used as is.
    STALE (timed out or never received): the last valid angle is held, the reference
    velocity is 0, and the stiffness target ramps linearly from the stiffness applied
    when the reference went stale down to ``k_compliant`` over ``ramp_time``; the
    target never rises above that starting value. A new valid reference returns to
    FRESH (the stiffness-rate limiter then bounds any rise).
    """

    def __init__(self, timeout: float, k_compliant: float, ramp_time: float):
        """Create a supervisor with no reference and no held angle."""
        self.timer = StalenessTimer(timeout)
        self.k_compliant = float(k_compliant)
        self.ramp_time = float(ramp_time)
        self.q_d = None
        self.qd_d = 0.0
        self.k_raw = k_compliant
        self._ramp_start = None  # (time, stiffness) when the current stale phase began

    def reset(self, q_hold) -> None:
        """Drop the reference; hold ``q_hold`` (None: the first measured angle)."""
        self.timer.clear()
        self.q_d = q_hold
        self.qd_d = 0.0
        self.k_raw = self.k_compliant
        self._ramp_start = None

    def accept(self, now: float, q_d: float, qd_d: float, k_raw: float) -> None:
        """Take a valid reference (finite q_d, qd_d; k_raw is bounded downstream)."""
        self.timer.note(now)
        self.q_d = q_d
        self.qd_d = qd_d
        self.k_raw = k_raw
        self._ramp_start = None

    def hold_if_unset(self, q: float) -> None:
        """Hold the measured angle when no reference or hold angle exists yet."""
        if self.q_d is None:
            self.q_d = q

    def target(self, now: float, k_current: float) -> tuple:
        """Return ``(q_d, qd_d, k_target, stale)`` for this tick.

        ``k_current`` is the stiffness applied on the previous tick.
        """
        if not self.timer.is_stale(now):
            return self.q_d, self.qd_d, self.k_raw, False
        if self._ramp_start is None:
            self._ramp_start = (now, k_current)
        t0, k0 = self._ramp_start
        if k0 <= self.k_compliant:
            k_target = k0
        elif self.ramp_time <= 0.0:
            k_target = self.k_compliant
        else:
            frac = (now - t0) / self.ramp_time
            if not frac >= 0.0:  # NaN or clock went backwards
                frac = 0.0
            elif frac > 1.0:
                frac = 1.0
            k_target = k0 + (self.k_compliant - k0) * frac
        return self.q_d, 0.0, k_target, True
