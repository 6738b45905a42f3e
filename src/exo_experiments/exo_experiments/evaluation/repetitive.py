"""The repetitive lift-and-carry session (paper Fig. 6-7): schedule, session, EE and EC.

Cycles of ``'lift a heavy box'`` (mission 8, 10 kg box in the hand for the whole session)
with small random amplitude/duration variation (+-5 %), a random reaction time between the
instruction and the movement (uniform in the dataset's onset range, 0.2-1.0 s) and a random
pause of 2-4 s between cycles (about 60 cycles in 10 min, as in the paper). The session runs
the one step loop (:class:`exo_sim.step_loop.StepLoop`): each cycle is started with
:meth:`~exo_sim.step_loop.StepLoop.start_task` at the first step ``k`` with
``k * h >= cycle.start``, and the task text is re-sent to the reference source at that same
step; the human starts moving ``onset_s`` later. EE(t) in W/kg is the modelled muscle
metabolic power per kg body mass (plus a basal term, default 0), EC is eq. 16
(:func:`exo_contract.metabolics.steady_state_energy`) over the steady-state window [0.3 T, T].
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math
import time

import numpy as np

from exo_bringup.node_config import NodeConfig
from exo_contract.metabolics import reduction_pct as ec_reduction_pct  # noqa: F401 (API)
from exo_contract.metabolics import steady_state_energy
from exo_contract.metrics import active_mask, effort, rmse
from exo_contract.tasks import ReferenceTrajectory, TASKS_BY_ID, TrajectoryParams
from exo_experiments.evaluation.conditions import (
    assist_kwargs,
    make_source,
    safety_counts,
    safety_ok,
)
from exo_experiments.harness import ImpedanceAssist
from exo_sim.datagen.config import DatagenConfig
from exo_sim.metabolic import MetabolicRows
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import ZeroTorque
from exo_sim.step_loop import ExoObservation, step_batch, StepLoop

REPETITIVE_TASK = 'lift_heavy'
REPETITIVE_MASS_KG = 70.0
REPETITIVE_PAUSE_S = (2.0, 4.0)
REPETITIVE_SPREAD = 0.05
STEADY_START_FRACTION = 0.3
COMPLETED_PEAK_FRACTION = 0.8
EE_BIN_S = 1.0
RECORD_PERIOD_S = 0.01
FIRST_MINUTE_S = 60.0
FIRST_MINUTE_STEP_S = 0.05


@dataclass(frozen=True)
class Cycle:
    """One cycle: instruction time (s), variation, reference and reaction time (s)."""

    start: float
    params: TrajectoryParams
    reference: ReferenceTrajectory
    onset_s: float = 0.0

    @property
    def end(self) -> float:
        """End of the cycle's reference, s."""
        return self.start + self.onset_s + self.reference.duration


def make_schedule(total_s: float, seed: int = 0, task_id: str = REPETITIVE_TASK
                  ) -> list[Cycle]:
    """Cycles from 0 s until ``total_s``: +-5 % amplitude/duration, onset, 2-4 s pauses."""
    task = TASKS_BY_ID[task_id]
    rng = np.random.default_rng(seed)
    onset_lo, onset_hi = DatagenConfig().onset_range_s
    cycles: list[Cycle] = []
    t = 0.0
    while t < total_s:
        amp, dur = rng.uniform(-REPETITIVE_SPREAD, REPETITIVE_SPREAD, size=2)
        onset = float(rng.uniform(onset_lo, onset_hi))
        params = TrajectoryParams(amplitude_scale=1.0 + amp, duration_scale=1.0 + dur)
        ref = ReferenceTrajectory(task, params)
        cycles.append(Cycle(t, params, ref, onset))
        t += onset + ref.duration + rng.uniform(*REPETITIVE_PAUSE_S)
    return cycles


def start_step(start: float, h: float) -> int:
    """The first step ``k`` (>= 0) of a loop of timestep ``h`` with ``k * h >= start``."""
    k = max(0, math.ceil(start / h))
    while k * h < start:
        k += 1
    while k > 0 and (k - 1) * h >= start:
        k -= 1
    return k


class RepetitiveAssist(ImpedanceAssist):
    """:class:`ImpedanceAssist` that re-sends the task text at the start of every cycle.

    Args:
        source: reference source.
        text: the instruction sent at every cycle start.
        starts: cycle start times, s (a cycle's text goes out at the first observation
            with ``obs.t >= start``: the step its task starts).
        **kwargs: :class:`ImpedanceAssist`'s ``params`` / ``policy_period``.

    """

    def __init__(self, source, text: str, starts: list[float], **kwargs) -> None:
        super().__init__(source, text, starts[0], **kwargs)
        self._starts = list(starts)
        self._next_cycle = 0

    def reset(self, q0: float) -> None:
        """Start the session at ``q0``."""
        super().reset(q0)
        self._text_sent = True  # the schedule below sends the text
        self._next_cycle = 0

    def __call__(self, obs: ExoObservation) -> float:
        """Send the text when a cycle starts, then one controller tick."""
        while self._next_cycle < len(self._starts) and obs.t >= self._starts[self._next_cycle]:
            self.source.set_task_text(self.task_text, obs.t)
            self._next_cycle += 1
        return super().__call__(obs)


