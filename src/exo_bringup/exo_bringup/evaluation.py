"""Closed-loop evaluation (paper section V, Fig. 4-7): every task x condition x body mass.

In-process rollouts (:func:`exo_sim.rollout.run_rollout`, no ROS) of the simulated human
wearing the exo under six conditions:

* ``no_exo``      -- no exoskeleton at all (``ExoArmConfig(attach_exo=False)``);
* ``transparent`` -- exo attached, zero assistance (``ZeroTorque``);
* ``promp``       -- ProMP baseline (:class:`exo_policy.promp.ProMPReferenceSource`);
* ``learned``     -- the learned policy (``exo_policy.runtime.LearnedReferenceSource``;
                     skipped with a message when it cannot be imported/constructed);
                     it predicts the human's own reference, so the exo follows the wearer;
* ``assist``      -- the learned policy on the shipped assist checkpoint
                     (``exo_policy/data/assist``: virtual-equilibrium reference
                     ``q_exo - tau_ext / k_int`` of alpha = 1 rollouts, which assists;
                     skipped like ``learned`` when unavailable);
* ``oracle``      -- task-library reference + fitted stiffness (upper bound);

the last four through :class:`exo_bringup.harness.ImpedanceAssist` (reference source +
stability-bounded impedance controller, the same cores as the ROS nodes), at the
training masses (60, 70, 80 kg) and unseen masses (65, 75, 90 kg), plus a repetitive
lift-and-carry session with a 10 kg box (default 10 simulated minutes).

Metrics per rollout (over the task's active phase, ``0 < phase < 1``):

* ``rmse_rad``: RMSE of the exo angle vs the task reference (no_exo: the human angle);
* ``effort``: mean over time of the sum of the six squared muscle activations (eq. 2);
* ``metabolic_energy_j`` / ``_j_per_kg``: integral of the muscle metabolic power of the
  Umberger, Gerritsen & Martin (2003) muscle-energetics model
  (:class:`exo_sim.metabolic.MetabolicModel`; six elbow muscles of one arm, no basal term);
* safety counters of :class:`ImpedanceAssist` (stiffness-rate bound violations,
  torque-limit violations, non-finite commands): all must be 0.

Repetitive task: cycles of ``'lift a heavy box'`` (mission 8, 10 kg box in the hand for
the whole session) with small random amplitude/duration variation (+-5 %) and a random
pause of 2-4 s between cycles (about 67 cycles in 10 min, as in the paper); the task text
is re-sent at the start of every cycle. EE(t) in W/kg is the modelled muscle metabolic
power per kg body mass (plus ``--basal-w-per-kg``, default 0: the paper's indirect
calorimetry includes the whole body, our model only the elbow muscles), and EC is eq. 16
(:func:`exo_sim.metabolic.steady_state_energy`) over the steady-state window [0.3 T, T]
([3 min, 10 min] for T = 10 min), with its reduction against no_exo in %
(positive = less energy than no_exo).

eval.json schema (``schema: 'exo_vic.eval/1'``)::

    {schema, created, wall_s, config: {conditions, tasks, masses, training_masses,
     unseen_masses, repetitive_minutes, quick, seed, basal_w_per_kg},
     metabolic_model, skipped_conditions: {condition: reason},
     rollouts: [{task_id, text, condition, body_mass_kg, mass_seen, resolved_task,
                 confidence, rmse_rad, rmse_human_rad, effort, metabolic_energy_j,
                 metabolic_energy_j_per_kg, safety: {ticks, stiffness_rate_violations,
                 torque_limit_violations, nonfinite_commands}, safety_ok, k_mean, k_max,
                 wall_s} | {..., error}],
     summary: {task_id: {condition: {rmse_rad, effort, metabolic_energy_j_per_kg,
               n, rmse_rad_seen, rmse_rad_unseen}}},
     per_condition: {condition: {rmse_rad, effort, metabolic_energy_j_per_kg, n,
                     safety_violations}},
     repetitive: {task_text, payload_kg, body_mass_kg, minutes, steady_window_s, seed,
                  ee_definition, conditions: {condition: {ec_j, ec_kj,
                  reduction_pct_vs_no_exo, mean_ee_w_per_kg, cycles_started,
                  cycles_completed, rmse_rad, effort, safety, safety_ok, ee_curve:
                  {t_s, ee_w_per_kg} (1 s bins), first_minute: {t_s, q_ref, q,
                  stiffness} (20 Hz)}}},
     safety_ok, plots: [file names]}

    exo_eval --out out/eval                 # full grid (minutes on many cores)
    exo_eval --quick --out out/eval_quick   # 3 tasks, 70 kg, 1 simulated minute
    exo_eval --task-text 'make an ok gesture' --mass 72 --policy promp --json
"""

