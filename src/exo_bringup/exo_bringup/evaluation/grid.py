"""The evaluation grid: every task x condition x body mass plus the repetitive session.

Jobs run in a process pool (spawn; one task resolver per worker process) and come back as
the eval.json dict (schema ``exo_vic.eval/1``, see :mod:`exo_bringup.evaluation`).
"""

from __future__ import annotations

import datetime
import math
import multiprocessing as mp
import os
import sys
import time

import numpy as np

from exo_bringup.evaluation.conditions import (
    check_condition,
    default_node_config,
    TRAINING_MASSES,
    UNSEEN_MASSES,
)
from exo_bringup.evaluation.repetitive import (
    ec_reduction_pct,
    REPETITIVE_MASS_KG,
    REPETITIVE_TASK,
    run_repetitive,
    steady_window,
)
from exo_bringup.evaluation.single import evaluate_rollout
from exo_bringup.node_config import NodeConfig
from exo_contract.tasks import TASKS_BY_ID

SCHEMA = 'exo_vic.eval/1'
METABOLIC_MODEL = ('Umberger, Gerritsen & Martin (2003), "A model of human muscle energy '
                   'expenditure", Comput. Methods Biomech. Biomed. Eng. 6(2):99-111 '
                   '(exo_sim.metabolic.MetabolicModel: six elbow muscles of one arm)')


def _run_job(job: tuple) -> tuple[tuple, dict]:
    """Pool worker (module level: spawn-safe)."""
    kind = job[0]
    try:
        if kind == 'repetitive':
            _, condition, minutes, mass, seed, basal, node_config = job
            return job, run_repetitive(condition, minutes, mass, seed, basal, node_config)
        _, task_id, condition, mass, node_config = job
        return job, evaluate_rollout(TASKS_BY_ID[task_id], condition, mass,
                                     node_config=node_config)
    except Exception as exc:  # noqa: BLE001 -- one failed rollout is reported, not fatal
        return job, {'error': f'{type(exc).__name__}: {exc}'}


def _run_jobs(jobs: list[tuple], workers: int, progress: bool = True) -> list[tuple]:
    from tqdm import tqdm  # noqa: PLC0415
    bar = tqdm(total=len(jobs), desc='eval rollouts', unit='rollout', disable=not progress,
               file=sys.stderr)
    results = []
    if workers <= 1:
        for job in jobs:
            results.append(_run_job(job))
            bar.update()
    else:
        ctx = mp.get_context('spawn')
        with ctx.Pool(processes=workers) as pool:
            for item in pool.imap_unordered(_run_job, jobs):
                results.append(item)
                bar.update()
    bar.close()
    return results


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def summarize(rollouts: list[dict]) -> tuple[dict, dict]:
    """Per task x condition and per condition means (over masses) of the metrics."""
    summary: dict = {}
    per_condition: dict = {}
    ok = [r for r in rollouts if 'error' not in r]
    for r in ok:
        summary.setdefault(r['task_id'], {}).setdefault(r['condition'], []).append(r)
        per_condition.setdefault(r['condition'], []).append(r)

    def stats(rows: list[dict]) -> dict:
        return {'rmse_rad': _mean([r['rmse_rad'] for r in rows]),
                'rmse_rad_std': float(np.std([r['rmse_rad'] for r in rows])),
                'effort': _mean([r['effort'] for r in rows]),
                'effort_std': float(np.std([r['effort'] for r in rows])),
                'metabolic_energy_j_per_kg': _mean([r['metabolic_energy_j_per_kg']
                                                    for r in rows]),
                'rmse_rad_seen': _mean([r['rmse_rad'] for r in rows if r['mass_seen']]),
                'rmse_rad_unseen': _mean([r['rmse_rad'] for r in rows if not r['mass_seen']]),
                'n': len(rows),
                'safety_violations': sum(0 if r['safety_ok'] else 1 for r in rows)}

    summary = {task: {cond: stats(rows) for cond, rows in by.items()}
               for task, by in summary.items()}
    per_condition = {cond: stats(rows) for cond, rows in per_condition.items()}
    return summary, per_condition


