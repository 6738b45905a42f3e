"""Tests of the eq. 13 stiffness-rate limiter and of the Lyapunov function of eq. 9."""

from itertools import pairwise
import math

from hypothesis import assume, given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from exo_impedance_controller.stability import (
    BOUND_ATOL,
    BOUND_RTOL,
    growth_factor,
    lyapunov_value,
    stiffness_bound,
    stiffness_rate_violated,
    stiffness_term,
    StiffnessRateLimiter,
)

MT, DT = 0.25, 5.0
K_MIN, K_MAX = 2.0, 300.0
GAMMA = DT / MT

adversarial_k = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=1e3),
    st.sampled_from([0.0, -0.0, -1.0, 1e308, -1e308, math.nan, math.inf, -math.inf,
                     K_MIN, K_MAX, 1e-300]),
)
adversarial_h = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=0.05),
    st.sampled_from([0.0, -0.001, math.nan, math.inf, 1e-9, 0.001, 0.005, 1e3]),
)


def test_growth_factor():
    assert growth_factor(0.0, MT, DT) == 1.0
    assert growth_factor(1e6, MT, DT) == math.inf
    assert math.isclose(growth_factor(0.001, MT, DT), math.exp(0.04))


def test_stiffness_bound_scalar_and_vectorised():
    h = 0.001
    assert stiffness_bound(10.0, h, MT, DT) == pytest.approx(10.0 * math.exp(2 * h * DT / MT),
                                                              rel=1e-15)
    assert stiffness_bound(10.0, 0.0, MT, DT) == 10.0  # h = 0: no growth
    assert stiffness_bound(10.0, 1e6, MT, DT) == math.inf  # saturates, never raises
    assert math.isnan(stiffness_bound(10.0, math.nan, MT, DT))
    # Arrays broadcast elementwise and agree with the scalar form.
    k_prev = np.array([2.0, 10.0, 150.0])
    hs = np.array([0.001, 0.002, 0.0])
    mt = np.array([0.25, 0.5, 0.25])
    dt = np.array([5.0, 2.0, 5.0])
    got = stiffness_bound(k_prev, hs, mt, dt)
    assert isinstance(got, np.ndarray) and got.shape == (3,)
    expected = [stiffness_bound(float(k), float(x), float(m), float(d))
                for k, x, m, d in zip(k_prev, hs, mt, dt, strict=True)]
    assert got.tolist() == pytest.approx(expected, rel=1e-15)
    big = stiffness_bound(np.array([1.0, 1.0]), np.array([1e6, math.nan]), MT, DT)
    assert big[0] == math.inf and math.isnan(big[1])


def test_stiffness_rate_violated_tolerance_edges():
    h = 0.001
    ceiling = stiffness_bound(10.0, h, MT, DT)
    assert not stiffness_rate_violated(10.0, ceiling, h, MT, DT)
    assert not stiffness_rate_violated(10.0, ceiling * (1 + 0.5 * BOUND_RTOL), h, MT, DT)
    assert stiffness_rate_violated(10.0, ceiling * (1 + 1e-6), h, MT, DT)
    assert not stiffness_rate_violated(10.0, 0.0, h, MT, DT)  # a drop is always allowed
    # From zero only the absolute slack applies.
    assert not stiffness_rate_violated(0.0, 0.5 * BOUND_ATOL, h, MT, DT)
    assert stiffness_rate_violated(0.0, 1e-9, h, MT, DT)
    # Custom slack, undefined bound and NaN stiffness.
    assert not stiffness_rate_violated(10.0, ceiling * 1.01, h, MT, DT, rtol=0.02)
    assert not stiffness_rate_violated(10.0, 50.0, math.nan, MT, DT)
    assert not stiffness_rate_violated(10.0, math.nan, h, MT, DT)
    flags = stiffness_rate_violated(np.array([10.0, 10.0]), np.array([ceiling, 2 * ceiling]),
                                    h, MT, DT)
    assert flags.tolist() == [False, True]


def test_limiter_ceiling_is_the_stiffness_bound():
    lim = StiffnessRateLimiter(K_MIN, K_MAX, MT, DT)
    lim.reset(10.0)
    for h in (0.0005, 0.001, 0.005):
        k_prev = lim.value
        k = lim.step(K_MAX, h)
        assert lim.rate_limited and k == stiffness_bound(k_prev, h, MT, DT)
        assert not stiffness_rate_violated(k_prev, k, h, MT, DT)


