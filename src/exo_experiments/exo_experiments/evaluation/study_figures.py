"""Figures of the population study from a study dict (matplotlib, Agg).

* ``study_tasks.png`` -- per task and condition: exo RMSE, muscle energy against no exo and
  the command's RMS above the smoothness cut-off; mean and 95 % interval over subjects;
* ``study_scenarios.png`` -- per interaction-safety scenario and condition: peak and RMS
  interaction torque and the exo's deviation;
* ``study_default_vs_best.png`` -- the learned policy minus the best baseline of each task
  (energy) and scenario (RMS interaction torque), paired over subjects, with intervals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from exo_experiments.evaluation.figures import COLORS, save_figure
from exo_experiments.evaluation.study import TRACKING_TARGET_RAD
from exo_experiments.evaluation.study_page import LABELS


def _grouped(ax, summary: dict, items: list[str], conds: list[str], metric: str) -> None:
    width = 0.8 / max(len(conds), 1)
    x = np.arange(len(items))
    for j, c in enumerate(conds):
        stats = [summary.get(i, {}).get(c, {}).get(metric) for i in items]
        mean = np.array([s['mean'] if s else np.nan for s in stats])
        lo = np.array([s['ci95'][0] if s and s.get('ci95') else m for s, m in zip(stats, mean,
                                                                                   strict=True)])
        hi = np.array([s['ci95'][1] if s and s.get('ci95') else m for s, m in zip(stats, mean,
                                                                                   strict=True)])
        ax.bar(x + (j - (len(conds) - 1) / 2) * width, mean, width,
               yerr=[mean - lo, hi - mean], capsize=1.5, color=COLORS.get(c, '#333333'),
               label=c, error_kw={'lw': 0.6})
    ax.set_xticks(x, items, rotation=20, fontsize=7)
    ax.set_ylabel(LABELS[metric], fontsize=7)
    ax.tick_params(axis='y', labelsize=7)
    ax.axhline(0.0, color='k', lw=0.5)


def _panels(study: dict, items: list[str], metrics: list[str], title: str, path: Path,
            target: float | None = None) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415
    conds = study['config']['conditions']
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(7.0, 1.0 * len(items) + 3), 2.4
                                                      * len(metrics)), squeeze=False)
    for ax, m in zip(axes[:, 0], metrics, strict=True):
        _grouped(ax, study['summary'], items, conds, m)
        if target is not None and m == 'rmse_rad':
            ax.axhline(target, color='k', ls='--', lw=0.7, label=f'target {target:g} rad')
    axes[0, 0].legend(fontsize=6, ncol=min(len(conds) + 1, 5), loc='upper left')
    fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def _forest(study: dict, path: Path) -> bool:
    import matplotlib.pyplot as plt  # noqa: PLC0415
    best = study['comparisons'].get('best_baseline', {})
    rows = [(item, b) for item, b in best.items() if b.get('default_minus_baseline')]
    if not rows:
        return False
    groups = [[r for r in rows if r[1]['metric'] == m] for m in ('energy_change_pct',
                                                                 'rms_interaction_nm')]
    groups = [g for g in groups if g]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 0.5 * max(
        len(g) for g in groups) + 1.6), squeeze=False)
    for ax, g in zip(axes[0], groups, strict=True):
        y = np.arange(len(g))[::-1]
        for yi, (_, b) in zip(y, g, strict=True):
            d = b['default_minus_baseline']
            ci = d.get('ci95') or [d['mean_diff'], d['mean_diff']]
            ax.errorbar(d['mean_diff'], yi, xerr=[[d['mean_diff'] - ci[0]],
                                                  [ci[1] - d['mean_diff']]],
                        fmt='o', color=COLORS.get(b['baseline'], 'k'), capsize=2, ms=4)
        ax.set_yticks(y, [f'{item} (vs {b["baseline"]})' for item, b in g], fontsize=7)
        ax.axvline(0.0, color='k', lw=0.6)
        ax.set_xlabel(f'learned - best baseline: {LABELS[g[0][1]["metric"]]}', fontsize=7)
        ax.tick_params(axis='x', labelsize=7)
    fig.suptitle('Learned policy minus the best baseline (paired, 95 % interval; '
                 '< 0 favours the learned policy)', fontsize=8)
    save_figure(fig, path)
    return True


def study_figures(study: dict, out: Path) -> list[str]:
    """Write the study's figures into ``out``; return their file names."""
    import matplotlib  # noqa: PLC0415
    matplotlib.use('Agg')
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = study['config']
    names = []
    if cfg['tasks']:
        _panels(study, cfg['tasks'], ['rmse_rad', 'energy_change_pct', 'command_hf_rms_nm'],
                f'Tasks: mean and 95 % interval over {len(study["subjects"])} subjects',
                out / 'study_tasks.png', TRACKING_TARGET_RAD)
        names.append('study_tasks.png')
    if cfg['scenarios']:
        _panels(study, cfg['scenarios'], ['peak_interaction_nm', 'rms_interaction_nm',
                                          'exo_deviation_rad'],
                f'Interaction-safety scenarios: mean and 95 % interval over '
                f'{len(study["subjects"])} subjects', out / 'study_scenarios.png')
        names.append('study_scenarios.png')
    if _forest(study, out / 'study_default_vs_best.png'):
        names.append('study_default_vs_best.png')
    return names
