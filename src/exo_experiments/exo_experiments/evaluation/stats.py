"""Paired statistics over subjects: bootstrap intervals, effect sizes, Holm, TOST (scipy).

The unit of analysis is the subject (:mod:`exo_experiments.evaluation.population`): every
comparison pairs two conditions on the same subjects and the same task or scenario.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

BOOTSTRAP_RESAMPLES = 5000
BOOTSTRAP_SEED = 7
TOST_MARGIN_RAD = 0.005
"""Equivalence margin of 'tracking is unchanged', rad: a tenth of the 0.05 rad target."""


def _finite(values) -> np.ndarray:
    a = np.asarray([v for v in values if v is not None], dtype=float)
    return a[np.isfinite(a)]


def bootstrap_ci(values, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> list[float] | None:
    """Percentile bootstrap 95 % interval of the mean, [lo, hi]; None below 2 values."""
    a = _finite(values)
    if a.size < 2:
        return None
    rng = np.random.default_rng(seed)
    means = a[rng.integers(0, a.size, size=(resamples, a.size))].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def cohen_dz(diffs) -> float | None:
    """Effect size of paired differences: mean / SD (None below 2 values or SD 0)."""
    a = _finite(diffs)
    if a.size < 2:
        return None
    sd = float(a.std(ddof=1))
    return float(a.mean() / sd) if sd > 0 else None


def wilcoxon_p(diffs) -> float | None:
    """Two-sided Wilcoxon signed-rank p of paired differences (None when undefined)."""
    a = _finite(diffs)
    if a.size < 2 or np.all(a == 0):
        return None
    try:
        return float(sps.wilcoxon(a).pvalue)
    except ValueError:
        return None


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (None stays None; family = the non-None ones)."""
    idx = [i for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(pvalues)
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda j: pvalues[j])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def tost_paired(diffs, margin: float = TOST_MARGIN_RAD) -> dict | None:
    """Two one-sided t-tests of paired differences against +-``margin``.

    ``p`` is the larger one-sided p: equivalence at level 0.05 when ``p < 0.05`` (the 90 %
    interval of the mean difference lies inside the margin).
    """
    a = _finite(diffs)
    if a.size < 3:
        return None
    p_low = float(sps.ttest_1samp(a, -margin, alternative='greater').pvalue)
    p_high = float(sps.ttest_1samp(a, margin, alternative='less').pvalue)
    half = float(sps.t.ppf(0.95, a.size - 1) * a.std(ddof=1) / math.sqrt(a.size))
    return {'margin': margin, 'p': max(p_low, p_high), 'equivalent': max(p_low, p_high) < 0.05,
            'mean_diff': float(a.mean()), 'ci90': [float(a.mean() - half),
                                                   float(a.mean() + half)]}


def paired(a: dict, b: dict) -> dict | None:
    """Paired difference a - b over the subjects both dicts (subject -> value) have."""
    keys = sorted(k for k in a if k in b and a[k] is not None and b[k] is not None
                  and math.isfinite(a[k]) and math.isfinite(b[k]))
    if not keys:
        return None
    d = np.array([a[k] - b[k] for k in keys])
    return {'n': len(keys), 'mean_diff': float(d.mean()), 'ci95': bootstrap_ci(d),
            'dz': cohen_dz(d), 'p': wilcoxon_p(d), 'diffs': d.tolist()}