def test_limiter_basic_behaviour():
    lim = StiffnessRateLimiter(K_MIN, K_MAX, MT, DT)
    assert lim.reset(100.0) == 100.0
    # Instant decrease allowed.
    assert lim.step(10.0, 0.001) == 10.0 and not lim.rate_limited
    # Rise bounded exactly.
    assert lim.step(200.0, 0.001) == 10.0 * math.exp(2 * 0.001 * GAMMA)
    assert lim.rate_limited
    # Non-finite / negative requests are k_min, flagged as clamped.
    for bad in (math.nan, -math.inf, -5.0, 0.0):
        lim.reset(50.0)
        assert lim.step(bad, 0.001) == K_MIN and lim.clamped
    # +inf is a request for the ceiling, reached through the rate bound only.
    lim.reset(K_MAX)
    assert lim.step(math.inf, 0.001) == K_MAX and lim.clamped
    # Bad tick lengths allow no growth.
    for bad_h in (0.0, -1.0, math.nan, math.inf):
        lim.reset(5.0)
        assert lim.step(100.0, bad_h) == 5.0 and lim.rate_limited
    # Growth from the floor is possible.
    lim.reset(0.0)
    assert lim.value == K_MIN
    assert lim.step(100.0, 0.005) > K_MIN


def test_limiter_rejects_bad_construction():
    with pytest.raises(ValueError, match='got 0.0'):
        StiffnessRateLimiter(0.0, K_MAX, MT, DT)
    with pytest.raises(ValueError, match='got 1.0'):
        StiffnessRateLimiter(K_MIN, 1.0, MT, DT)


@settings(max_examples=300, deadline=None)
@given(k0=adversarial_k, steps=st.lists(st.tuples(adversarial_k, adversarial_h),
                                        min_size=1, max_size=60))
def test_property_limiter_bounds_hold_on_every_tick(k0, steps):
    lim = StiffnessRateLimiter(K_MIN, K_MAX, MT, DT)
    k_prev = lim.reset(k0)
    assert K_MIN <= k_prev <= K_MAX
    for k_raw, h in steps:
        k = lim.step(k_raw, h)
        assert math.isfinite(k)
        assert K_MIN <= k <= K_MAX
        if math.isfinite(h) and h > 0.0:
            assert k <= k_prev * growth_factor(h, MT, DT) * (1.0 + 1e-12)
        else:
            assert k <= k_prev
        k_prev = k


def test_lyapunov_terms():
    # beta = K + gamma*Dt - gamma^2*Mt = K.
    assert math.isclose(lyapunov_value(0.1, 0.0, 50.0, MT, DT),
                        0.5 * MT * (GAMMA * 0.1) ** 2 + 0.5 * 50.0 * 0.01)
    assert lyapunov_value(0.0, 0.0, 50.0, MT, DT) == 0.0
    # At the bound the stiffness term is <= 0; above it, positive.
    k1 = 10.0 * math.exp(2 * 0.001 * GAMMA)
    assert stiffness_term(10.0, k1, 0.001, 0.3, MT, DT) <= 0.0
    assert stiffness_term(10.0, 100.0, 0.001, 0.3, MT, DT) > 0.0
    assert stiffness_term(10.0, 100.0, 0.0, 0.3, MT, DT) == -GAMMA * 100.0 * 0.09


def _rk4_tick(e, ed, k_start, k_end, h, mt, dt):
    """Integrate eq. 7 with tau_ext = 0 over one tick of length h.

    Rising stiffness: geometric interpolation K(s) = k_start (k_end/k_start)^(s/h).
    Falling stiffness: an instantaneous drop at the tick start (K = k_end throughout).
    """
    if k_end > k_start:
        rate = math.log(k_end / k_start) / h

        def k_of(s):
            return k_start * math.exp(rate * s)
    else:
        def k_of(s):
            return k_end
    n = max(20, int(math.ceil(h / 5e-5)))
    ds = h / n

    def f(s, x, v):
        return v, -(dt * v + k_of(s) * x) / mt

    s = 0.0
    for _ in range(n):
        k1 = f(s, e, ed)
        k2 = f(s + ds / 2, e + ds / 2 * k1[0], ed + ds / 2 * k1[1])
        k3 = f(s + ds / 2, e + ds / 2 * k2[0], ed + ds / 2 * k2[1])
        k4 = f(s + ds, e + ds * k3[0], ed + ds * k3[1])
        e += ds / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        ed += ds / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        s += ds
    return e, ed


def _lyapunov_trace(e, ed, stiffnesses, hs, mt, dt):
    """Return V at each tick boundary for the closed loop driven by ``stiffnesses``."""
    values = [lyapunov_value(e, ed, stiffnesses[0], mt, dt)]
    for k_prev, k, h in zip(stiffnesses[:-1], stiffnesses[1:], hs, strict=True):
        e, ed = _rk4_tick(e, ed, k_prev, k, h, mt, dt)
        values.append(lyapunov_value(e, ed, k, mt, dt))
    return values


