"""Replication report of a generated dataset (paper section V-A: Fig. 4, Table I, Fig. 5).

For every task and condition (no exo, alpha = 0, 0.5, 1) it computes, per episode over the
active phase (``0 < phase < 1``, :func:`exo_contract.metrics.active_mask`; ``phase`` is -1 at
rest), with the metrics of :mod:`exo_contract.metrics`:

* muscle effort: mean over time of the sum of the six squared activations (eq. 2's effort
  term; Fig. 4), and the mean muscle metabolic power, W;
* tracking error: RMSE of the human elbow angle ``q_human`` against the reference ``q_ref``,
  rad (the paper's Table I reports a tracking *reward*; we report the error it rewards).

and summarises them as mean +- sample std over masses and repetitions (``tracking RMSE of
the no-exo condition`` is the unassisted tracking of each task). A Friedman test
(``scipy.stats.friedmanchisquare``) per task and metric treats the conditions as treatments
and the body masses as blocks (repetitions are averaged within each mass block first); only
blocks that contain every condition are used. It needs >= 3 conditions and >= 2 blocks,
otherwise the test is reported as ``'insufficient conditions'`` / ``'insufficient blocks'``.
With 3 mass blocks and 4 conditions the smallest attainable p-value is ~0.029 (all blocks
rank the conditions identically), so the test has little power; the report gives what the
data gives. Kendall's W = chi2 / (n (k - 1)) is reported as the effect size. The blocks are
body masses of one deterministic simulated human, not independent wearers: a small p says
that the simulator orders the conditions the same way at every mass, not that an effect holds
in a population. Effects on wearers are the population study's (``exo_eval``, make eval:
paired per-subject differences on evaluation subjects, bootstrap intervals, Holm correction;
:mod:`exo_experiments.evaluation.stats`).

**Interaction stiffness (Fig. 5).** Per exo episode, over the active phase, the eq. 4
stiffness ``k_int``: its coefficient of variation (std / mean), its mean during *rapid
flexion* (reference velocity above half the episode's peak flexion velocity) and at
*hold* (reference velocity below 5 % of that peak, in the upper half of the movement);
summarised per task and condition, for the assisted conditions together (alpha > 0) and for
every exo condition together. The reference velocity is the 100 Hz central difference of
``q_ref``. ``stiffness_by_task.png``: per task, ``k_int`` against the phase (mean over the
episodes of each condition on a 101-point phase grid) with the mean flexion velocity.

Outputs in ``out_dir``: ``report.json`` (everything, returned as a dict), ``report.md``
(Table I-style tables, the stiffness table), ``effort_by_task.png`` and
``tracking_by_task.png`` (Fig. 4-style, one panel per task, p-value annotated: ``*``
p < 0.05, ``ns`` otherwise), ``stiffness_by_task.png`` (Fig. 5-style).

    exo_validate_data --data data/exo_vic_v2 --out data/exo_vic_v2/report
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
from pathlib import Path
import warnings

import numpy as np
from scipy import stats

from exo_contract.dataset import ACTIVATION_COLUMNS, CONDITION_NO_EXO, load_dataset
from exo_contract.metrics import active_mask, effort, rmse
from exo_contract.tasks import TASKS, TASKS_BY_ID

ALPHA_LEVEL = 0.05
METRICS = {
    'effort': 'muscle effort (mean sum of squared activations)',
    'metabolic_power_w': 'mean muscle metabolic power, W',
    'tracking_rmse_rad': 'tracking RMSE of q_human vs q_ref, rad',
}
TESTED_METRICS = ('effort', 'metabolic_power_w', 'tracking_rmse_rad')
NO_EXO_LABEL = 'no_exo'
EPISODE_COLUMNS = ('episode', 'task_id', 'condition', 'alpha', 'body_mass_kg', 'repetition',
                   'phase', 'q_human', 'q_ref', 'metabolic_power', 't', 'k_int'
                   ) + ACTIVATION_COLUMNS
RAPID_FRACTION = 0.5
HOLD_FRACTION = 0.05
PHASE_GRID = np.linspace(0.0, 1.0, 101)
LOADED_TASKS = ('lift_light', 'shelf', 'lift_heavy', 'carry_bimanual')
"""The tasks with a payload of at least 2 kg in one hand (the issue's loaded tasks)."""


def condition_label(condition: str, alpha: float) -> str:
    """``'no_exo'`` or ``'alpha=<a>'`` (e.g. ``'alpha=0.5'``)."""
    return NO_EXO_LABEL if condition == CONDITION_NO_EXO else f'alpha={alpha:g}'


def _condition_order(label: str) -> float:
    return -1.0 if label == NO_EXO_LABEL else float(label.split('=', 1)[1])


def episode_metrics(table) -> list[dict]:
    """Per-episode metrics over the active phase of a dataset table (see module docstring).

    Returns one dict per episode: ``episode, task_id, condition (label), body_mass_kg,
    repetition, effort, metabolic_power_w, tracking_rmse_rad``.
    """
    names = [n for n in EPISODE_COLUMNS if n in table.column_names]
    col = {name: table.column(name).to_numpy(zero_copy_only=False) for name in names}
    acts = np.column_stack([col[name].astype(np.float64) for name in ACTIVATION_COLUMNS])
    active = active_mask(col['phase'])
    episodes, first = np.unique(col['episode'], return_index=True)
    out = []
    for ep, i in zip(episodes.tolist(), first.tolist(), strict=True):
        sel = (col['episode'] == ep) & active
        if not np.any(sel):
            raise ValueError(f'episode {ep} has no active-phase rows (0 < phase < 1)')
        stiff = (stiffness_metrics(col, col['episode'] == ep) if 'k_int' in col
                 else _NO_STIFFNESS)
        out.append({
            'episode': int(ep), 'task_id': str(col['task_id'][i]),
            'condition': condition_label(str(col['condition'][i]), float(col['alpha'][i])),
            'body_mass_kg': float(col['body_mass_kg'][i]),
            'repetition': int(col['repetition'][i]),
            'effort': effort(acts, sel),
            'metabolic_power_w': float(np.mean(col['metabolic_power'][sel])),
            'tracking_rmse_rad': rmse(col['q_human'], col['q_ref'], sel),
            **stiff,
        })
    return out


_NO_STIFFNESS = {'k_cv': math.nan, 'k_mean': math.nan, 'k_rapid': math.nan,
                 'k_hold': math.nan}


def _reference_velocity(col: dict, rows: np.ndarray) -> np.ndarray:
    q = col['q_ref'][rows].astype(np.float64)
    t = col['t'][rows].astype(np.float64)
    return np.gradient(q, t) if q.size > 1 else np.zeros_like(q)


def phase_windows(phase: np.ndarray, q_ref: np.ndarray, qd_ref: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Masks of *rapid flexion* and *hold* within the active phase (module docstring)."""
    active = active_mask(phase)
    if not np.any(active):
        return active, active
    peak = float(np.max(qd_ref[active]))
    if peak <= 0.0:
        return np.zeros_like(active), np.zeros_like(active)
    base = float(np.min(q_ref[active]))
    top = float(np.max(q_ref[active]))
    rapid = active & (qd_ref > RAPID_FRACTION * peak)
    hold = active & (np.abs(qd_ref) < HOLD_FRACTION * peak) & (q_ref > base + 0.5 * (top - base))
    return rapid, hold


def stiffness_metrics(col: dict, rows: np.ndarray) -> dict:
    """``k_cv``, ``k_mean``, ``k_rapid``, ``k_hold`` of one episode's rows (NaN: no exo)."""
    k = col['k_int'][rows].astype(np.float64)
    if not np.any(np.isfinite(k)):
        return dict(_NO_STIFFNESS)
    phase = col['phase'][rows].astype(np.float64)
    q = col['q_ref'][rows].astype(np.float64)
    qd = _reference_velocity(col, rows)
    active = active_mask(phase) & np.isfinite(k)
    rapid, hold = phase_windows(phase, q, qd)
    ka = k[active]
    return {'k_cv': float(ka.std() / ka.mean()) if ka.size and ka.mean() > 0 else math.nan,
            'k_mean': float(ka.mean()) if ka.size else math.nan,
            'k_rapid': float(k[rapid & active].mean()) if np.any(rapid & active) else math.nan,
            'k_hold': float(k[hold & active].mean()) if np.any(hold & active) else math.nan}


def stiffness_profiles(table) -> dict:
    """Per task and condition: mean ``k_int`` and flexion velocity on :data:`PHASE_GRID`."""
    names = ('episode', 'task_id', 'condition', 'alpha', 'phase', 'q_ref', 't', 'k_int')
    col = {name: table.column(name).to_numpy(zero_copy_only=False) for name in names}
    episodes, first = np.unique(col['episode'], return_index=True)
    acc: dict = {}
    for ep, i in zip(episodes.tolist(), first.tolist(), strict=True):
        rows = col['episode'] == ep
        label = condition_label(str(col['condition'][i]), float(col['alpha'][i]))
        phase = col['phase'][rows].astype(np.float64)
        active = active_mask(phase)
        if np.sum(active) < 2:
            continue
        qd = _reference_velocity(col, rows)
        k = col['k_int'][rows].astype(np.float64)
        entry = acc.setdefault(str(col['task_id'][i]), {}).setdefault(
            label, {'k': [], 'qd': []})
        entry['qd'].append(np.interp(PHASE_GRID, phase[active], qd[active]))
        if np.all(np.isfinite(k[active])):
            entry['k'].append(np.interp(PHASE_GRID, phase[active], k[active]))
    out: dict = {}
    for task_id, conds in acc.items():
        out[task_id] = {}
        for label, e in conds.items():
            out[task_id][label] = {
                'k_mean': np.mean(e['k'], axis=0).tolist() if e['k'] else None,
                'qd_ref_mean': np.mean(e['qd'], axis=0).tolist(), 'episodes': len(e['qd'])}
    return out


def _stiffness_summary(rows: list[dict]) -> dict:
    """Mean over episodes of k_cv, k_mean, k_rapid, k_hold, and the rapid > hold flag."""
    if not rows:
        return {}
    out = {key: float(np.nanmean([r[key] for r in rows])) if any(
        math.isfinite(r[key]) for r in rows) else math.nan
        for key in ('k_cv', 'k_mean', 'k_rapid', 'k_hold')}
    out['n'] = len(rows)
    out['rapid_exceeds_hold'] = (bool(out['k_rapid'] > out['k_hold'])
                                 if math.isfinite(out['k_rapid'])
                                 and math.isfinite(out['k_hold']) else None)
    return out


def friedman(blocks: dict[float, dict[str, float]], conditions: list[str]) -> dict:
    """Friedman test with ``conditions`` as treatments over complete ``blocks``.

    Args:
        blocks: block (mass) -> condition -> value (repetitions already averaged).
        conditions: the treatments, in report order.

    Returns:
        ``status`` ('ok', 'insufficient conditions', 'insufficient blocks', 'all tied'),
        ``n_blocks``, ``n_conditions``, ``statistic``, ``p_value``, ``kendall_w``,
        ``significant`` and ``annotation`` ('*' / 'ns' / 'n/a'); numbers None unless 'ok'.

    """
    complete = sorted(b for b, vals in blocks.items() if all(c in vals for c in conditions))
    res = {'status': 'ok', 'n_blocks': len(complete), 'n_conditions': len(conditions),
           'blocks': complete, 'statistic': None, 'p_value': None, 'kendall_w': None,
           'significant': None, 'annotation': 'n/a'}
    if len(conditions) < 3:
        res['status'] = 'insufficient conditions'
        return res
    if len(complete) < 2:
        res['status'] = 'insufficient blocks'
        return res
    samples = [[blocks[b][c] for b in complete] for c in conditions]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        stat, p = stats.friedmanchisquare(*samples)
    if not (math.isfinite(stat) and math.isfinite(p)):
        res['status'] = 'all tied'
        return res
    res.update(statistic=float(stat), p_value=float(p),
               kendall_w=float(stat / (len(complete) * (len(conditions) - 1))),
               significant=bool(p < ALPHA_LEVEL), annotation='*' if p < ALPHA_LEVEL else 'ns')
    return res


def _summary(values: list[float]) -> dict:
    arr = np.asarray(values, dtype=float)
    return {'mean': float(arr.mean()), 'std': float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            'n': int(arr.size)}


def analyse(table) -> dict:
    """Statistics of a dataset table: per task, condition and metric, and Friedman tests."""
    rows = episode_metrics(table)
    conditions = sorted({r['condition'] for r in rows}, key=_condition_order)
    task_order = [t.task_id for t in TASKS]
    tasks = sorted({r['task_id'] for r in rows}, key=task_order.index)
    result = {'conditions': conditions, 'tasks': {}, 'episodes': rows}
    for task_id in tasks:
        task_rows = [r for r in rows if r['task_id'] == task_id]
        entry = {'mission': TASKS_BY_ID[task_id].mission, 'name': TASKS_BY_ID[task_id].name,
                 'stats': {}, 'friedman': {}, 'blocks': {}}
        present = [c for c in conditions if any(r['condition'] == c for r in task_rows)]
        for metric in METRICS:
            entry['stats'][metric] = {
                c: _summary([r[metric] for r in task_rows if r['condition'] == c])
                for c in present}
            blocks: dict[float, dict[str, float]] = {}
            for mass in sorted({r['body_mass_kg'] for r in task_rows}):
                blocks[mass] = {}
                for c in present:
                    vals = [r[metric] for r in task_rows
                            if r['condition'] == c and r['body_mass_kg'] == mass]
                    if vals:
                        blocks[mass][c] = float(np.mean(vals))
            entry['blocks'][metric] = {f'{m:g}': v for m, v in blocks.items()}
            if metric in TESTED_METRICS:
                entry['friedman'][metric] = friedman(blocks, present)
        exo_rows = [r for r in task_rows if r['condition'] != NO_EXO_LABEL]
        entry['stiffness'] = {
            'by_condition': {c: _stiffness_summary([r for r in exo_rows if r['condition'] == c])
                             for c in present if c != NO_EXO_LABEL},
            'assisted': _stiffness_summary([r for r in exo_rows
                                            if _condition_order(r['condition']) > 0]),
            'all_exo': _stiffness_summary(exo_rows)}
        effort = entry['stats']['effort']
        alphas = sorted((c for c in present if c != NO_EXO_LABEL), key=_condition_order)
        means = [effort[c]['mean'] for c in alphas]
        entry['effort_decreases_with_alpha'] = (bool(np.all(np.diff(means) < 0))
                                                if len(means) >= 2 else None)
        result['tasks'][task_id] = entry
    n_sig = {m: sum(1 for e in result['tasks'].values()
                    if e['friedman'][m]['significant']) for m in TESTED_METRICS}
    n_ns = {m: sum(1 for e in result['tasks'].values()
                   if e['friedman'][m]['significant'] is False) for m in TESTED_METRICS}
    loaded = [t for t in LOADED_TASKS if t in result['tasks']]

    def _loaded(key: str, flag: str) -> dict:
        return {t: {'k_cv': result['tasks'][t]['stiffness'][key].get('k_cv'),
                    'k_rapid': result['tasks'][t]['stiffness'][key].get('k_rapid'),
                    'k_hold': result['tasks'][t]['stiffness'][key].get('k_hold'),
                    'rapid_exceeds_hold': result['tasks'][t]['stiffness'][key].get(flag)}
                for t in loaded}
    result['summary'] = {
        'n_tasks': len(tasks),
        'n_significant': n_sig,
        'n_not_significant': n_ns,
        'n_effort_decreasing_with_alpha': sum(
            1 for e in result['tasks'].values() if e['effort_decreases_with_alpha']),
        'unassisted_tracking_rmse_rad': {
            t: e['stats']['tracking_rmse_rad'][NO_EXO_LABEL]['mean']
            for t, e in result['tasks'].items()
            if NO_EXO_LABEL in e['stats']['tracking_rmse_rad']},
        'loaded_stiffness_assisted': _loaded('assisted', 'rapid_exceeds_hold'),
        'loaded_stiffness_all_exo': _loaded('all_exo', 'rapid_exceeds_hold'),
        'friedman_status': sorted({e['friedman'][m]['status'] for e in result['tasks'].values()
                                   for m in TESTED_METRICS}),
    }
    return result


def _fmt_p(test: dict) -> str:
    if test['status'] != 'ok':
        return test['status']
    p = test['p_value']
    return f'{p:.3f} {test["annotation"]}' if p >= 0.001 else f'<0.001 {test["annotation"]}'


def _markdown(result: dict, dataset: str) -> str:
    tasks = list(result['tasks'])
    head = '| condition | ' + ' | '.join(
        f'M{result["tasks"][t]["mission"]} {t}' for t in tasks) + ' |'
    rule = '|---' * (len(tasks) + 1) + '|'
    lines = ['# exo-vic dataset replication report (paper Fig. 4 / Table I / Fig. 5)', '',
             f'Dataset: `{dataset}`. Mean +- sample std over body masses and repetitions, '
             'active phase only. p: Friedman test per task, conditions as treatments, body '
             f'mass as blocks (repetitions averaged per block); * p < {ALPHA_LEVEL}, '
             'ns otherwise. The blocks are body masses of one deterministic simulated human: '
             'a small p says the simulator orders the conditions alike at every mass, not '
             'that the effect holds across wearers (for that: the population study of '
             '`make eval`, paired per-subject intervals on evaluation subjects).', '']
    tables = (('effort', 'Muscle effort (mean sum of squared activations, eq. 2)', 1.0, 4),
              ('metabolic_power_w', 'Mean muscle metabolic power (W)', 1.0, 2),
              ('tracking_rmse_rad', 'Tracking RMSE of q_human vs q_ref (deg)',
               180.0 / math.pi, 3))
    for metric, title, scale, digits in tables:
        lines += [f'## {title}', '', head, rule]
        for c in result['conditions']:
            cells = []
            for t in tasks:
                s = result['tasks'][t]['stats'][metric].get(c)
                cells.append('-' if s is None else
                             f'{s["mean"] * scale:.{digits}f} +- {s["std"] * scale:.{digits}f}')
            lines.append(f'| {c} | ' + ' | '.join(cells) + ' |')
        lines.append('| p-value | ' + ' | '.join(
            _fmt_p(result['tasks'][t]['friedman'][metric]) for t in tasks) + ' |')
        lines.append('')
    exo_conditions = [c for c in result['conditions'] if c != NO_EXO_LABEL]
    lines += ['## Interaction stiffness K_int (eq. 4, Fig. 5)', '',
              'Mean over episodes, active phase: coefficient of variation, mean, mean during '
              'rapid flexion (reference velocity > '
              f'{RAPID_FRACTION:g} x peak) and at hold (< {HOLD_FRACTION:g} x peak, upper '
              'half); N*m/rad.', '',
              '| task | condition | CV | mean | rapid flexion | hold | rapid > hold |',
              '|---|---|---|---|---|---|---|']

    def _cell(v: float | None, fmt: str) -> str:
        return '-' if v is None or not math.isfinite(v) else format(v, fmt)

    for t in tasks:
        st = result['tasks'][t]['stiffness']
        rows = [(c, st['by_condition'].get(c, {})) for c in exo_conditions]
        rows += [('assisted (alpha > 0)', st['assisted']), ('all exo', st['all_exo'])]
        for label, e in rows:
            if not e:
                continue
            lines.append(f'| M{result["tasks"][t]["mission"]} {t} | {label} | '
                         f'{_cell(e.get("k_cv"), ".2f")} | {_cell(e.get("k_mean"), ".1f")} | '
                         f'{_cell(e.get("k_rapid"), ".1f")} | {_cell(e.get("k_hold"), ".1f")} | '
                         f'{e.get("rapid_exceeds_hold")} |')
    lines.append('')
    s = result['summary']
    lines += ['## Summary', '',
              f'- tasks with a significant condition effect on effort: '
              f'{s["n_significant"]["effort"]} / {s["n_tasks"]} (paper: 7 / 9)',
              f'- ... on metabolic power: {s["n_significant"]["metabolic_power_w"]} / '
              f'{s["n_tasks"]}',
              f'- ... on tracking error: {s["n_significant"]["tracking_rmse_rad"]} / '
              f'{s["n_tasks"]} (paper: 0 / 9); not significant: '
              f'{s["n_not_significant"]["tracking_rmse_rad"]} / {s["n_tasks"]}',
              f'- tasks whose effort decreases strictly with alpha: '
              f'{s["n_effort_decreasing_with_alpha"]} / {s["n_tasks"]}',
              '- unassisted tracking RMSE (rad): ' + ', '.join(
                  f'{t} {v:.3f}' for t, v in s['unassisted_tracking_rmse_rad'].items()),
              '- loaded tasks, assisted episodes: ' + ', '.join(
                  f'{t} CV {_cell(v["k_cv"], ".2f")}, rapid {_cell(v["k_rapid"], ".0f")} vs '
                  f'hold {_cell(v["k_hold"], ".0f")}'
                  for t, v in s['loaded_stiffness_assisted'].items()),
              '- loaded tasks, every exo episode: ' + ', '.join(
                  f'{t} CV {_cell(v["k_cv"], ".2f")}, rapid {_cell(v["k_rapid"], ".0f")} vs '
                  f'hold {_cell(v["k_hold"], ".0f")}'
                  for t, v in s['loaded_stiffness_all_exo'].items()),
              f'- Friedman test status: {", ".join(s["friedman_status"])}', '']
    return '\n'.join(lines)


def _plot_stiffness(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    profiles = result['stiffness_profiles']
    tasks = [t for t in result['tasks'] if t in profiles]
    ncols = 3
    nrows = max(1, math.ceil(len(tasks) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.3 * nrows), squeeze=False)
    exo = [c for c in result['conditions'] if c != NO_EXO_LABEL]
    colors = plt.get_cmap('viridis')(np.linspace(0.1, 0.9, max(1, len(exo))))
    for ax, task_id in zip(axes.flat, tasks, strict=False):
        entry = result['tasks'][task_id]
        twin = ax.twinx()
        qd_all = []
        for color, c in zip(colors, exo, strict=True):
            prof = profiles[task_id].get(c)
            if prof is None:
                continue
            qd_all.append(prof['qd_ref_mean'])
            if prof['k_mean'] is not None:
                ax.plot(PHASE_GRID, prof['k_mean'], color=color, lw=1.4,
                        label=c.replace('alpha=', '\u03b1='))
        if qd_all:
            twin.plot(PHASE_GRID, np.mean(qd_all, axis=0), 'k--', lw=1.0, alpha=0.7,
                      label='flexion velocity')
            twin.axhline(0.0, color='0.7', lw=0.6)
        ax.set_title(f'M{entry["mission"]} {entry["name"]}', fontsize=9)
        ax.set_xlabel('phase', fontsize=8)
        ax.set_ylabel('K_int (N*m/rad)', fontsize=8)
        twin.set_ylabel('q_ref velocity (rad/s)', fontsize=8)
        ax.tick_params(labelsize=7)
        twin.tick_params(labelsize=7)
        if task_id == tasks[0]:
            ax.legend(fontsize=7, loc='upper left')
            twin.legend(fontsize=7, loc='upper right')
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot(result: dict, metric: str, ylabel: str, scale: float, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    tasks = list(result['tasks'])
    conditions = result['conditions']
    ncols = 3
    nrows = max(1, math.ceil(len(tasks) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    colors = plt.get_cmap('viridis')(np.linspace(0.1, 0.9, max(1, len(conditions))))
    x = np.arange(len(conditions))
    for ax, task_id in zip(axes.flat, tasks, strict=False):
        entry = result['tasks'][task_id]
        st = entry['stats'][metric]
        means = [st[c]['mean'] * scale if c in st else np.nan for c in conditions]
        stds = [st[c]['std'] * scale if c in st else np.nan for c in conditions]
        ax.bar(x, means, yerr=stds, color=colors, capsize=3, alpha=0.85)
        for j, c in enumerate(conditions):
            vals = [r[metric] * scale for r in result['episodes']
                    if r['task_id'] == task_id and r['condition'] == c]
            ax.plot(np.full(len(vals), x[j]) + np.linspace(-0.15, 0.15, len(vals)), vals,
                    'k.', ms=3)
        test = entry['friedman'][metric]
        label = (f'p = {test["p_value"]:.3f} {test["annotation"]}' if test['status'] == 'ok'
                 else test['status'])
        ax.set_title(f'M{entry["mission"]} {entry["name"]}\n{label}', fontsize=9)
        ax.set_xticks(x, [c.replace('alpha=', '\u03b1=') for c in conditions], fontsize=8)
        ax.tick_params(axis='y', labelsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def validation_report(dataset_path: str | Path, out_dir: str | Path) -> dict:
    """Analyse the dataset at ``dataset_path`` and write the report files to ``out_dir``.

    Returns the content of ``report.json`` (see :func:`analyse`; plus ``dataset``,
    ``created`` and ``files``).
    """
    table = load_dataset(dataset_path, EPISODE_COLUMNS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = analyse(table)
    result['stiffness_profiles'] = stiffness_profiles(table)
    result = {'dataset': str(dataset_path),
              'created': datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec='seconds'),
              'metrics': METRICS, 'alpha_level': ALPHA_LEVEL, **result}
    files = {'json': 'report.json', 'markdown': 'report.md',
             'effort_plot': 'effort_by_task.png', 'tracking_plot': 'tracking_by_task.png',
             'stiffness_plot': 'stiffness_by_task.png'}
    result['files'] = files
    _plot(result, 'effort', 'effort (sum a^2)', 1.0, out / files['effort_plot'])
    _plot(result, 'tracking_rmse_rad', 'tracking RMSE (deg)', 180.0 / math.pi,
          out / files['tracking_plot'])
    _plot_stiffness(result, out / files['stiffness_plot'])
    (out / files['markdown']).write_text(_markdown(result, str(dataset_path)))
    result = _jsonable(result)
    (out / files['json']).write_text(json.dumps(result, indent=2) + '\n')
    return result


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_validate_data``."""
    parser = argparse.ArgumentParser(prog='exo_validate_data',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=Path('data/exo_vic_v2'),
                        help='dataset directory (default: %(default)s)')
    parser.add_argument('--out', type=Path, default=None,
                        help='report directory (default: <data>/report)')
    opts = parser.parse_args(argv)
    out = opts.out if opts.out is not None else opts.data / 'report'
    result = validation_report(opts.data, out)
    print((out / result['files']['markdown']).read_text())
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