from __future__ import annotations

import argparse
from bisect import bisect_right
from dataclasses import dataclass
import datetime
import json
import math
import multiprocessing as mp
import os
from pathlib import Path
import sys
import time

import numpy as np
from scipy.integrate import trapezoid

from exo_bringup.harness import ImpedanceAssist
from exo_sim.metabolic import steady_state_energy
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import ExoObservation, make_arm_and_human, run_rollout, ZeroTorque
from exo_sim.tasks import (
    find_task,
    ReferenceTrajectory,
    Task,
    TASKS,
    TASKS_BY_ID,
    TrajectoryParams,
)

SCHEMA = 'exo_vic.eval/1'
CONDITIONS = ('no_exo', 'transparent', 'promp', 'learned', 'assist', 'oracle')
ASSISTED = ('promp', 'learned', 'assist', 'oracle')
TRAINING_MASSES = (60.0, 70.0, 80.0)
UNSEEN_MASSES = (65.0, 75.0, 90.0)
QUICK_TASKS = ('ok_gesture', 'wave', 'lift_heavy')
QUICK_MASSES = (70.0,)
REST_BEFORE_S = 0.5
REST_AFTER_S = 0.5
REPETITIVE_TASK = 'lift_heavy'
REPETITIVE_MASS_KG = 70.0
REPETITIVE_PAUSE_S = (2.0, 4.0)
REPETITIVE_SPREAD = 0.05
STEADY_START_FRACTION = 0.3
COMPLETED_PEAK_FRACTION = 0.8
EE_BIN_S = 1.0
FIRST_MINUTE_S = 60.0
FIRST_MINUTE_STEP_S = 0.05
METABOLIC_MODEL = ('Umberger, Gerritsen & Martin (2003), "A model of human muscle energy '
                   'expenditure", Comput. Methods Biomech. Biomed. Eng. 6(2):99-111 '
                   '(exo_sim.metabolic.MetabolicModel: six elbow muscles of one arm)')


class SourceUnavailableError(RuntimeError):
    """A reference source (the learned policy) cannot be built here."""


# ---------------------------------------------------------------------- sources
def make_source(condition: str):
    """Reference source of an assisted ``condition``; None for no_exo / transparent.

    Raises:
        SourceUnavailableError: the learned policy cannot be imported or constructed.
        ValueError: unknown condition.

    """
    if condition in ('no_exo', 'transparent'):
        return None
    from exo_policy.sources import make_source as make_reference_source  # noqa: PLC0415
    if condition in ('oracle', 'promp'):
        return make_reference_source(condition)
    if condition in ('learned', 'assist'):
        try:
            return make_reference_source(condition)
        except Exception as exc:  # noqa: BLE001 -- any failure skips the condition
            raise SourceUnavailableError(f'the {condition} policy is unavailable: '
                                         f'{type(exc).__name__}: {exc}') from exc
    raise ValueError(f'condition must be one of {CONDITIONS}, got {condition!r}')


def check_condition(condition: str) -> str | None:
    """None when ``condition`` can run here, else the reason it is skipped."""
    try:
        make_source(condition)
    except SourceUnavailableError as exc:
        return str(exc)
    return None


class _RecordingSource:
    """Forwards a ReferenceSource and remembers the last resolution and fallback ticks."""

    def __init__(self, source) -> None:
        self.source = source
        self.resolved: Task | None = None
        self.confidence = 0.0
        self.references = 0
        self.fallbacks = 0

    def set_task_text(self, text: str, t: float) -> Task | None:
        self.resolved = self.source.set_task_text(text, t)
        return self.resolved

    def reference(self, t: float, q: float, qd: float = 0.0):
        target = self.source.reference(t, q, qd)
        self.references += 1
        if target.source == 'fallback':
            self.fallbacks += 1
        else:
            self.confidence = float(target.confidence)
        return target


