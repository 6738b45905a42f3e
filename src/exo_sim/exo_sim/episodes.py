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

from dataclasses import dataclass
import functools
import math

import numpy as np

from exo_contract.tasks import ReferenceTrajectory, Task, TrajectoryParams
from exo_sim.human import DEFAULT_HUMAN, HumanConfig
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import ProportionalAssist, RolloutResult, run_rollout
from exo_sim.step_loop import StepLoop
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


@functools.lru_cache(maxsize=64)
def _practise(task: Task, alpha: float | None, body_mass_kg: float, human: HumanConfig,
              repetitions: int, seed: int) -> tuple[tuple[str, tuple[float, ...]], ...]:
    ref = ReferenceTrajectory(task)
    config = ExoArmConfig(body_mass_kg=body_mass_kg, attach_exo=alpha is not None,
                          payload_kg=task.payload_per_arm_kg)
    loop = StepLoop(config, ref.baseline, human=human, seed=seed)
    loop.human.begin_task(task.task_id)
    rest = int(round(PRACTICE_REST_S / loop.h))
    for _ in range(repetitions):
        loop.start_task(task)
        k = 0
        while k < rest:
            r = loop.reference()
            tau = alpha * loop.arm.biological_torque() if alpha is not None else 0.0
            loop.step(tau, r)
            k = k + 1 if r.phase < 0.0 else 0
    theta = tuple(float(v) for v in loop.human.memory[task.task_id])
    # '' (no task yet): the practised human holds the object the same way before the
    # instruction.
    return (('', theta), (task.task_id, theta))


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
    _check_alpha(alpha)
    if not (isinstance(repetitions, int) and 0 <= repetitions <= 20):
        raise ValueError(f'repetitions must be an integer in [0, 20], got {repetitions!r}')
    if repetitions == 0:
        return {}
    memory = _practise(task, None if alpha is None else float(alpha), float(body_mass_kg),
                       human, repetitions, int(seed))
    return {key: np.array(theta) for key, theta in memory}


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
    _check_alpha(alpha)
    exo = alpha is not None
    controller = ProportionalAssist(alpha) if exo else None
    arm_config = ExoArmConfig(body_mass_kg=body_mass_kg, attach_exo=exo)
    memory = practise(task, alpha, body_mass_kg, human, practice_repetitions)
    rollout = run_rollout(task, config=arm_config, controller=controller, params=params,
                          rest_before=rest_before, rest_after=rest_after, human=human,
                          seed=seed, onset_s=onset_s, memory=memory,
                          metabolic_every=metabolic_every)
    if exo:
        k_int = fit.fit(rollout.tau_ext, rollout.q_ref, rollout.q_exo, arm_config.timestep)
    else:
        k_int = np.full(rollout.t.size, np.nan)
    return AssistedEpisode(task=task, alpha=float(alpha) if exo else math.nan,
                           body_mass_kg=float(body_mass_kg), params=params, rollout=rollout,
                           k_int=k_int, fit=fit, human=human,
                           practice_repetitions=practice_repetitions)
