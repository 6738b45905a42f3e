"""Single closed-loop rollouts: one task, one condition, one body mass, one seed.

Each rollout runs :func:`exo_sim.rollout.run_rollout` (the one step loop) with
``REST_BEFORE_S`` s of rest, the instruction, the human's reaction time, the task and
``REST_AFTER_S`` s of rest; metrics over the task's active phase (:mod:`exo_contract.metrics`).

**Realistic timing.** As in the dataset, the human does not start when the instruction
arrives: every rollout draws the movement onset after the instruction (0.2-1.0 s), the speed
(+-20 %), the amplitude (+-15 %), the rest posture and the motor-noise seed from its
``seed`` (:func:`draw_timing`, the dataset's distribution
:func:`exo_sim.datagen.config.sample_variation`, on the evaluation's own base seed
``EVAL_BASE_SEED``, disjoint from the dataset's and the calibration set's). A seed gives the
same trajectory and noise in every condition (paired comparison).

**A practised human.** As in the dataset (:mod:`exo_sim.episodes`), the measured rollout
starts from the internal model the human learnt in ``PRACTICE_REPETITIONS`` nominal
repetitions of the task under the same condition (the same controller and reference
source, fresh for each repetition): a subject is measured after familiarisation.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time

import numpy as np
from scipy.integrate import trapezoid

from exo_bringup.node_config import NodeConfig
from exo_contract.metrics import active_mask, effort, rmse
from exo_contract.tasks import Task, TASKS_BY_ID
from exo_experiments.evaluation.conditions import (
    assist_kwargs,
    make_source,
    RecordingSource,
    resolve_task,
    safety_counts,
    safety_ok,
    TRAINING_MASSES,
    UNKNOWN_TEXT_ERROR,
)
from exo_experiments.harness import ImpedanceAssist
from exo_sim.datagen.config import (
    DatagenConfig,
    episode_seed,
    RepetitionVariation,
    sample_variation,
)
from exo_sim.episodes import PRACTICE_REPETITIONS, PRACTICE_SEED
from exo_sim.human import MemoryCache
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import practise_chains, RolloutSpec, run_rollouts, ZeroTorque

REST_BEFORE_S = 0.5
REST_AFTER_S = 0.5
TRACE_PERIOD_S = 0.01
EVAL_BASE_SEED = 2000
"""Base seed of the evaluation's timing draws (dataset: 0, calibration: 1000)."""
NOMINAL = RepetitionVariation()


def draw_timing(seed: int, task_id: str, body_mass_kg: float) -> RepetitionVariation:
    """Onset, speed, amplitude and rest posture of evaluation ``seed`` (the dataset's law)."""
    return sample_variation(episode_seed(EVAL_BASE_SEED, task_id, body_mass_kg, int(seed)),
                            DatagenConfig())


def timing_variation(seed: int, task_id: str, body_mass_kg: float,
                     onset_s: float | None = None, speed: float | None = None,
                     amplitude: float | None = None) -> RepetitionVariation:
    """:func:`draw_timing` with any of onset (s), speed and amplitude (relative) given."""
    drawn = draw_timing(seed, task_id, body_mass_kg)
    for name, value, lo, hi in (('onset_s', onset_s, 0.0, 5.0), ('speed', speed, 0.5, 2.0),
                                ('amplitude', amplitude, 0.5, 1.5)):
        if value is not None and not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f'{name} must be in [{lo}, {hi}], got {value!r}')
    return RepetitionVariation(
        onset_s=drawn.onset_s if onset_s is None else float(onset_s),
        speed=drawn.speed if speed is None else float(speed),
        amplitude_scale=drawn.amplitude_scale if amplitude is None else float(amplitude),
        baseline_offset_rad=drawn.baseline_offset_rad)


def _controller(condition: str, text: str, node_config: NodeConfig | None,
                body_mass_kg: float | None = None):
    """(controller, assist or None, recording source or None) of one rollout."""
    source = make_source(condition, node_config, body_mass_kg)
    if source is None:
        return ZeroTorque(), None, None
    recorder = RecordingSource(source)
    assist = ImpedanceAssist(recorder, text, REST_BEFORE_S, **assist_kwargs(node_config))
    return assist, assist, recorder


_PRACTISED = MemoryCache(32)


