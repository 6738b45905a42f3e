"""In-process rollouts (faster than real time) of one task with an exo torque controller.

:func:`run_rollout` runs the one step loop (:class:`exo_sim.step_loop.StepLoop`, the same
one ``sim_node`` steps in real time): ``rest_before`` s at the task's baseline, the task
started at that step (the movement ``onset_s`` later), ``rest_after`` s of rest after the
task, and records every step. The object of the task is in the hand from the start. Per
step::

    ref = loop.reference()                 # the human's reference, phase -1 at rest
    obs = loop.observe(ref)                # state before the step -> the controller
    tau = controller(obs)                  # every control_period (held in between)
    loop.step(tau, ref)                    # human -> exo torque -> physics

:func:`run_rollouts` runs a batch of such rollouts in lock step (the humans' muscle plans
and the muscle energetics on arrays with a leading batch axis); :func:`run_rollout` is a
batch of one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
import time
from typing import Callable, Protocol, Sequence

import numpy as np

from exo_contract import metrics
from exo_contract.tasks import ReferenceTrajectory, Task, TrajectoryParams
from exo_sim.human import HumanConfig
from exo_sim.metabolic import MetabolicRows
from exo_sim.model import ExoArmConfig
from exo_sim.step_loop import ExoObservation, step_batch, StepLoop

DEFAULT_CONFIG = ExoArmConfig()
DEFAULT_PARAMS = TrajectoryParams()


class ExoTorqueController(Protocol):
    """An exo controller: observation in, motor torque (N*m) out."""

    def reset(self, q0: float) -> None:
        """Reset internal state at the start of a rollout (exo at ``q0`` rad)."""

    def __call__(self, obs: ExoObservation) -> float:
        """Return the torque command in N*m."""


class ZeroTorque:
    """Unpowered / transparent exo: always commands 0 N*m."""

    def reset(self, q0: float) -> None:
        """Nothing to reset."""

    def __call__(self, obs: ExoObservation) -> float:
        """Return 0."""
        return 0.0


class ProportionalAssist:
    """Eq. 3 assistance ``tau_exo = alpha * tau_bio`` (sim only: needs the muscle torque).

    Args:
        alpha: assistance ratio in [0, 1].

    """

    def __init__(self, alpha: float) -> None:
        """Validate ``alpha``."""
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and 0 <= alpha <= 1):
            raise ValueError(f'alpha must be in [0, 1], got {alpha!r}')
        self.alpha = float(alpha)

    def reset(self, q0: float) -> None:
        """Nothing to reset."""

    def __call__(self, obs: ExoObservation) -> float:
        """Return ``alpha * tau_bio``."""
        return self.alpha * obs.tau_bio


@dataclass
class RolloutResult:
    """Per-step record of a rollout; arrays are (T,) unless noted.

    Attributes:
        t: time, s. q_exo, qd_exo: exo joint state. q_human, qd_human: elbow state.
        q_ref, qd_ref: reference. tau_ext: cuff torque on the exo, N*m. tau_cmd: applied
        motor torque, N*m. tau_bio: muscle torque, N*m. activations: (T, 6).
        metabolic_power: W. phase: task progress in [0, 1], -1 at rest (before and
        after the task). task_id, config: provenance. q_intent: the human's delay-free
        intent of each step (its reference ``feedforward_lead_s`` ahead), rad.
        cocontraction: co-contraction index of the human's command of each step, [0, 1].
        seed: the human's noise seed. onset_s: movement onset after the instruction, s.
        memory: the human's adapted internal models at the end (per task).
        stepping_cpu_s: CPU time of this process spent stepping the rollout's batch
            (:func:`run_rollouts`; shared by its episodes), s.

    """

    t: np.ndarray
    q_exo: np.ndarray
    qd_exo: np.ndarray
    q_human: np.ndarray
    qd_human: np.ndarray
    q_ref: np.ndarray
    qd_ref: np.ndarray
    tau_ext: np.ndarray
    tau_cmd: np.ndarray
    tau_bio: np.ndarray
    activations: np.ndarray
    metabolic_power: np.ndarray
    phase: np.ndarray
    task_id: str
    config: ExoArmConfig
    steps_per_second: float = 0.0
    q_intent: np.ndarray | None = None
    cocontraction: np.ndarray | None = None
    seed: int = 0
    onset_s: float = 0.0
    memory: dict | None = None
    stepping_cpu_s: float = 0.0

    def _mask(self, active_only: bool) -> np.ndarray | None:
        return metrics.active_mask(self.phase) if active_only else None

    def rmse_human(self, active_only: bool = True) -> float:
        """RMSE of the human elbow angle vs the reference, rad.

        Over the task's active phase (``0 < phase < 1``, :mod:`exo_contract.metrics`), or
        over every step with ``active_only=False``; NaN when no step is selected.
        """
        return metrics.rmse(self.q_human, self.q_ref, self._mask(active_only))

    def rmse_exo(self, active_only: bool = True) -> float:
        """RMSE of the exo angle vs the reference, rad (steps selected as in rmse_human)."""
        return metrics.rmse(self.q_exo, self.q_ref, self._mask(active_only))

    def effort(self, active_only: bool = True) -> float:
        """Eq. 2's effort: mean of the sum of squared activations (steps as in rmse_human)."""
        return metrics.effort(self.activations, self._mask(active_only))


