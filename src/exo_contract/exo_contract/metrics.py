"""Tracking and effort metrics, defined once (numpy only).

The paper scores a task over its *active phase*, while the reference moves: the step
loop's phase convention (:mod:`exo_sim.step_loop`) is -1 at rest and ``tau / duration`` in
[0, 1] during a task, so the active phase is ``0 < phase < 1``.

* tracking: root mean square of ``actual - reference`` (rad);
* effort (eq. 2): mean over time of the sum of the squared muscle activations.

Every caller (rollouts, data validation, evaluation, recording analysis) uses these.
"""

from __future__ import annotations

import math

import numpy as np


def active_mask(phase: np.ndarray) -> np.ndarray:
    """Boolean mask (T,) of the steps where a task is running: ``0 < phase < 1``."""
    phase = np.asarray(phase, dtype=float)
    return (phase > 0.0) & (phase < 1.0)


def rmse(actual: np.ndarray, reference: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMSE of ``actual - reference`` (both (T,)) over ``mask``; non-finite errors are skipped.

    Returns NaN when no finite sample is selected.
    """
    err = np.asarray(actual, dtype=float) - np.asarray(reference, dtype=float)
    if mask is not None:
        err = err[np.asarray(mask, dtype=bool)]
    err = err[np.isfinite(err)]
    return float(np.sqrt(np.mean(err * err))) if err.size else math.nan


def effort(activations: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Eq. 2's effort: mean over the selected steps of ``sum_i a_i^2``; activations (T, n).

    Returns NaN when no step is selected.
    """
    acts = np.asarray(activations, dtype=float)
    if mask is not None:
        acts = acts[np.asarray(mask, dtype=bool)]
    if acts.shape[0] == 0:
        return math.nan
    return float(np.mean(np.sum(acts * acts, axis=1)))