def _limited_trace(lim, k0, steps, e0, ed0, mt, dt):
    """V at each tick for the stiffness requests ``steps`` ((k_raw, h) pairs) through ``lim``."""
    ks = [lim.reset(k0)] + [lim.step(k_raw, h) for k_raw, h in steps]
    return _lyapunov_trace(e0, ed0, ks, [h for _, h in steps], mt, dt)


@settings(max_examples=60, deadline=None)
@given(
    mt=st.floats(min_value=0.1, max_value=1.0),
    dt=st.floats(min_value=1.0, max_value=10.0),
    e0=st.floats(min_value=-1.0, max_value=1.0),
    ed0=st.floats(min_value=-5.0, max_value=5.0),
    k0=adversarial_k,
    steps=st.lists(st.tuples(adversarial_k, st.floats(min_value=1e-4, max_value=0.01)),
                   min_size=1, max_size=25),
)
def test_property_lyapunov_non_increasing_under_limiter(mt, dt, e0, ed0, k0, steps):
    lim = StiffnessRateLimiter(K_MIN, K_MAX, mt, dt)
    values = _limited_trace(lim, k0, steps, e0, ed0, mt, dt)
    for v_prev, v in pairwise(values):
        assert v <= v_prev * (1.0 + 1e-6) + 1e-12


def test_lyapunov_check_catches_unbounded_rise():
    # Converse: the raw sequence (a steep rise in one tick) makes V grow.
    ks = [K_MIN, 300.0, 300.0]
    hs = [0.001, 0.001]
    values = _lyapunov_trace(0.2, 0.0, ks, hs, MT, DT)
    assert values[1] > values[0] * (1.0 + 1e-6) + 1e-12
    # The same request through the limiter keeps V non-increasing.
    lim = StiffnessRateLimiter(K_MIN, K_MAX, MT, DT)
    bounded = [lim.reset(K_MIN)] + [lim.step(k, h) for k, h in zip(ks[1:], hs, strict=True)]
    values = _lyapunov_trace(0.2, 0.0, bounded, hs, MT, DT)
    assert all(b <= a * (1.0 + 1e-6) + 1e-12 for a, b in pairwise(values))


def test_limiter_margin_keeps_below_the_edge():
    eps = 0.05
    lim = StiffnessRateLimiter(K_MIN, K_MAX, MT, DT, margin=eps)
    lim.reset(10.0)
    k = lim.step(K_MAX, 0.001)
    assert k == stiffness_bound(10.0, 0.001, MT, DT, margin=eps)
    assert k == pytest.approx(10.0 * math.exp(2 * 0.001 * (1 - eps) * GAMMA), rel=1e-15)
    assert k < stiffness_bound(10.0, 0.001, MT, DT)
    assert growth_factor(0.001, MT, DT, 0.0) == growth_factor(0.001, MT, DT)
    with pytest.raises(ValueError, match='got 1.0'):
        StiffnessRateLimiter(K_MIN, K_MAX, MT, DT, margin=1.0)


@settings(max_examples=60, deadline=None)
@given(
    mt=st.floats(min_value=0.1, max_value=1.0),
    dt=st.floats(min_value=1.0, max_value=10.0),
    e0=st.floats(min_value=-1.0, max_value=1.0),
    ed0=st.floats(min_value=-5.0, max_value=5.0),
    k0=adversarial_k,
    steps=st.lists(st.tuples(adversarial_k, st.floats(min_value=1e-4, max_value=0.01)),
                   min_size=1, max_size=25),
)
def test_property_lyapunov_strictly_decreasing_with_margin(mt, dt, e0, ed0, k0, steps):
    # With the stability margin, V strictly decreases over every tick that starts with
    # (e, ed) != 0, even while K rises as fast as the limiter allows.
    assume(abs(e0) + abs(ed0) > 1e-3)
    lim = StiffnessRateLimiter(K_MIN, K_MAX, mt, dt, margin=0.05)
    values = _limited_trace(lim, k0, steps, e0, ed0, mt, dt)
    for v_prev, v in pairwise(values):
        assert v < v_prev


def test_margin_makes_the_decrease_strict_at_the_edge():
    # At the eq. 13 edge with e != 0, V is (to integration accuracy) constant only through
    # the stiffness term; with the margin it strictly decreases by a visible amount.
    h = 0.001
    edge = [K_MIN * growth_factor(h, MT, DT) ** i for i in range(20)]
    inside = [K_MIN * growth_factor(h, MT, DT, 0.05) ** i for i in range(20)]
    e0, ed0 = 0.2, -GAMMA * 0.2  # s = ed + gamma e = 0: only the spring part of V
    v_edge = _lyapunov_trace(e0, ed0, edge, [h] * 19, MT, DT)
    v_inside = _lyapunov_trace(e0, ed0, inside, [h] * 19, MT, DT)
    assert all(b < a for a, b in pairwise(v_inside))
    assert v_inside[-1] < v_edge[-1]