def run_rollout(task: Task, *, config: ExoArmConfig = DEFAULT_CONFIG,
                controller: ExoTorqueController | None = None,
                params: TrajectoryParams = DEFAULT_PARAMS, duration: float | None = None,
                control_period: float = 0.001, rest_before: float = 0.5,
                rest_after: float = 0.5, progress: bool = False,
                human: HumanConfig | None = None, seed: int = 0, onset_s: float = 0.0,
                memory: dict | None = None, metabolic_every: int = 1) -> RolloutResult:
    """Simulate ``task`` with ``controller`` on the exo and record every step.

    The instruction is given after ``rest_before`` s; the movement starts ``onset_s`` later
    and ``rest_after`` s of rest follow the task, so the rollout lasts
    ``rest_before + onset_s + duration + rest_after``. A batch of one
    (:func:`run_rollouts`).

    Args:
        task: the mission (its payload is put in the hand; half of it for bimanual tasks).
        config: arm configuration (its payload_kg is replaced by the task's).
        controller: exo torque controller, called every ``control_period``; None = unpowered.
        params: reference variation.
        duration: task time to simulate, s (default: the reference's duration).
        control_period: controller period, s (a multiple of the timestep is used).
        rest_before: rest at the baseline before the task starts, s.
        rest_after: rest at the baseline after the task, s.
        progress: print the achieved steps per second at the end.
        human: the simulated human's parameters (default: :data:`exo_sim.human.DEFAULT_HUMAN`).
        seed: seed of the human's motor noise.
        onset_s: reaction time between the instruction and the movement, s.
        memory: the human's adapted internal models (e.g. after practice); None: prior.
        metabolic_every: compute the metabolic power every n-th step (steps ``k % n == 0``)
            and hold it in between (data generation keeps every 10th step only); >= 1.

    """
    spec = RolloutSpec(task, config=config, controller=controller, params=params,
                       duration=duration, control_period=control_period,
                       rest_before=rest_before, rest_after=rest_after, human=human, seed=seed,
                       onset_s=onset_s, memory=memory, metabolic_every=metabolic_every)
    result = run_rollouts([spec])[0]
    if progress:
        rate = result.steps_per_second
        h = result.config.timestep
        print(f'{task.task_id}: {len(result.t)} steps, {rate:.0f} steps/s '
              f'({rate * h:.1f}x real time)')
    return result