def steady_window(total_s: float) -> tuple[float, float]:
    """Eq. 16 window: [0.3 T, T] ([3 min, 10 min] for the paper's 10-minute session)."""
    return STEADY_START_FRACTION * total_s, total_s


def ee_metrics(t: np.ndarray, power_w: np.ndarray, body_mass_kg: float,
               basal_w_per_kg: float = 0.0) -> dict:
    """EE(t) = P / m + basal (W/kg), EC of eq. 16 over :func:`steady_window` (J)."""
    t = np.asarray(t, dtype=float)
    ee = np.asarray(power_w, dtype=float) / body_mass_kg + basal_w_per_kg
    t1, t2 = steady_window(float(t[-1]))
    ec = steady_state_energy(t, ee, body_mass_kg, t1, t2)
    window = (t >= t1) & (t <= t2)
    return {'ec_j': ec, 'ec_kj': ec / 1000.0, 'steady_window_s': [t1, t2],
            'mean_ee_w_per_kg': float(np.mean(ee[window]))}


@dataclass(frozen=True)
class RepetitiveRequest:
    """The arguments of one :func:`run_repetitive`, for a batch of sessions."""

    condition: str
    minutes: float
    body_mass_kg: float = REPETITIVE_MASS_KG
    seed: int = 0
    basal_w_per_kg: float = 0.0
    node_config: NodeConfig | None = None