def _safety(assist: ImpedanceAssist | None) -> dict:
    if assist is None:
        return {'ticks': 0, 'stiffness_rate_violations': 0, 'torque_limit_violations': 0,
                'nonfinite_commands': 0}
    c = assist.counters
    return {'ticks': c.ticks, 'stiffness_rate_violations': c.stiffness_rate_violations,
            'torque_limit_violations': c.torque_limit_violations,
            'nonfinite_commands': c.nonfinite_commands}


def _safety_ok(safety: dict) -> bool:
    return (safety['stiffness_rate_violations'] == 0 and safety['torque_limit_violations'] == 0
            and safety['nonfinite_commands'] == 0)


# ---------------------------------------------------------------------- single rollouts
def evaluate_rollout(task: Task, condition: str, body_mass_kg: float,
                     text: str | None = None, traces: bool = False) -> dict:
    """One closed-loop rollout of ``task`` (the human's task) under ``condition``.

    Args:
        task: what the simulated human does.
        condition: one of :data:`CONDITIONS`.
        body_mass_kg: body mass of the simulated human, kg.
        text: instruction given to the reference source (default: the task's text).
        traces: add 100 Hz traces (t, q_ref, q, q_human, stiffness).

    Returns:
        the metrics dict of one ``rollouts`` entry of eval.json.

    """
    start = time.perf_counter()
    text = task.text if text is None else text
    config = ExoArmConfig(body_mass_kg=float(body_mass_kg), attach_exo=condition != 'no_exo')
    source = make_source(condition)
    assist = None
    recorder = None
    if source is None:
        controller = ZeroTorque()
    else:
        recorder = _RecordingSource(source)
        assist = ImpedanceAssist(recorder, text, REST_BEFORE_S)
        controller = assist
    res = run_rollout(task, config=config, controller=controller, rest_before=REST_BEFORE_S,
                      rest_after=REST_AFTER_S)
    active = (res.phase > 0.0) & (res.phase < 1.0)
    q = res.q_human if condition == 'no_exo' else res.q_exo
    err = q[active] - res.q_ref[active]
    err_h = res.q_human[active] - res.q_ref[active]
    acts = res.activations[active]
    energy = float(trapezoid(res.metabolic_power[active], res.t[active]))
    safety = _safety(assist)
    k = np.asarray(assist.counters.stiffness) if assist is not None else np.zeros(0)
    out = {
        'task_id': task.task_id, 'text': text, 'condition': condition,
        'body_mass_kg': float(body_mass_kg),
        'mass_seen': float(body_mass_kg) in TRAINING_MASSES,
        'resolved_task': (recorder.resolved.task_id if recorder is not None
                          and recorder.resolved is not None else None),
        'confidence': recorder.confidence if recorder is not None else None,
        'fallback_fraction': (recorder.fallbacks / max(recorder.references, 1)
                              if recorder is not None else None),
        'rmse_rad': float(np.sqrt(np.mean(err**2))),
        'rmse_human_rad': float(np.sqrt(np.mean(err_h**2))),
        'effort': float(np.mean(np.sum(acts**2, axis=1))),
        'metabolic_energy_j': energy,
        'metabolic_energy_j_per_kg': energy / float(body_mass_kg),
        'safety': safety, 'safety_ok': _safety_ok(safety),
        'k_mean': float(k.mean()) if k.size else None,
        'k_max': float(k.max()) if k.size else None,
        'wall_s': time.perf_counter() - start,
    }
    if traces:
        every = max(1, int(round(0.01 / config.timestep)))
        idx = np.arange(0, len(res.t), every)
        out['traces'] = {'t': res.t[idx].tolist(), 'q_ref': res.q_ref[idx].tolist(),
                         'q': q[idx].tolist(), 'q_human': res.q_human[idx].tolist()}
        if k.size:
            ctrl_every = max(1, int(round(assist.policy_period / config.timestep)))
            out['traces']['stiffness'] = k[::ctrl_every][:len(idx)].tolist()
    return out


