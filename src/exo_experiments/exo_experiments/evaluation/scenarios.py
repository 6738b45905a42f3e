"""Interaction-safety scenarios: the wearer does not do what the exo was told.

Each scenario is an instruction (the text the reference source gets), the task the wearer
actually starts, and a change of the wearer's reference or an external disturbance:

* ``abort``      -- the wearer starts the instructed lift and, half-way (phase 0.5), turns
                    back to the rest posture (minimum-jerk, :data:`RETURN_S`);
* ``hold_still`` -- the wearer holds the rest posture after the instruction;
* ``wrong_task`` -- the text says 'lift a heavy box', the wearer waves (no load);
* ``reverse``    -- at phase 0.3 the movement reverses suddenly: the wearer plays the path
                    done so far backwards to the rest posture;
* ``bump``       -- the instructed lift with an external extension torque pulse of
                    :data:`BUMP_TORQUE_NM` for :data:`BUMP_S` on the forearm at phase 0.5
                    (the arm meets an obstacle or a person).

The wearer's reference is the modified one (:class:`ScenarioTrajectory`, set on the step loop
after the instruction); the wearer has practised the nominal task under the condition.
:func:`simulate` is also the nominal rollout of the population study (no scenario).

Metrics (:func:`interaction_metrics`) over the window from the instruction to the end:
peak and RMS interaction (cuff) torque, the time it exceeds :data:`COMFORT_TORQUE_NM`, the
wearer's muscle energy, the exo's deviation from the wearer's intended angle (RMS of
``q_exo - q_ref``) and the command's high-frequency content (:func:`rms_above`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import trapezoid

from exo_contract.tasks import ReferenceTrajectory, Task, TASKS_BY_ID, TrajectoryParams
from exo_sim.human import HumanConfig
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import RolloutResult, RolloutSpec, run_rollouts

RETURN_S = 0.6
"""Duration of the wearer's return to rest after an abort, s."""
BUMP_TORQUE_NM = -6.0
"""External torque on the forearm during a bump, N*m (negative: extension)."""
BUMP_S = 0.15
"""Duration of the bump, s."""
COMFORT_TORQUE_NM = 5.0
"""Interaction-torque threshold of the 'time above' metric, N*m: the project's assistance
bound (``exo_policy.reference_source.MAX_ASSIST_TORQUE_NM``): above it the cuff pushes harder
than any assistance the exo is meant to give. No literature comfort threshold for an elbow
cuff torque was verified for this value; it is a working threshold."""
SMOOTHNESS_CUTOFF_HZ = 5.0
"""The command's content above this frequency is reported (chatter a wearer feels), Hz."""
SCENARIO_BASE_TASK = 'lift_light'


@dataclass(frozen=True)
class Scenario:
    """An instruction, the task the wearer performs and the change of its reference."""

    name: str
    text_task: str
    human_task: str
    kind: str  # 'abort', 'hold', 'none', 'reverse', 'bump'
    at_phase: float = 0.5


SCENARIOS = {
    'abort': Scenario('abort', SCENARIO_BASE_TASK, SCENARIO_BASE_TASK, 'abort', 0.5),
    'hold_still': Scenario('hold_still', SCENARIO_BASE_TASK, SCENARIO_BASE_TASK, 'hold'),
    'wrong_task': Scenario('wrong_task', 'lift_heavy', 'wave', 'none'),
    'reverse': Scenario('reverse', SCENARIO_BASE_TASK, SCENARIO_BASE_TASK, 'reverse', 0.3),
    'bump': Scenario('bump', SCENARIO_BASE_TASK, SCENARIO_BASE_TASK, 'bump', 0.5),
}


