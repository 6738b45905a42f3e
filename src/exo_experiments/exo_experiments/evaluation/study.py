"""The population study: subjects x conditions x (tasks + interaction-safety scenarios).

Every subject (:mod:`~exo_experiments.evaluation.population`) does every task and scenario
(:mod:`~exo_experiments.evaluation.scenarios`) under every condition, after
:data:`exo_sim.episodes.PRACTICE_REPETITIONS` nominal practice repetitions of the task it
performs under that condition; its timing (onset, speed, amplitude) is drawn per subject and
task, the same in every condition. The assisted conditions run the reference source and
the stability-bounded controller core of the nodes (:class:`exo_experiments.harness.
ImpedanceAssist`) with the same ``max_assist_torque`` for every source. Statistics
(:mod:`~exo_experiments.evaluation.stats`) pair conditions per subject.

Per nominal task: exo-angle RMSE (``rmse_rad``) and the arm's own RMSE (``rmse_arm_rad``)
against the wearer's reference over the active phase, muscle energy over the active phase
and its change against no exo (``energy_change_pct``, paired per subject), and the
interaction metrics of :func:`~exo_experiments.evaluation.scenarios.interaction_metrics`
(smoothness included). Per scenario: the interaction metrics.
"""

from __future__ import annotations

from dataclasses import replace
import datetime
import math
import os
import sys
import time

import numpy as np
from scipy.integrate import trapezoid

from exo_bringup.node_config import NodeConfig
from exo_contract.metrics import active_mask, rmse
from exo_contract.tasks import TASKS_BY_ID
from exo_experiments.evaluation import stats
from exo_experiments.evaluation.conditions import (
    assist_kwargs,
    check_condition,
    default_node_config,
    make_source,
)
from exo_experiments.evaluation.population import draw_subject
from exo_experiments.evaluation.scenarios import (
    interaction_metrics,
    rollout_spec,
    scenario_tasks,
    SCENARIOS,
    simulate_batch,
)
from exo_experiments.evaluation.single import draw_timing
from exo_experiments.harness import ImpedanceAssist
from exo_sim.datagen.config import episode_seed
from exo_sim.episodes import PRACTICE_REPETITIONS, PRACTICE_SEED
from exo_sim.parallel import map_jobs
from exo_sim.rollout import practise_chains

SCHEMA = 'exo_vic.study/1'
MAX_BATCH = 32
"""Most rollouts a study job steps in one batch (tens of MB each: models, reference sources,
records); a subject's conditions are grouped up to it."""
REST_S = 0.5
POLICY_CONDITION = 'learned'
"""The condition the study pairs with every other (the learned policy; study.json's
``default*`` keys name it)."""
BASELINE_CONDITIONS = ('gravity_share', 'constant_assist', 'promp')
LOADED_TASKS = ('lift_light', 'shelf', 'lift_heavy', 'carry_bimanual')
TRACKING_TARGET_RAD = 0.05
TASK_METRICS = ('rmse_rad', 'rmse_arm_rad', 'energy_change_pct', 'command_hf_rms_nm',
                'peak_interaction_nm', 'rms_interaction_nm')
SCENARIO_METRICS = ('peak_interaction_nm', 'rms_interaction_nm', 'time_above_comfort_s',
                    'muscle_energy_j', 'exo_deviation_rad', 'command_hf_rms_nm')


def _controller(condition: str, text: str, mass: float, node_config: NodeConfig,
                gravity_share: float | None):
    source = make_source(condition, node_config, mass, gravity_share)
    if source is None:
        return None
    return ImpedanceAssist(source, text, REST_S, **assist_kwargs(node_config))


def run_subject(subject_id: int, condition: str, items: list[str], node_config: NodeConfig,
                gravity_share: float | None = None, batch: bool = True) -> list[dict]:
    """Every task / scenario of ``items`` for one subject under one condition.

    ``batch``: the practice repetitions of the tasks performed, then the measured rollouts,
    step in lock step (:func:`run_subject_conditions` of one condition); False: one rollout
    at a time.
    """
    if not batch:
        return [row for item in items
                for row in run_subject_conditions(subject_id, [condition], [item],
                                                  node_config, gravity_share)]
    return run_subject_conditions(subject_id, [condition], items, node_config, gravity_share)


