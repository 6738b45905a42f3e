"""Simulated human: a muscle driver that trades tracking against effort (eq. 2), as a person.

A neuromechanical / optimal-control alternative to the paper's PPO muscle policy
(docs/design.md, "The simulated human"). Each physics step :meth:`SimulatedHuman.compute`
turns the human's reference into six muscle excitations:

1. **feedforward from an internal model of the task** (not delayed): the torque the human
   expects the movement to need on the reference ``feedforward_lead_s`` ahead,
   ``tau_ff = theta_G G_arm(q*) + theta_D (I_arm qdd* + b_arm qd*)``. ``G_arm``, ``I_arm``
   and ``b_arm`` are the human's model of its own forearm and hand plus the held object
   (gravity, inertia, joint damping; identified from the MuJoCo model without the exo's
   degree of freedom); ``theta = (theta_G, theta_D)`` starts at ``(1, 1)``: the human knows
   **nothing about the exoskeleton**, neither the link's weight, nor the motor's torque,
   nor the cuff force. What it can learn is what a wearer can say about an exo: "my arm
   feels heavier or lighter" (``theta_G``: the exo's weight, the assistance against
   gravity) and "moving it takes more or less effort" (``theta_D``: the exo's inertia, the
   assistance of the movement);
2. **delayed feedback** (sensory delay ``feedback_delay_s``, 30 ms by default): every
   sensed quantity -- elbow angle and velocity, muscle fibre lengths, velocities and moment
   arms -- is read ``feedback_delay_s`` in the past and compared with the reference of the
   same instant, ``tau_fb = Kp e(t - d) + Kd de(t - d)``. The gains are the eq. 2 optimum
   for the error dynamics around the feedforward: with the effort of a torque ``tau``
   under static optimisation being ``tau^2 / C`` (``C = sum c_i^2``), the LQR of
   ``integral e^2 + w sum a_i^2`` for ``I e'' = tau`` gives ``omega = (C / (w I^2))^(1/4)``
   and ``Kp = I omega^2``, ``Kd = 2 zeta omega I``; ``omega`` is capped at
   ``max_bandwidth_rad_s`` (9 rad/s: the 55 ms loop must stay stable; 10 rad/s already
   oscillates) and ``I = min(theta_G, 1) I_arm``: the gains follow the load, and the human
   relaxes them in proportion to the support it has learnt (automatic gain scaling: reflex
   gain grows with background activation, Pruszynski et al. 2009, J. Neurophysiol.
   101:2209), so an exo that doubles the human's torque halves the human's own gains and
   the loop keeps its bandwidth; an exo's extra weight does not stiffen the human.
   The LQR frequency is below the cap for the heavy loads (lift_heavy, carry_bimanual),
   where ``w`` sets the stiffness, ``Kp = sqrt(C / w)``;
3. **co-contraction rising with load**: every muscle, antagonists included, is kept above
   ``a_floor = cocontraction_base + cocontraction_gain * |tau_ff| / capacity`` (the expected
   load as a fraction of the agonists' maximal torque);
4. **static optimisation** (eq. 2's effort term): ``min sum a_i^2`` s.t.
   ``sum c_i a_i = tau_ff + tau_fb - passive``, ``a_floor <= a_i <= 1``, with ``c_i`` the
   active torque per unit activation at the sensed (delayed) fibre state; no inversion of
   the activation dynamics;
5. **electromechanical delay**: the excitations reach the muscles
   ``electromechanical_delay_s`` (25 ms) after they are computed, before MuJoCo's
   activation dynamics (10-40 ms) turn them into force: together the 35-65 ms from EMG to
   force of the elbow flexors (Cavanagh & Komi 1979, Eur. J. Appl. Physiol. 42:159-163).
   The feedback loop's latency is ``feedback_delay_s + electromechanical_delay_s`` (55 ms,
   within the 30-60 ms of a long-latency response); the feedforward is not delayed by the
   senses, only by the muscles, and anticipates ``feedforward_lead_s`` (20 ms) of them, so
   a movement lags its intent. The reference the command of a step aims at (``q*``, the
   reference ``feedforward_lead_s`` ahead) is the human's *delay-free intent*
   (:attr:`exo_sim.step_loop.StepLoop.intent`);
6. **signal-dependent motor noise**: each excitation is multiplied by
   ``1 + noise_cv * xi_i(t)``, ``xi_i`` independent unit-variance Ornstein-Uhlenbeck
   processes (correlation time ``noise_tau_s``) drawn from a generator seeded per human
   (Harris & Wolpert 1998, Nature 394:780-784: noise standard deviation proportional to
   the command). Same seed, same trajectory;
7. **slow adaptation** (feedback-error learning, Kawato, Furukawa & Suzuki 1987, Biol.
   Cybern. 57:169-185): the feedback torque is the error signal of the internal model,
   ``dtheta_i / dt = phi_i tau_fb / (T_a n_i)`` with ``phi = (G_arm, I_arm qdd + b_arm qd)``
   of the reference at the sensed instant, ``T_a = adaptation_time_s`` (2 s of movement)
   and ``n_i`` the running mean square of ``phi_i`` (1 s). One ``theta`` per task
   (context), kept across repetitions and tasks: it converges over a few repetitions of a
   task. This is the only way the exo's weight and the eq. 3 assistance enter the human's
   plan: through what the human felt, after the fact.

Eq. 2's weight ``w`` (``effort_weight``, rad^2 per unit squared activation) sets the
feedback gain of loaded movements; the cap sets it for light ones. The defaults and how
they were chosen are in :class:`HumanConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import json
import math
from pathlib import Path
from typing import NamedTuple

import mujoco
import numpy as np

from exo_sim import batched
from exo_sim.model import ExoArm

N_BASIS = 2
BASIS = ('gravity', 'dynamics')
"""Basis of the adaptive internal model: ``tau_ff = theta . (G_arm, I_arm qdd + b_arm qd)``."""
PRIOR_THETA = (1.0, 1.0)
NOISE_BLOCK = 1024
# The learnt gains on the own-arm model (and with them the feedback gains) stay within these.
MIN_GAIN = 0.2
MAX_GAIN = 3.0
# Time constant of the running mean squares of the basis (normalisation of the rates), s.
NORMALISATION_TIME_S = 1.0
# Floor of those mean squares, (N*m)^2.
NORMALISATION_FLOOR = 0.25
# Largest co-contraction floor, activation.
MAX_FLOOR = 0.5


def _real(value: object) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(float(value)))


@dataclass(frozen=True)
class HumanConfig:
    """Parameters of the simulated human (:class:`SimulatedHuman`).

    Delays, noise and strength come from the literature (module docstring); the bandwidth
    cap, the co-contraction gain, the noise level within its physiological range and the
    adaptation time were tuned on a calibration set (base seed
    ``exo_sim.datagen.config.CALIBRATION_BASE_SEED``, not the dataset's) to put the
    unassisted tracking error of the nine tasks in the human range (0.01-0.05 rad), keep
    the loop stable with the exoskeleton at alpha = 1 and keep a heavy lift below
    saturation at 60 kg.

    Attributes:
        feedback_delay_s: sensory delay of every sensed quantity, s, in [0, 0.2].
        electromechanical_delay_s: delay from a computed excitation to the muscle, s, in
            [0, 0.1]; the feedback loop's latency is the sum of the two.
        feedforward_lead_s: how far ahead on the reference the feedforward is computed, s,
            in [0, 0.2] (anticipation of the electromechanical delay; 0: none).
        effort_weight: ``w`` of eq. 2, rad^2 per unit squared activation, > 0.
        max_bandwidth_rad_s: cap of the feedback natural frequency, rad/s, > 0.
        damping_ratio: of the feedback loop, > 0.
        noise_cv: coefficient of variation of the signal-dependent excitation noise, in
            [0, 1] (0.08: a few per cent of force variability once the activation dynamics
            have filtered it, as in sustained contractions, Jones et al. 2002).
        noise_tau_s: correlation time of the noise, s, > 0.
        cocontraction_base: activation floor of every muscle at no load, in [0, 0.5].
        cocontraction_gain: floor increase per unit expected load (fraction of the
            agonists' maximal torque), >= 0.
        adaptation_time_s: time constant of the internal model's adaptation, s, > 0
            (``inf``: no adaptation).

    """

    feedback_delay_s: float = 0.03
    electromechanical_delay_s: float = 0.025
    feedforward_lead_s: float = 0.02
    effort_weight: float = 1.0
    max_bandwidth_rad_s: float = 9.0
    damping_ratio: float = 1.0
    noise_cv: float = 0.08
    noise_tau_s: float = 0.05
    cocontraction_base: float = 0.01
    cocontraction_gain: float = 0.15
    adaptation_time_s: float = 2.0

    def __post_init__(self) -> None:
        """Reject invalid values with a message that quotes them."""
        bounds = {'feedback_delay_s': (0.0, 0.2), 'electromechanical_delay_s': (0.0, 0.1),
                  'feedforward_lead_s': (0.0, 0.2),
                  'effort_weight': (1e-9, 1e9), 'max_bandwidth_rad_s': (1e-3, 1e3),
                  'damping_ratio': (1e-3, 10.0), 'noise_cv': (0.0, 1.0),
                  'noise_tau_s': (1e-4, 10.0), 'cocontraction_base': (0.0, MAX_FLOOR),
                  'cocontraction_gain': (0.0, 10.0), 'adaptation_time_s': (0.05, math.inf)}
        for f in fields(self):
            lo, hi = bounds[f.name]
            value = getattr(self, f.name)
            ok = _real(value) or (f.name == 'adaptation_time_s' and value == math.inf)
            if not (ok and lo <= value <= hi):
                raise ValueError(f'{f.name} must be in [{lo:g}, {hi:g}], got {value!r}')

    def to_dict(self) -> dict[str, float]:
        """Field name -> value (plain floats)."""
        return {f.name: float(getattr(self, f.name)) for f in fields(self)}


DEFAULT_HUMAN = HumanConfig()


class HumanCommand(NamedTuple):
    """Result of one step of the human's muscle driver.

    Attributes:
        activations: target muscle activations (6,) of the static optimisation (before
            noise), order ``ExoArm.MUSCLES``, computed in this step.
        excitations: muscle controls written to ``data.ctrl`` in this step (6,), noise
            included: those computed ``electromechanical_delay_s`` ago.
        tau_required: torque the human commands, ``tau_ff + tau_fb``, N*m (flexion +).
        tau_active: part the muscles must produce actively (tau_required - passive), N*m.
        achieved: False when the static optimisation saturates.
        tau_feedforward: internal-model feedforward, N*m.
        tau_feedback: delayed feedback, N*m.
        cocontraction_index: ``2 min(T_flex, T_ext) / (T_flex + T_ext)`` of the active
            flexor and extensor torques of the command, in [0, 1].

    """

    activations: np.ndarray
    excitations: np.ndarray
    tau_required: float
    tau_active: float
    achieved: bool
    tau_feedforward: float = 0.0
    tau_feedback: float = 0.0
    cocontraction_index: float = 0.0


def solve_static_optimization(c: np.ndarray, tau: float, a_min: np.ndarray | float = 0.0,
                              a_max: np.ndarray | float = 1.0) -> tuple[np.ndarray, bool]:
    """Minimise ``sum a_i^2`` subject to ``c . a = tau`` and ``a_min <= a <= a_max``.

    The KKT solution is ``a_i = clip(lam c_i)``; ``f(lam) = sum c_i clip(lam c_i)`` is
    piecewise linear and monotone, so ``lam`` is found exactly by interpolation between its
    breakpoints (no iterations).

    Args:
        c: torque per unit activation of each muscle, (n,), N*m.
        tau: required active torque, N*m.
        a_min: lower bounds, scalar or (n,).
        a_max: upper bounds, scalar or (n,).

    Returns:
        ``(a, feasible)``: activations (n,); when ``tau`` is out of reach, the bound solution
        that comes closest, with ``feasible`` False.

    """
    c = np.asarray(c, dtype=float)
    lo = np.asarray(a_min, dtype=float)
    hi = np.asarray(a_max, dtype=float)
    if lo.shape != c.shape:
        lo = np.broadcast_to(lo, c.shape)
    if hi.shape != c.shape:
        hi = np.broadcast_to(hi, c.shape)
    mask = np.abs(c) > 1e-12
    if not mask.all():
        if not mask.any():
            return np.clip(np.zeros_like(c), lo, hi), abs(tau) < 1e-9
        cm, lom, him = c[mask], lo[mask], hi[mask]
    else:
        cm, lom, him = c, lo, hi
    if mask.all():
        a, feasible = batched.static_optimization(c[None], np.array([float(tau)]), lo[None],
                                                  hi[None])
        return a[0], bool(feasible[0])
    breaks = np.concatenate((lom / cm, him / cm))
    breaks.sort()
    f = np.minimum(np.maximum(breaks[:, None] * c, lo), hi) @ c
    lam = float(np.interp(tau, f, breaks))
    a = np.minimum(np.maximum(lam * c, lo), hi)
    scale = max(1.0, abs(tau))
    feasible = bool(f[0] - 1e-9 * scale <= tau <= f[-1] + 1e-9 * scale)
    return a, feasible


def cocontraction_index(c: np.ndarray, a: np.ndarray) -> float:
    """``2 min(T_flex, T_ext) / (T_flex + T_ext)`` of activations ``a`` (6,), in [0, 1].

    ``T_flex`` / ``T_ext``: active torque of the muscles with ``c > 0`` / ``c < 0``
    (Falconer & Winter 1985, with torques in place of EMG). 0 when no torque.
    """
    return _cocontraction(np.asarray(c, dtype=float).tolist(),
                          np.asarray(a, dtype=float).tolist())


def _cocontraction(c: list[float], a: list[float]) -> float:
    flex = ext = 0.0
    for ci, ai in zip(c, a, strict=True):
        torque = ci * ai
        if torque > 0.0:
            flex += torque
        else:
            ext -= torque
    total = flex + ext
    return 2.0 * min(flex, ext) / total if total > 1e-12 else 0.0


def identify_internal_model(arm: ExoArm) -> np.ndarray:
    """The human's model ``tau_arm`` (4,) of its own arm with the current payload.

    Coefficients of ``(sin q, cos q, qdd, qd)``: gravity of forearm, hand and payload
    (least squares on ``qfrc_bias`` of the elbow at rest at 13 angles, exact for a hinge),
    the elbow's inertia (mass matrix diagonal, armature included) and joint damping. The
    exoskeleton's link and cuff act on another degree of freedom and are not included.
    """
    m = arm.model
    d = mujoco.MjData(m)
    hd, hq = arm.human_dof, arm.human_qpos
    angles = np.linspace(0.0, 2.2, 13)
    bias = np.empty_like(angles)
    full = np.zeros((m.nv, m.nv))
    for i, q in enumerate(angles):
        d.qpos[:] = q
        d.qvel[:] = 0.0
        d.qpos[hq] = q
        mujoco.mj_forward(m, d)
        bias[i] = d.qfrc_bias[hd]
    mujoco.mj_fullM(m, d, full)
    basis = np.column_stack([np.sin(angles), np.cos(angles)])
    coef, *_ = np.linalg.lstsq(basis, bias, rcond=None)
    return np.array([coef[0], coef[1], full[hd, hd], float(m.dof_damping[hd])])


class SimulatedHuman:
    """The human's muscle driver for one :class:`ExoArm` (see the module docstring).

    Call :meth:`compute` once per physics step, before ``arm.step()``; it writes the six
    muscle excitations into ``arm.data.ctrl``. :meth:`begin_task` switches the internal
    model to a task's (its context).

    Args:
        arm: the arm (its state at construction is taken as the human's past).
        config: the human's parameters.
        seed: seed of the motor noise (numpy ``default_rng``).
        memory: adapted internal models per context (from :attr:`memory` of another human,
            e.g. after practice); missing contexts start from the prior.

    """

    def __init__(self, arm: ExoArm, config: HumanConfig = DEFAULT_HUMAN, seed: int = 0,
                 memory: dict[str, np.ndarray] | None = None) -> None:
        """Cache the muscle parameters of ``arm.model`` and fill the delay line."""
        if not isinstance(config, HumanConfig):
            raise TypeError(f'config must be a HumanConfig, got {type(config).__name__}')
        self.arm = arm
        self.config = config
        m = arm.model
        ids = arm.muscle_ids
        self._ids = ids
        self._muscles = arm.muscle_index  # a slice when the muscles are contiguous
        self.curves = batched.MuscleCurves(m, ids)
        self.u_min = m.actuator_ctrlrange[ids, 0].copy()
        self.u_max = m.actuator_ctrlrange[ids, 1].copy()
        self.h = float(m.opt.timestep)
        self._hd = arm.human_dof
        self._hq = arm.human_qpos
        # Delay line: D + 1 slots; slot k % (D + 1) is written at step k, the oldest is read.
        self.delay_steps = int(round(config.feedback_delay_s / self.h))
        self.lead_steps = int(round(config.feedforward_lead_s / self.h))
        n = self.delay_steps + 1
        self._buf_ref = [(0.0, 0.0, 0.0)] * n   # q_ref, qd_ref, qdd_ref
        self._buf_state = [(0.0, 0.0)] * n      # q, qd
        self.efferent_steps = int(round(config.electromechanical_delay_s / self.h))
        self._k = 0
        # Noise: unit-variance OU processes, one per muscle.
        self.noise_rho = math.exp(-self.h / config.noise_tau_s)
        self.noise_sig = math.sqrt(1.0 - self.noise_rho**2)
        # The arrays of the step (muscle delay line, excitation delay line, noise): row
        # ``_row`` of a HumanRows, of this human alone until a batch takes it in.
        self._rows: HumanRows | None = None
        self._row = 0
        HumanRows([self])
        self.reseed(seed)
        # Internal models per context ('' = no task yet).
        self._memory: dict[str, np.ndarray] = {
            str(k): np.array(v, dtype=float) for k, v in (memory or {}).items()}
        self._arm_model = [0.0] * 4
        self._context = ''
        self._theta = list(PRIOR_THETA)
        self._kp = self._kd = 0.0
        self._msq = [-1.0] * N_BASIS  # running mean squares (< 0: not started)
        self._gain_steps = 0
        self._nrho = math.exp(-self.h / NORMALISATION_TIME_S)
        self._rate = self.h / config.adaptation_time_s
        self._hold: float | None = None
        self.last: HumanCommand | None = None
        self.reset_history()
        c, _ = self._coefficients_now()
        self._effort_c = float(np.sum(c * c))  # C of eq. 2's torque effort, at the start
        self._capacity_flex = float(c[c > 0].sum()) if np.any(c > 0) else 1.0
        self._capacity_ext = float(-c[c < 0].sum()) if np.any(c < 0) else 1.0
        self._select_context('', initial=True)

    # ------------------------------------------------------------------ state
    def reseed(self, seed: int) -> None:
        """Restart the motor noise from ``seed`` (a fresh stationary OU state).

        From here on the noise no longer depends on how many steps ran before (e.g. how
        long the human rested between two instructions).
        """
        n = len(self._ids)
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)
        rows, i = self._rows, self._row
        rows.noise_i[i] = NOISE_BLOCK  # no block drawn yet
        rows.xi[i] = self._rng.standard_normal(n) if self.config.noise_cv > 0 else 0.0

    def reset_history(self) -> None:
        """Fill the delay line with the arm's current state (the human has been still)."""
        d = self.arm.data
        q, qd = float(d.qpos[self._hq]), float(d.qvel[self._hd])
        n = self.delay_steps + 1
        self._buf_ref = [(q, 0.0, 0.0)] * n
        self._buf_state = [(q, qd)] * n
        rows, i = self._rows, self._row
        rows.length[i] = d.actuator_length[self._ids]
        rows.vel[i] = d.actuator_velocity[self._ids]
        rows.mom[i] = self.arm.muscle_moments()

    @property
    def context(self) -> str:
        """The current context (task id; '' before the first task)."""
        return self._context

    @property
    def theta(self) -> np.ndarray:
        """Internal model of the current context (2,), coefficients of :data:`BASIS`."""
        return np.array(self._theta)

    @property
    def arm_model(self) -> np.ndarray:
        """The own-arm model ``tau_arm`` (4,): coefficients of (sin q, cos q, qdd, qd)."""
        return np.array(self._arm_model)

    def feedforward(self, q: float, qd: float = 0.0, qdd: float = 0.0) -> float:
        """The internal model's torque for ``(q, qd, qdd)``, N*m."""
        arm = self._arm_model
        gravity = arm[0] * math.sin(q) + arm[1] * math.cos(q)
        dynamics = arm[2] * qdd + arm[3] * qd
        return self._theta[0] * gravity + self._theta[1] * dynamics

    @property
    def memory(self) -> dict[str, np.ndarray]:
        """Adapted internal models per context (copies), including the current one."""
        out = {k: v.copy() for k, v in self._memory.items()}
        out[self._context] = np.array(self._theta)
        return out

    @property
    def gains(self) -> tuple[float, float]:
        """Current feedback gains ``(Kp, Kd)``, N*m/rad and N*m*s/rad."""
        return self._kp, self._kd

    def _select_context(self, context: str, initial: bool = False) -> None:
        if not initial:
            self._memory[self._context] = np.array(self._theta)
        self._context = context
        self._arm_model = identify_internal_model(self.arm).tolist()
        self._theta = self._memory.get(context, np.array(PRIOR_THETA)).tolist()
        self._msq = [-1.0] * N_BASIS
        self._update_gains()

    def _update_gains(self) -> None:
        cfg = self.config
        inertia = min(self._theta[0], 1.0) * self._arm_model[2]
        omega = (self._effort_c / (cfg.effort_weight * inertia**2)) ** 0.25
        omega = min(omega, cfg.max_bandwidth_rad_s)
        self._kp = inertia * omega**2
        self._kd = 2.0 * cfg.damping_ratio * omega * inertia

    def begin_task(self, context: str) -> None:
        """A task starts: switch to its internal model (call after its payload is in hand)."""
        self._select_context(str(context))

    # ------------------------------------------------------------------ muscles
    def _coefficients(self, length: np.ndarray, vel: np.ndarray, moments: np.ndarray
                      ) -> tuple[np.ndarray, float]:
        c, passive = muscle_coefficients([self.curves], length[None], vel[None], moments[None])
        return c[0], float(passive[0])

    def _coefficients_now(self) -> tuple[np.ndarray, float]:
        d = self.arm.data
        return self._coefficients(d.actuator_length[self._ids], d.actuator_velocity[self._ids],
                                  self.arm.muscle_moments())

    def muscle_coefficients(self) -> tuple[np.ndarray, float]:
        """Active torque per unit activation ``c`` (6,) and passive muscle torque, N*m.

        At the current fibre lengths and velocities (flexion positive); the driver itself
        uses the delayed ones.
        """
        return self._coefficients_now()

    def _draw_noise_block(self) -> None:
        """The next block of unit normal draws of the motor noise (per muscle)."""
        rows, i = self._rows, self._row
        rows.block[i] = self._rng.standard_normal((NOISE_BLOCK, len(self._ids)))
        rows.noise_i[i] = 0

    # ------------------------------------------------------------------ step
    def compute(self, q_ref: float, qd_ref: float = 0.0, qdd_ref: float = 0.0,
                ahead: tuple[float, float, float] | None = None,
                learn: bool = True) -> HumanCommand:
        """Compute and write the muscle excitations of this step.

        Args:
            q_ref: the human's reference angle now, rad.
            qd_ref: its velocity, rad/s.
            qdd_ref: its acceleration, rad/s^2.
            ahead: the reference ``feedforward_lead_s`` ahead, ``(q, qd, qdd)``; None: now.
            learn: adapt the internal model in this step (feedback-error learning).

        One human is a batch of one: :func:`compute_batch`.

        """
        return compute_batch([self], [(q_ref, qd_ref, qdd_ref)], [ahead], learn)[0]

    def _sense(self, q_ref: float, qd_ref: float, qdd_ref: float,
               ahead: tuple[float, float, float] | None, learn: bool
               ) -> tuple[float, float, float, int, int]:
        """Per-episode part before the muscle plan: delay line, feedforward, feedback, learning.

        Returns ``(tau_ff, tau_fb, floor, r, k)``: the feedforward and delayed feedback
        torques, the co-contraction floor, the delay-line slot of the sensed state and the
        number of steps including this one.
        """
        cfg = self.config
        d = self.arm.data
        self._hold = q_ref
        # Delay line: write now, read the oldest (D steps ago).
        n = self.delay_steps + 1
        w = self._k % n
        r = (self._k + 1) % n
        self._k += 1
        self._buf_ref[w] = (q_ref, qd_ref, qdd_ref)
        self._buf_state[w] = (float(d.qpos[self._hq]), float(d.qvel[self._hd]))
        rows, i = self._rows, self._row
        rows.length[i, w] = d.actuator_length[self._muscles]
        rows.vel[i, w] = d.actuator_velocity[self._muscles]
        self.arm.muscle_moments(out=rows.mom[i, w])
        qr_d, qdr_d, qddr_d = self._buf_ref[r]
        q_d, qd_d = self._buf_state[r]
        # Feedforward from the internal model of the task (not delayed).
        qa, qda, qdda = ahead if ahead is not None else (q_ref, qd_ref, qdd_ref)
        tau_ff = self.feedforward(qa, qda, qdda)
        # Delayed feedback (eq. 2 LQR gains).
        tau_fb = self._kp * (qr_d - q_d) + self._kd * (qdr_d - qd_d)
        if learn and self.config.adaptation_time_s < math.inf:
            self._adapt(qr_d, qdr_d, qddr_d, tau_fb)
        capacity = self._capacity_flex if tau_ff >= 0.0 else self._capacity_ext
        floor = min(cfg.cocontraction_base + cfg.cocontraction_gain * abs(tau_ff) / capacity,
                    MAX_FLOOR)
        return tau_ff, tau_fb, floor, r, self._k

    def _adapt(self, q: float, qd: float, qdd: float, tau_fb: float) -> None:
        arm = self._arm_model
        phi = (arm[0] * math.sin(q) + arm[1] * math.cos(q), arm[2] * qdd + arm[3] * qd)
        msq = self._msq
        th = self._theta
        nrho, rate = self._nrho, self._rate
        for i in range(N_BASIS):
            p = phi[i]
            sq = p * p
            m = msq[i]
            m = sq if m < 0.0 else nrho * m + (1.0 - nrho) * sq
            msq[i] = m
            t = th[i] + rate * p * tau_fb / (m + NORMALISATION_FLOOR)
            th[i] = min(max(t, MIN_GAIN), MAX_GAIN)
        self._gain_steps += 1
        if self._gain_steps >= 100:  # the feedback gains follow the learnt model (10 Hz)
            self._gain_steps = 0
            self._update_gains()

    def rest(self, q_hold: float | None = None) -> HumanCommand:
        """Hold ``q_hold`` (default: the last reference, else the current angle) at rest."""
        if q_hold is None:
            q_hold = self._hold if self._hold is not None else self.arm.human_state()[0]
        return self.compute(q_hold, 0.0, 0.0)


def muscle_coefficients(curves: list[batched.MuscleCurves], length: np.ndarray,
                        vel: np.ndarray, moments: np.ndarray, stacked=None
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Active torque per unit activation ``c`` (N, 6) and passive torque (N,), N*m.

    Rows of fibre lengths (m), velocities (m/s) and moment arms (m) about the elbow, row
    ``i`` with the muscles ``curves[i]`` (a batch of episodes; one episode is a batch of
    one; ``stacked``: :func:`exo_sim.batched.stack_curves` of ``curves`` when at hand;
    with it, from :data:`exo_sim.batched.VECTORISE_FROM` muscle evaluations on, ``curves``
    is not read and may be empty).
    """
    c = moments * batched.muscle_gain(curves, length, vel, stacked=stacked)
    passive = (moments * batched.muscle_bias(curves, length, stacked=stacked)).sum(axis=-1)
    return c, passive


class HumanRows:
    """The arrays a step of a batch of humans works on, one row per human.

    Per human: the delay line of the sensed muscle state (fibre lengths, velocities, moment
    arms; ``delay_steps + 1`` slots), the delay line of the excitations
    (``efferent_steps + 1`` slots), the motor noise (OU state and the current block of
    normal draws of the human's own generator), the excitation bounds and the noise
    constants. A human starts in rows of its own; a batch takes its humans in with their
    state (:func:`compute_batch` does when its humans are not all in one), and each human
    keeps reading and writing its row, alone or in the batch.

    Args:
        humans: the humans to take in (their current state is copied).

    """

    def __init__(self, humans: list[SimulatedHuman]) -> None:
        n = len(humans)
        m = len(humans[0]._ids)
        line = max(hm.delay_steps for hm in humans) + 1
        eff = max(hm.efferent_steps for hm in humans) + 1
        self.length = np.zeros((n, line, m))
        self.vel = np.zeros((n, line, m))
        self.mom = np.zeros((n, line, m))
        self.u_buf = np.zeros((n, eff, m))
        self.xi = np.zeros((n, m))
        self.block = np.zeros((n, NOISE_BLOCK, m))
        self.noise_i = np.full(n, NOISE_BLOCK, dtype=np.intp)
        self.u_min = np.array([hm.u_min for hm in humans])
        self.u_max = np.array([hm.u_max for hm in humans])
        self.noise_cv = np.array([hm.config.noise_cv for hm in humans])
        self.rho = np.array([[hm.noise_rho] for hm in humans])
        self.sig = np.array([[hm.noise_sig] for hm in humans])
        self.all_noisy = bool(np.all(self.noise_cv > 0.0))
        self.eff_n = np.array([hm.efferent_steps + 1 for hm in humans])
        self.order = list(range(n))
        self.arange = np.arange(n)
        self.stacked = (batched.stack_curves([hm.curves for hm in humans])
                        if n * len(humans[0]._ids) >= batched.VECTORISE_FROM else None)
        for i, hm in enumerate(humans):
            old, j = hm._rows, hm._row
            if old is None:  # a new human: resting at its lowest excitation
                self.u_buf[i] = hm.u_min
            else:
                d, e = hm.delay_steps + 1, hm.efferent_steps + 1
                self.length[i, :d] = old.length[j, :d]
                self.vel[i, :d] = old.vel[j, :d]
                self.mom[i, :d] = old.mom[j, :d]
                self.u_buf[i, :e] = old.u_buf[j, :e]
                self.xi[i] = old.xi[j]
                self.block[i] = old.block[j]
                self.noise_i[i] = old.noise_i[j]
            hm._rows, hm._row = self, i


def compute_batch(humans: list[SimulatedHuman], refs: list[tuple[float, float, float]],
                  aheads: list[tuple[float, float, float] | None], learn: bool = True
                  ) -> list[HumanCommand]:
    """One step of :meth:`SimulatedHuman.compute` for a batch of independent humans.

    Each human keeps its own state (internal models, noise generator, delay lines); what
    is scalar per human (the sensed state, feedforward, feedback, adaptation) runs per
    human, the rest on the batch's arrays (:class:`HumanRows`, a leading batch axis): the
    muscle plan (muscle coefficients at the sensed fibre state, eq. 2's static
    optimisation), the motor noise, the excitation bounds and the electromechanical delay.
    Each row keeps its own parameters (body mass, configuration); every row's numbers are
    those of a batch of one.
    """
    n = len(humans)
    rows = humans[0]._rows
    if any(hm._rows is not rows for hm in humans):
        rows = HumanRows(humans)
    order = [hm._row for hm in humans]
    whole = order == rows.order  # every row, in order: slices in place of gathers
    idx = rows.arange if whole else np.array(order)
    sel = slice(None) if whole else idx
    sensed = [hm._sense(ref[0], ref[1], ref[2], ah, learn)
              for hm, ref, ah in zip(humans, refs, aheads, strict=True)]
    tau_ff, tau_fb, floor, slot, k = (np.array(col) for col in zip(*sensed, strict=True))
    length = rows.length[idx, slot]
    vel = rows.vel[idx, slot]
    mom = rows.mom[idx, slot]
    u_min = rows.u_min[sel]
    u_max = rows.u_max[sel]
    stacked = None
    if rows.stacked is not None and len(humans) * len(humans[0]._ids) >= \
            batched.VECTORISE_FROM:
        stacked = rows.stacked if whole else rows.stacked.take(idx)
    curves = [hm.curves for hm in humans] if stacked is None else []
    c, passive = muscle_coefficients(curves, length, vel, mom, stacked)
    tau_req = tau_ff + tau_fb
    tau_act = tau_req - passive
    a_min = np.maximum(u_min, floor[:, None])
    regular = (np.abs(c) > 1e-12).all(axis=1)
    if regular.all():
        a_target, feasible = batched.static_optimization(c, tau_act, a_min, u_max)
    else:
        a_target = np.empty_like(c)
        feasible = np.empty(n, dtype=bool)
        for i in range(n):
            a_target[i], feasible[i] = solve_static_optimization(c[i], tau_act[i], a_min[i],
                                                                 u_max[i])
    # Signal-dependent motor noise: u = a (1 + cv xi), xi an OU process per muscle, on the
    # rows with noise (every row, in order: slices in place of gathers).
    if whole and rows.all_noisy:
        noisy, at, members = slice(None), slice(None), rows.arange
    else:
        mask = rows.noise_cv[idx] > 0.0
        noisy, at, members = mask, idx[mask], np.flatnonzero(mask)
    u = a_target
    if len(members):
        for j in np.flatnonzero(rows.noise_i[at] >= NOISE_BLOCK).tolist():
            humans[int(members[j])]._draw_noise_block()
        w = rows.block[idx[noisy], rows.noise_i[at]]
        rows.noise_i[at] += 1
        xi = rows.rho[at] * rows.xi[at] + rows.sig[at] * w
        rows.xi[at] = xi
        u = a_target.copy()
        u[noisy] = a_target[noisy] * (1.0 + rows.noise_cv[at][:, None] * xi)
    u = np.minimum(np.maximum(u, u_min), u_max)
    # Electromechanical delay: write now, the muscles get the oldest.
    if 1 in k:  # the first command: the human was already holding with it
        first = k == 1
        rows.u_buf[idx[first]] = u[first][:, None, :]
    ne = rows.eff_n[sel]
    rows.u_buf[idx, (k - 1) % ne] = u
    excitations = rows.u_buf[idx, k % ne]
    cci = [_cocontraction(ci, ai) for ci, ai in zip(c.tolist(), a_target.tolist(), strict=True)]
    out = []
    for i, hm in enumerate(humans):
        hm.arm.data.ctrl[hm._muscles] = excitations[i]
        cmd = HumanCommand(a_target[i], excitations[i], float(tau_req[i]), float(tau_act[i]),
                           bool(feasible[i]), float(tau_ff[i]), float(tau_fb[i]), cci[i])
        hm.last = cmd
        out.append(cmd)
    return out


class MemoryCache:
    """A bounded cache of practised internal models (:attr:`SimulatedHuman.memory`), by key.

    A memory is stored frozen (tuples of floats) and handed out as new arrays, so nothing a
    caller does to one reaches the cache. When new keys would take it over ``max_entries``
    it starts again empty.
    """

    def __init__(self, max_entries: int) -> None:
        self.max_entries = int(max_entries)
        self._entries: dict[object, tuple[tuple[str, tuple[float, ...]], ...]] = {}

    def missing(self, keys: list) -> list:
        """The keys not cached, each once, in order.

        The cache is emptied first if these keys and those cached would be more than
        ``max_entries``.
        """
        if len(self._entries) + len(set(keys)) > self.max_entries:
            self._entries.clear()
        return list(dict.fromkeys(k for k in keys if k not in self._entries))

    def store(self, key: object, memory: dict[str, np.ndarray] | None) -> None:
        """Keep ``memory`` (None: no adapted model) under ``key``."""
        self._entries[key] = tuple((context, tuple(float(v) for v in theta))
                                   for context, theta in (memory or {}).items())

    def memory(self, key: object) -> dict[str, np.ndarray]:
        """The memory kept under ``key``, as new arrays (KeyError if none is)."""
        return {context: np.array(theta) for context, theta in self._entries[key]}

    def clear(self) -> None:
        """Forget every memory."""
        self._entries.clear()


def save_memory(path: str | Path, memory: dict[str, np.ndarray]) -> None:
    """Write adapted internal models (:attr:`SimulatedHuman.memory`) as JSON."""
    data = {str(k): [float(x) for x in v] for k, v in memory.items()}
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + '\n')


def load_memory(path: str | Path) -> dict[str, np.ndarray]:
    """Read internal models written by :func:`save_memory`; ValueError quoting bad content.

    Each entry is a context (task id, '' at rest) -> the model's ``len(PRIOR_THETA)`` finite
    scale factors, each within [0, 10].
    """
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'cannot read the human memory file {str(path)!r}: {err}') from err
    if not isinstance(data, dict):
        raise ValueError(f'human memory file {str(path)!r}: expected an object, got '
                         f'{type(data).__name__}')
    memory = {}
    for key, value in data.items():
        theta = np.asarray(value, dtype=float) if isinstance(value, list) else np.zeros(0)
        if theta.shape != (len(PRIOR_THETA),) or not np.all(np.isfinite(theta)) \
                or np.any(theta < 0.0) or np.any(theta > 10.0):
            raise ValueError(f'human memory file {str(path)!r}: context {key!r} must hold '
                             f'{len(PRIOR_THETA)} numbers in [0, 10], got {value!r}')
        memory[str(key)] = theta
    return memory
