"""Simulated human: inverse dynamics + static optimisation over the six elbow muscles.

DESIGN.md accepts this deterministic alternative to the paper's PPO muscle policy. Each
tick :meth:`HumanMuscleController.compute`:

1. desired elbow acceleration ``qdd_des = qdd_ref + kp (q_ref - q) + kd (qd_ref - qd)``;
2. required elbow torque from the inverse dynamics of the whole coupled model,
   ``tau = (M qacc)_elbow + bias_elbow - passive_elbow`` with the exo's last acceleration in
   ``qacc``; ``passive`` includes the cuff force, so the human does less when the exo helps
   (this is ``qfrc_inverse`` of ``mj_inverse`` without joint-limit forces, assembled from
   the quantities ``mj_step1`` already computed);
3. the muscles' passive torque is subtracted and the effort term of eq. 2 is minimised:
   ``min sum a_i^2  s.t.  sum c_i a_i = tau_active,  a_min <= a_i <= 1`` with
   ``c_i = moment arm * active force per unit activation`` at the current fibre length and
   velocity (MuJoCo's ``mju_muscleGain``). The KKT solution is ``a_i = clip(lam c_i)``;
   ``f(lam) = sum c_i clip(lam c_i)`` is piecewise linear and monotone, so ``lam`` is found
   exactly by interpolation between its breakpoints (no iterations);
4. the target activations are turned into excitations by inverting MuJoCo's first-order
   activation dynamics over one timestep (the model sets ``actearly`` so the new
   activation acts within the same step).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import mujoco
import numpy as np

from exo_sim.model import ExoArm


@dataclass(frozen=True)
class HumanControllerConfig:
    """Gains of the simulated human.

    Attributes:
        kp: position gain of the desired acceleration, 1/s^2, >= 0.
        kd: velocity gain of the desired acceleration, 1/s, >= 0.

    """

    kp: float = 900.0
    kd: float = 60.0

    def __post_init__(self) -> None:
        """Reject invalid values with a message that quotes them."""
        for name in ('kp', 'kd'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and 0.0 <= value <= 1e5):
                raise ValueError(f'{name} must be in [0, 1e5], got {value!r}')


@dataclass(frozen=True)
class HumanCommand:
    """Result of one tick of the human controller.

    Attributes:
        activations: target muscle activations (6,), order ``ExoArm.MUSCLES``.
        excitations: muscle controls written to ``data.ctrl`` (6,).
        tau_required: elbow torque required by the inverse dynamics, N*m (flexion +).
        tau_active: part the muscles must produce actively (tau_required - passive), N*m.
        achieved: False when the muscles saturate (torque or excitation out of reach).

    """

    activations: np.ndarray
    excitations: np.ndarray
    tau_required: float
    tau_active: float
    achieved: bool


def solve_static_optimization(c: np.ndarray, tau: float, a_min: np.ndarray | float = 0.0,
                              a_max: np.ndarray | float = 1.0) -> tuple[np.ndarray, bool]:
    """Minimise ``sum a_i^2`` subject to ``c . a = tau`` and ``a_min <= a <= a_max``.

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
    lo = np.broadcast_to(np.asarray(a_min, dtype=float), c.shape)
    hi = np.broadcast_to(np.asarray(a_max, dtype=float), c.shape)
    mask = np.abs(c) > 1e-12
    if not np.any(mask):
        return np.clip(np.zeros_like(c), lo, hi), abs(tau) < 1e-9
    cm = c[mask]
    breaks = np.concatenate((lo[mask] / cm, hi[mask] / cm))
    breaks.sort()
    f = np.clip(breaks[:, None] * c[None, :], lo, hi) @ c
    lam = float(np.interp(tau, f, breaks))
    a = np.clip(lam * c, lo, hi)
    scale = max(1.0, abs(tau))
    feasible = bool(f[0] - 1e-9 * scale <= tau <= f[-1] + 1e-9 * scale)
    return a, feasible