def run_subject_conditions(subject_id: int, conditions: list[str], items: list[str],
                           node_config: NodeConfig, gravity_share: float | None = None
                           ) -> list[dict]:
    """Every task / scenario of ``items`` for one subject under each of ``conditions``.

    The practice repetitions of the tasks performed under every condition, then all the
    measured rollouts, step in lock step (:func:`exo_sim.rollout.run_rollouts`: each
    rollout's numbers are those it has alone). Should a batch fail, its conditions run one
    at a time, then a failing condition's items one at a time, so a failing rollout is
    reported on its own row. Rows in the order of ``conditions``, then ``items``.
    """
    if not items or not conditions:
        return []
    subject = draw_subject(subject_id)
    mass = subject.body_mass_kg
    start = time.perf_counter()
    try:
        plans = []
        for item in items:
            scenario = SCENARIOS.get(item)
            if scenario is not None:
                text_task, task = scenario_tasks(scenario)
            else:
                text_task = task = TASKS_BY_ID[item]
            plans.append((item, scenario, text_task, task))
        # Practice: each performed task's repetitions under each condition form a chain;
        # the chains are independent.
        tasks = list({task.task_id: task for _, _, _, task in plans}.values())
        arms = {c: replace(subject.arm, attach_exo=c != 'no_exo') for c in conditions}

        def chain(condition, task):
            return lambda memory: rollout_spec(
                task, arms[condition], subject.human,
                _controller(condition, task.text, mass, node_config, gravity_share),
                seed=PRACTICE_SEED, memory=memory, rest_before=REST_S)
        keys = [(c, task.task_id) for c in conditions for task in tasks]
        practised = practise_chains([chain(c, TASKS_BY_ID[t]) for c, t in keys],
                                    [PRACTICE_REPETITIONS] * len(keys))
        memory = dict(zip(keys, practised, strict=True))
        runs, specs = [], []
        for c in conditions:
            for item, scenario, text_task, task in plans:
                timing = draw_timing(subject_id, task.task_id, 70.0)
                noise = episode_seed(stats.BOOTSTRAP_SEED + 30_000, task.task_id, 70.0,
                                     subject_id)
                ctrl = _controller(c, text_task.text, mass, node_config, gravity_share)
                specs.append(rollout_spec(task, arms[c], subject.human, ctrl,
                                          params=timing.params, onset_s=timing.onset_s,
                                          seed=noise, memory=memory[(c, task.task_id)] or {},
                                          scenario=scenario, rest_before=REST_S))
                runs.append((c, item, scenario))
        traces = simulate_batch(specs)
    except Exception as exc:  # noqa: BLE001 -- each part again alone: the failing one reported
        if len(conditions) > 1:
            return [row for c in conditions
                    for row in run_subject_conditions(subject_id, [c], items, node_config,
                                                      gravity_share)]
        if len(items) == 1:
            return [{'item': items[0], 'condition': conditions[0], 'subject_id': subject_id,
                     'error': f'{type(exc).__name__}: {exc}'}]
        return [row for item in items
                for row in run_subject_conditions(subject_id, conditions, [item],
                                                  node_config, gravity_share)]
    wall = (time.perf_counter() - start) / len(runs)
    out = []
    for (condition, item, scenario), spec, tr in zip(runs, specs, traces, strict=True):
        ctrl = spec.controller
        res = {'item': item, 'kind': 'scenario' if scenario else 'task',
               'condition': condition, 'subject_id': subject_id,
               'body_mass_kg': mass, **interaction_metrics(tr, mass, condition != 'no_exo')}
        if scenario is None:
            act = active_mask(tr.phase)
            q = tr.q_exo if condition != 'no_exo' else tr.q_human
            res['rmse_rad'] = rmse(q, tr.q_ref, act)
            res['rmse_arm_rad'] = rmse(tr.q_human, tr.q_ref, act)
            res['active_energy_j'] = float(trapezoid(tr.power[act], tr.t[act]))
        if ctrl is not None:
            c = ctrl.counters
            res['safety_ok'] = (c.nonfinite_commands == 0 and c.torque_limit_violations == 0
                                and c.stiffness_rate_violations == 0)
            res['k_mean'] = float(np.mean(c.stiffness)) if c.stiffness else None
        else:
            res['safety_ok'] = True
        res['wall_s'] = wall
        out.append(res)
    return out


