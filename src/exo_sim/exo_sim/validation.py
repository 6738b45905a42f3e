"""Validation report of a generated dataset (paper section V-A, Fig. 4 and Table I).

For every task and condition (no exo, alpha = 0, 0.5, 1) it computes, per episode over the
active phase (``0 < phase < 1``, :func:`exo_contract.metrics.active_mask`; ``phase`` is -1 at
rest), with the metrics of :mod:`exo_contract.metrics`:

* muscle effort: mean over time of the sum of the six squared activations (eq. 2's effort
  term; Fig. 4), and the mean muscle metabolic power, W;
* tracking error: RMSE of the human elbow angle ``q_human`` against the reference ``q_ref``,
  rad (the paper's Table I reports a tracking *reward*; we report the error it rewards).

and summarises them as mean +- sample std over masses and repetitions. A Friedman test
(``scipy.stats.friedmanchisquare``) per task and metric treats the conditions as treatments
and the body masses as blocks (repetitions are averaged within each mass block first); only
blocks that contain every condition are used. It needs >= 3 conditions and >= 2 blocks,
otherwise the test is reported as ``'insufficient conditions'`` / ``'insufficient blocks'``.
With 3 mass blocks and 4 conditions the smallest attainable p-value is ~0.029 (all blocks
rank the conditions identically), so the test has little power; the report gives what the
data gives. Kendall's W = chi2 / (n (k - 1)) is reported as the effect size.

Outputs in ``out_dir``: ``report.json`` (everything, returned as a dict), ``report.md``
(Table I-style tables), ``effort_by_task.png`` and ``tracking_by_task.png`` (Fig. 4-style,
one panel per task, p-value annotated: ``*`` p < 0.05, ``ns`` otherwise).

    exo_validate_data --data data/exo_vic_v1 --out data/exo_vic_v1/validation
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
                   'phase', 'q_human', 'q_ref', 'metabolic_power') + ACTIVATION_COLUMNS


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
    col = {name: table.column(name).to_numpy(zero_copy_only=False) for name in EPISODE_COLUMNS}
    acts = np.column_stack([col[name].astype(np.float64) for name in ACTIVATION_COLUMNS])
    active = active_mask(col['phase'])
    episodes, first = np.unique(col['episode'], return_index=True)
    out = []
    for ep, i in zip(episodes.tolist(), first.tolist(), strict=True):
        sel = (col['episode'] == ep) & active
        if not np.any(sel):
            raise ValueError(f'episode {ep} has no active-phase rows (0 < phase < 1)')
        out.append({
            'episode': int(ep), 'task_id': str(col['task_id'][i]),
            'condition': condition_label(str(col['condition'][i]), float(col['alpha'][i])),
            'body_mass_kg': float(col['body_mass_kg'][i]),
            'repetition': int(col['repetition'][i]),
            'effort': effort(acts, sel),
            'metabolic_power_w': float(np.mean(col['metabolic_power'][sel])),
            'tracking_rmse_rad': rmse(col['q_human'], col['q_ref'], sel),
        })
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
        effort = entry['stats']['effort']
        alphas = sorted((c for c in present if c != NO_EXO_LABEL), key=_condition_order)
        means = [effort[c]['mean'] for c in alphas]
        entry['effort_decreases_with_alpha'] = (bool(np.all(np.diff(means) < 0))
                                                if len(means) >= 2 else None)
        result['tasks'][task_id] = entry
    n_sig = {m: sum(1 for e in result['tasks'].values()
                    if e['friedman'][m]['significant']) for m in TESTED_METRICS}
    result['summary'] = {
        'n_tasks': len(tasks),
        'n_significant': n_sig,
        'n_effort_decreasing_with_alpha': sum(
            1 for e in result['tasks'].values() if e['effort_decreases_with_alpha']),
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
    lines = ['# exo-vic dataset validation (paper Fig. 4 / Table I)', '',
             f'Dataset: `{dataset}`. Mean +- sample std over body masses and repetitions, '
             'active phase only. p: Friedman test per task, conditions as treatments, body '
             f'mass as blocks (repetitions averaged per block); * p < {ALPHA_LEVEL}, '
             'ns otherwise.', '']
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
    s = result['summary']
    lines += ['## Summary', '',
              f'- tasks with a significant condition effect on effort: '
              f'{s["n_significant"]["effort"]} / {s["n_tasks"]} (paper: 7 / 9)',
              f'- ... on metabolic power: {s["n_significant"]["metabolic_power_w"]} / '
              f'{s["n_tasks"]}',
              f'- ... on tracking error: {s["n_significant"]["tracking_rmse_rad"]} / '
              f'{s["n_tasks"]} (paper: 0 / 9)',
              f'- tasks whose effort decreases strictly with alpha: '
              f'{s["n_effort_decreasing_with_alpha"]} / {s["n_tasks"]}',
              f'- Friedman test status: {", ".join(s["friedman_status"])}', '']
    return '\n'.join(lines)


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
    result = {'dataset': str(dataset_path),
              'created': datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec='seconds'),
              'metrics': METRICS, 'alpha_level': ALPHA_LEVEL, **result}
    files = {'json': 'report.json', 'markdown': 'report.md',
             'effort_plot': 'effort_by_task.png', 'tracking_plot': 'tracking_by_task.png'}
    result['files'] = files
    _plot(result, 'effort', 'effort (sum a^2)', 1.0, out / files['effort_plot'])
    _plot(result, 'tracking_rmse_rad', 'tracking RMSE (deg)', 180.0 / math.pi,
          out / files['tracking_plot'])
    (out / files['markdown']).write_text(_markdown(result, str(dataset_path)))
    result = _jsonable(result)
    (out / files['json']).write_text(json.dumps(result, indent=2) + '\n')
    return result


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_validate_data``."""
    parser = argparse.ArgumentParser(prog='exo_validate_data',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--data', type=Path, default=Path('data/exo_vic_v1'),
                        help='dataset directory (default: %(default)s)')
    parser.add_argument('--out', type=Path, default=None,
                        help='report directory (default: <data>/validation)')
    opts = parser.parse_args(argv)
    out = opts.out if opts.out is not None else opts.data / 'validation'
    result = validation_report(opts.data, out)
    print((out / result['files']['markdown']).read_text())
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
