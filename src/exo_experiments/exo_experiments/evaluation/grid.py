"""The evaluation grid: every task x condition x body mass x seed plus the repetitive session.

Jobs run in a process pool (spawn; one task resolver per worker process) or on a Ray
cluster: each repetitive session alone, the single rollouts one batch per task x body mass
(every condition and seed in lock step; the numbers do not depend on the batches). They come
back as the eval.json dict (schema ``exo_vic.eval/1``, see :mod:`exo_experiments.evaluation`).
"""

from __future__ import annotations

import datetime
import math
import os
import sys
import time

import numpy as np
from scipy import stats as sps

from exo_bringup.node_config import NodeConfig
from exo_contract.tasks import TASKS_BY_ID
from exo_experiments.evaluation.conditions import (
    check_condition,
    default_node_config,
    TRAINING_MASSES,
    UNSEEN_MASSES,
)
from exo_experiments.evaluation.repetitive import (
    ec_reduction_pct,
    REPETITIVE_MASS_KG,
    REPETITIVE_TASK,
    RepetitiveRequest,
    run_repetitive_sessions,
    steady_window,
)
from exo_experiments.evaluation.single import EvalRequest, evaluate_rollouts
from exo_sim.parallel import map_jobs

SCHEMA = 'exo_vic.eval/1'
METABOLIC_MODEL = ('Umberger, Gerritsen & Martin (2003), "A model of human muscle energy '
                   'expenditure", Comput. Methods Biomech. Biomed. Eng. 6(2):99-111 '
                   '(exo_sim.metabolic.MetabolicModel: six elbow muscles of one arm)')


def _run_job(job: tuple) -> list[tuple[tuple, dict]]:
    """Pool worker (module level: spawn-safe): ``[(single job, result), ...]``.

    A job is a group of repetitive sessions or of single rollouts (one task and body mass,
    every condition and seed), which step as one batch
    (:func:`~exo_experiments.evaluation.repetitive.run_repetitive_sessions`,
    :func:`~exo_experiments.evaluation.single.evaluate_rollouts`); should the batch fail,
    its members run one at a time, so a failing one is reported on its own.
    """
    if job[0] == 'sessions':
        sessions = job[1]
        try:
            results = run_repetitive_sessions([
                RepetitiveRequest(condition, minutes, mass, seed, basal, node_config)
                for _, condition, minutes, mass, seed, basal, node_config in sessions])
            return list(zip(sessions, results, strict=True))
        except Exception as exc:  # noqa: BLE001 -- one failed session is reported, not fatal
            if len(sessions) == 1:
                return [(sessions[0], {'error': f'{type(exc).__name__}: {exc}'})]
            return [pair for one in sessions for pair in _run_job(('sessions', [one]))]
    singles = job[1]
    try:
        results = evaluate_rollouts([
            EvalRequest(TASKS_BY_ID[task_id], condition, mass, node_config=node_config,
                        seed=seed, traces=traces)
            for _, task_id, condition, mass, seed, node_config, traces in singles])
        return list(zip(singles, results, strict=True))
    except Exception as exc:  # noqa: BLE001 -- one failed rollout is reported, not fatal
        if len(singles) == 1:
            return [(singles[0], {'error': f'{type(exc).__name__}: {exc}'})]
        return [pair for one in singles for pair in _run_job(('singles', [one]))]


def _run_jobs(jobs: list[tuple], workers: int, progress: bool = True,
              ray_address: str | None = None) -> list[tuple]:
    from tqdm import tqdm  # noqa: PLC0415
    total = sum(len(job[1]) for job in jobs)
    bar = tqdm(total=total, desc='eval rollouts', unit='rollout', disable=not progress,
               file=sys.stderr)
    results = []
    for pairs in map_jobs(_run_job, jobs, workers, ray_address):
        results += pairs
        bar.update(len(pairs))
    bar.close()
    return results


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def ci95(values: list[float]) -> list[float] | None:
    """Student-t 95 % confidence interval of the mean, [lo, hi] (None below 2 values)."""
    vals = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if vals.size < 2:
        return None
    half = float(sps.t.ppf(0.975, vals.size - 1) * vals.std(ddof=1) / math.sqrt(vals.size))
    return [float(vals.mean() - half), float(vals.mean() + half)]


def add_energy_change(rollouts: list[dict]) -> None:
    """Add ``energy_change_pct`` to every rollout (paired against no_exo).

    Muscle energy against the no_exo rollout of the same task, body mass and seed, %;
    None without one.
    """
    ref = {(r['task_id'], r['body_mass_kg'], r.get('seed', 0)): r['metabolic_energy_j']
           for r in rollouts if r.get('condition') == 'no_exo' and 'error' not in r}
    for r in rollouts:
        if 'error' in r:
            continue
        base = ref.get((r['task_id'], r['body_mass_kg'], r.get('seed', 0)))
        r['energy_change_pct'] = (100.0 * (r['metabolic_energy_j'] / base - 1.0)
                                  if base else None)


def summarize(rollouts: list[dict]) -> tuple[dict, dict]:
    """Per task x condition and per condition means (over masses and seeds) of the metrics.

    With 95 % intervals of the RMSE and of the paired energy change against no_exo.
    """
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
                'rmse_rad_ci95': ci95([r['rmse_rad'] for r in rows]),
                'energy_change_pct': _mean([r.get('energy_change_pct') for r in rows]),
                'energy_change_pct_ci95': ci95([r.get('energy_change_pct') for r in rows]),
                'n': len(rows),
                'safety_violations': sum(0 if r['safety_ok'] else 1 for r in rows)}

    summary = {task: {cond: stats(rows) for cond, rows in by.items()}
               for task, by in summary.items()}
    per_condition = {cond: stats(rows) for cond, rows in per_condition.items()}
    return summary, per_condition


