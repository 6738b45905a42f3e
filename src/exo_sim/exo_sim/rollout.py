"""In-process rollouts (faster than real time) of a task with an exo torque controller.

The same classes serve the real-time ROS ``sim_node``. Per 1 ms tick::

    arm, human, metabolic, ref = make_arm_and_human(config, task)
    arm.reset(ref.baseline)
    # every tick, t = arm.time - t_start:
    q_ref, qd_ref, qdd_ref = ref(t)              # constant baseline outside [0, duration]
    human.compute(q_ref, qd_ref, qdd_ref)        # writes the muscle excitations
    arm.apply_exo_torque(tau_cmd)                # clipped to the motor limit
    arm.step()
    q, qd = arm.exo_state()
    tau_ext = arm.interaction_torque()
    q_h, qd_h = arm.human_state()
    a = arm.muscle_activations()                 # (6,)
    tau_bio = arm.biological_torque()
    p = metabolic.power(arm)                     # W

:func:`run_rollout` does exactly this in a loop and records every step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
import time
from typing import Protocol

import numpy as np

from exo_sim.human import HumanMuscleController
from exo_sim.metabolic import MetabolicModel
from exo_sim.model import ExoArm, ExoArmConfig
from exo_sim.tasks import ReferenceTrajectory, Task, TrajectoryParams

DEFAULT_CONFIG = ExoArmConfig()
DEFAULT_PARAMS = TrajectoryParams()


@dataclass(frozen=True)
class ExoObservation:
    """What an exo torque controller sees at one control tick.

    Attributes:
        t: time since the start of the rollout, s.
        q: exo joint angle, rad.
        qd: exo joint velocity, rad/s.
        tau_ext: interaction torque on the exo (cuff), N*m, flexion positive.
        q_human: ground-truth human elbow angle, rad (sim only).
        qd_human: ground-truth human elbow velocity, rad/s (sim only).
        q_ref: task reference angle, rad (sim only).
        qd_ref: task reference velocity, rad/s (sim only).
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
        metabolic_power: W. phase: task progress in [0, 1]. task_id, config: provenance.

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

    def rmse_human(self) -> float:
        """RMSE of the human elbow angle vs the reference, rad."""
        return float(np.sqrt(np.mean((self.q_human - self.q_ref) ** 2)))

    def rmse_exo(self) -> float:
        """RMSE of the exo angle vs the reference, rad."""
        return float(np.sqrt(np.mean((self.q_exo - self.q_ref) ** 2)))

    def effort(self) -> float:
        """Mean over time of the sum of squared activations (eq. 2's effort term)."""
        return float(np.mean(np.sum(self.activations**2, axis=1)))


def make_arm_and_human(config: ExoArmConfig, task: Task,
                       params: TrajectoryParams = DEFAULT_PARAMS
                       ) -> tuple[ExoArm, HumanMuscleController, MetabolicModel,
                                  ReferenceTrajectory]:
    """Build the arm (payload from ``task``, per arm), human, metabolic model and reference.

    The arm is reset to the reference baseline. See the module docstring for the tick loop.
    """
    config = replace(config, payload_kg=task.payload_per_arm_kg)
    arm = ExoArm(config)
    ref = ReferenceTrajectory(task, params)
    arm.reset(ref.baseline)
    return arm, HumanMuscleController(arm), MetabolicModel(arm), ref


def run_rollout(task: Task, *, config: ExoArmConfig = DEFAULT_CONFIG,
                controller: ExoTorqueController | None = None,
                params: TrajectoryParams = DEFAULT_PARAMS, duration: float | None = None,
                control_period: float = 0.001, rest_before: float = 0.5,
                rest_after: float = 0.5, progress: bool = False) -> RolloutResult:
    """Simulate ``task`` with ``controller`` on the exo and record every step.

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

    """
    for name, value in (('rest_before', rest_before), ('rest_after', rest_after)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f'{name} must be >= 0, got {value!r}')
    if not (math.isfinite(control_period) and control_period > 0):
        raise ValueError(f'control_period must be > 0, got {control_period!r}')
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise ValueError(f'duration must be > 0, got {duration!r}')
    arm, human, metabolic, ref = make_arm_and_human(config, task, params)
    controller = controller if controller is not None else ZeroTorque()
    h = float(arm.model.opt.timestep)
    task_time = ref.duration if duration is None else float(duration)
    n = int(round((rest_before + task_time + rest_after) / h))
    every = max(1, int(round(control_period / h)))
    t = np.arange(n) * h
    q_ref, qd_ref, qdd_ref = ref(t - rest_before)
    phase = np.clip((t - rest_before) / ref.duration, 0.0, 1.0)
    rec = {k: np.empty(n) for k in ('q_exo', 'qd_exo', 'q_human', 'qd_human', 'tau_ext',
                                    'tau_cmd', 'tau_bio', 'metabolic_power')}
    acts = np.empty((n, len(arm.MUSCLES)))
    controller.reset(ref.baseline)
    tau_cmd = 0.0
    qr_l, qdr_l, qddr_l = q_ref.tolist(), qd_ref.tolist(), qdd_ref.tolist()
    start = time.perf_counter()
    for k in range(n):
        q, qd = arm.exo_state()
        qh, qdh = arm.human_state()
        tau_ext = arm.interaction_torque()
        tau_bio = arm.biological_torque()
        if k % every == 0:
            obs = ExoObservation(t=k * h, q=q, qd=qd, tau_ext=tau_ext, q_human=qh,
                                 qd_human=qdh, q_ref=qr_l[k], qd_ref=qdr_l[k],
                                 tau_bio=tau_bio)
            tau_cmd = arm.apply_exo_torque(controller(obs))
        rec['q_exo'][k] = q
        rec['qd_exo'][k] = qd
        rec['q_human'][k] = qh
        rec['qd_human'][k] = qdh
        rec['tau_ext'][k] = tau_ext
        rec['tau_cmd'][k] = tau_cmd
        rec['tau_bio'][k] = tau_bio
        rec['metabolic_power'][k] = metabolic.power(arm)
        acts[k] = arm.data.act[human._actadr]
        human.compute(qr_l[k], qdr_l[k], qddr_l[k])
        arm.step()
    elapsed = time.perf_counter() - start
    rate = n / elapsed if elapsed > 0 else float('inf')
    if progress:
        print(f'{task.task_id}: {n} steps, {rate:.0f} steps/s ({rate * h:.1f}x real time)')
    return RolloutResult(t=t, q_ref=q_ref, qd_ref=qd_ref, activations=acts, phase=phase,
                         task_id=task.task_id, config=arm.config, steps_per_second=rate,
                         **rec)