class _Session:
    """One session of a batch: its loop, controller, schedule and records."""

    def __init__(self, req: RepetitiveRequest) -> None:
        self.req = req
        self.total_s = float(req.minutes) * 60.0
        self.task = TASKS_BY_ID[REPETITIVE_TASK]
        self.cycles = make_schedule(self.total_s, req.seed)
        self.baseline = self.cycles[0].reference.baseline
        config = ExoArmConfig(body_mass_kg=float(req.body_mass_kg),
                              attach_exo=req.condition != 'no_exo')
        self.loop = StepLoop(replace(config, payload_kg=self.task.payload_per_arm_kg),
                             self.baseline)
        h = self.loop.h
        self.start_steps = [start_step(c.start, h) for c in self.cycles]
        source = make_source(req.condition, req.node_config)
        self.assist = None
        if source is None:
            self.controller = ZeroTorque()
        else:
            # The text goes out at the step each cycle's task starts (obs.t = k * h exactly).
            self.assist = RepetitiveAssist(source, self.task.text,
                                           [k * h for k in self.start_steps],
                                           **assist_kwargs(req.node_config))
            self.controller = self.assist
        self.dec = max(1, int(round(RECORD_PERIOD_S / h)))
        self.m = int(round(self.total_s / h)) // self.dec
        self.n = self.m * self.dec
        self.no_exo = req.condition == 'no_exo'
        self.q_track = np.empty(self.n)  # the tracking angle: human (no_exo) or exo
        self.q_ref = np.empty(self.n)
        self.phase = np.empty(self.n)
        self.acts = np.empty((self.n, len(self.loop.arm.MUSCLES)))
        self.power = np.zeros(self.m)  # mean muscle metabolic power over each 10 ms bin, W
        self.stiffness = np.zeros(self.m)
        self.peak = np.full(len(self.cycles), -np.inf)
        self.controller.reset(self.baseline)
        self.k_last = 0.0
        self.next_cycle = 0
        self.current = -1
        self.command = 0.0
        self.ref = None

    def before_step(self, k: int) -> None:
        """Step ``k`` up to the physics: schedule, reference, controller, records."""
        loop = self.loop
        while self.next_cycle < len(self.cycles) and k >= self.start_steps[self.next_cycle]:
            cycle = self.cycles[self.next_cycle]
            loop.start_task(self.task, cycle.params, cycle.onset_s)
            self.current = self.next_cycle
            self.next_cycle += 1
        ref = loop.reference()
        obs = loop.observe(ref)
        self.command = self.controller(obs)
        if self.assist is not None and self.assist.counters.stiffness:
            self.k_last = self.assist.counters.stiffness[-1]
        self.q_track[k] = obs.q_human if self.no_exo else obs.q
        self.q_ref[k] = ref.q
        self.phase[k] = ref.phase
        loop.arm.muscle_activations(out=self.acts[k])
        if ref.phase >= 0.0:
            self.peak[self.current] = max(self.peak[self.current], obs.q_human)
        if k % self.dec == 0:
            self.stiffness[k // self.dec] = self.k_last
        self.ref = ref

    def result(self, wall_s: float) -> dict:
        req, dec, h, m = self.req, self.dec, self.loop.h, self.m
        t_dec = np.arange(m) * dec * h
        # Power averaged over each 10 ms bin, stamped at the bin centre.
        t_pow = t_dec + 0.5 * dec * h
        met = ee_metrics(t_pow, self.power, req.body_mass_kg, req.basal_w_per_kg)
        ee = self.power / req.body_mass_kg + req.basal_w_per_kg
        nb = int(EE_BIN_S / (dec * h))
        n_bins = len(ee) // nb
        ee_bins = ee[:n_bins * nb].reshape(n_bins, nb).mean(axis=1)
        completed = sum(
            1 for c, p in zip(self.cycles, self.peak, strict=True)
            if c.end <= self.total_s
            and p >= c.reference.baseline + COMPLETED_PEAK_FRACTION * c.reference.amplitude)
        fm = t_dec < min(FIRST_MINUTE_S, self.total_s)
        step = max(1, int(round(FIRST_MINUTE_STEP_S / (dec * h))))
        safety = safety_counts(self.assist)
        return {
            'condition': req.condition, 'seed': int(req.seed), **met,
            'cycles_started': sum(1 for c in self.cycles if c.start < self.total_s),
            'cycles_completed': completed,
            'rmse_rad': rmse(self.q_track, self.q_ref, active_mask(self.phase)),
            'effort': effort(self.acts),
            'safety': safety, 'safety_ok': safety_ok(safety),
            'ee_curve': {'t_s': (np.arange(n_bins) * EE_BIN_S + 0.5 * EE_BIN_S).tolist(),
                         'ee_w_per_kg': ee_bins.tolist()},
            'first_minute': {'t_s': t_dec[fm][::step].tolist(),
                             'q_ref': self.q_ref[::dec][fm][::step].tolist(),
                             'q': self.q_track[::dec][fm][::step].tolist(),
                             'stiffness': (self.stiffness[fm][::step].tolist()
                                           if self.assist is not None else None)},
            'wall_s': wall_s,
        }


def run_repetitive_sessions(requests: list[RepetitiveRequest]) -> list[dict]:
    """:func:`run_repetitive` of each request, stepped as one batch (in order).

    The sessions step in lock step (:func:`exo_sim.step_loop.step_batch`; the muscle
    energetics of every session in one :class:`exo_sim.metabolic.MetabolicRows`); each
    result is the one :func:`run_repetitive` gives alone (``wall_s``: the batch's wall time
    per session). Sessions of different lengths leave the batch when they end.
    """
    start_wall = time.perf_counter()
    sessions = [_Session(req) for req in requests]
    rows_cache: dict[tuple[int, ...], MetabolicRows] = {}
    active = list(range(len(sessions)))
    for k in range(max((s.n for s in sessions), default=0)):
        if any(sessions[i].n <= k for i in active):
            active = [i for i in active if sessions[i].n > k]
        group = [sessions[i] for i in active]
        for ses in group:
            ses.before_step(k)
        key = tuple(active)
        if key not in rows_cache:
            rows_cache[key] = MetabolicRows([ses.loop.metabolic for ses in group])
        power = rows_cache[key].power([ses.loop.arm for ses in group])
        for ses, p in zip(group, power.tolist(), strict=True):
            ses.power[k // ses.dec] += p / ses.dec
        step_batch([ses.loop for ses in group], [ses.command for ses in group],
                   [ses.ref for ses in group])
    wall = (time.perf_counter() - start_wall) / max(len(sessions), 1)
    return [ses.result(wall) for ses in sessions]


def run_repetitive(condition: str, minutes: float, body_mass_kg: float = REPETITIVE_MASS_KG,
                   seed: int = 0, basal_w_per_kg: float = 0.0,
                   node_config: NodeConfig | None = None) -> dict:
    """The repetitive 10 kg lift-and-carry session under ``condition`` (see module doc).

    Returns the ``repetitive.conditions[condition]`` dict of eval.json: EC (eq. 16), EE
    curve (1 s bins), cycles started/completed, RMSE over the cycles' active phases and
    effort over the whole session (:mod:`exo_contract.metrics`), safety counters and the
    first minute at 20 Hz. A batch of one of :func:`run_repetitive_sessions`.
    """
    return run_repetitive_sessions([RepetitiveRequest(condition, minutes, body_mass_kg, seed,
                                                      basal_w_per_kg, node_config)])[0]