# ---------------------------------------------------------------------- repetitive task
@dataclass(frozen=True)
class Cycle:
    """One cycle of the repetitive session: start time (s) and its reference."""

    start: float
    reference: ReferenceTrajectory

    @property
    def end(self) -> float:
        """End of the cycle's reference, s."""
        return self.start + self.reference.duration


def make_schedule(total_s: float, seed: int = 0, task_id: str = REPETITIVE_TASK
                  ) -> list[Cycle]:
    """Cycles starting at 0 s until ``total_s``: +-5 % amplitude/duration, 2-4 s pauses."""
    task = TASKS_BY_ID[task_id]
    rng = np.random.default_rng(seed)
    cycles: list[Cycle] = []
    t = 0.0
    while t < total_s:
        amp, dur = rng.uniform(-REPETITIVE_SPREAD, REPETITIVE_SPREAD, size=2)
        ref = ReferenceTrajectory(task, TrajectoryParams(amplitude_scale=1.0 + amp,
                                                         duration_scale=1.0 + dur))
        cycles.append(Cycle(t, ref))
        t += ref.duration + rng.uniform(*REPETITIVE_PAUSE_S)
    return cycles


class SequenceReference:
    """Concatenated references of a schedule (baseline between cycles), scalar time."""

    def __init__(self, cycles: list[Cycle]) -> None:
        self.cycles = cycles
        self._starts = [c.start for c in cycles]
        self.baseline = cycles[0].reference.baseline

    def index(self, t: float) -> int:
        """Index of the last cycle started at ``t`` (-1 before the first)."""
        return bisect_right(self._starts, t) - 1

    def __call__(self, t: float) -> tuple[float, float, float]:
        """(q, qd, qdd) of the schedule at time ``t`` (s)."""
        i = self.index(t)
        if i < 0:
            return self.baseline, 0.0, 0.0
        c = self.cycles[i]
        return c.reference(t - c.start)


class RepetitiveAssist(ImpedanceAssist):
    """:class:`ImpedanceAssist` that re-sends the task text at the start of every cycle."""

    def __init__(self, source, text: str, starts: list[float], **kwargs) -> None:
        super().__init__(source, text, starts[0], **kwargs)
        self._starts = list(starts)
        self._next_cycle = 0

    def reset(self, q0: float) -> None:
        """Start the session at ``q0``."""
        super().reset(q0)
        self._text_sent = True  # the schedule below sends the text
        self._next_cycle = 0

    def __call__(self, obs: ExoObservation) -> float:
        """Send the text when a cycle starts, then one controller tick."""
        while self._next_cycle < len(self._starts) and obs.t >= self._starts[self._next_cycle]:
            self.source.set_task_text(self.task_text, obs.t)
            self._next_cycle += 1
        return super().__call__(obs)


def ec_reduction_pct(ec_condition: float, ec_reference: float) -> float:
    """Reduction of EC against a reference (no_exo) in %: positive = less energy."""
    if not (math.isfinite(ec_reference) and ec_reference > 0):
        return math.nan
    return 100.0 * (ec_reference - ec_condition) / ec_reference


def steady_window(total_s: float) -> tuple[float, float]:
    """Eq. 16 window: [0.3 T, T] ([3 min, 10 min] for the paper's 10-minute session)."""
    return STEADY_START_FRACTION * total_s, total_s


def ee_metrics(t: np.ndarray, power_w: np.ndarray, body_mass_kg: float,
               basal_w_per_kg: float = 0.0) -> dict:
    """EE(t) = P / m + basal (W/kg), EC of eq. 16 over :func:`steady_window` (J)."""
    t = np.asarray(t, dtype=float)
    ee = np.asarray(power_w, dtype=float) / body_mass_kg + basal_w_per_kg
    t1, t2 = steady_window(float(t[-1]))
    ec = steady_state_energy(t, ee, body_mass_kg, t1, t2)
    window = (t >= t1) & (t <= t2)
    return {'ec_j': ec, 'ec_kj': ec / 1000.0, 'steady_window_s': [t1, t2],
            'mean_ee_w_per_kg': float(np.mean(ee[window]))}


