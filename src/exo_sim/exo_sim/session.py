"""A running simulation: arm + exo, the simulated human, and the current task.

:class:`SimSession` is what ``sim_node`` steps in real time, one call of :meth:`tick`
per control period: it starts the human on the task named by a task text (or leaves it
at rest for text it cannot map), computes the muscle excitations, applies the exo motor
command and advances the physics. No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

from exo_sim.human import HumanMuscleController
from exo_sim.metabolic import MetabolicModel
from exo_sim.model import ExoArm, ExoArmConfig
from exo_sim.tasks import find_task, ReferenceTrajectory, Task, TrajectoryParams


@dataclass
class SimSample:
    """What the simulation exposes after a tick (mutable, reused every tick).

    Angles in rad, velocities in rad/s, torques in N*m (flexion positive).
    """

    time: float = 0.0
    exo_angle: float = 0.0
    exo_velocity: float = 0.0
    exo_torque: float = 0.0
    interaction_torque: float = 0.0
    human_angle: float = 0.0
    human_velocity: float = 0.0
    reference_angle: float = 0.0
    task_id: str = ''
    task_phase: float = -1.0


class SimSession:
    """The simulated human wearing the exo, stepped tick by tick.

    Args:
        config: arm/exo configuration (body mass, cuff, timestep ...).
        rest_angle: elbow angle the human holds at rest, rad.

    """

    def __init__(self, config: ExoArmConfig | None = None, rest_angle: float = 0.3) -> None:
        if not (math.isfinite(rest_angle) and 0.0 <= rest_angle <= 2.2):
            raise ValueError(f'rest_angle must be in [0, 2.2] rad, got {rest_angle!r}')
        self.arm = ExoArm(config if config is not None else ExoArmConfig())
        self.arm.reset(rest_angle)
        self.human = HumanMuscleController(self.arm)
        self.metabolic = MetabolicModel(self.arm)
        self.sample = SimSample()
        self._rest_angle = float(rest_angle)
        self._task: Task | None = None
        self._trajectory: ReferenceTrajectory | None = None
        self._t0 = 0.0
        self._update_sample(0.0, self._rest_angle, -1.0)

    @property
    def task(self) -> Task | None:
        """Task being performed (None at rest)."""
        return self._task

    def start_task_text(self, text: str,
                        params: TrajectoryParams | None = None) -> Task | None:
        """Start the task named by ``text`` now; unknown text leaves the human at rest."""
        task = find_task(text)
        if task is None:
            self._task = None
            self._trajectory = None
            self._rest_angle = self.arm.human_state()[0]
            return None
        self._task = task
        self._trajectory = ReferenceTrajectory(task, params or TrajectoryParams())
        self._t0 = self.arm.time
        self.arm.set_payload(task.payload_per_arm_kg)
        return task

    def reference(self) -> tuple[float, float, float, float]:
        """Current (q_ref, qd_ref, qdd_ref, phase) of the human; phase -1 at rest."""
        if self._trajectory is None:
            return self._rest_angle, 0.0, 0.0, -1.0
        tau = self.arm.time - self._t0
        q, qd, qdd = self._trajectory(tau)
        if tau > self._trajectory.duration:
            # Task over: keep holding its final posture, at rest.
            self._rest_angle = float(q)
            self._task = None
            self._trajectory = None
            return self._rest_angle, 0.0, 0.0, -1.0
        return float(q), float(qd), float(qdd), float(self._trajectory.phase(tau))

    def tick(self, exo_command: float, steps: int = 1) -> SimSample:
        """Apply ``exo_command`` (N*m) and advance ``steps`` physics steps; returns the sample.

        The human re-plans its muscle excitations before every physics step.
        """
        applied = 0.0
        q_ref, phase = self._rest_angle, -1.0
        for _ in range(max(int(steps), 1)):
            q_ref, qd_ref, qdd_ref, phase = self.reference()
            self.human.compute(q_ref, qd_ref, qdd_ref)
            applied = self.arm.apply_exo_torque(exo_command)
            self.arm.step()
        self._update_sample(applied, q_ref, phase)
        return self.sample

    def metabolic_power(self) -> float:
        """Instantaneous metabolic power of the modelled muscles, W."""
        return float(self.metabolic.power(self.arm))

    def _update_sample(self, applied: float, q_ref: float, phase: float) -> None:
        s = self.sample
        s.time = self.arm.time
        s.exo_angle, s.exo_velocity = self.arm.exo_state()
        s.human_angle, s.human_velocity = self.arm.human_state()
        s.exo_torque = applied
        s.interaction_torque = self.arm.interaction_torque()
        s.reference_angle = q_ref
        s.task_id = self._task.task_id if self._task is not None else ''
        s.task_phase = phase