@dataclass
class RolloutSpec:
    """The arguments of one rollout of :func:`run_rollouts`.

    Those of :func:`run_rollout`, and two that change what the wearer does:

    * ``reference``: the wearer's reference once the task starts, in place of the task's
      (:meth:`exo_sim.step_loop.StepLoop.follow`; its ``duration`` sets the rollout's
      length); None: the task's;
    * ``push``: ``(first step, end step, torque N*m)``, an external torque on the forearm
      (the human elbow) during steps ``first <= k < end``; None: none.
    """

    task: Task
    config: ExoArmConfig = DEFAULT_CONFIG
    controller: ExoTorqueController | None = None
    params: TrajectoryParams = DEFAULT_PARAMS
    duration: float | None = None
    control_period: float = 0.001
    rest_before: float = 0.5
    rest_after: float = 0.5
    human: HumanConfig | None = None
    seed: int = 0
    onset_s: float = 0.0
    memory: dict | None = None
    metabolic_every: int = 1
    reference: object | None = None
    push: tuple[int, int, float] | None = None

    def validate(self) -> None:
        """ValueError quoting the first invalid argument."""
        for name, value in (('rest_before', self.rest_before),
                            ('rest_after', self.rest_after)):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f'{name} must be >= 0, got {value!r}')
        if not (math.isfinite(self.control_period) and self.control_period > 0):
            raise ValueError(f'control_period must be > 0, got {self.control_period!r}')
        if self.duration is not None and not (math.isfinite(self.duration)
                                              and self.duration > 0):
            raise ValueError(f'duration must be > 0, got {self.duration!r}')
        if not (math.isfinite(self.onset_s) and 0 <= self.onset_s <= 10.0):
            raise ValueError(f'onset_s must be in [0, 10] s, got {self.onset_s!r}')
        if not (isinstance(self.metabolic_every, int) and self.metabolic_every >= 1):
            raise ValueError(f'metabolic_every must be an integer >= 1, got '
                             f'{self.metabolic_every!r}')
        if self.push is not None:
            first, end, torque = self.push
            if not (isinstance(first, int) and isinstance(end, int) and 0 <= first <= end
                    and math.isfinite(torque)):
                raise ValueError(f'push must be (first step, end step, finite N*m), got '
                                 f'{self.push!r}')


_COLS = ('q_exo', 'qd_exo', 'q_human', 'qd_human', 'q_ref', 'qd_ref', 'tau_ext', 'tau_cmd',
         'tau_bio', 'metabolic_power', 'phase', 'q_intent', 'cocontraction')


class _Episode:
    """One rollout of a batch: its loop, controller, schedule and record."""

    def __init__(self, spec: RolloutSpec) -> None:
        spec.validate()
        self.spec = spec
        ref = ReferenceTrajectory(spec.task, spec.params)
        self.loop = StepLoop(replace(spec.config, payload_kg=spec.task.payload_per_arm_kg),
                             ref.baseline, human=spec.human, seed=spec.seed,
                             memory=spec.memory)
        self.controller = spec.controller if spec.controller is not None else ZeroTorque()
        h = self.loop.h
        followed = spec.reference if spec.reference is not None else ref
        task_time = followed.duration if spec.duration is None else float(spec.duration)
        self.n = int(round((spec.rest_before + spec.onset_s + task_time + spec.rest_after) / h))
        self.k_start = int(round(spec.rest_before / h))
        self.every = max(1, int(round(spec.control_period / h)))
        self.trace: list[tuple] = []  # per step: the values of _COLS, in order
        self.acts = np.empty((self.n, len(self.loop.arm.MUSCLES)))
        self.controller.reset(ref.baseline)
        self.tau_cmd = 0.0
        self.power = 0.0
        self.ref = None
        self.obs = None

    def result(self, elapsed: float, cpu: float) -> RolloutResult:
        spec, loop = self.spec, self.loop
        rate = self.n / elapsed if elapsed > 0 else float('inf')
        table = np.array(self.trace, dtype=float).reshape(self.n, len(_COLS))
        columns = {name: table[:, i].copy() for i, name in enumerate(_COLS)}
        return RolloutResult(t=np.arange(self.n) * loop.h, activations=self.acts,
                             task_id=spec.task.task_id, config=loop.arm.config,
                             steps_per_second=rate, seed=int(spec.seed),
                             onset_s=float(spec.onset_s), memory=loop.human.memory,
                             stepping_cpu_s=cpu, **columns)