def run_repetitive(condition: str, minutes: float, body_mass_kg: float = REPETITIVE_MASS_KG,
                   seed: int = 0, basal_w_per_kg: float = 0.0) -> dict:
    """The repetitive 10 kg lift-and-carry session under ``condition`` (see module doc)."""
    start_wall = time.perf_counter()
    total_s = float(minutes) * 60.0
    task = TASKS_BY_ID[REPETITIVE_TASK]
    config = ExoArmConfig(body_mass_kg=float(body_mass_kg), attach_exo=condition != 'no_exo')
    arm, human, metabolic, _ = make_arm_and_human(config, task)
    cycles = make_schedule(total_s, seed)
    ref = SequenceReference(cycles)
    arm.reset(ref.baseline)
    source = make_source(condition)
    assist = None
    if source is None:
        controller = ZeroTorque()
    else:
        assist = RepetitiveAssist(source, task.text, [c.start for c in cycles])
        controller = assist
    h = float(arm.model.opt.timestep)
    n = int(round(total_s / h))
    dec = max(1, int(round(0.01 / h)))
    m = n // dec
    rec = {k: np.zeros(m) for k in ('q_ref', 'q', 'q_human', 'power', 'k')}
    controller.reset(ref.baseline)
    tau_cmd = 0.0
    actadr = human._actadr
    effort_sum = 0.0
    err_sum = 0.0
    err_n = 0
    peak = np.full(len(cycles), -np.inf)
    k_last = 0.0
    no_exo = condition == 'no_exo'
    for k in range(m * dec):
        t = k * h
        q_r, qd_r, qdd_r = ref(t)
        q, qd = arm.exo_state()
        qh, qdh = arm.human_state()
        tau_ext = arm.interaction_torque()
        tau_bio = arm.biological_torque()
        obs = ExoObservation(t=t, q=q, qd=qd, tau_ext=tau_ext, q_human=qh, qd_human=qdh,
                             q_ref=q_r, qd_ref=qd_r, tau_bio=tau_bio)
        tau_cmd = arm.apply_exo_torque(controller(obs))
        if assist is not None and assist.counters.stiffness:
            k_last = assist.counters.stiffness[-1]
        power = metabolic.power(arm)
        act = arm.data.act[actadr]
        effort_sum += float(np.dot(act, act))
        i = ref.index(t)
        q_track = qh if no_exo else q
        if i >= 0 and t < cycles[i].end:
            err_sum += (q_track - q_r) ** 2
            err_n += 1
            peak[i] = max(peak[i], qh)
        j = k // dec
        rec['power'][j] += power / dec
        if k % dec == 0:
            rec['q_ref'][j], rec['q'][j], rec['q_human'][j], rec['k'][j] = q_r, q_track, qh, \
                k_last
        human.compute(q_r, qd_r, qdd_r)
        arm.step()
    del tau_cmd
    t_dec = np.arange(m) * dec * h
    # Power averaged over each 10 ms bin, stamped at the bin centre.
    t_pow = t_dec + 0.5 * dec * h
    met = ee_metrics(t_pow, rec['power'], body_mass_kg, basal_w_per_kg)
    ee = rec['power'] / body_mass_kg + basal_w_per_kg
    nb = int(EE_BIN_S / (dec * h))
    n_bins = len(ee) // nb
    ee_bins = ee[:n_bins * nb].reshape(n_bins, nb).mean(axis=1)
    completed = sum(1 for c, p in zip(cycles, peak, strict=True) if c.end <= total_s and p >=
                    c.reference.baseline + COMPLETED_PEAK_FRACTION * c.reference.amplitude)
    fm = t_dec < min(FIRST_MINUTE_S, total_s)
    step = max(1, int(round(FIRST_MINUTE_STEP_S / (dec * h))))
    safety = _safety(assist)
    return {
        'condition': condition, **met,
        'cycles_started': sum(1 for c in cycles if c.start < total_s),
        'cycles_completed': completed,
        'rmse_rad': math.sqrt(err_sum / err_n) if err_n else math.nan,
        'effort': effort_sum / max(m * dec, 1),
        'safety': safety, 'safety_ok': _safety_ok(safety),
        'ee_curve': {'t_s': (np.arange(n_bins) * EE_BIN_S + 0.5 * EE_BIN_S).tolist(),
                     'ee_w_per_kg': ee_bins.tolist()},
        'first_minute': {'t_s': t_dec[fm][::step].tolist(),
                         'q_ref': rec['q_ref'][fm][::step].tolist(),
                         'q': rec['q'][fm][::step].tolist(),
                         'stiffness': (rec['k'][fm][::step].tolist() if assist is not None
                                       else None)},
        'wall_s': time.perf_counter() - start_wall,
    }


