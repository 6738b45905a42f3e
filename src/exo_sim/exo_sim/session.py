"""A running simulation: arm + exo, the simulated human, and the current task.

:class:`SimSession` is what ``sim_node`` steps in real time, one call of :meth:`tick`
per control period: it starts the human on the task named by a task text (or leaves it
at rest for text it cannot map) and runs the one step loop
(:class:`exo_sim.step_loop.StepLoop`: human -> exo torque -> physics). No rclpy here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from exo_contract.tasks import find_task, Task, TrajectoryParams
from exo_sim.human import HumanConfig
from exo_sim.model import ExoArmConfig
from exo_sim.step_loop import HumanReference, StepLoop


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
    """The simulated human wearing the exo, stepped tick by tick (the one step loop).

    Args:
        config: arm/exo configuration (body mass, cuff, timestep ...).
        rest_angle: elbow angle the human holds at rest, rad.
        resolver: text -> task (None for text that names no task); the same resolver as
            the policy's (:class:`exo_language.resolver.TaskResolver`) in sim_node. The
            default is its exact-match stage (:func:`exo_contract.tasks.find_task`).
        human: the simulated human's parameters (default
            :data:`exo_sim.human.DEFAULT_HUMAN`).
        seed: seed of the human's motor noise (the rollout's default is the same, 0).
        memory: the human's adapted internal models per task (None: it has never worn the
            exo and learns it as it goes).

    """

    def __init__(self, config: ExoArmConfig | None = None, rest_angle: float = 0.3,
                 resolver: Callable[[str], Task | None] = find_task, *,
                 human: HumanConfig | None = None, seed: int = 0,
                 memory: dict | None = None) -> None:
        self.loop = StepLoop(config, rest_angle, human=human, seed=seed, memory=memory)
        self.arm = self.loop.arm
        self.resolver = resolver
        self.sample = SimSample()
        self._update_sample(0.0, self.loop.reference())

    @property
    def task(self) -> Task | None:
        """Task being performed (None at rest)."""
        return self.loop.task

    def start_task_text(self, text: str, params: TrajectoryParams | None = None,
                        onset_s: float = 0.0, noise_seed: int | None = None) -> Task | None:
        """Start the task named by ``text`` now; unknown text leaves the human at rest.

        The movement starts ``onset_s`` s after the instruction (the human's reaction time).
        ``noise_seed`` (not None) restarts the human's motor noise from that seed, so the
        task's noise does not depend on how long the human rested before it.
        """
        task = self.resolver(text)
        if noise_seed is not None:
            self.loop.human.reseed(noise_seed)
        if task is None:
            self.loop.stop_task()
            return None
        self.loop.start_task(task, params, onset_s)
        return task

    def tick(self, exo_command: float, steps: int = 1) -> SimSample:
        """Apply ``exo_command`` (N*m) and advance ``steps`` physics steps; returns the sample.

        Each step is one :meth:`exo_sim.step_loop.StepLoop.step` (the human re-plans its
        muscle excitations before every physics step).
        """
        applied = 0.0
        ref = None
        for _ in range(max(int(steps), 1)):
            ref = self.loop.reference()
            applied = self.loop.step(exo_command, ref)
        self._update_sample(applied, ref)
        return self.sample

    def metabolic_power(self) -> float:
        """Instantaneous metabolic power of the modelled muscles, W."""
        return self.loop.metabolic_power()

    def _update_sample(self, applied: float, ref: HumanReference) -> None:
        s = self.sample
        s.time = self.loop.time
        s.exo_angle, s.exo_velocity = self.arm.exo_state()
        s.human_angle, s.human_velocity = self.arm.human_state()
        s.exo_torque = applied
        s.interaction_torque = self.arm.interaction_torque()
        s.reference_angle = ref.q
        s.task_id = ref.task_id
        s.task_phase = ref.phase