def _practise_batch(keys: list[tuple]) -> None:
    """Practise the keys not cached yet, repetition r of every chain in one batch.

    A key is ``(task_id, condition, mass, text, node_config, repetitions)``.
    """
    todo = _PRACTISED.missing(keys)

    def chain(key: tuple):
        task_id, condition, body_mass_kg, text, node_config, _ = key
        config = ExoArmConfig(body_mass_kg=body_mass_kg, attach_exo=condition != 'no_exo')

        def spec(memory: dict | None) -> RolloutSpec:
            controller, _, _ = _controller(condition, text, node_config, body_mass_kg)
            return RolloutSpec(TASKS_BY_ID[task_id], config=config, controller=controller,
                               rest_before=REST_BEFORE_S, rest_after=REST_AFTER_S,
                               seed=PRACTICE_SEED, memory=memory)
        return spec

    memories = practise_chains([chain(key) for key in todo], [key[5] for key in todo])
    for key, theta in zip(todo, memories, strict=True):
        _PRACTISED.store(key, theta)


def _memory(key: tuple) -> dict:
    """The practised internal models of ``key`` (cached by :func:`_practise_batch`), copies."""
    return _PRACTISED.memory(key)


def _practice_key(task: Task, condition: str, body_mass_kg: float, text: str,
                  node_config: NodeConfig | None, repetitions: int) -> tuple:
    if not (isinstance(repetitions, int) and 0 <= repetitions <= 20):
        raise ValueError(f'practice repetitions must be an integer in [0, 20], got '
                         f'{repetitions!r}')
    return (task.task_id, condition, float(body_mass_kg), text, node_config, repetitions)


def practised_memory(task: Task, condition: str, body_mass_kg: float, text: str,
                     node_config: NodeConfig | None = None,
                     repetitions: int = PRACTICE_REPETITIONS) -> dict:
    """The human's internal model after practising ``task`` under ``condition``.

    ``repetitions`` nominal repetitions (cached per process; {} for 0 repetitions).
    """
    key = _practice_key(task, condition, body_mass_kg, text, node_config, repetitions)
    _practise_batch([key])
    return _memory(key)


def evaluate_rollout(task: Task, condition: str, body_mass_kg: float,
                     text: str | None = None, traces: bool = False,
                     node_config: NodeConfig | None = None, seed: int = 0,
                     variation: RepetitionVariation | None = None,
                     practice: int = PRACTICE_REPETITIONS) -> dict:
    """One closed-loop rollout of ``task`` (the human's task) under ``condition``.

    Args:
        task: what the simulated human does.
        condition: one of :data:`~exo_experiments.evaluation.conditions.CONDITIONS`.
        body_mass_kg: body mass of the simulated human, kg.
        text: instruction given to the reference source (default: the task's text).
        traces: add 100 Hz traces (t, q_ref, q, q_human, stiffness).
        node_config: the nodes' configuration (default: the launch files' YAML).
        seed: evaluation seed: the human's motor noise and, without ``variation``, the
            timing draw (:func:`draw_timing`).
        variation: onset / speed / amplitude / rest posture (default: drawn from ``seed``;
            :data:`NOMINAL` for the nominal task started with the instruction).
        practice: nominal practice repetitions under the condition before the rollout.

    Returns:
        the metrics dict of one ``rollouts`` entry of eval.json.

    """
    return evaluate_rollouts([EvalRequest(task, condition, body_mass_kg, text, traces,
                                          node_config, seed, variation, practice)])[0]


@dataclass(frozen=True)
class EvalRequest:
    """The arguments of one :func:`evaluate_rollout`, for a batch of rollouts."""

    task: Task
    condition: str
    body_mass_kg: float
    text: str | None = None
    traces: bool = False
    node_config: NodeConfig | None = None
    seed: int = 0
    variation: RepetitionVariation | None = None
    practice: int = PRACTICE_REPETITIONS


def evaluate_rollouts(requests: list[EvalRequest]) -> list[dict]:
    """:func:`evaluate_rollout` of each request, stepped as one batch (in order).

    The practice the requests need (not cached) runs first, repetition by repetition in
    lock step, then the measured rollouts (:func:`exo_sim.rollout.run_rollouts`); every
    result is the one :func:`evaluate_rollout` gives alone (``wall_s``: the batch's wall
    time per rollout).
    """
    start = time.perf_counter()
    keys = [_practice_key(r.task, r.condition, r.body_mass_kg,
                          r.task.text if r.text is None else r.text, r.node_config, r.practice)
            for r in requests]
    _practise_batch(keys)
    runs = []
    for r, key in zip(requests, keys, strict=True):
        text = key[3]
        variation = (r.variation if r.variation is not None
                     else draw_timing(r.seed, r.task.task_id, r.body_mass_kg))
        config = ExoArmConfig(body_mass_kg=float(r.body_mass_kg),
                              attach_exo=r.condition != 'no_exo')
        controller, assist, recorder = _controller(r.condition, text, r.node_config,
                                                   r.body_mass_kg)
        noise = episode_seed(EVAL_BASE_SEED + 1, r.task.task_id, r.body_mass_kg, int(r.seed))
        spec = RolloutSpec(r.task, config=config, controller=controller,
                           rest_before=REST_BEFORE_S, rest_after=REST_AFTER_S,
                           params=variation.params, seed=noise, onset_s=variation.onset_s,
                           memory=_memory(key))
        runs.append((r, text, variation, config, assist, recorder, spec))
    results = run_rollouts([run[-1] for run in runs])
    wall = (time.perf_counter() - start) / max(len(runs), 1)
    return [_metrics(run, res, wall) for run, res in zip(runs, results, strict=True)]


