"""What is chosen on calibration subjects only: the gravity share and the default controller.

Evaluation subjects are never run here; every choice is made on calibration subjects
(:data:`~exo_experiments.evaluation.population.CALIBRATION_IDS`) before the evaluation.

1. The gravity share (:func:`choose_gravity_share`): every candidate share runs the loaded
   tasks (:data:`~exo_experiments.evaluation.study.LOADED_TASKS`); the chosen share is the
   largest whose worst per-task mean exo-angle RMSE stays within the 0.05 rad tracking target
   (the smallest candidate when none does).
2. The default controller (:func:`choose_default`), among the reference sources policy_node
   can run (:data:`DEFAULT_CANDIDATES`), from a study of the candidates, their
   constant-stiffness ablation and no exo on the loaded tasks and the interaction-safety
   scenarios (:func:`calibrate`). The learned policy keeps the default only when it earns
   it: on every loaded task its energy saving beats the best baseline's with non-overlapping
   95 % intervals at equal or better mean exo RMSE, and in every scenario its RMS
   interaction torque is below its constant-stiffness ablation's with non-overlapping
   intervals. Otherwise the default is the best-measured candidate: the largest mean energy
   saving over the loaded tasks among those whose mean exo RMSE meets the tracking target
   in every loaded task (the best tracking when none does).
"""

from __future__ import annotations

import math

from exo_bringup.node_config import NodeConfig
from exo_experiments.evaluation.conditions import STIFFNESS_ABLATION
from exo_experiments.evaluation.population import CALIBRATION_IDS
from exo_experiments.evaluation.scenarios import SCENARIOS
from exo_experiments.evaluation.study import (
    best_baseline,
    LOADED_TASKS,
    POLICY_CONDITION,
    run_population,
    TRACKING_TARGET_RAD,
)

SHARE_CANDIDATES = (0.2, 0.3, 0.4, 0.5)
DEFAULT_CANDIDATES = ('learned', 'gravity_share', 'constant_assist', 'promp')
"""Reference sources of policy_node that may be the default (its ``mode`` parameter)."""


def choose_gravity_share(subjects: list[int], candidates=SHARE_CANDIDATES,
                         tasks=LOADED_TASKS, workers: int | None = None,
                         node_config: NodeConfig | None = None,
                         ray_address: str | None = None) -> dict:
    """The chosen share and, per candidate, the per-task mean RMSE and energy change."""
    _check_calibration(subjects)
    table = {}
    for share in sorted(candidates):
        res = run_population(['no_exo', 'gravity_share'], list(tasks), [], subjects,
                             workers, node_config, share, progress=False,
                             ray_address=ray_address)
        cells = res['summary']
        table[share] = {t: {'rmse_rad': cells[t]['gravity_share']['rmse_rad']['mean'],
                            'energy_change_pct':
                                cells[t]['gravity_share']['energy_change_pct']['mean']}
                        for t in tasks if 'gravity_share' in cells.get(t, {})}
    ok = [s for s, by in table.items()
          if by and max(v['rmse_rad'] for v in by.values()) <= TRACKING_TARGET_RAD]
    chosen = max(ok) if ok else min(table)
    return {'chosen_share': chosen, 'subjects': list(subjects),
            'target_rad': TRACKING_TARGET_RAD, 'candidates': table}


def _check_calibration(subjects: list[int]) -> None:
    bad = [s for s in subjects if s not in CALIBRATION_IDS]
    if bad:
        raise ValueError(f'choices are made on calibration subjects only, got {bad}')


def _mean(cell: dict | None, metric: str) -> float | None:
    v = (cell or {}).get(metric)
    return v['mean'] if v and v.get('mean') is not None and math.isfinite(v['mean']) else None


def _below(a: dict | None, b: dict | None, metric: str) -> bool:
    """Whether the 95 % interval of ``a``'s mean lies wholly below ``b``'s."""
    ia, ib = ((c or {}).get(metric, {}).get('ci95') for c in (a, b))
    return bool(ia and ib and ia[1] < ib[0])