# ---------------------------------------------------------------------- grid
def _run_job(job: tuple) -> tuple[tuple, dict]:
    """Pool worker (module level: spawn-safe)."""
    kind = job[0]
    try:
        if kind == 'repetitive':
            _, condition, minutes, mass, seed, basal = job
            return job, run_repetitive(condition, minutes, mass, seed, basal)
        _, task_id, condition, mass = job
        return job, evaluate_rollout(TASKS_BY_ID[task_id], condition, mass)
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
                   quick: bool = False) -> dict:
    """Run the grid and the repetitive session; return the eval.json dict (no plots)."""
    start = time.perf_counter()
    skipped = {}
    runnable = []
    for cond in conditions:
        reason = check_condition(cond)
        if reason is None:
            runnable.append(cond)
        else:
            skipped[cond] = reason
            print(f'[exo_eval] skipping condition {cond!r}: {reason}', file=sys.stderr)
    jobs: list[tuple] = []
    if repetitive_minutes > 0:
        jobs += [('repetitive', c, repetitive_minutes, REPETITIVE_MASS_KG, seed, basal_w_per_kg)
                 for c in runnable]
    jobs += [('single', t, c, m) for t in tasks for m in masses for c in runnable]
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


# ---------------------------------------------------------------------- plots
_COLORS = {'no_exo': '#7f7f7f', 'transparent': '#bcbd22', 'promp': '#1f77b4',
           'learned': '#d62728', 'assist': '#9467bd', 'oracle': '#2ca02c'}


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
               color=[_COLORS[c] for c in conds])
        ax.set_xticks(x, conds, rotation=30, fontsize=7)
        ax.set_title(f'M{TASKS_BY_ID[task].mission} {TASKS_BY_ID[task].name}', fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis('off')
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def make_plots(report: dict, out: Path) -> list[str]:
    """Fig. 4 (effort), 5 (RMSE), 6 (EE(t)), 7 (first minute); returns the file names."""
    import matplotlib  # noqa: PLC0415
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # noqa: PLC0415
    files = []
    if report['summary']:
        _bar_grid(report, 'effort', 'sum of a^2', 'Muscle effort per task and condition '
                  '(Fig. 4 style; mean +- std over masses)', out / 'fig4_effort.png')
        _bar_grid(report, 'rmse_rad', 'RMSE (rad)', 'Tracking RMSE per task and condition '
                  '(Fig. 5 style; mean +- std over masses)', out / 'fig5_rmse.png')
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
            ax.plot(t, smooth, color=_COLORS[cond], label=label)
        t1, t2 = report['repetitive']['steady_window_s']
        ax.axvspan(t1 / 60.0, t2 / 60.0, color='0.9', zorder=0, label='steady state (eq. 16)')
        ax.set_xlabel('time (min)')
        ax.set_ylabel('EE (W/kg, modelled muscle)')
        ax.set_title('Repetitive 10 kg lift: metabolic energy expenditure (Fig. 6 style)',
                     fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / 'fig6_ee.png', dpi=120)
        plt.close(fig)
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7.0, 4.6), sharex=True)
        first = True
        for cond, r in rep.items():
            fm = r['first_minute']
            if first:
                ax1.plot(fm['t_s'], fm['q_ref'], 'k--', lw=1.0, label='reference')
                first = False
            ax1.plot(fm['t_s'], fm['q'], color=_COLORS[cond], lw=0.9, label=cond)
            if fm['stiffness'] is not None:
                ax2.plot(fm['t_s'], fm['stiffness'], color=_COLORS[cond], lw=0.9, label=cond)
        ax1.set_ylabel('elbow angle (rad)')
        ax1.legend(fontsize=7, ncol=3)
        ax2.set_ylabel('stiffness (N m/rad)')
        ax2.set_xlabel('time (s)')
        ax2.legend(fontsize=7)
        ax1.set_title('First minute of the repetitive task (Fig. 7 style)', fontsize=9)
        fig.tight_layout()
        fig.savefig(out / 'fig7_first_minute.png', dpi=120)
        plt.close(fig)
        files += ['fig6_ee.png', 'fig7_first_minute.png']
    return files