def _metrics(run: tuple, res, wall_s: float) -> dict:
    r, text, variation, config, assist, recorder, _ = run
    condition, body_mass_kg, seed, practice = r.condition, r.body_mass_kg, r.seed, r.practice
    task = r.task
    active = active_mask(res.phase)
    q = res.q_human if condition == 'no_exo' else res.q_exo
    energy = float(trapezoid(res.metabolic_power[active], res.t[active]))
    safety = safety_counts(assist)
    k = np.asarray(assist.counters.stiffness) if assist is not None else np.zeros(0)
    out = {
        'task_id': task.task_id, 'text': text, 'condition': condition,
        'body_mass_kg': float(body_mass_kg), 'seed': int(seed),
        'timing': variation.to_json(), 'practice_repetitions': practice,
        'mass_seen': float(body_mass_kg) in TRAINING_MASSES,
        'resolved_task': (recorder.resolved.task_id if recorder is not None
                          and recorder.resolved is not None else None),
        'confidence': recorder.confidence if recorder is not None else None,
        'fallback_fraction': (recorder.fallbacks / max(recorder.references, 1)
                              if recorder is not None else None),
        'rmse_rad': rmse(q, res.q_ref, active),
        'rmse_human_rad': rmse(res.q_human, res.q_ref, active),
        'effort': effort(res.activations, active),
        'metabolic_energy_j': energy,
        'metabolic_energy_j_per_kg': energy / float(body_mass_kg),
        'safety': safety, 'safety_ok': safety_ok(safety),
        'k_mean': float(k.mean()) if k.size else None,
        'k_max': float(k.max()) if k.size else None,
        'wall_s': wall_s,
    }
    if r.traces:
        every = max(1, int(round(TRACE_PERIOD_S / config.timestep)))
        idx = np.arange(0, len(res.t), every)
        out['traces'] = {'t': res.t[idx].tolist(), 'q_ref': res.q_ref[idx].tolist(),
                         'q': q[idx].tolist(), 'q_human': res.q_human[idx].tolist()}
        if k.size:
            ctrl_every = max(1, int(round(assist.policy_period / config.timestep)))
            out['traces']['stiffness'] = k[::ctrl_every][:len(idx)].tolist()
    return out


def single_rollout(task_text: str, mass: float, policy: str,
                   node_config: NodeConfig | None = None, seed: int = 0,
                   onset_s: float | None = None, speed: float | None = None,
                   amplitude: float | None = None) -> dict:
    """One rollout for an arbitrary text and body mass: resolution, RMSE, effort, safety.

    The simulated human and the reference source resolve the text with the same resolver
    (:func:`~exo_experiments.evaluation.conditions.resolve_task`), whatever the mode: a
    paraphrase runs the task it names, text that names no task is refused (``error``)
    before anything is simulated. Timing: drawn from ``seed`` (:func:`draw_timing`), with
    any of ``onset_s`` (s after the instruction), ``speed`` and ``amplitude`` (relative to
    the nominal task) given instead.
    """
    task = resolve_task(task_text, node_config)
    if task is None:
        return {'task_text': task_text, 'policy': policy, 'body_mass_kg': mass,
                'resolved_task': None, 'error': UNKNOWN_TEXT_ERROR}
    variation = timing_variation(seed, task.task_id, mass, onset_s, speed, amplitude)
    res = evaluate_rollout(task, policy, mass, text=task_text, node_config=node_config,
                           seed=seed, variation=variation)
    res['human_task'] = task.task_id
    res['policy'] = policy
    res['task_text'] = task_text
    if res['resolved_task'] is None and policy in ('no_exo', 'transparent'):
        res['resolved_task'] = task.task_id
    return res
