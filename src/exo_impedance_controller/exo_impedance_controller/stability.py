"""Stiffness-rate bound of eq. 10-13 (Kronander & Billard 2016) and Lyapunov terms.

With ``gamma = Dt/Mt`` and ``beta = K + gamma Dt - gamma^2 Mt`` (= K), the Lyapunov
function of eq. 9 is non-increasing along eq. 7 with ``tau_ext = 0`` when ``K >= 0`` and
``dK/dt <= 2 gamma K`` (eq. 13). Its exact discrete form over a tick of length h is
``K_k <= K_{k-1} exp(2 h Dt/Mt)``: stiffness may fall at once but rise only
exponentially. A positive floor ``k_min`` keeps growth from zero possible.
"""

import math


def growth_factor(h: float, target_inertia: float, target_damping: float) -> float:
    """Return exp(2 h Dt/Mt), the largest allowed ratio K_k / K_{k-1} over a tick h.

    Saturates to ``inf`` instead of raising OverflowError for a huge exponent.
    """
    x = 2.0 * h * target_damping / target_inertia
    return math.exp(x) if x < 700.0 else math.inf


class StiffnessRateLimiter:
    """Asymmetric rate limiter enforcing eq. 13 exactly on every tick.

    ``step(k_raw, h)`` returns ``K_k = min(clamp(k_raw, k_min, k_max),
    K_{k-1} * exp(2 h Dt/Mt))``. A non-finite or negative ``k_raw`` is a request for
    ``k_min``; a non-finite or non-positive ``h`` allows no growth. After each step,
    ``rate_limited`` and ``clamped`` tell whether the bound or the range was active.
    """

    def __init__(self, k_min: float, k_max: float, target_inertia: float,
                 target_damping: float):
        """Create the limiter at ``k_min`` (call ``reset`` to start elsewhere)."""
        for name, value in (('k_min', k_min), ('k_max', k_max),
                            ('target_inertia', target_inertia),
                            ('target_damping', target_damping)):
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f'{name} must be finite and > 0, got {value!r}')
        if not k_max > k_min:
            raise ValueError(f'k_max must be > k_min ({k_min!r}), got {k_max!r}')
        self.k_min = float(k_min)
        self.k_max = float(k_max)
        self.target_inertia = float(target_inertia)
        self.target_damping = float(target_damping)
        self._rate = 2.0 * self.target_damping / self.target_inertia
        self.value = self.k_min
        self.rate_limited = False
        self.clamped = False

    def reset(self, k: float) -> float:
        """Set the current stiffness to ``k`` clamped into [k_min, k_max] (non-finite: k_min)."""
        if not math.isfinite(k) or k < self.k_min:
            k = self.k_min
        elif k > self.k_max:
            k = self.k_max
        self.value = float(k)
        self.rate_limited = False
        self.clamped = False
        return self.value

    def step(self, k_raw: float, h: float) -> float:
        """Advance one tick of length ``h`` s toward ``k_raw`` N*m/rad; return K_k."""
        self.clamped = False
        self.rate_limited = False
        if k_raw != k_raw or k_raw < self.k_min:  # NaN, -inf, negative, below floor
            request = self.k_min
            self.clamped = True
        elif k_raw > self.k_max:  # includes +inf
            request = self.k_max
            self.clamped = True
        else:
            request = float(k_raw)
        if h == h and 0.0 < h < math.inf:
            x = self._rate * h
            ceiling = self.value * math.exp(x) if x < 700.0 else math.inf
        else:
            ceiling = self.value
        if request > ceiling:
            request = ceiling
            self.rate_limited = True
        self.value = request
        return request


def lyapunov_value(e, ed, stiffness, target_inertia, target_damping):
    """Return V of eq. 9: 1/2 Mt (ed + gamma e)^2 + 1/2 beta e^2, beta of eq. 10."""
    gamma = target_damping / target_inertia
    beta = stiffness + gamma * target_damping - gamma * gamma * target_inertia
    s = ed + gamma * e
    return 0.5 * target_inertia * s * s + 0.5 * beta * e * e


def stiffness_term(k_prev, stiffness, h, e, target_inertia, target_damping):
    """Return (1/2 dK/dt - gamma K) e^2 with dK/dt = (K - K_prev)/h (eq. 12 part of dV/dt).

    For a non-finite or non-positive ``h`` the rate part is taken as 0 (no growth is
    allowed then; an instantaneous drop only removes energy).
    """
    gamma = target_damping / target_inertia
    if h == h and 0.0 < h < math.inf:
        dk = (stiffness - k_prev) / h
    else:
        dk = 0.0
    return (0.5 * dk - gamma * stiffness) * e * e