# ---------------------------------------------------------------------- CLI
def single_rollout(task_text: str, mass: float, policy: str) -> dict:
    """One rollout for an arbitrary text and body mass: resolution, RMSE, effort, safety.

    The simulated human performs the task named by the text (exact library match, else the
    policy's own resolution); the policy resolves the text independently.
    """
    task = find_task(task_text)
    if task is None:
        source = make_source(policy)
        if source is not None:
            task = source.set_task_text(task_text, 0.0)
    if task is None:
        return {'task_text': task_text, 'policy': policy, 'body_mass_kg': mass,
                'resolved_task': None, 'error': 'the text names no known task'}
    res = evaluate_rollout(task, policy, mass, text=task_text)
    res['human_task'] = task.task_id
    res['policy'] = policy
    res['task_text'] = task_text
    if res['resolved_task'] is None and policy in ('no_exo', 'transparent'):
        res['resolved_task'] = task.task_id
    return res


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(',') if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``exo_eval``."""
    p = argparse.ArgumentParser(prog='exo_eval', description=__doc__.splitlines()[0])
    p.add_argument('--out', type=Path, default=Path('out/eval'),
                   help='output directory (eval.json + plots)')
    p.add_argument('--quick', action='store_true',
                   help=f'reduced grid: tasks {",".join(QUICK_TASKS)}, 70 kg, 1 minute')
    p.add_argument('--conditions', default=','.join(CONDITIONS),
                   help='comma-separated subset of ' + ','.join(CONDITIONS))
    p.add_argument('--masses', default=None,
                   help='comma-separated body masses, kg (default: 60,70,80 + 65,75,90)')
    p.add_argument('--tasks', default=None, help='comma-separated task ids (default: all)')
    p.add_argument('--repetitive-minutes', type=float, default=None,
                   help='simulated minutes of the repetitive task (default 10; quick 1; 0: '
                        'skip)')
    p.add_argument('--workers', type=int, default=None, help='processes (default: all CPUs)')
    p.add_argument('--seed', type=int, default=0, help='seed of the repetitive schedule')
    p.add_argument('--basal-w-per-kg', type=float, default=0.0,
                   help='constant basal term added to EE(t), W/kg (default 0)')
    p.add_argument('--no-plots', action='store_true')
    p.add_argument('--task-text', default=None,
                   help='single rollout for this text (with --mass, --policy)')
    p.add_argument('--mass', type=float, default=70.0, help='body mass of --task-text, kg')
    p.add_argument('--policy', choices=('learned', 'assist', 'promp', 'oracle', 'transparent',
                                        'no_exo'),
                   default='learned', help='condition of the --task-text rollout')
    p.add_argument('--json', action='store_true', help='print the result as JSON')
    return p


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_eval``; returns 0 when every rollout is safe and error-free."""
    parser = build_parser()
    opts = parser.parse_args(argv)
    if opts.task_text is not None:
        try:
            res = single_rollout(opts.task_text, opts.mass, opts.policy)
        except SourceUnavailableError as exc:
            res = {'task_text': opts.task_text, 'policy': opts.policy,
                   'body_mass_kg': opts.mass, 'error': str(exc)}
        except ValueError as exc:
            parser.error(str(exc))
        if opts.json:
            print(json.dumps(res, indent=2))
        elif 'error' in res:
            print(f'error: {res["error"]}')
        else:
            s = res['safety']
            print(f'text {res["task_text"]!r} -> task {res["resolved_task"]} (confidence '
                  f'{res["confidence"]}), human task {res["human_task"]}, '
                  f'{res["body_mass_kg"]:g} kg, policy {res["policy"]}\n'
                  f'RMSE {res["rmse_rad"]:.4f} rad, effort {res["effort"]:.4f}, metabolic '
                  f'{res["metabolic_energy_j"]:.2f} J\nsafety: {s["ticks"]} ticks, '
                  f'stiffness-rate {s["stiffness_rate_violations"]}, torque-limit '
                  f'{s["torque_limit_violations"]}, non-finite {s["nonfinite_commands"]}')
        return 0 if 'error' not in res and res['safety_ok'] else 1
    conditions = [c.strip() for c in opts.conditions.split(',') if c.strip()]
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        parser.error(f'unknown conditions {bad}; choose from {list(CONDITIONS)}')
    if opts.tasks:
        tasks = [t.strip() for t in opts.tasks.split(',') if t.strip()]
    else:
        tasks = list(QUICK_TASKS) if opts.quick else [t.task_id for t in TASKS]
    bad = [t for t in tasks if t not in TASKS_BY_ID]
    if bad:
        parser.error(f'unknown tasks {bad}; choose from {list(TASKS_BY_ID)}')
    if opts.masses:
        masses = _floats(opts.masses)
    else:
        masses = list(QUICK_MASSES) if opts.quick else list(TRAINING_MASSES + UNSEEN_MASSES)
    for m in masses:
        if not (math.isfinite(m) and 40.0 <= m <= 150.0):
            parser.error(f'--masses must lie in [40, 150] kg, got {m!r}')
    minutes = opts.repetitive_minutes
    if minutes is None:
        minutes = 1.0 if opts.quick else 10.0
    if not (math.isfinite(minutes) and 0.0 <= minutes <= 120.0) or 0 < minutes < 0.25:
        parser.error(f'--repetitive-minutes must be 0 or in [0.25, 120], got {minutes!r}')
    report = run_evaluation(conditions, tasks, masses, minutes, opts.workers, opts.seed,
                            opts.basal_w_per_kg, quick=opts.quick)
    opts.out.mkdir(parents=True, exist_ok=True)
    report['plots'] = [] if opts.no_plots else make_plots(report, opts.out)
    (opts.out / 'eval.json').write_text(json.dumps(report, indent=1, allow_nan=True))
    _print_report(report)
    print(f'wrote {opts.out / "eval.json"}')
    return 0 if report['safety_ok'] and report['errors'] == 0 else 1


