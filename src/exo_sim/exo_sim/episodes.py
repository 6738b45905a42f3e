"""The one eq. 3 + eq. 4 episode recipe: assisted rollout, then the stiffness fit.

The simulated human performs a task while the exoskeleton assists with
``tau_exo = alpha * tau_bio`` (eq. 3, :class:`exo_sim.rollout.ProportionalAssist`); the
interaction stiffness ``K_int(t)`` of eq. 4 (``tau_ext = K_int (q_d - q_r)``) is then fitted
at the simulation rate (:class:`exo_sim.stiffness.FitSettings`, centred windowed least
squares of ``tau_ext`` on ``q_ref - q_exo``). ``alpha=None`` simulates the arm without the
exoskeleton (the no-exo comparison; no stiffness).

**A practised human.** The human's internal model knows nothing of the exoskeleton a
priori; it learns the condition's dynamics (the exo's weight, the eq. 3 assistance) only
by adapting between repetitions (:mod:`exo_sim.human`). The episode is recorded after
practice, as a subject would be measured after familiarisation: :func:`practise` runs
``practice_repetitions`` repetitions of the nominal task under the same condition, body
mass and human (its own adaptation rate), and the recorded repetition starts from the
internal model they left. The recorded repetition itself has its own onset, speed,
amplitude and noise seed.

Every producer of interaction data uses :func:`simulate_assisted_episode`: the dataset
(:mod:`exo_sim.datagen`), the oracle's stiffness table and the ProMP fit from simulation
(:mod:`exo_experiments.fitting`). No rclpy here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np

from exo_contract.tasks import ReferenceTrajectory, Task, TrajectoryParams
from exo_sim.human import DEFAULT_HUMAN, HumanConfig, MemoryCache
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import ProportionalAssist, RolloutResult, RolloutSpec, run_rollouts
from exo_sim.step_loop import step_batch, StepLoop
from exo_sim.stiffness import DEFAULT_FIT, FitSettings

DEFAULT_PARAMS = TrajectoryParams()
REST_BEFORE_S = 0.5
REST_AFTER_S = 0.5
PRACTICE_REPETITIONS = 2
"""Practice repetitions before a recorded episode (see the module docstring)."""
PRACTICE_REST_S = 0.3
PRACTICE_SEED = 0
"""Noise seed of the practice repetitions (the same practice for every recorded repetition
of a task x condition x body mass x human)."""


def _check_alpha(alpha: float | None) -> None:
    if alpha is not None and not (isinstance(alpha, (int, float)) and math.isfinite(alpha)
                                  and 0.0 <= alpha <= 1.0):
        raise ValueError(f'alpha must be in [0, 1] or None, got {alpha!r}')


_PRACTISED = MemoryCache(64)


def _practise_batch(keys: list[tuple]) -> None:
    """Practise every key ``(task, alpha, mass, human, repetitions, seed)`` not cached yet.

    The practice loops step in lock step (:func:`exo_sim.step_loop.step_batch`; each loop's
    numbers are those it has alone); each runs ``repetitions`` repetitions of its task, a
    repetition ending ``PRACTICE_REST_S`` s after its task does.
    """
    todo = _PRACTISED.missing(keys)
    if not todo:
        return
    loops, alphas, left = [], [], []
    for task, alpha, body_mass_kg, human, repetitions, seed in todo:
        ref = ReferenceTrajectory(task)
        config = ExoArmConfig(body_mass_kg=body_mass_kg, attach_exo=alpha is not None,
                              payload_kg=task.payload_per_arm_kg)
        loop = StepLoop(config, ref.baseline, human=human, seed=seed)
        loop.human.begin_task(task.task_id)
        loop.start_task(task)
        loops.append(loop)
        alphas.append(alpha)
        left.append(repetitions)
    rest_steps = [int(round(PRACTICE_REST_S / loop.h)) for loop in loops]
    resting = [0] * len(loops)
    active = list(range(len(loops)))
    while active:
        refs = [loops[i].reference() for i in active]
        torques = [alphas[i] * loops[i].arm.biological_torque() if alphas[i] is not None
                   else 0.0 for i in active]
        step_batch([loops[i] for i in active], torques, refs)
        for i, r in zip(active, refs, strict=True):
            resting[i] = resting[i] + 1 if r.phase < 0.0 else 0
            if resting[i] >= rest_steps[i]:  # this repetition is over
                left[i] -= 1
                resting[i] = 0
                if left[i] > 0:
                    loops[i].start_task(todo[i][0])
        active = [i for i in active if left[i] > 0]
    for key, loop in zip(todo, loops, strict=True):
        theta = loop.human.memory[key[0].task_id]
        # '' (no task yet): the practised human holds the object the same way before the
        # instruction.
        _PRACTISED.store(key, {'': theta, key[0].task_id: theta})


def _practice_key(task: Task, alpha: float | None, body_mass_kg: float, human: HumanConfig,
                  repetitions: int, seed: int) -> tuple:
    _check_alpha(alpha)
    if not (isinstance(repetitions, int) and 0 <= repetitions <= 20):
        raise ValueError(f'repetitions must be an integer in [0, 20], got {repetitions!r}')
    return (task, None if alpha is None else float(alpha), float(body_mass_kg), human,
            repetitions, int(seed))


def _practised(key: tuple) -> dict[str, np.ndarray]:
    if key[4] == 0:
        return {}
    return _PRACTISED.memory(key)


def practise(task: Task, alpha: float | None, body_mass_kg: float = 70.0,
             human: HumanConfig = DEFAULT_HUMAN, repetitions: int = PRACTICE_REPETITIONS,
             seed: int = PRACTICE_SEED) -> dict[str, np.ndarray]:
    """The human's internal model after practising ``task`` under a condition (cached).

    ``repetitions`` nominal repetitions of the task (``PRACTICE_REST_S`` of rest after
    each) with eq. 3 assistance ``alpha`` (None: no exoskeleton).

    Returns:
        ``{task_id: theta, '': theta}`` for :class:`exo_sim.step_loop.StepLoop`'s
        ``memory`` (``''``: the rest before the instruction, the object already in hand);
        empty when ``repetitions`` is 0 (the prior).

    """
    key = _practice_key(task, alpha, body_mass_kg, human, repetitions, seed)
    if repetitions > 0:
        _practise_batch([key])
    return _practised(key)


@dataclass(frozen=True)
class AssistedEpisode:
    """One simulated episode and its eq. 4 stiffness.

    Attributes:
        task: the task performed.
        alpha: eq. 3 assistance ratio; NaN without the exoskeleton.
        body_mass_kg: subject body mass, kg.
        params: the reference's variation.
        rollout: every simulation step (:class:`exo_sim.rollout.RolloutResult`; its ``phase``
            is -1 at rest and before the onset, ``tau / duration`` in [0, 1] while the task
            runs; ``seed``, ``onset_s``: the human's noise seed and reaction time).
        k_int: (T,) fitted interaction stiffness at the simulation rate, N*m/rad, in
            ``[fit.k_min, fit.k_max]``; all NaN without the exoskeleton.
        fit: the settings of the stiffness fit.

    """

    task: Task
    alpha: float
    body_mass_kg: float
    params: TrajectoryParams
    rollout: RolloutResult
    k_int: np.ndarray
    fit: FitSettings
    human: HumanConfig = DEFAULT_HUMAN
    practice_repetitions: int = PRACTICE_REPETITIONS

    @property
    def exo(self) -> bool:
        """True when the exoskeleton was worn (and assisted with ``alpha``)."""
        return not math.isnan(self.alpha)

    @property
    def duration(self) -> float:
        """Duration of the task's reference (its rests included), s."""
        return ReferenceTrajectory(self.task, self.params).duration

    @property
    def timestep(self) -> float:
        """Simulation timestep, s."""
        return float(self.rollout.config.timestep)


def simulate_assisted_episode(task: Task, alpha: float | None = 1.0,
                              body_mass_kg: float = 70.0,
                              params: TrajectoryParams = DEFAULT_PARAMS, *,
                              fit: FitSettings = DEFAULT_FIT,
                              rest_before: float = REST_BEFORE_S,
                              rest_after: float = REST_AFTER_S,
                              human: HumanConfig = DEFAULT_HUMAN, seed: int = 0,
                              onset_s: float = 0.0,
                              practice_repetitions: int = PRACTICE_REPETITIONS,
                              metabolic_every: int = 1) -> AssistedEpisode:
    """Simulate ``task`` with eq. 3 assistance (after practice) and fit the eq. 4 stiffness.

    Args:
        task: the task (its payload goes into the hand).
        alpha: eq. 3 assistance ratio in [0, 1]; None: no exoskeleton worn (no fit).
        body_mass_kg: subject body mass, kg.
        params: variation of the task's reference (amplitude, speed, baseline).
        fit: settings of the stiffness fit.
        rest_before: rest at the baseline before the instruction, s.
        rest_after: rest at the baseline after the task, s.
        human: the simulated human's parameters.
        seed: the human's motor-noise seed of this episode.
        onset_s: reaction time from the instruction to the movement onset, s.
        practice_repetitions: practice before the episode (:func:`practise`; 0: naive).
        metabolic_every: metabolic power every n-th step, held in between
            (:func:`exo_sim.rollout.run_rollout`).

    Raises:
        ValueError: invalid ``alpha``, mass, rest or onset (message quotes it).

    """
    return simulate_assisted_episodes([EpisodeRequest(
        task, alpha, body_mass_kg, params, fit=fit, rest_before=rest_before,
        rest_after=rest_after, human=human, seed=seed, onset_s=onset_s,
        practice_repetitions=practice_repetitions, metabolic_every=metabolic_every)])[0]


@dataclass(frozen=True)
class EpisodeRequest:
    """The arguments of one :func:`simulate_assisted_episode`, for a batch of episodes."""

    task: Task
    alpha: float | None = 1.0
    body_mass_kg: float = 70.0
    params: TrajectoryParams = DEFAULT_PARAMS
    fit: FitSettings = DEFAULT_FIT
    rest_before: float = REST_BEFORE_S
    rest_after: float = REST_AFTER_S
    human: HumanConfig = DEFAULT_HUMAN
    seed: int = 0
    onset_s: float = 0.0
    practice_repetitions: int = PRACTICE_REPETITIONS
    metabolic_every: int = 1


def simulate_assisted_episodes(requests: Sequence[EpisodeRequest]) -> list[AssistedEpisode]:
    """:func:`simulate_assisted_episode` of each request, stepped as one batch (in order).

    The practice the requests need (those not cached) runs first, its loops in lock step,
    then the recorded rollouts (:func:`exo_sim.rollout.run_rollouts`); each episode is, bit
    for bit, the one :func:`simulate_assisted_episode` gives alone.
    """
    keys = [_practice_key(r.task, r.alpha, r.body_mass_kg, r.human, r.practice_repetitions,
                          PRACTICE_SEED) for r in requests]
    _practise_batch([key for key in keys if key[4] > 0])
    specs = []
    for r, key in zip(requests, keys, strict=True):
        exo = r.alpha is not None
        specs.append(RolloutSpec(
            r.task, config=ExoArmConfig(body_mass_kg=r.body_mass_kg, attach_exo=exo),
            controller=ProportionalAssist(r.alpha) if exo else None, params=r.params,
            rest_before=r.rest_before, rest_after=r.rest_after, human=r.human, seed=r.seed,
            onset_s=r.onset_s, memory=_practised(key), metabolic_every=r.metabolic_every))
    episodes = []
    for r, spec, rollout in zip(requests, specs, run_rollouts(specs), strict=True):
        if r.alpha is not None:
            k_int = r.fit.fit(rollout.tau_ext, rollout.q_ref, rollout.q_exo,
                              spec.config.timestep)
        else:
            k_int = np.full(rollout.t.size, np.nan)
        episodes.append(AssistedEpisode(
            task=r.task, alpha=float(r.alpha) if r.alpha is not None else math.nan,
            body_mass_kg=float(r.body_mass_kg), params=r.params, rollout=rollout,
            k_int=k_int, fit=r.fit, human=r.human,
            practice_repetitions=r.practice_repetitions))
    return episodes