def _job(job: tuple) -> list[dict]:
    subject_id, conditions, items, node_config, share = job
    try:
        return run_subject_conditions(subject_id, conditions, items, node_config, share)
    except Exception as exc:  # noqa: BLE001 -- reported, not fatal
        return [{'item': i, 'condition': c, 'subject_id': subject_id,
                 'error': f'{type(exc).__name__}: {exc}'} for c in conditions for i in items]


def run_population(conditions: list[str], tasks: list[str], scenarios: list[str],
                   subjects: list[int], workers: int | None = None,
                   node_config: NodeConfig | None = None, gravity_share: float | None = None,
                   progress: bool = True, ray_address: str | None = None) -> dict:
    """Run the study; return the study dict (rows + summary + comparisons).

    One job per subject and group of conditions (every task and scenario of as many
    conditions as :data:`MAX_BATCH` rollouts hold, in one batch,
    :func:`run_subject_conditions`) on ``workers`` local processes, or on the Ray cluster
    at ``ray_address`` (:func:`exo_sim.parallel.map_jobs`); the rows do not depend on
    where they ran.
    """
    start = time.perf_counter()
    node_config = node_config if node_config is not None else default_node_config()
    skipped = {}
    runnable = []
    for c in conditions:
        reason = check_condition(c, node_config)
        if reason is None:
            runnable.append(c)
        else:
            skipped[c] = reason
            print(f'[exo_eval] skipping condition {c!r}: {reason}', file=sys.stderr)
    if 'no_exo' not in runnable:
        runnable.insert(0, 'no_exo')
    items = list(tasks) + list(scenarios)
    per_job = max(1, MAX_BATCH // max(len(items), 1))
    jobs = [(s, runnable[i:i + per_job], items, node_config, gravity_share)
            for s in subjects for i in range(0, len(runnable), per_job)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    rows: list[dict] = []
    from tqdm import tqdm  # noqa: PLC0415
    bar = tqdm(total=len(jobs), desc='subjects x condition groups', disable=not progress,
               file=sys.stderr)
    for res in map_jobs(_job, jobs, workers, ray_address):
        rows += res
        bar.update()
    bar.close()
    # The rows in a fixed order whatever the order the jobs finished in.
    order = {(s, c): i for i, (s, c) in enumerate((s, c) for s in subjects for c in runnable)}
    position = {item: i for i, item in enumerate(items)}
    rows.sort(key=lambda r: (order[(r['subject_id'], r['condition'])],
                             position.get(r['item'], len(items))))
    add_energy_change(rows)
    return {'schema': SCHEMA,
            'created': datetime.datetime.now(datetime.timezone.utc).isoformat(),
            'wall_s': time.perf_counter() - start,
            'config': {'conditions': runnable, 'tasks': list(tasks),
                       'scenarios': list(scenarios), 'subjects': list(subjects),
                       'gravity_share': (gravity_share if gravity_share is not None
                                         else node_config.policy.gravity_share),
                       'max_assist_torque': node_config.policy.max_assist_torque,
                       'practice_repetitions': PRACTICE_REPETITIONS, 'workers': workers},
            'subjects': [draw_subject(s).to_json() for s in subjects],
            'skipped_conditions': skipped, 'rows': rows,
            'summary': summarize(rows), 'comparisons': compare(rows, runnable, tasks,
                                                               scenarios),
            'errors': sum(1 for r in rows if 'error' in r),
            'safety_ok': all(r.get('safety_ok', False) for r in rows)}


def add_energy_change(rows: list[dict]) -> None:
    """``energy_change_pct`` of every task row against no exo (same subject and task), %."""
    ref = {(r['item'], r['subject_id']): r['active_energy_j'] for r in rows
           if r.get('condition') == 'no_exo' and 'active_energy_j' in r}
    for r in rows:
        if 'active_energy_j' in r:
            base = ref.get((r['item'], r['subject_id']))
            r['energy_change_pct'] = 100.0 * (r['active_energy_j'] / base - 1.0) if base \
                else None


def _by(rows: list[dict], item: str, cond: str, metric: str) -> dict:
    return {r['subject_id']: r[metric] for r in rows if r['item'] == item
            and r['condition'] == cond and r.get(metric) is not None}


def summarize(rows: list[dict]) -> dict:
    """Item -> condition -> metric -> {mean, ci95 (bootstrap over subjects), n}."""
    out: dict = {}
    ok = [r for r in rows if 'error' not in r]
    for item in dict.fromkeys(r['item'] for r in ok):
        for cond in dict.fromkeys(r['condition'] for r in ok):
            metrics = TASK_METRICS if item not in SCENARIOS else SCENARIO_METRICS
            cell = {}
            for m in metrics:
                vals = list(_by(ok, item, cond, m).values())
                if vals:
                    cell[m] = {'mean': float(np.mean(vals)), 'ci95': stats.bootstrap_ci(vals),
                               'n': len(vals)}
            if cell:
                out.setdefault(item, {})[cond] = cell
    return out


def best_baseline(summary: dict, item: str, baselines=BASELINE_CONDITIONS) -> str | None:
    """The best baseline of a task or scenario (None without one).

    Task: the largest energy saving within the tracking target (else the best tracking);
    scenario: the lowest RMS interaction torque.
    """
    cells = {c: summary.get(item, {}).get(c) for c in baselines}
    cells = {c: v for c, v in cells.items() if v}
    if not cells:
        return None
    if item in SCENARIOS:
        return min(cells, key=lambda c: cells[c]['rms_interaction_nm']['mean'])
    within = {c: v for c, v in cells.items() if v['rmse_rad']['mean'] <= TRACKING_TARGET_RAD
              and 'energy_change_pct' in v}
    if within:
        return min(within, key=lambda c: within[c]['energy_change_pct']['mean'])
    return min(cells, key=lambda c: cells[c]['rmse_rad']['mean'])


def compare(rows: list[dict], conditions: list[str], tasks: list[str],
            scenarios: list[str]) -> dict:
    """Paired comparisons of the default against every other condition, Holm over items.

    ``default_vs``: condition -> metric -> item -> paired difference (default - other) with
    bootstrap interval, d_z, Wilcoxon p and Holm-adjusted p (family: the items of that
    metric); ``tost_arm_tracking``: condition -> task -> TOST of the arm's RMSE against no
    exo (margin :data:`stats.TOST_MARGIN_RAD`); ``best_baseline``: item -> the best
    baseline and the default's paired difference to it.
    """
    ok = [r for r in rows if 'error' not in r]
    out: dict = {'default': POLICY_CONDITION, 'default_vs': {}, 'tost_arm_tracking': {},
                 'best_baseline': {}}
    summary = summarize(ok)
    if POLICY_CONDITION in conditions:
        for other in conditions:
            if other == POLICY_CONDITION:
                continue
            per_metric: dict = {}
            for metrics, items in ((TASK_METRICS, tasks), (SCENARIO_METRICS, scenarios)):
                for m in metrics:
                    res = {i: stats.paired(_by(ok, i, POLICY_CONDITION, m),
                                           _by(ok, i, other, m)) for i in items}
                    res = {i: v for i, v in res.items() if v is not None}
                    adj = stats.holm([v['p'] for v in res.values()])
                    for v, p in zip(res.values(), adj, strict=True):
                        v['p_holm'] = p
                    if res:
                        per_metric.setdefault(m, {}).update(res)
            out['default_vs'][other] = per_metric
    for cond in conditions:
        if cond == 'no_exo':
            continue
        out['tost_arm_tracking'][cond] = {}
        for t in tasks:
            d = stats.paired(_by(ok, t, cond, 'rmse_arm_rad'), _by(ok, t, 'no_exo',
                                                                   'rmse_arm_rad'))
            if d is not None:
                out['tost_arm_tracking'][cond][t] = stats.tost_paired(d['diffs'])
    for item in list(tasks) + list(scenarios):
        best = best_baseline(summary, item)
        if best is None or POLICY_CONDITION not in summary.get(item, {}):
            continue
        key = 'rms_interaction_nm' if item in SCENARIOS else 'energy_change_pct'
        d = out['default_vs'].get(best, {})
        out['best_baseline'][item] = {
            'baseline': best, 'metric': key,
            'default_minus_baseline': d.get(key, {}).get(item),
            'rmse_default_minus_baseline': (d.get('rmse_rad', {}).get(item)
                                            if item not in SCENARIOS else None)}
    return out


def rounded(value: float | None, digits: int = 4) -> float | None:
    """``value`` rounded (None and non-finite stay None)."""
    return round(value, digits) if value is not None and math.isfinite(value) else None