def _print_report(report: dict) -> None:
    for cond, reason in report['skipped_conditions'].items():
        print(f'skipped {cond}: {reason}')
    print(f'{"condition":<12} {"RMSE rad":>9} {"seen":>7} {"unseen":>7} {"effort":>8} '
          f'{"J/kg":>7} {"unsafe":>6}')
    for cond, s in report['per_condition'].items():
        def f(v):
            return f'{v:.4f}' if v is not None else '   -  '
        print(f'{cond:<12} {f(s["rmse_rad"]):>9} {f(s["rmse_rad_seen"]):>7} '
              f'{f(s["rmse_rad_unseen"]):>7} {f(s["effort"]):>8} '
              f'{f(s["metabolic_energy_j_per_kg"]):>7} {s["safety_violations"]:>6}')
    rep = report['repetitive']
    if rep['conditions']:
        print(f'repetitive: {rep["minutes"]:g} min of {rep["task_text"]!r}, '
              f'{rep["body_mass_kg"]:g} kg, steady window {rep["steady_window_s"]} s')
        for cond, r in rep['conditions'].items():
            if 'error' in r:
                print(f'  {cond:<12} error: {r["error"]}')
                continue
            print(f'  {cond:<12} EC {r["ec_j"]:9.1f} J  reduction '
                  f'{r.get("reduction_pct_vs_no_exo", math.nan):+6.2f} %  cycles '
                  f'{r["cycles_completed"]}/{r["cycles_started"]}  RMSE {r["rmse_rad"]:.4f} '
                  f'rad  safe {r["safety_ok"]}  ({r["wall_s"]:.0f} s)')
    errors = [r for r in report['rollouts'] if 'error' in r]
    for r in errors:
        print(f'error {r["task_id"]} {r["condition"]} {r["body_mass_kg"]}: {r["error"]}')
    print(f'safety_ok {report["safety_ok"]}, wall {report["wall_s"]:.1f} s')


if __name__ == '__main__':
    raise SystemExit(main())
