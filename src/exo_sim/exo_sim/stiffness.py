"""Time-varying interaction stiffness K_int(t) of eq. 4: ``tau_ext = K_int (q_d - q_r)``.

:func:`fit_interaction_stiffness` is the fit; :class:`FitSettings` its settings (window,
clip range), defined once: :data:`DEFAULT_FIT` serves the dataset
(:class:`exo_sim.datagen.config.DatagenConfig`), the oracle's stiffness table and the ProMP
fit from simulation (:mod:`exo_sim.episodes`).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from scipy.ndimage import uniform_filter1d


def _real(value: object) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(float(value)))


@dataclass(frozen=True)
class FitSettings:
    """Settings of the eq. 4 stiffness fit.

    Attributes:
        window_s: length of the centred least-squares window, s, in (0, 10].
        k_min: lower clip of the fitted stiffness, N*m/rad, > 0.
        k_max: upper clip of the fitted stiffness, N*m/rad, > k_min.

    """

    window_s: float = 0.2
    k_min: float = 5.0
    k_max: float = 250.0

    def __post_init__(self) -> None:
        """Reject invalid values with a message that quotes them."""
        if not (_real(self.window_s) and 0 < self.window_s <= 10.0):
            raise ValueError(f'window_s must be in (0, 10] s, got {self.window_s!r}')
        if not (_real(self.k_min) and self.k_min > 0):
            raise ValueError(f'k_min must be > 0, got {self.k_min!r}')
        if not (_real(self.k_max) and self.k_max > self.k_min):
            raise ValueError(f'k_max must be > k_min={self.k_min!r}, got {self.k_max!r}')

    def window_samples(self, timestep: float) -> int:
        """The window in samples of ``timestep`` s (at least 1)."""
        return max(1, int(round(self.window_s / timestep)))

    def fit(self, tau_ext: np.ndarray, q_d: np.ndarray, q_r: np.ndarray,
            timestep: float) -> np.ndarray:
        """:func:`fit_interaction_stiffness` of signals sampled every ``timestep`` s."""
        return fit_interaction_stiffness(tau_ext, q_d, q_r, self.window_samples(timestep),
                                         self.k_min, self.k_max)


DEFAULT_FIT = FitSettings()
"""The eq. 4 fit settings of the dataset, the oracle table and the ProMP fit."""


def fit_interaction_stiffness(tau_ext: np.ndarray, q_d: np.ndarray, q_r: np.ndarray,
                              window: int, k_min: float, k_max: float, *,
                              error_floor: float = 1e-3) -> np.ndarray:
    """Fit K_int(t) by centred windowed least squares through the origin.

    For each sample, ``K = (mean_w(tau e) + r K0) / (mean_w(e^2) + r)`` with ``e = q_d - q_r``,
    ``mean_w`` a centred moving average of ``window`` samples (edges use the nearest sample,
    no wrap-around), ``r = error_floor^2`` a ridge term that pulls the estimate towards the
    global least-squares value ``K0`` where the error is ~0, then clipped to
    ``[k_min, k_max]``. Vectorised, no loop over time.

    Args:
        tau_ext: interaction torque (T,), N*m.
        q_d: desired/human angle (T,), rad.
        q_r: robot/exo angle (T,), rad.
        window: window length in samples, 1 <= window.
        k_min: lower clip, N*m/rad, > 0.
        k_max: upper clip, N*m/rad, > k_min.
        error_floor: error scale (rad) below which the fit relies on the prior, > 0.

    Returns:
        K_int (T,), N*m/rad, in [k_min, k_max].

    """
    tau = np.asarray(tau_ext, dtype=float)
    e = np.asarray(q_d, dtype=float) - np.asarray(q_r, dtype=float)
    if tau.ndim != 1 or tau.shape != e.shape or tau.size == 0:
        raise ValueError(f'tau_ext, q_d and q_r must be equal non-empty (T,) arrays, got '
                         f'{np.shape(tau_ext)}, {np.shape(q_d)}, {np.shape(q_r)}')
    if not (isinstance(window, (int, np.integer)) and window >= 1):
        raise ValueError(f'window must be an integer >= 1, got {window!r}')
    if not (np.isfinite(k_min) and k_min > 0):
        raise ValueError(f'k_min must be > 0, got {k_min!r}')
    if not (np.isfinite(k_max) and k_max > k_min):
        raise ValueError(f'k_max must be > k_min={k_min!r}, got {k_max!r}')
    if not (np.isfinite(error_floor) and error_floor > 0):
        raise ValueError(f'error_floor must be > 0, got {error_floor!r}')
    if not (np.all(np.isfinite(tau)) and np.all(np.isfinite(e))):
        raise ValueError('tau_ext, q_d and q_r must be finite')
    r = error_floor**2
    see = float(np.dot(e, e))
    k0 = float(np.dot(tau, e)) / see if see > 0 else k_min
    k0 = float(np.clip(k0, k_min, k_max))
    window = min(int(window), tau.size)
    s_te = uniform_filter1d(tau * e, size=window, mode='nearest')
    s_ee = uniform_filter1d(e * e, size=window, mode='nearest')
    k = (s_te + r * k0) / (s_ee + r)
    return np.clip(k, k_min, k_max)
