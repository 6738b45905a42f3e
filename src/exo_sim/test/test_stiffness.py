"""Tests of the eq. 4 interaction-stiffness fit."""

import numpy as np
import pytest

from exo_sim.stiffness import DEFAULT_FIT, fit_interaction_stiffness, FitSettings


def synthetic(k_true, seed=0, noise=0.0):
    t = np.arange(k_true.size) * 1e-3
    rng = np.random.default_rng(seed)
    q_r = 0.5 + 0.4 * np.sin(2 * np.pi * 0.5 * t)
    e = 0.05 * np.sin(2 * np.pi * 3.0 * t) + 0.03
    tau = k_true * e + noise * rng.normal(size=t.size)
    return tau, q_r + e, q_r


def test_recovers_piecewise_constant_stiffness():
    k_true = np.where(np.arange(6000) < 3000, 50.0, 150.0)
    tau, q_d, q_r = synthetic(k_true)
    k = fit_interaction_stiffness(tau, q_d, q_r, window=101, k_min=1.0, k_max=500.0)
    assert k.shape == k_true.shape
    away = np.abs(np.arange(6000) - 3000) > 100
    np.testing.assert_allclose(k[away], k_true[away], rtol=1e-2)


def test_recovers_smooth_stiffness_with_noise():
    n = 8000
    k_true = 100.0 + 60.0 * np.sin(np.linspace(0, np.pi, n))
    tau, q_d, q_r = synthetic(k_true, noise=0.05)
    k = fit_interaction_stiffness(tau, q_d, q_r, window=201, k_min=1.0, k_max=500.0)
    assert np.sqrt(np.mean((k - k_true) ** 2)) < 5.0


def test_stays_positive_and_clipped():
    n = 2000
    rng = np.random.default_rng(3)
    tau = rng.normal(size=n)
    q_d = rng.normal(scale=1e-6, size=n)
    k = fit_interaction_stiffness(tau, q_d, np.zeros(n), window=51, k_min=5.0, k_max=80.0)
    assert np.all(k >= 5.0) and np.all(k <= 80.0) and np.all(np.isfinite(k))
    k = fit_interaction_stiffness(-np.abs(tau), np.abs(tau), np.zeros(n), 11, 5.0, 80.0)
    assert np.all(k == 5.0)


def test_zero_error_uses_prior_not_nan():
    n = 1000
    e = np.zeros(n)
    e[:500] = 0.02
    tau = 40.0 * e
    k = fit_interaction_stiffness(tau, e, np.zeros(n), 21, 1.0, 100.0)
    assert np.all(np.isfinite(k))
    np.testing.assert_allclose(k, 40.0, rtol=1e-6)


@pytest.mark.parametrize('kwargs', [dict(window=0), dict(k_min=-1.0), dict(k_max=0.5)])
def test_invalid_arguments(kwargs):
    args = dict(window=5, k_min=1.0, k_max=10.0) | kwargs
    with pytest.raises(ValueError):
        fit_interaction_stiffness(np.ones(10), np.ones(10), np.zeros(10), **args)


def test_fit_settings_window_and_fit():
    fit = FitSettings(window_s=0.05, k_min=1.0, k_max=500.0)
    assert fit.window_samples(1e-3) == 50 and FitSettings(window_s=1e-4).window_samples(1e-3) == 1
    k_true = np.full(3000, 80.0)
    tau, q_d, q_r = synthetic(k_true)
    np.testing.assert_array_equal(fit.fit(tau, q_d, q_r, 1e-3),
                                  fit_interaction_stiffness(tau, q_d, q_r, 50, 1.0, 500.0))
    assert DEFAULT_FIT == FitSettings()


@pytest.mark.parametrize('kwargs, message', [
    (dict(window_s=0.0), 'window_s'),
    (dict(window_s=float('nan')), 'window_s'),
    (dict(k_min=0.0), 'k_min must be > 0, got 0.0'),
    (dict(k_min=5.0, k_max=5.0), 'k_max must be > k_min=5.0, got 5.0'),
    (dict(k_max=True), 'k_max'),
])
def test_fit_settings_reject_and_quote(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FitSettings(**kwargs)
