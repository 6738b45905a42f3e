"""The one step loop of exo-vic's simulation: human -> exo torque -> physics, tick by tick.

Everything that simulates the human wearing the exoskeleton runs this loop: ``sim_node``
(through :class:`exo_sim.session.SimSession`), :func:`exo_sim.rollout.run_rollout`, data
generation (:mod:`exo_sim.episodes`) and the evaluation (single rollouts and the
repetitive session). One order, one clock, one phase convention:

* **order** of one physics step (:meth:`StepLoop.step`)::

      q_ref, qd_ref, qdd_ref, phase = loop.reference()   # the human's current reference
      human.compute(q_ref, qd_ref, qdd_ref)              # muscle excitations (eq. 2)
      arm.apply_exo_torque(command)                      # clipped to the motor limit
      arm.step()                                         # mj_step2 + mj_step1

  A controller observes the state *before* the step (:meth:`StepLoop.observe`) and its
  command acts during that step; the human's muscle plan does not depend on the motor
  command (it feels the exo only through the measured state), so the two writes commute.
* **clock**: ``t = k * h`` with ``k`` the number of physics steps since the loop was
  built and ``h`` the MuJoCo timestep (an integer count: no drift over a 10-minute
  session). A task started at step ``k0`` is evaluated at ``tau = (k - k0) * h``.
* **phase**: ``-1`` at rest (before a task, between tasks, after the last one),
  ``tau / duration`` in [0, 1] while a task runs. A task ends after its duration; the
  human then holds the final posture of the reference at rest.

Any reference schedule is a sequence of :meth:`StepLoop.start_task` calls at the steps the
caller chooses (one task, a repetitive session, an instruction from ``/task_text``).
No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from exo_contract.tasks import ReferenceTrajectory, Task, TrajectoryParams
from exo_sim.human import HumanMuscleController
from exo_sim.metabolic import MetabolicModel
from exo_sim.model import ExoArm, ExoArmConfig, MIN_PAYLOAD_MASS_KG

PHASE_AT_REST = -1.0


@dataclass(frozen=True)
class ExoObservation:
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


@dataclass(frozen=True)
class HumanReference:
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

    """

    def __init__(self, config: ExoArmConfig | None = None, rest_angle: float = 0.3) -> None:
        if not (isinstance(rest_angle, (int, float)) and math.isfinite(rest_angle)
                and 0.0 <= rest_angle <= 2.2):
            raise ValueError(f'rest_angle must be in [0, 2.2] rad, got {rest_angle!r}')
        self.arm = ExoArm(config if config is not None else ExoArmConfig())
        self.arm.reset(float(rest_angle))
        self.human = HumanMuscleController(self.arm)
        self.metabolic = MetabolicModel(self.arm)
        self.h = float(self.arm.model.opt.timestep)
        self.steps = 0
        self._rest_angle = float(rest_angle)
        self._task: Task | None = None
        self._trajectory: ReferenceTrajectory | None = None
        self._k0 = 0

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

    def start_task(self, task: Task, params: TrajectoryParams | None = None) -> None:
        """Start ``task`` now (at the current step); its payload goes into the hand."""
        self._task = task
        self._trajectory = ReferenceTrajectory(task, params or TrajectoryParams())
        self._k0 = self.steps
        # Only a real change re-runs mj_setConst (the placeholder mass reads as itself).
        if abs(self.arm.payload_kg - max(task.payload_per_arm_kg, MIN_PAYLOAD_MASS_KG)) > 1e-12:
            self.arm.set_payload(task.payload_per_arm_kg)

    def stop_task(self) -> None:
        """Stop the running task: the human holds its current elbow angle at rest."""
        self._task = None
        self._trajectory = None
        self._rest_angle = float(self.arm.human_state()[0])

    def reference(self) -> HumanReference:
        """The human's reference at the current step (ends a task whose time is over)."""
        if self._trajectory is not None:
            tau = (self.steps - self._k0) * self.h
            q, qd, qdd = self._trajectory(tau)
            if tau <= self._trajectory.duration:
                return HumanReference(float(q), float(qd), float(qdd),
                                      float(self._trajectory.phase(tau)),
                                      self._task.task_id if self._task else '')
            # Task over: hold its final posture, at rest.
            self._rest_angle = float(q)
            self._task = None
            self._trajectory = None
        return HumanReference(self._rest_angle, 0.0, 0.0, PHASE_AT_REST, '')

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
        self.human.compute(ref.q, ref.qd, ref.qdd)
        applied = self.arm.apply_exo_torque(exo_command)
        self.arm.step()
        self.steps += 1
        return applied

    def metabolic_power(self) -> float:
        """Instantaneous metabolic power of the modelled muscles, W."""
        return float(self.metabolic.power(self.arm))

    def activations(self):
        """Current muscle activations, (6,) in ``ExoArm.MUSCLES`` order (a copy)."""
        return self.arm.data.act[self.human._actadr].copy()
