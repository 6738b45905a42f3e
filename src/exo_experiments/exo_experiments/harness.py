"""The evaluation harness: policy and controller cores wired into the in-process rollout.

:class:`ImpedanceAssist` is an :class:`exo_sim.rollout.ExoTorqueController` that runs the
same reference source (:mod:`exo_policy`) and the same
:class:`exo_impedance_controller.core.ImpedanceControllerCore` as the ROS nodes, at the
node rates, inside :func:`exo_sim.rollout.run_rollout` -- faster than real time and
deterministic. It records every controller tick for the safety counters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

from exo_contract.metrics import active_mask, rmse
from exo_contract.tasks import Task
from exo_impedance_controller.core import ControlOutput, ImpedanceControllerCore
from exo_impedance_controller.params import ControllerParams
from exo_impedance_controller.stability import stiffness_rate_violated
from exo_policy.oracle import OracleReferenceSource
from exo_sim.rollout import RolloutResult, RolloutSpec, run_rollout, run_rollouts
from exo_sim.step_loop import ExoObservation


@dataclass
class SafetyCounters:
    """Per-rollout safety counters over every controller tick."""

    ticks: int = 0
    stiffness_rate_violations: int = 0
    torque_limit_violations: int = 0
    nonfinite_commands: int = 0
    stiffness: list[float] = field(default_factory=list)


class ImpedanceAssist:
    """Reference source + stability-bounded impedance controller, as a rollout controller.

    Args:
        source: reference source (oracle now; learned/ProMP sources share the interface
            ``set_task_text(text, t)`` / ``reference(t, measured_angle)``).
        task_text: instruction given at ``task_start`` s.
        task_start: time the instruction arrives (the rollout's ``rest_before``), s.
        params: controller parameters (default: the package defaults).
        policy_period: reference update period (policy_node rate), s.

    """

    def __init__(self, source: OracleReferenceSource, task_text: str, task_start: float,
                 params: ControllerParams | None = None, policy_period: float = 0.01) -> None:
        self.params = params if params is not None else ControllerParams()
        self.core = ImpedanceControllerCore(self.params)
        self.source = source
        self.task_text = task_text
        self.task_start = float(task_start)
        self.policy_period = float(policy_period)
        self.counters = SafetyCounters()
        self._next_policy = 0.0
        self._text_sent = False
        self._k_prev: float | None = None

    def reset(self, q0: float) -> None:
        """Start a rollout at angle ``q0``."""
        self.core.reset(0.0, q0)
        self.counters = SafetyCounters()
        self._next_policy = 0.0
        self._text_sent = False
        self._k_prev = None

    def __call__(self, obs: ExoObservation) -> float:
        """One controller tick: maybe a new reference, then eq. 8 with the bound."""
        if not self._text_sent and obs.t >= self.task_start:
            self.source.set_task_text(self.task_text, obs.t)
            self._text_sent = True
        if obs.t >= self._next_policy:
            target = self.source.reference(obs.t, obs.q, obs.qd)
            self.core.set_reference(obs.t, target.reference_angle, target.reference_velocity,
                                    target.stiffness)
            self._next_policy = obs.t + self.policy_period - 1e-9
        self.core.set_interaction(obs.t, obs.tau_ext)
        out = self.core.update(obs.t, obs.q, obs.qd)
        self._count(out)
        return out.torque

    def _count(self, out: ControlOutput) -> None:
        c = self.counters
        c.ticks += 1
        if not math.isfinite(out.torque):
            c.nonfinite_commands += 1
        elif abs(out.torque) > self.params.torque_limit + 1e-9:
            c.torque_limit_violations += 1
        k = out.k_bounded
        if self._k_prev is not None and stiffness_rate_violated(
                self._k_prev, k, out.tick_period, out.inertia, out.damping):
            c.stiffness_rate_violations += 1
        self._k_prev = k
        c.stiffness.append(k)


def rollout_with_oracle(task: Task, rest_before: float = 0.5, **kwargs
                        ) -> tuple[RolloutResult, ImpedanceAssist]:
    """Closed-loop rollout of ``task`` with the oracle source and the impedance controller."""
    controller = ImpedanceAssist(OracleReferenceSource(), task.text, rest_before)
    result = run_rollout(task, controller=controller, rest_before=rest_before, **kwargs)
    return result, controller


def rollouts_with_oracle(tasks: list[Task], seeds: list[int], rest_before: float = 0.5,
                         **kwargs) -> list[tuple[RolloutResult, ImpedanceAssist]]:
    """A batch of :func:`rollout_with_oracle` (task ``i`` with noise seed ``i``), in lock step.

    Each result is the one :func:`rollout_with_oracle` gives alone
    (:func:`exo_sim.rollout.run_rollouts`); ``kwargs`` go to every rollout.
    """
    controllers = [ImpedanceAssist(OracleReferenceSource(), task.text, rest_before)
                   for task in tasks]
    specs = [RolloutSpec(task, controller=ctrl, rest_before=rest_before, seed=seed, **kwargs)
             for task, seed, ctrl in zip(tasks, seeds, controllers, strict=True)]
    return list(zip(run_rollouts(specs), controllers, strict=True))


def tracking_rmse(result: RolloutResult) -> float:
    """RMSE of the exo angle against the task reference over the task's active phase, rad.

    NaN when the rollout has no active step (:func:`exo_contract.metrics.rmse`).
    """
    return rmse(result.q_exo, result.q_ref, active_mask(result.phase))