class ScenarioTrajectory:
    """The wearer's reference of a scenario: a task's reference, changed after ``at``.

    Same interface as :class:`exo_contract.tasks.ReferenceTrajectory` where the step loop
    uses it: ``(q, qd, qdd) = traj(tau)``, ``duration``, ``phase(tau)``, ``baseline``.
    """

    def __init__(self, base: ReferenceTrajectory, kind: str, at_phase: float) -> None:
        self.base = base
        self.kind = kind
        self.baseline = base.baseline
        self.t_at = at_phase * base.duration
        if kind == 'abort':
            self.q_at = float(base(self.t_at)[0])
            self.duration = self.t_at + RETURN_S + 0.3
        elif kind == 'reverse':
            self.duration = 2.0 * self.t_at + 0.3
        else:
            self.duration = base.duration

    def phase(self, tau: float) -> float:
        """Progress in [0, 1] over this reference's duration."""
        return float(min(max(tau / self.duration, 0.0), 1.0))

    def __call__(self, tau: float) -> tuple[float, float, float]:
        """Angle (rad), velocity and acceleration of the wearer's reference at ``tau`` s."""
        if self.kind == 'hold':
            return self.baseline, 0.0, 0.0
        if self.kind in ('none', 'bump') or tau <= self.t_at:
            q, qd, qdd = self.base(min(tau, self.base.duration))
            return float(q), float(qd), float(qdd)
        if self.kind == 'reverse':
            back = max(2.0 * self.t_at - tau, 0.0)
            q, qd, qdd = self.base(back)
            if back <= 0.0:
                return float(q), 0.0, 0.0
            return float(q), -float(qd), float(qdd)
        # abort: minimum-jerk from the angle at the abort to rest in RETURN_S
        s = min((tau - self.t_at) / RETURN_S, 1.0)
        d = self.baseline - self.q_at
        q = self.q_at + d * (10 * s**3 - 15 * s**4 + 6 * s**5)
        qd = d * (30 * s**2 - 60 * s**3 + 30 * s**4) / RETURN_S if s < 1 else 0.0
        qdd = d * (60 * s - 180 * s**2 + 120 * s**3) / RETURN_S**2 if s < 1 else 0.0
        return float(q), float(qd), float(qdd)


@dataclass
class Trace:
    """Per-step record of :func:`simulate` (arrays of length T)."""

    t: np.ndarray
    q_exo: np.ndarray
    q_human: np.ndarray
    q_ref: np.ndarray
    tau_ext: np.ndarray
    tau_cmd: np.ndarray
    power: np.ndarray
    phase: np.ndarray
    activations: np.ndarray
    k_start: int
    memory: dict


def rollout_spec(task: Task, arm: ExoArmConfig, human: HumanConfig, controller, *,
                 params: TrajectoryParams | None = None, onset_s: float = 0.0,
                 seed: int = 0, memory: dict | None = None, scenario: Scenario | None = None,
                 rest_before: float = 0.5, rest_after: float = 0.5) -> RolloutSpec:
    """The rollout of the wearer doing ``task`` (changed by ``scenario``) with ``controller``.

    A :class:`exo_sim.rollout.RolloutSpec` (controller every step; ``controller`` None: no
    exo torque, ``arm.attach_exo`` decides whether one is worn): the scenario's reference
    replaces the task's after the instruction, a bump is a push on the forearm.
    """
    params = params if params is not None else TrajectoryParams()
    ref = ReferenceTrajectory(task, params)
    traj = ScenarioTrajectory(ref, scenario.kind, scenario.at_phase) if scenario else None
    push = None
    if scenario is not None and scenario.kind == 'bump':
        h = arm.timestep
        t0 = rest_before + onset_s + scenario.at_phase * traj.duration
        push = (int(round(t0 / h)), int(round((t0 + BUMP_S) / h)), BUMP_TORQUE_NM)
    return RolloutSpec(task, config=arm, controller=controller, params=params,
                       rest_before=rest_before, rest_after=rest_after, human=human,
                       seed=seed, onset_s=onset_s, memory=memory, reference=traj, push=push)