def run_rollouts(specs: Sequence[RolloutSpec]) -> list[RolloutResult]:
    """Simulate a batch of independent rollouts in lock step; one result per spec, in order.

    Each episode keeps its own arm, human (noise generator, adapted internal models),
    controller and schedule; per physics step the humans' muscle plans
    (:func:`exo_sim.step_loop.step_batch`) and the muscle energetics
    (:class:`exo_sim.metabolic.MetabolicRows`) run on arrays with a leading batch axis.
    Each episode's result is, bit for bit, the one it has alone (:func:`run_rollout` is
    a batch of one); ``steps_per_second`` is the episode's steps over the batch's wall
    time. Episodes of different lengths leave the batch when they end.
    """
    episodes = [_Episode(spec) for spec in specs]
    rows_cache: dict[tuple[int, ...], MetabolicRows] = {}

    def rows_of(members: list[int]) -> MetabolicRows:
        key = tuple(members)
        if key not in rows_cache:
            rows_cache[key] = MetabolicRows([episodes[i].loop.metabolic for i in members])
        return rows_cache[key]

    n_max = max((ep.n for ep in episodes), default=0)
    start = time.perf_counter()
    cpu_start = time.process_time()
    active = list(range(len(episodes)))
    for k in range(n_max):
        if any(episodes[i].n <= k for i in active):
            active = [i for i in active if episodes[i].n > k]
        for i in active:
            ep = episodes[i]
            loop = ep.loop
            if k == ep.k_start:
                loop.start_task(ep.spec.task, ep.spec.params, ep.spec.onset_s)
                if ep.spec.reference is not None:
                    loop.follow(ep.spec.reference)
            r = loop.reference()
            obs = loop.observe(r)
            if k % ep.every == 0:
                ep.tau_cmd = loop.arm.apply_exo_torque(ep.controller(obs))
            if ep.spec.push is not None:
                first, end, torque = ep.spec.push
                loop.arm.data.qfrc_applied[loop.arm.human_dof] = (
                    torque if first <= k < end else 0.0)
            ep.obs = obs
            ep.ref = r
        due = [i for i in active if k % episodes[i].spec.metabolic_every == 0]
        if due:
            power = rows_of(due).power([episodes[i].loop.arm for i in due])
            for i, p in zip(due, power.tolist(), strict=True):
                episodes[i].power = p
        for i in active:
            ep = episodes[i]
            ep.loop.arm.muscle_activations(out=ep.acts[k])
        loops = [episodes[i].loop for i in active]
        step_batch(loops, [episodes[i].tau_cmd for i in active],
                   [episodes[i].ref for i in active])
        for i in active:
            ep = episodes[i]
            obs, r = ep.obs, ep.ref
            ep.trace.append((obs.q, obs.qd, obs.q_human, obs.qd_human, r.q, r.qd, obs.tau_ext,
                             ep.tau_cmd, obs.tau_bio, ep.power, r.phase, ep.loop.intent,
                             ep.loop.co_contraction_index()))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return [ep.result(elapsed, cpu) for ep in episodes]


def practise_chains(chains: Sequence[Callable[[dict | None], RolloutSpec]],
                    repetitions: Sequence[int]) -> list[dict | None]:
    """Each chain's human after its practice: the adapted internal models, per chain.

    Chain ``i`` runs ``repetitions[i]`` rollouts, each ``chains[i](memory)`` (a fresh spec,
    typically with a fresh controller) started from the memory the previous one left
    (None for the first); repetition ``r`` of every chain that has one steps as one batch
    (:func:`run_rollouts`: each chain's numbers are those it has alone). A chain without
    repetitions gives None.
    """
    memory: list[dict | None] = [None] * len(chains)
    for rep in range(max(repetitions, default=0)):
        due = [i for i, n in enumerate(repetitions) if n > rep]
        results = run_rollouts([chains[i](memory[i]) for i in due])
        for i, res in zip(due, results, strict=True):
            memory[i] = res.memory
    return memory
