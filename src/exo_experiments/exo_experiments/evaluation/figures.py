"""Figures of the evaluation (paper Fig. 4-7 style) from the eval.json dict (matplotlib, Agg)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_experiments.evaluation.conditions import CONDITIONS

COLORS = {'no_exo': '#7f7f7f', 'transparent': '#bcbd22', 'promp': '#1f77b4',
          'learned': '#d62728', 'ablation_human_reference': '#9467bd', 'oracle': '#2ca02c',
          'gravity_share': '#ff7f0e', 'constant_assist': '#8c564b',
          'learned_constant_stiffness': '#e377c2'}
"""One colour per condition (every condition of exo_experiments.evaluation.conditions)."""


def save_figure(fig, path: Path) -> None:
    """Lay out ``fig``, write it to ``path`` (120 dpi) and close it."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _bar_grid(report: dict, key: str, ylabel: str, title: str, path: Path) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415
    summary = report['summary']
    tasks = [t.task_id for t in TASKS if t.task_id in summary]
    conds = [c for c in CONDITIONS if any(c in summary[t] for t in tasks)]
    ncol = min(3, max(len(tasks), 1))
    nrow = max(1, math.ceil(len(tasks) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.6 * nrow), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        vals = [summary[task].get(c, {}).get(key) for c in conds]
        errs = [summary[task].get(c, {}).get(f'{key}_std', 0.0) for c in conds]
        x = np.arange(len(conds))
        ax.bar(x, [v if v is not None else 0.0 for v in vals], yerr=errs, capsize=2,
               color=[COLORS[c] for c in conds])
        ax.set_xticks(x, conds, rotation=30, fontsize=7)
        ax.set_title(f'M{TASKS_BY_ID[task].mission} {TASKS_BY_ID[task].name}', fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis('off')
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def _traces(report: dict, path: Path) -> bool:
    """Fig. 5: reference, exo angle and stiffness of each task (first seed, traced mass)."""
    import matplotlib.pyplot as plt  # noqa: PLC0415
    traced = [r for r in report['rollouts'] if 'traces' in r]
    tasks = [t.task_id for t in TASKS if any(r['task_id'] == t.task_id for r in traced)]
    if not tasks:
        return False
    ncol = min(3, len(tasks))
    nrow = math.ceil(len(tasks) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.8 * nrow), squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        rows = [r for r in traced if r['task_id'] == task]
        ax2 = ax.twinx()
        first = True
        for r in sorted(rows, key=lambda r: CONDITIONS.index(r['condition'])):
            tr = r['traces']
            if first:
                ax.plot(tr['t'], tr['q_ref'], 'k--', lw=1.0, label='reference')
                first = False
            ax.plot(tr['t'], tr['q'], color=COLORS[r['condition']], lw=0.9,
                    label=r['condition'])
            if 'stiffness' in tr:
                n = min(len(tr['t']), len(tr['stiffness']))
                ax2.plot(tr['t'][:n], tr['stiffness'][:n], color=COLORS[r['condition']],
                         lw=0.7, ls=':')
        ax.set_title(f'M{TASKS_BY_ID[task].mission} {TASKS_BY_ID[task].name} '
                     f'({rows[0]["body_mass_kg"]:g} kg)', fontsize=9)
        ax.set_xlabel('time (s)', fontsize=8)
        ax.set_ylabel('angle (rad)', fontsize=8)
        ax2.set_ylabel('K (N m/rad, dotted)', fontsize=8)
    axes.flat[0].legend(fontsize=6)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis('off')
    fig.suptitle('Reference, exo angle and stiffness per task (Fig. 5 style)', fontsize=10)
    save_figure(fig, path)
    return True


def make_plots(report: dict, out: Path) -> list[str]:
    """Fig. 4 (effort), 5 (RMSE, traces), 6 (EE(t)), 7 (first minute); the file names."""
    import matplotlib  # noqa: PLC0415
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # noqa: PLC0415
    files = []
    if _traces(report, out / 'fig5_traces.png'):
        files.append('fig5_traces.png')
    if report['summary']:
        _bar_grid(report, 'effort', 'sum of a^2', 'Muscle effort per task and condition '
                  '(Fig. 4 style; mean +- std over masses and seeds)', out / 'fig4_effort.png')
        _bar_grid(report, 'rmse_rad', 'RMSE (rad)', 'Tracking RMSE per task and condition '
                  '(Fig. 5 style; mean +- std over masses and seeds)', out / 'fig5_rmse.png')
        files += ['fig4_effort.png', 'fig5_rmse.png']
    rep = {c: r for c, r in report['repetitive']['conditions'].items() if 'ec_j' in r}
    if rep:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for cond, r in rep.items():
            t = np.asarray(r['ee_curve']['t_s']) / 60.0
            ee = np.asarray(r['ee_curve']['ee_w_per_kg'])
            win = max(1, min(30, len(ee)))
            # centred moving average (30 s), renormalised at the ends (no zero padding)
            smooth = np.convolve(ee, np.ones(win), mode='same') / np.convolve(
                np.ones_like(ee), np.ones(win), mode='same')
            red = r.get('reduction_pct_vs_no_exo')
            label = cond if cond == 'no_exo' or red is None or not math.isfinite(red) else \
                f'{cond} ({red:+.1f} % EC)'
            ax.plot(t, smooth, color=COLORS[cond], label=label)
        t1, t2 = report['repetitive']['steady_window_s']
        ax.axvspan(t1 / 60.0, t2 / 60.0, color='0.9', zorder=0, label='steady state (eq. 16)')
        ax.set_xlabel('time (min)')
        ax.set_ylabel('EE (W/kg, modelled muscle)')
        ax.set_title('Repetitive 10 kg lift: metabolic energy expenditure (Fig. 6 style)',
                     fontsize=9)
        ax.legend(fontsize=7)
        save_figure(fig, out / 'fig6_ee.png')
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7.0, 4.6), sharex=True)
        first = True
        for cond, r in rep.items():
            fm = r['first_minute']
            if first:
                ax1.plot(fm['t_s'], fm['q_ref'], 'k--', lw=1.0, label='reference')
                first = False
            ax1.plot(fm['t_s'], fm['q'], color=COLORS[cond], lw=0.9, label=cond)
            if fm['stiffness'] is not None:
                ax2.plot(fm['t_s'], fm['stiffness'], color=COLORS[cond], lw=0.9, label=cond)
        ax1.set_ylabel('elbow angle (rad)')
        ax1.legend(fontsize=7, ncol=3)
        ax2.set_ylabel('stiffness (N m/rad)')
        ax2.set_xlabel('time (s)')
        ax2.legend(fontsize=7)
        ax1.set_title('First minute of the repetitive task (Fig. 7 style)', fontsize=9)
        save_figure(fig, out / 'fig7_first_minute.png')
        files += ['fig6_ee.png', 'fig7_first_minute.png']
    return files