def trace_of(result: RolloutResult, spec: RolloutSpec) -> Trace:
    """The :class:`Trace` of a rollout of :func:`rollout_spec`."""
    return Trace(t=result.t, q_exo=result.q_exo, q_human=result.q_human, q_ref=result.q_ref,
                 tau_ext=result.tau_ext, tau_cmd=result.tau_cmd,
                 power=result.metabolic_power, phase=result.phase,
                 activations=result.activations,
                 k_start=int(round(spec.rest_before / result.config.timestep)),
                 memory=result.memory)


def simulate_batch(specs: list[RolloutSpec]) -> list[Trace]:
    """The traces of rollouts of :func:`rollout_spec`, stepped as one batch (in order).

    Each trace is, bit for bit, the one its rollout gives alone
    (:func:`exo_sim.rollout.run_rollouts`).
    """
    return [trace_of(res, spec) for res, spec in zip(run_rollouts(specs), specs, strict=True)]


def simulate(task: Task, arm: ExoArmConfig, human: HumanConfig, controller, **kwargs
             ) -> Trace:
    """One rollout of :func:`rollout_spec` (same arguments); its :class:`Trace`."""
    return simulate_batch([rollout_spec(task, arm, human, controller, **kwargs)])[0]


def rms_above(x: np.ndarray, h: float, cutoff_hz: float = SMOOTHNESS_CUTOFF_HZ) -> float:
    """RMS of the part of ``x`` (sampled every ``h`` s) above ``cutoff_hz`` (FFT, Parseval)."""
    x = np.asarray(x, dtype=float)
    if x.size < 4:
        return 0.0
    spec = np.fft.rfft(x - x.mean())
    freqs = np.fft.rfftfreq(x.size, h)
    spec[freqs <= cutoff_hz] = 0.0
    return float(np.sqrt(np.mean(np.fft.irfft(spec, x.size) ** 2)))


def interaction_metrics(trace: Trace, body_mass_kg: float, exo: bool = True) -> dict:
    """Interaction-safety metrics over the window from the instruction to the end."""
    w = slice(trace.k_start, None)
    h = float(trace.t[1] - trace.t[0])
    tau = np.abs(trace.tau_ext[w])
    q = trace.q_exo[w] if exo else trace.q_human[w]
    energy = float(trapezoid(trace.power[w], trace.t[w]))
    return {'peak_interaction_nm': float(tau.max()) if exo else 0.0,
            'rms_interaction_nm': float(np.sqrt(np.mean(tau**2))) if exo else 0.0,
            'time_above_comfort_s': float(np.sum(tau > COMFORT_TORQUE_NM) * h) if exo else 0.0,
            'muscle_energy_j': energy,
            'exo_deviation_rad': float(np.sqrt(np.mean((q - trace.q_ref[w]) ** 2))),
            'command_hf_rms_nm': rms_above(trace.tau_cmd[w], h),
            'peak_command_nm': float(np.max(np.abs(trace.tau_cmd[w])))}


def scenario_tasks(scenario: Scenario) -> tuple[Task, Task]:
    """(the instructed task, the task the wearer performs) of ``scenario``."""
    return TASKS_BY_ID[scenario.text_task], TASKS_BY_ID[scenario.human_task]


def check_scenarios(names: list[str]) -> list[str]:
    """``names`` if every one is a scenario, else ValueError quoting the unknown ones."""
    bad = [n for n in names if n not in SCENARIOS]
    if bad:
        raise ValueError(f'unknown scenarios {bad}; choose from {list(SCENARIOS)}')
    return list(names)


__all__ = ['BUMP_S', 'BUMP_TORQUE_NM', 'check_scenarios', 'COMFORT_TORQUE_NM',
           'interaction_metrics', 'rms_above', 'Scenario', 'SCENARIOS',
           'ScenarioTrajectory', 'scenario_tasks', 'simulate', 'SMOOTHNESS_CUTOFF_HZ', 'Trace']