def choose_default(summary: dict, tasks=LOADED_TASKS, scenarios=tuple(SCENARIOS),
                   candidates=DEFAULT_CANDIDATES) -> dict:
    """The default controller from a calibration study's ``summary`` (rule: module doc).

    Returns ``{'default', 'learned_earns', 'unmet': [why the learned policy does not keep
    the default], 'ranking': [per candidate: mean energy change over the loaded tasks,
    worst mean exo RMSE, mean RMS interaction torque over the scenarios, within target]}``.
    """
    tasks = [t for t in tasks if t in summary]
    scenarios = [s for s in scenarios if s in summary]
    unmet = []
    if not tasks:
        unmet.append('no loaded task was run')
    for t in tasks:
        cells = summary[t]
        best = best_baseline(summary, t)
        mine = cells.get(POLICY_CONDITION)
        if mine is None or best is None:
            unmet.append(f'{t}: no result of {POLICY_CONDITION if mine is None else "a baseline"}')
            continue
        if not _below(mine, cells[best], 'energy_change_pct'):
            unmet.append(f'{t}: energy saving not beyond {best} (intervals overlap or worse)')
        rm, rb = _mean(mine, 'rmse_rad'), _mean(cells[best], 'rmse_rad')
        if rm is None or rb is None:
            unmet.append(f'{t}: no exo RMSE of {POLICY_CONDITION} or {best}')
        elif rm > rb:
            unmet.append(f'{t}: exo RMSE {rm:.3f} rad worse than {best} ({rb:.3f} rad)')
    for s in scenarios:
        cells = summary[s]
        if not _below(cells.get(POLICY_CONDITION), cells.get(STIFFNESS_ABLATION),
                      'rms_interaction_nm'):
            unmet.append(f'{s}: RMS interaction torque not below {STIFFNESS_ABLATION} '
                         '(intervals overlap or higher)')
    ranking = []
    for c in candidates:
        energy = [_mean(summary[t].get(c), 'energy_change_pct') for t in tasks]
        rmse_ = [_mean(summary[t].get(c), 'rmse_rad') for t in tasks]
        inter = [_mean(summary[s].get(c), 'rms_interaction_nm') for s in scenarios]
        if not tasks or None in energy or None in rmse_:
            continue
        ranking.append({'condition': c, 'mean_energy_change_pct': sum(energy) / len(energy),
                        'worst_rmse_rad': max(rmse_),
                        'within_target': max(rmse_) <= TRACKING_TARGET_RAD,
                        'mean_rms_interaction_nm': (sum(inter) / len(inter)
                                                    if inter and None not in inter else None)})
    learned_earns = not unmet
    if learned_earns:
        default = POLICY_CONDITION
    else:
        within = [r for r in ranking if r['within_target']]
        pick = (min(within, key=lambda r: r['mean_energy_change_pct']) if within
                else min(ranking, key=lambda r: r['worst_rmse_rad'], default=None))
        default = pick['condition'] if pick else POLICY_CONDITION
    return {'default': default, 'learned_earns': learned_earns, 'unmet': unmet,
            'ranking': sorted(ranking, key=lambda r: r['mean_energy_change_pct']),
            'target_rad': TRACKING_TARGET_RAD}


def calibrate(subjects: list[int], tasks=LOADED_TASKS, scenarios=tuple(SCENARIOS),
              workers: int | None = None, node_config: NodeConfig | None = None,
              shares=SHARE_CANDIDATES, ray_address: str | None = None) -> dict:
    """Both choices on calibration ``subjects``: the gravity share, then the default.

    Returns :func:`choose_gravity_share`'s dict with ``'study'`` (the candidates' study at
    the chosen share, :func:`~exo_experiments.evaluation.study.run_population`) and
    ``'default_choice'`` (:func:`choose_default`).
    """
    _check_calibration(subjects)
    cal = choose_gravity_share(subjects, shares, tasks=tasks, workers=workers,
                               node_config=node_config, ray_address=ray_address)
    study = run_population(['no_exo', *DEFAULT_CANDIDATES, STIFFNESS_ABLATION], list(tasks),
                           list(scenarios), subjects, workers, node_config,
                           cal['chosen_share'], ray_address=ray_address)
    cal['study'] = study
    cal['default_choice'] = choose_default(study['summary'], tasks, scenarios)
    return cal
