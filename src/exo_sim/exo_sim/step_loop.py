"""The one step loop of exo-vic's simulation: human -> exo torque -> physics, tick by tick.

Everything that simulates the human wearing the exoskeleton runs this loop: ``sim_node``
(through :class:`exo_sim.session.SimSession`), :func:`exo_sim.rollout.run_rollout`, data
generation (:mod:`exo_sim.episodes`) and the evaluation (single rollouts and the
repetitive session). One order, one clock, one phase convention:

* **order** of one physics step (:meth:`StepLoop.step`)::

      q_ref, qd_ref, qdd_ref, phase = loop.reference()   # the human's current reference
      human.compute(ref, ahead=reference(k + lead))      # muscle excitations (eq. 2)
      arm.apply_exo_torque(command)                      # clipped to the motor limit
      arm.step()                                         # mj_step2 + mj_step1

  A controller observes the state *before* the step (:meth:`StepLoop.observe`) and its
  command acts during that step; the human's muscle plan does not depend on the motor
  command (it feels the exo only through its delayed senses and, between repetitions,
  through adaptation: :mod:`exo_sim.human`), so the two writes commute.
* **clock**: ``t = k * h`` with ``k`` the number of physics steps since the loop was
  built and ``h`` the MuJoCo timestep (an integer count: no drift over a 10-minute
  session). A task started at step ``k0`` is evaluated at ``tau = (k - k0) * h``.
* **phase**: ``-1`` at rest (before a task, between tasks, after the last one, and
  between an instruction and the movement onset), ``tau / duration`` in [0, 1] while a
  task runs. A task ends after its duration; the human then holds the final posture of
  the reference at rest.
* **onset**: ``start_task(task, params, onset_s)`` gives the instruction now (the payload
  goes into the hand and the human switches to the task's internal model); the movement,
  and ``tau``, start ``onset_s`` later (the reaction time).
* **human**: one :class:`exo_sim.human.SimulatedHuman` per loop, its motor noise seeded by
  ``seed``; it keeps its adapted internal models across the tasks of the loop (a
  repetition that runs to its end adapts the task's model, see :mod:`exo_sim.human`).

Any reference schedule is a sequence of :meth:`StepLoop.start_task` calls at the steps the
caller chooses (one task, a repetitive session, an instruction from ``/task_text``).
No rclpy here.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from exo_contract.tasks import ReferenceTrajectory, Task, TrajectoryParams
from exo_sim.human import (
    compute_batch,
    DEFAULT_HUMAN,
    HumanCommand,
    HumanConfig,
    SimulatedHuman,
)
from exo_sim.metabolic import MetabolicModel
from exo_sim.model import ExoArm, ExoArmConfig, MIN_PAYLOAD_MASS_KG

PHASE_AT_REST = -1.0


class ExoObservation(NamedTuple):
    """What an exo torque controller sees at one control tick (state before the step).

    Attributes:
        t: loop time, s (``k * h``).
        q: exo joint angle, rad.
        qd: exo joint velocity, rad/s.
        tau_ext: interaction torque on the exo (cuff), N*m, flexion positive.
        q_human: ground-truth human elbow angle, rad (sim only).
        qd_human: ground-truth human elbow velocity, rad/s (sim only).
        q_ref: the human's reference angle, rad (sim only).
        qd_ref: the human's reference velocity, rad/s (sim only).
        tau_bio: net muscle torque about the elbow, N*m (sim only, for eq. 3).

    """

    t: float
    q: float
    qd: float
    tau_ext: float
    q_human: float
    qd_human: float
    q_ref: float
    qd_ref: float
    tau_bio: float


class HumanReference(NamedTuple):
    """The human's reference at the current step.

    Attributes:
        q, qd, qdd: reference angle (rad), velocity (rad/s), acceleration (rad/s^2).
        phase: task progress in [0, 1]; :data:`PHASE_AT_REST` (-1) at rest.
        task_id: the running task, '' at rest.

    """

    q: float
    qd: float
    qdd: float
    phase: float
    task_id: str


class StepLoop:
    """Arm + exo, the simulated human and its reference schedule, stepped one tick at a time.

    Args:
        config: arm/exo configuration (body mass, cuff, payload, timestep, ...).
        rest_angle: elbow angle the human holds at rest, rad, in [0, 2.2]; the arm starts
            there.
        human: the simulated human's parameters (default :data:`exo_sim.human.DEFAULT_HUMAN`).
        seed: seed of the human's motor noise (same seed, same trajectory).
        memory: the human's adapted internal models per task (e.g. after practice,
            :attr:`exo_sim.human.SimulatedHuman.memory`); None: the prior (no exo knowledge).

    """

    def __init__(self, config: ExoArmConfig | None = None, rest_angle: float = 0.3, *,
                 human: HumanConfig | None = None, seed: int = 0,
                 memory: dict[str, np.ndarray] | None = None) -> None:
        if not (isinstance(rest_angle, (int, float)) and math.isfinite(rest_angle)
                and 0.0 <= rest_angle <= 2.2):
            raise ValueError(f'rest_angle must be in [0, 2.2] rad, got {rest_angle!r}')
        if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
                and seed >= 0):
            raise ValueError(f'seed must be an integer >= 0, got {seed!r}')
        self.arm = ExoArm(config if config is not None else ExoArmConfig())
        self.arm.reset(float(rest_angle))
        self.human = SimulatedHuman(self.arm, human if human is not None else DEFAULT_HUMAN,
                                    seed=int(seed), memory=memory)
        self.metabolic = MetabolicModel(self.arm)
        self.h = float(self.arm.model.opt.timestep)
        self.steps = 0
        self._rest_angle = float(rest_angle)
        self._task: Task | None = None
        self._trajectory: ReferenceTrajectory | None = None
        self._k0 = 0
        # (q, qd, qdd) of the schedule by step, computed ahead (the feedforward's lead) and
        # taken when the step comes; cleared whenever the schedule changes.
        self._memo: dict[int, tuple[float, float, float]] = {}
        self._pending = False
        self.intent = float(rest_angle)
        """The human's delay-free intent of the last step: its reference ``lead`` ahead, rad."""

    # ------------------------------------------------------------------ schedule
    @property
    def time(self) -> float:
        """Loop time ``k * h``, s."""
        return self.steps * self.h

    @property
    def task(self) -> Task | None:
        """The running task (None at rest)."""
        return self._task

    @property
    def trajectory(self) -> ReferenceTrajectory | None:
        """The running task's reference (None at rest)."""
        return self._trajectory

    def start_task(self, task: Task, params: TrajectoryParams | None = None,
                   onset_s: float = 0.0) -> None:
        """Instruct ``task`` now; the movement starts ``onset_s`` s later (reaction time).

        The payload goes into the hand now and the human switches to the task's internal
        model; until the onset the human holds its rest posture (phase -1).
        """
        if not (isinstance(onset_s, (int, float)) and math.isfinite(onset_s)
                and 0.0 <= onset_s <= 10.0):
            raise ValueError(f'onset_s must be in [0, 10] s, got {onset_s!r}')
        at = self._at(self.steps)
        if at is not None:  # a movement is interrupted: wait where it was heading now
            self._rest_angle = float(at[0])
        self._task = task
        self._trajectory = ReferenceTrajectory(task, params or TrajectoryParams())
        self._k0 = self.steps + int(round(onset_s / self.h))
        self._memo.clear()
        self._pending = self._k0 > self.steps
        # Only a real change re-runs mj_setConst (the placeholder mass reads as itself).
        if abs(self.arm.payload_kg - max(task.payload_per_arm_kg, MIN_PAYLOAD_MASS_KG)) > 1e-12:
            self.arm.set_payload(task.payload_per_arm_kg)
        self.human.begin_task(task.task_id)

    def follow(self, trajectory) -> None:
        """The human follows ``trajectory`` instead of the started task's reference.

        ``trajectory`` has the interface of :class:`exo_contract.tasks.ReferenceTrajectory`
        where the loop uses it (``(q, qd, qdd) = trajectory(tau)``, ``duration``,
        ``phase(tau)``); call it right after :meth:`start_task` (a wearer who does
        something else than the instruction said).
        """
        if self._task is None:
            raise RuntimeError('follow() needs a started task')
        self._trajectory = trajectory
        self._memo.clear()

    def stop_task(self) -> None:
        """Stop the running task: the human holds its current elbow angle at rest."""
        self._task = None
        self._trajectory = None
        self._pending = False
        self._rest_angle = float(self.arm.human_state()[0])

    def _at(self, k: int, keep: bool = False) -> tuple[float, float, float, float] | None:
        """``(q, qd, qdd, tau)`` of the scheduled task at step ``k``; None when not moving.

        ``keep``: remember the value for the call at step ``k`` itself.
        """
        if self._trajectory is None or k < self._k0:
            return None
        tau = (k - self._k0) * self.h
        value = self._memo.pop(k, None)
        if value is None:
            value = self._trajectory(tau)
        if keep:
            if len(self._memo) >= 256:
                self._memo.clear()
            self._memo[k] = value
        q, qd, qdd = value
        return q, qd, qdd, tau

    def reference(self) -> HumanReference:
        """The human's reference at the current step (ends a task whose time is over)."""
        if self._trajectory is not None:
            at = self._at(self.steps)
            if at is None:  # instructed, not moving yet
                return HumanReference(self._rest_angle, 0.0, 0.0, PHASE_AT_REST, '')
            q, qd, qdd, tau = at
            self._pending = False
            if tau <= self._trajectory.duration:
                return HumanReference(float(q), float(qd), float(qdd),
                                      float(self._trajectory.phase(tau)),
                                      self._task.task_id if self._task else '')
            # Task over: hold its final posture, at rest.
            self._rest_angle = float(q)
            self._task = None
            self._trajectory = None
        return HumanReference(self._rest_angle, 0.0, 0.0, PHASE_AT_REST, '')

    def _reference_ahead(self, steps: int) -> tuple[float, float, float]:
        """The human's reference ``steps`` ahead (what the feedforward anticipates)."""
        at = self._at(self.steps + steps, keep=True)
        if at is None:
            return self._rest_angle, 0.0, 0.0
        q, qd, qdd, tau = at
        if tau > self._trajectory.duration:
            q, _, _ = self._trajectory(self._trajectory.duration)
            return float(q), 0.0, 0.0
        return float(q), float(qd), float(qdd)

    # ------------------------------------------------------------------ stepping
    def observe(self, reference: HumanReference | None = None) -> ExoObservation:
        """The state before the next step, as a controller sees it (plus sim-only truth)."""
        ref = reference if reference is not None else self.reference()
        q, qd = self.arm.exo_state()
        qh, qdh = self.arm.human_state()
        return ExoObservation(t=self.time, q=q, qd=qd, tau_ext=self.arm.interaction_torque(),
                              q_human=qh, qd_human=qdh, q_ref=ref.q, qd_ref=ref.qd,
                              tau_bio=self.arm.biological_torque())

    def step(self, exo_command: float, reference: HumanReference | None = None) -> float:
        """One physics step with ``exo_command`` (N*m) on the motor; returns the applied torque.

        ``reference`` is the one :meth:`reference` gave for this step (computed when None).
        """
        ref = reference if reference is not None else self.reference()
        return step_batch([self], [exo_command], [ref])[0]

    def metabolic_power(self) -> float:
        """Instantaneous metabolic power of the modelled muscles, W."""
        return float(self.metabolic.power(self.arm))

    def activations(self) -> np.ndarray:
        """Current muscle activations, (6,) in ``ExoArm.MUSCLES`` order (a copy)."""
        return self.arm.muscle_activations()

    @property
    def last_command(self) -> HumanCommand | None:
        """The human's command of the last step (None before the first)."""
        return self.human.last

    def co_contraction_index(self) -> float:
        """Co-contraction index of the human's last command, in [0, 1] (0 before a step)."""
        last = self.human.last
        return float(last.cocontraction_index) if last is not None else 0.0


def step_batch(loops: list[StepLoop], exo_commands: list[float],
               references: list[HumanReference]) -> list[float]:
    """One physics step of each of a batch of independent loops (:meth:`StepLoop.step`).

    The humans' muscle plans run as one batch (:func:`exo_sim.human.compute_batch`), then
    each loop applies its motor command and steps its own MuJoCo data. Returns the applied
    torques. One loop is a batch of one.
    """
    aheads = []
    for loop in loops:
        ahead = loop._reference_ahead(loop.human.lead_steps)
        loop.intent = ahead[0]
        aheads.append(ahead)
    compute_batch([loop.human for loop in loops], [(r.q, r.qd, r.qdd) for r in references],
                  aheads)
    applied = []
    for loop, command in zip(loops, exo_commands, strict=True):
        applied.append(loop.arm.apply_exo_torque(command))
        loop.arm.step()
        loop.steps += 1
    return applied
