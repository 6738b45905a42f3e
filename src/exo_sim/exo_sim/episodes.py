"""The one eq. 3 + eq. 4 episode recipe: assisted rollout, then the stiffness fit.

The simulated human performs a task while the exoskeleton assists with
``tau_exo = alpha * tau_bio`` (eq. 3, :class:`exo_sim.rollout.ProportionalAssist`); the
interaction stiffness ``K_int(t)`` of eq. 4 (``tau_ext = K_int (q_d - q_r)``) is then fitted
at the simulation rate (:class:`exo_sim.stiffness.FitSettings`, centred windowed least
squares of ``tau_ext`` on ``q_ref - q_exo``). ``alpha=None`` simulates the arm without the
exoskeleton (the no-exo comparison; no stiffness).

Every producer of interaction data uses :func:`simulate_assisted_episode`: the dataset
(:mod:`exo_sim.datagen`), the oracle's stiffness table and the ProMP fit from simulation
(:mod:`exo_bringup.fitting`). No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from exo_contract.tasks import ReferenceTrajectory, Task, TrajectoryParams
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import ProportionalAssist, RolloutResult, run_rollout
from exo_sim.stiffness import DEFAULT_FIT, FitSettings

DEFAULT_PARAMS = TrajectoryParams()
REST_BEFORE_S = 0.5
REST_AFTER_S = 0.5


@dataclass(frozen=True)
class AssistedEpisode:
    """One simulated episode and its eq. 4 stiffness.

    Attributes:
        task: the task performed.
        alpha: eq. 3 assistance ratio; NaN without the exoskeleton.
        body_mass_kg: subject body mass, kg.
        params: the reference's variation.
        rollout: every simulation step (:class:`exo_sim.rollout.RolloutResult`; its ``phase``
            is -1 at rest, ``tau / duration`` in [0, 1] while the task runs).
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
                              rest_after: float = REST_AFTER_S) -> AssistedEpisode:
    """Simulate ``task`` with eq. 3 assistance and fit the eq. 4 stiffness.

    Args:
        task: the task (its payload goes into the hand).
        alpha: eq. 3 assistance ratio in [0, 1]; None: no exoskeleton worn (no fit).
        body_mass_kg: subject body mass, kg.
        params: variation of the task's reference.
        fit: settings of the stiffness fit.
        rest_before: rest at the baseline before the task, s.
        rest_after: rest at the baseline after the task, s.

    Raises:
        ValueError: invalid ``alpha``, mass or rest (message quotes it).

    """
    exo = alpha is not None
    controller = ProportionalAssist(alpha) if exo else None
    arm_config = ExoArmConfig(body_mass_kg=body_mass_kg, attach_exo=exo)
    rollout = run_rollout(task, config=arm_config, controller=controller, params=params,
                          rest_before=rest_before, rest_after=rest_after)
    if exo:
        k_int = fit.fit(rollout.tau_ext, rollout.q_ref, rollout.q_exo, arm_config.timestep)
    else:
        k_int = np.full(rollout.t.size, np.nan)
    return AssistedEpisode(task=task, alpha=float(alpha) if exo else math.nan,
                           body_mass_kg=float(body_mass_kg), params=params, rollout=rollout,
                           k_int=k_int, fit=fit)
