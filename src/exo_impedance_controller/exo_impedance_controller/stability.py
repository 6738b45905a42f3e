"""Stiffness-rate bound of eq. 10-13 (Kronander & Billard 2016) and Lyapunov terms.

With ``gamma = Dt/Mt`` and ``beta = K + gamma Dt - gamma^2 Mt`` (= K), the Lyapunov
function of eq. 9 is non-increasing along eq. 7 with ``tau_ext = 0`` when ``K >= 0`` and
``dK/dt <= 2 gamma K`` (eq. 13). Its exact discrete form over a tick of length h is
``K_k <= K_{k-1} exp(2 h Dt/Mt)``: stiffness may fall at once but rise only
exponentially. A positive floor ``k_min`` keeps growth from zero possible.

Margin below the edge: at ``dK/dt = 2 gamma K`` exactly, V is only non-increasing (its
stiffness term ``(1/2 dK/dt - gamma K) e^2`` is 0). The limiter therefore allows at most
``dK/dt = 2 (1 - eps) gamma K`` (``eps`` = ``stability_margin``), i.e.
``K_k <= K_{k-1} exp(2 h (1 - eps) Dt/Mt)``; then the stiffness term is at most
``-eps gamma K e^2 < 0`` and, with ``tau_ext = 0``, V strictly decreases over every tick on
which ``(e, ed) != 0`` (with e = 0 and ed != 0 at a tick start, e becomes non-zero at once).
:func:`stiffness_rate_violated` keeps checking the eq. 13 edge itself (``margin = 0``).

The bound is written once, here: :func:`stiffness_bound` (the ceiling),
:func:`stiffness_rate_violated` (the check with its rounding slack
:data:`BOUND_RTOL` / :data:`BOUND_ATOL`). The limiter, the evaluation harness's safety
counters and the analysis of recordings all use them.
"""

import math

import numpy as np

#: Relative slack of :func:`stiffness_rate_violated` (rounding of the limiter).
BOUND_RTOL = 1e-9
#: Absolute slack of :func:`stiffness_rate_violated`, N*m/rad.
BOUND_ATOL = 1e-12
#: Exponents at or above this saturate the growth factor to ``inf`` (math.exp overflows
#: near 709.78).
_MAX_EXPONENT = 700.0


def _scalar(*values) -> bool:
    for v in values:  # a loop, not all(genexpr): called twice per 1 kHz tick
        if not isinstance(v, (int, float)):
            return False
    return True


def _growth_exponent(h, target_inertia, target_damping, margin=0.0):
    # (2 Dt / Mt) * h * (1 - margin): the limiter's order of operations (bit-identical
    # ceilings; margin 0 multiplies by exactly 1).
    return 2.0 * target_damping / target_inertia * h * (1.0 - margin)


def growth_factor(h, target_inertia, target_damping, margin=0.0):
    """Return exp(2 h (1 - margin) Dt/Mt), the largest allowed ratio K_k / K_{k-1} over h.

    ``margin`` (eps, in [0, 1)) keeps the limiter below the eq. 13 edge (module docstring);
    0 is the edge itself. Saturates to ``inf`` instead of raising OverflowError for a huge
    exponent; a NaN input gives NaN. Scalars give a float, arrays broadcast (numpy).
    """
    if _scalar(h, target_inertia, target_damping, margin):
        x = _growth_exponent(h, target_inertia, target_damping, margin)
        if x != x:
            return math.nan
        return math.exp(x) if x < _MAX_EXPONENT else math.inf
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        x = _growth_exponent(np.asarray(h, dtype=float), np.asarray(target_inertia, dtype=float),
                             np.asarray(target_damping, dtype=float),
                             np.asarray(margin, dtype=float))
        return np.where(x < _MAX_EXPONENT, np.exp(np.minimum(x, _MAX_EXPONENT)),
                        np.where(np.isnan(x), np.nan, np.inf))


def stiffness_bound(k_prev, tick_period, target_inertia, target_damping, margin=0.0):
    """Eq. 13's ceiling over one tick: ``K_{k-1} * exp(2 h (1 - margin) Dt/Mt)``, N*m/rad.

    Args:
        k_prev: bounded stiffness of the previous tick K_{k-1}, N*m/rad.
        tick_period: tick length h, s.
        target_inertia: Mt of eq. 7, kg*m^2.
        target_damping: Dt of eq. 7, N*m*s/rad.
        margin: stability margin eps in [0, 1) below the edge (0: eq. 13 itself).

    Scalars give a float; numpy arrays broadcast elementwise. A huge exponent saturates to
    ``inf``; NaN inputs give NaN (an undefined bound). The limiter decides separately what
    a non-finite or non-positive h means (no growth).

    """
    return k_prev * growth_factor(tick_period, target_inertia, target_damping, margin)


def stiffness_rate_violated(k_prev, k_now, tick_period, target_inertia, target_damping,
                            rtol: float = BOUND_RTOL, atol: float = BOUND_ATOL):
    """Whether ``k_now`` exceeds eq. 13's ceiling over ``k_prev``, with rounding slack.

    Violated when ``k_now > stiffness_bound(k_prev, h, Mt, Dt) * (1 + rtol) + atol``. An
    undefined (NaN) bound or a NaN ``k_now`` is not a violation here (callers that must
    flag non-finite stiffness do so themselves). Scalars give a bool; numpy arrays give a
    boolean array (elementwise).
    """
    bound = stiffness_bound(k_prev, tick_period, target_inertia, target_damping)
    if _scalar(k_now, bound):
        return k_now > bound * (1.0 + rtol) + atol
    with np.errstate(invalid='ignore', over='ignore'):
        return np.asarray(k_now, dtype=float) > np.asarray(bound, dtype=float) * (
            1.0 + rtol) + atol


class StiffnessRateLimiter:
    """Asymmetric rate limiter enforcing eq. 13 (with a margin below its edge) every tick.

    ``step(k_raw, h)`` returns ``K_k = min(clamp(k_raw, k_min, k_max),
    K_{k-1} * exp(2 h (1 - margin) Dt/Mt))`` (``margin``: eps of the module docstring; the
    controller passes ``stability_margin``, 0 is the eq. 13 edge). A non-finite or
    negative ``k_raw`` is a request for ``k_min``; a non-finite or non-positive ``h`` allows
    no growth. After each step, ``rate_limited`` and ``clamped`` tell whether the bound or
    the range was active.
    """

    def __init__(self, k_min: float, k_max: float, target_inertia: float,
                 target_damping: float, margin: float = 0.0):
        """Create the limiter at ``k_min`` (call ``reset`` to start elsewhere)."""
        for name, value in (('k_min', k_min), ('k_max', k_max),
                            ('target_inertia', target_inertia),
                            ('target_damping', target_damping)):
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f'{name} must be finite and > 0, got {value!r}')
        if not k_max > k_min:
            raise ValueError(f'k_max must be > k_min ({k_min!r}), got {k_max!r}')
        if not 0.0 <= margin < 1.0:
            raise ValueError(f'margin must be in [0, 1), got {margin!r}')
        self.margin = float(margin)
        self.k_min = float(k_min)
        self.k_max = float(k_max)
        self.target_inertia = float(target_inertia)
        self.target_damping = float(target_damping)
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
            ceiling = stiffness_bound(self.value, h, self.target_inertia, self.target_damping,
                                      self.margin)
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
