"""Array kernels of the simulated human and its muscle energetics, with a leading batch axis.

Every function here takes arrays whose last axis is the muscle axis (6 elbow muscles) and
whose leading axes are a batch of independent episodes; a single episode is a batch of one.
:class:`exo_sim.human.SimulatedHuman`, :class:`exo_sim.metabolic.MetabolicModel` and the
batched rollout (:func:`exo_sim.rollout.run_rollouts`) call these same functions, so each equation
has one home whatever the batch size.

* :func:`muscle_gain` / :func:`muscle_bias`: MuJoCo's muscle force-length-velocity curves
  (``mju_muscleGain`` / ``mju_muscleBias``, the curves MuJoCo applies to the muscle
  actuators): called per muscle for a few rows, evaluated on the arrays for more
  (:func:`gain_vectorised` / :func:`bias_vectorised`, MuJoCo's C expressions in MuJoCo's
  order of operations; a test holds them to MuJoCo's own functions bit for bit);
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

    Besides MuJoCo's own arguments (for the per-muscle calls) it keeps the constants of the
    curves folded once, as MuJoCo computes them, for the vectorised evaluation.

    """

    def __init__(self, model, ids) -> None:
        ids = list(ids)
        # Copies: a view would keep the compiled model alive as long as these curves.
        self.lengthrange = [np.array(model.actuator_lengthrange[i]) for i in ids]
        self.acc0 = [float(model.actuator_acc0[i]) for i in ids]
        self.gainprm = [np.array(model.actuator_gainprm[i, :9]) for i in ids]
        self.biasprm = [np.array(model.actuator_biasprm[i, :9]) for i in ids]
        self.n = len(self.acc0)
        self.folded = _Folded(np.array(self.lengthrange).reshape(self.n, 2),
                              np.array(self.acc0), np.array(self.gainprm).reshape(self.n, 9),
                              np.array(self.biasprm).reshape(self.n, 9))


class _Folded:
    """The constants of ``mju_muscleGain`` / ``mju_muscleBias``, (..., n) arrays.

    Each is computed with the operations, in the order, of MuJoCo's C code, so the
    vectorised curves below are MuJoCo's bit for bit (``test_batched.py`` compares them
    with ``mju_muscleGain`` / ``mju_muscleBias`` over every branch).
    """

    def __init__(self, lr: np.ndarray, acc0: np.ndarray, gain: np.ndarray,
                 bias: np.ndarray) -> None:
        big = np.maximum
        self.lr0 = lr[..., 0]
        span = lr[..., 1] - lr[..., 0]

        def force(prm: np.ndarray) -> np.ndarray:
            return np.where(prm[..., 2] < 0, prm[..., 3] / big(MINVAL, acc0), prm[..., 2])

        l0 = span / big(MINVAL, gain[..., 1] - gain[..., 0])
        self.g_range0 = gain[..., 0]
        self.g_l0 = big(MINVAL, l0)
        self.g_v0 = big(MINVAL, l0 * gain[..., 6])
        self.g_force = force(gain)
        self.lmin = gain[..., 4]
        self.lmax = gain[..., 5]
        self.a = 0.5 * (self.lmin + 1)
        self.b = 0.5 * (1 + self.lmax)
        self.d_rise = big(MINVAL, self.a - self.lmin)
        self.d_top_lo = big(MINVAL, 1 - self.a)
        self.d_top_hi = big(MINVAL, self.b - 1)
        self.d_fall = big(MINVAL, self.lmax - self.b)
        self.fvmax = gain[..., 8]
        self.y = self.fvmax - 1
        self.d_y = big(MINVAL, self.y)
        l0 = span / big(MINVAL, bias[..., 1] - bias[..., 0])
        self.b_range0 = bias[..., 0]
        self.b_l0 = big(MINVAL, l0)
        self.b_force = force(bias) * bias[..., 7]
        self.b_knee = 0.5 * (1 + bias[..., 5])
        self.d_knee = big(MINVAL, self.b_knee - 1)

    @classmethod
    def stack(cls, rows: list[_Folded]) -> _Folded:
        """The constants of ``rows`` with a leading batch axis."""
        out = cls.__new__(cls)
        for name in vars(rows[0]):
            setattr(out, name, np.stack([getattr(r, name) for r in rows]))
        return out

    def take(self, rows: np.ndarray | slice) -> _Folded:
        """The rows ``rows`` of stacked constants."""
        out = _Folded.__new__(_Folded)
        for name, value in vars(self).items():
            setattr(out, name, value[rows])
        return out


