"""Array kernels of the simulated human and its muscle energetics, with a leading batch axis.

Every function here takes arrays whose last axis is the muscle axis (6 elbow muscles) and
whose leading axes are a batch of independent episodes; a single episode is a batch of one.
:class:`exo_sim.human.SimulatedHuman`, :class:`exo_sim.metabolic.MetabolicModel` and the
batched rollout (:mod:`exo_sim.batch_rollout`) call these same functions, so each equation
has one home whatever the batch size.

* :func:`muscle_gain` / :func:`muscle_bias`: MuJoCo's muscle force-length-velocity curves
  (``mju_muscleGain`` / ``mju_muscleBias``, the curves MuJoCo applies to the muscle
  actuators), called per muscle: MuJoCo is their one home;
* :func:`static_optimization`: eq. 2's effort term, ``min sum a_i^2`` s.t. ``c . a = tau``
  and bounds, solved exactly per row.

Every row's result is bit for bit the one of a batch of one (element-wise IEEE arithmetic
and per-row reductions along the muscle axis), so a batch gives each episode exactly the
trajectory it has alone.
"""

from __future__ import annotations

import mujoco
import numpy as np


class MuscleCurves:
    """Per-muscle arguments of MuJoCo's muscle curves, cached from a compiled model.

    Args:
        model: the compiled ``mujoco.MjModel``.
        ids: the muscle actuators' ids.

    """

    def __init__(self, model, ids) -> None:
        self.lengthrange = [np.ascontiguousarray(model.actuator_lengthrange[i]) for i in ids]
        self.acc0 = [float(model.actuator_acc0[i]) for i in ids]
        self.gainprm = [np.ascontiguousarray(model.actuator_gainprm[i, :9]) for i in ids]
        self.biasprm = [np.ascontiguousarray(model.actuator_biasprm[i, :9]) for i in ids]
        self.n = len(self.acc0)


def muscle_gain(curves: list[MuscleCurves], length: np.ndarray, vel: np.ndarray,
                where: np.ndarray | None = None) -> np.ndarray:
    """Active force per unit activation (MuJoCo's ``mju_muscleGain``), (N, n), N.

    Negative: a pull. Rows of fibre lengths (m) and velocities (m/s), row ``i`` with the
    muscles ``curves[i]``; ``where`` (N, n) bools: evaluate only there (0 elsewhere).
    """
    out = np.zeros(length.shape)
    gain = mujoco.mju_muscleGain
    todo = None if where is None else where.tolist()
    for row, (cv, ls, vs) in enumerate(zip(curves, length.tolist(), vel.tolist(),
                                           strict=True)):
        o = out[row]
        lr, acc0, prm = cv.lengthrange, cv.acc0, cv.gainprm
        for k in range(cv.n):
            if todo is None or todo[row][k]:
                o[k] = gain(ls[k], vs[k], lr[k], acc0[k], prm[k])
    return out


def muscle_bias(curves: list[MuscleCurves], length: np.ndarray) -> np.ndarray:
    """Passive force (MuJoCo's ``mju_muscleBias``), (N, n), N (negative: a pull)."""
    out = np.empty(length.shape)
    bias = mujoco.mju_muscleBias
    for row, (cv, ls) in enumerate(zip(curves, length.tolist(), strict=True)):
        o = out[row]
        lr, acc0, prm = cv.lengthrange, cv.acc0, cv.biasprm
        for k in range(cv.n):
            o[k] = bias(ls[k], lr[k], acc0[k], prm[k])
    return out


def static_optimization(c: np.ndarray, tau: np.ndarray, lo: np.ndarray, hi: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``min sum a_i^2`` s.t. ``c . a = tau``, ``lo <= a <= hi`` (eq. 2's effort).

    Args:
        c: (N, n) torque per unit activation, N*m; every ``|c_i| > 1e-12`` (rows with a
            vanishing coefficient go through :func:`exo_sim.human.solve_static_optimization`).
        tau: (N,) required active torque, N*m.
        lo: (N, n) lower bounds.
        hi: (N, n) upper bounds.

    Returns:
        ``(a, feasible)``: (N, n) activations and (N,) bools, as the one-row solver gives.

    The KKT solution is ``a_i = clip(lam c_i)``; ``f(lam) = sum c_i clip(lam c_i)`` is
    monotone and piecewise linear between the sorted breakpoints ``lo/c``, ``hi/c``, and
    ``lam`` is its exact inverse at ``tau`` by linear interpolation (:func:`numpy.interp`
    per row: one call is cheaper than its vectorised replica for the batch sizes of a CPU).

    """
    breaks = np.concatenate((lo / c, hi / c), axis=1)
    breaks.sort(axis=1)
    cb = c[:, None, :]
    x = breaks[:, :, None] * cb
    np.maximum(x, lo[:, None, :], out=x)
    np.minimum(x, hi[:, None, :], out=x)
    x *= cb
    f = x.sum(axis=2)
    lam = np.array([np.interp(t, fr, br) for t, fr, br in zip(tau.tolist(), f, breaks,
                                                                strict=True)])
    a = lam[:, None] * c
    np.maximum(a, lo, out=a)
    np.minimum(a, hi, out=a)
    scale = np.maximum(1.0, np.abs(tau))
    feasible = (f[:, 0] - 1e-9 * scale <= tau) & (tau <= f[:, -1] + 1e-9 * scale)
    return a, feasible