def run_evaluation(conditions: list[str], tasks: list[str], masses: list[float],
                   repetitive_minutes: float, workers: int | None = None, seed: int = 0,
                   basal_w_per_kg: float = 0.0, progress: bool = True,
                   quick: bool = False, node_config: NodeConfig | None = None,
                   seeds: int = 1, repetitive_conditions: list[str] | None = None,
                   ray_address: str | None = None) -> dict:
    """Run the grid and the repetitive session; return the eval.json dict (no plots).

    Seeds ``seed .. seed + seeds - 1``: each draws the human's timing and noise of every
    single rollout (the same draw in every condition) and one repetitive schedule. The
    repetitive session runs ``repetitive_conditions`` (default: ``conditions``; no_exo is
    added, it is the reference of the reduction).

    ``node_config`` is the nodes' configuration every assisted rollout runs (default: the
    launch files' YAML, :func:`exo_bringup.node_config.load_node_config`). ``ray_address``:
    run the rollouts on that Ray cluster (:func:`exo_sim.parallel.map_jobs`) instead of
    ``workers`` local processes; the results are the same.
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
    seed_list = list(range(seed, seed + seeds))
    rep_conditions = [c for c in runnable if repetitive_conditions is None
                      or c in repetitive_conditions or c == 'no_exo']
    if repetitive_minutes > 0:
        jobs += [('repetitive', c, repetitive_minutes, REPETITIVE_MASS_KG, s, basal_w_per_kg,
                  node_config) for s in seed_list for c in rep_conditions]
    workers = workers or os.cpu_count() or 1
    # The sessions step in batches: as many as seeds on a cluster, else one per local worker.
    parts = len(seed_list) if ray_address is not None else min(workers, max(len(jobs), 1))
    session_batches = [('sessions', jobs[i::parts]) for i in range(parts) if jobs[i::parts]]
    # Traces (Fig. 5) of the first seed's rollouts at the repetitive session's body mass.
    singles = [('single', t, c, m, s, node_config, m == REPETITIVE_MASS_KG and s == seed)
               for t in tasks for m in masses for c in runnable for s in seed_list]
    # One batch per task x body mass: every condition and seed.
    groups: dict[tuple, list[tuple]] = {}
    for one in singles:
        groups.setdefault((one[1], one[3]), []).append(one)
    batches = session_batches + [('singles', group) for group in groups.values()]
    results = _run_jobs(batches, min(workers, max(len(batches), 1)), progress,
                        ray_address=ray_address)
    jobs += singles
    order = {job: i for i, job in enumerate(jobs)}
    results.sort(key=lambda item: order[item[0]])
    rollouts = []
    sessions: dict = {}
    for job, res in results:
        if job[0] == 'repetitive':
            sessions[(job[1], job[4])] = res
        else:
            if 'error' in res:
                res = {'task_id': job[1], 'condition': job[2], 'body_mass_kg': job[3],
                       'seed': job[4], **res}
            rollouts.append(res)
    for (_, s), res in sessions.items():
        ref = sessions.get(('no_exo', s), {}).get('ec_j', math.nan)
        if 'ec_j' in res:
            res['reduction_pct_vs_no_exo'] = ec_reduction_pct(res['ec_j'], ref)
    # The first seed's session of each condition is the one plotted (Fig. 6-7).
    repetitive = {cond: sessions[(cond, seed)] for cond in rep_conditions
                  if (cond, seed) in sessions}
    over_seeds = {}
    for cond in rep_conditions:
        runs = [sessions[(cond, s)] for s in seed_list if 'ec_j' in sessions.get((cond, s), {})]
        if not runs:
            continue
        red = [r.get('reduction_pct_vs_no_exo', math.nan) for r in runs]
        over_seeds[cond] = {'seeds': [r['seed'] for r in runs],
                            'ec_j': [r['ec_j'] for r in runs], 'reduction_pct': red,
                            'reduction_pct_mean': _mean(red), 'reduction_pct_ci95': ci95(red),
                            'rmse_rad': [r['rmse_rad'] for r in runs],
                            'rmse_rad_ci95': ci95([r['rmse_rad'] for r in runs])}
    add_energy_change(rollouts)
    summary, per_condition = summarize(rollouts)
    all_ok = all(r.get('safety_ok', False) for r in rollouts) and all(
        r.get('safety_ok', False) for r in sessions.values())
    total_s = repetitive_minutes * 60.0
    return {
        'schema': SCHEMA,
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(),
        'wall_s': time.perf_counter() - start,
        'config': {'conditions': list(conditions), 'tasks': list(tasks),
                   'masses': list(masses), 'training_masses': list(TRAINING_MASSES),
                   'unseen_masses': list(UNSEEN_MASSES),
                   'repetitive_minutes': repetitive_minutes, 'quick': quick, 'seed': seed,
                   'seeds': seed_list,
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
            'conditions': repetitive, 'over_seeds': over_seeds},
        'safety_ok': all_ok,
        'errors': sum(1 for r in rollouts if 'error' in r) + sum(
            1 for r in sessions.values() if 'error' in r),
    }
