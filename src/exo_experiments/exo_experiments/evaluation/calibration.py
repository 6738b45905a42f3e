"""The gravity share of the ``gravity_share`` baseline, chosen on calibration subjects only.

Procedure (:func:`choose_gravity_share`): every candidate share runs the loaded tasks
(:data:`~exo_experiments.evaluation.study.LOADED_TASKS`) on calibration subjects
(:data:`~exo_experiments.evaluation.population.CALIBRATION_IDS`); the chosen share is the
largest whose worst per-task mean exo-angle RMSE stays within the 0.05 rad tracking target
(the smallest candidate when none does). Evaluation subjects are never run here.
"""

from __future__ import annotations

from exo_bringup.node_config import NodeConfig
from exo_experiments.evaluation.population import CALIBRATION_IDS
from exo_experiments.evaluation.study import (
    LOADED_TASKS,
    run_population,
    TRACKING_TARGET_RAD,
)

SHARE_CANDIDATES = (0.2, 0.3, 0.4, 0.5)


def choose_gravity_share(subjects: list[int], candidates=SHARE_CANDIDATES,
                         tasks=LOADED_TASKS, workers: int | None = None,
                         node_config: NodeConfig | None = None) -> dict:
    """The chosen share and, per candidate, the per-task mean RMSE and energy change."""
    bad = [s for s in subjects if s not in CALIBRATION_IDS]
    if bad:
        raise ValueError(f'the share is chosen on calibration subjects only, got {bad}')
    table = {}
    for share in sorted(candidates):
        res = run_population(['no_exo', 'gravity_share'], list(tasks), [], subjects,
                             workers, node_config, share, progress=False)
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