def run_evaluation(conditions: list[str], tasks: list[str], masses: list[float],
                   repetitive_minutes: float, workers: int | None = None, seed: int = 0,
                   basal_w_per_kg: float = 0.0, progress: bool = True,
                   quick: bool = False, node_config: NodeConfig | None = None) -> dict:
    """Run the grid and the repetitive session; return the eval.json dict (no plots).

    ``node_config`` is the nodes' configuration every assisted rollout runs (default: the
    launch files' YAML, :func:`exo_bringup.node_config.load_node_config`).
    """
    start = time.perf_counter()
    skipped = {}
    runnable = []
    node_config = node_config if node_config is not None else default_node_config()
    for cond in conditions:
        reason = check_condition(cond, node_config)
        if reason is None:
            runnable.append(cond)
        else:
            skipped[cond] = reason
            print(f'[exo_eval] skipping condition {cond!r}: {reason}', file=sys.stderr)
    jobs: list[tuple] = []
    if repetitive_minutes > 0:
        jobs += [('repetitive', c, repetitive_minutes, REPETITIVE_MASS_KG, seed, basal_w_per_kg,
                  node_config) for c in runnable]
    jobs += [('single', t, c, m, node_config) for t in tasks for m in masses
             for c in runnable]
    workers = workers or os.cpu_count() or 1
    results = _run_jobs(jobs, min(workers, max(len(jobs), 1)), progress)
    order = {job: i for i, job in enumerate(jobs)}
    results.sort(key=lambda item: order[item[0]])
    rollouts = []
    repetitive: dict = {}
    for job, res in results:
        if job[0] == 'repetitive':
            repetitive[job[1]] = res
        else:
            if 'error' in res:
                res = {'task_id': job[1], 'condition': job[2], 'body_mass_kg': job[3], **res}
            rollouts.append(res)
    ref = repetitive.get('no_exo', {}).get('ec_j', math.nan)
    for res in repetitive.values():
        if 'ec_j' in res:
            res['reduction_pct_vs_no_exo'] = ec_reduction_pct(res['ec_j'], ref)
    summary, per_condition = summarize(rollouts)
    all_ok = all(r.get('safety_ok', False) for r in rollouts) and all(
        r.get('safety_ok', False) for r in repetitive.values())
    total_s = repetitive_minutes * 60.0
    return {
        'schema': SCHEMA,
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        'wall_s': time.perf_counter() - start,
        'config': {'conditions': list(conditions), 'tasks': list(tasks),
                   'masses': list(masses), 'training_masses': list(TRAINING_MASSES),
                   'unseen_masses': list(UNSEEN_MASSES),
                   'repetitive_minutes': repetitive_minutes, 'quick': quick, 'seed': seed,
                   'basal_w_per_kg': basal_w_per_kg, 'workers': workers},
        'metabolic_model': METABOLIC_MODEL,
        'skipped_conditions': skipped,
        'rollouts': rollouts, 'summary': summary, 'per_condition': per_condition,
        'repetitive': {
            'task_text': TASKS_BY_ID[REPETITIVE_TASK].text,
            'payload_kg': TASKS_BY_ID[REPETITIVE_TASK].payload_kg,
            'body_mass_kg': REPETITIVE_MASS_KG, 'minutes': repetitive_minutes,
            'steady_window_s': list(steady_window(total_s)) if total_s > 0 else None,
            'seed': seed,
            'ee_definition': ('modelled muscle metabolic power (Umberger 2003, six elbow '
                              f'muscles) / body mass + basal {basal_w_per_kg} W/kg'),
            'conditions': repetitive},
        'safety_ok': all_ok,
        'errors': sum(1 for r in rollouts if 'error' in r) + sum(
            1 for r in repetitive.values() if 'error' in r),
    }