class HumanMuscleController:
    """Muscle controller of the simulated human for one :class:`ExoArm`.

    Call :meth:`compute` once per simulation step, before ``arm.step()``; it writes the six
    muscle excitations into ``arm.data.ctrl``.
    """

    def __init__(self, arm: ExoArm, config: HumanControllerConfig = HumanControllerConfig()
                 ) -> None:
        """Cache the muscle parameters of ``arm.model``."""
        self.arm = arm
        self.config = config
        m = arm.model
        ids = arm.muscle_ids
        self._ids = ids
        self._actadr = m.actuator_actadr[ids].copy()
        self._lengthrange = [np.ascontiguousarray(m.actuator_lengthrange[i]) for i in ids]
        self._acc0 = [float(m.actuator_acc0[i]) for i in ids]
        self._gainprm = [np.ascontiguousarray(m.actuator_gainprm[i, :9]) for i in ids]
        self._biasprm = [np.ascontiguousarray(m.actuator_biasprm[i, :9]) for i in ids]
        self._tc_act = m.actuator_dynprm[ids, 0].copy()
        self._tc_deact = m.actuator_dynprm[ids, 1].copy()
        self._u_min = m.actuator_ctrlrange[ids, 0].copy()
        self._u_max = m.actuator_ctrlrange[ids, 1].copy()
        self._a_min = self._u_min.copy()
        self._h = float(m.opt.timestep)
        self._hd = arm.human_dof
        self._hq = arm.human_qpos
        self._qacc = np.zeros(m.nv)
        self._mqacc = np.zeros(m.nv)
        self._gain = np.zeros(len(ids))
        self._bias = np.zeros(len(ids))
        self._hold = None

    def muscle_coefficients(self) -> tuple[np.ndarray, float]:
        """Active torque per unit activation ``c`` (6,) and passive muscle torque, N*m.

        Evaluated at the current fibre lengths and velocities (flexion positive).
        """
        d = self.arm.data
        length = d.actuator_length
        vel = d.actuator_velocity
        for k, i in enumerate(self._ids):
            self._gain[k] = mujoco.mju_muscleGain(length[i], vel[i], self._lengthrange[k],
                                                  self._acc0[k], self._gainprm[k])
            self._bias[k] = mujoco.mju_muscleBias(length[i], self._lengthrange[k],
                                                  self._acc0[k], self._biasprm[k])
        moments = self.arm.muscle_moments()
        return moments * self._gain, float(moments @ self._bias)

    def required_torque(self, qdd_des: float) -> float:
        """Elbow torque (N*m) that gives elbow acceleration ``qdd_des`` in the current state."""
        m, d = self.arm.model, self.arm.data
        self._qacc[:] = d.qacc
        self._qacc[self._hd] = qdd_des
        mujoco.mj_mulM(m, d, self._mqacc, self._qacc)
        return float(self._mqacc[self._hd] + d.qfrc_bias[self._hd]
                     - d.qfrc_passive[self._hd])

    def compute(self, q_ref: float, qd_ref: float = 0.0, qdd_ref: float = 0.0) -> HumanCommand:
        """Compute and write muscle excitations that track ``(q_ref, qd_ref, qdd_ref)``.

        Args:
            q_ref: reference elbow angle, rad.
            qd_ref: reference velocity, rad/s.
            qdd_ref: reference acceleration, rad/s^2.

        """
        d = self.arm.data
        self._hold = q_ref
        q = d.qpos[self._hq]
        qd = d.qvel[self._hd]
        qdd_des = qdd_ref + self.config.kp * (q_ref - q) + self.config.kd * (qd_ref - qd)
        tau_req = self.required_torque(qdd_des)
        c, passive = self.muscle_coefficients()
        tau_act = tau_req - passive
        a_target, feasible = solve_static_optimization(c, tau_act, self._a_min, 1.0)
        act = d.act[self._actadr]
        act_c = np.clip(act, 0.0, 1.0)
        tau = np.where(a_target > act, self._tc_act * (0.5 + 1.5 * act_c),
                       self._tc_deact / (0.5 + 1.5 * act_c))
        u = act + tau * (a_target - act) / self._h
        u_clipped = np.clip(u, self._u_min, self._u_max)
        d.ctrl[self._ids] = u_clipped
        reached = bool(np.all(np.abs(u_clipped - u) < 1e-9))
        return HumanCommand(activations=a_target, excitations=u_clipped,
                            tau_required=tau_req, tau_active=tau_act,
                            achieved=feasible and reached)

    def rest(self, q_hold: float | None = None) -> HumanCommand:
        """Hold ``q_hold`` (default: the last reference, else the current angle) at rest."""
        if q_hold is None:
            q_hold = self._hold if self._hold is not None else self.arm.human_state()[0]
        return self.compute(q_hold, 0.0, 0.0)