def stack_curves(curves: list[MuscleCurves]) -> _Folded:
    """The folded constants of ``curves`` (one per row) with a leading batch axis.

    For a batch that steps many times with the same rows: pass it as ``stacked`` to
    :func:`muscle_gain` / :func:`muscle_bias`.
    """
    return _Folded.stack([cv.folded for cv in curves])


MINVAL = mujoco.mjMINVAL
# Below this many muscle evaluations one call per muscle into MuJoCo is the faster way.
VECTORISE_FROM = 30


def gain_vectorised(c: _Folded, length: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """``mju_muscleGain`` on arrays (constants ``c`` broadcast against ``length``), N."""
    big_l = c.g_range0 + (length - c.lr0) / c.g_l0
    v = vel / c.g_v0
    # length curve: two half-parabolas up to 1 at L = 1 and down again; 0 outside
    x = np.where(big_l <= c.a, (big_l - c.lmin) / c.d_rise,
                 np.where(big_l <= 1, (1 - big_l) / c.d_top_lo,
                          np.where(big_l <= c.b, (big_l - 1) / c.d_top_hi,
                                   (c.lmax - big_l) / c.d_fall)))
    half = 0.5 * x * x
    fl = np.where((big_l > c.a) & (big_l <= c.b), 1 - half, half)
    fl[(big_l < c.lmin) | (big_l > c.lmax) | np.isnan(big_l)] = 0.0
    # velocity curve
    z = c.y - v
    fv = np.where(v <= 0, (v + 1) * (v + 1),
                  np.where(v <= c.y, c.fvmax - z * z / c.d_y, c.fvmax))
    fv[v <= -1] = 0.0
    return -c.g_force * fl * fv


def bias_vectorised(c: _Folded, length: np.ndarray) -> np.ndarray:
    """``mju_muscleBias`` on arrays (constants ``c`` broadcast against ``length``), N."""
    big_l = c.b_range0 + (length - c.lr0) / c.b_l0
    rise = (big_l - 1) / c.d_knee
    line = (big_l - c.b_knee) / c.d_knee
    out = np.where(big_l <= c.b_knee, -c.b_force * 0.5 * rise * rise,
                   -c.b_force * (0.5 + line))
    out[big_l <= 1] = 0.0
    return out


def muscle_gain(curves: list[MuscleCurves], length: np.ndarray, vel: np.ndarray,
                where: np.ndarray | None = None, stacked: _Folded | None = None
                ) -> np.ndarray:
    """Active force per unit activation (MuJoCo's ``mju_muscleGain``), (N, n), N.

    Negative: a pull. Rows of fibre lengths (m) and velocities (m/s), row ``i`` with the
    muscles ``curves[i]``; ``where`` (N, n) bools: evaluate only there (0 elsewhere).
    Small batches call MuJoCo per muscle, larger ones evaluate its curves vectorised
    (the same numbers; ``stacked``: :func:`stack_curves` of ``curves``, else stacked here).
    """
    if length.size >= VECTORISE_FROM:
        c = stacked if stacked is not None else stack_curves(curves)
        with np.errstate(all='ignore'):  # MuJoCo's C arithmetic: inf/nan propagate
            out = gain_vectorised(c, length, vel)
        return out if where is None else np.where(where, out, 0.0)
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


def muscle_bias(curves: list[MuscleCurves], length: np.ndarray,
                stacked: _Folded | None = None) -> np.ndarray:
    """Passive force (MuJoCo's ``mju_muscleBias``), (N, n), N (negative: a pull)."""
    if length.size >= VECTORISE_FROM:
        c = stacked if stacked is not None else stack_curves(curves)
        with np.errstate(all='ignore'):
            return bias_vectorised(c, length)
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
