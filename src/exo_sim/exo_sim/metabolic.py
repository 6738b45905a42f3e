"""Metabolic cost: a muscle-energetics model for the six elbow muscles (eq. 15-16: contract).

:class:`MetabolicModel` implements Umberger, Gerritsen & Martin (2003), "A model of human
muscle energy expenditure", Comput. Methods Biomech. Biomed. Eng. 6(2):99-111: per muscle,
in W per kg of muscle,

* activation/maintenance heat ``h_AM = (1.28 %FT + 25) A^0.6 S``, scaled by
  ``(0.4 + 0.6 F_iso)`` when the fibre is longer than optimal;
* shortening heat ``h_S = -(alpha_ST v (100 - %FT) + alpha_FT v %FT) / 100 * A^2 S`` with
  ``alpha_ST = 100 / v_max_ST``, ``alpha_FT = 153 / v_max_FT`` (v in l_opt/s, shortening
  negative; v_max_FT = 12, v_max_ST = v_max_FT / 2.5), lengthening heat
  ``h_L = alpha_L v A S`` with ``alpha_L = 4 alpha_ST``;
* contractile-element work rate ``w = -F_CE v_CE / m_muscle`` (positive when shortening).

``A = u`` when the excitation exceeds the activation, else ``(u + a) / 2``; ``S = 1.5``
(mostly aerobic). Muscle mass = ``F_max / sigma * rho * l_opt`` with specific tension
sigma = 0.25 MPa, density rho = 1059.7 kg/m^3 and ``l_opt`` the MuJoCo muscle's optimal
length ``(lengthrange[1] - lengthrange[0]) / (range[1] - range[0])`` (tendon compliance is
not modelled in MuJoCo, so fibre length = normalised actuator length).

Simplifications: fibre-type fractions are literature approximations (Johnson et al. 1973),
the shortening heat is not scaled by F_iso on the descending limb, and each muscle's total
is clipped at 0 W (Umberger's negative-work limit is replaced by this floor). An optional
basal term adds a constant resting power.
"""

from __future__ import annotations

import numpy as np

# eq. 15-16 live in the contract; re-exported here for existing callers.
from exo_contract.metabolics import brockway_power, steady_state_energy  # noqa: F401
from exo_sim.batched import muscle_gain, MuscleCurves, stack_curves
from exo_sim.model import ExoArm

SPECIFIC_TENSION_PA = 0.25e6
MUSCLE_DENSITY_KG_M3 = 1059.7
APPROX_S = 1.5
V_MAX_FT = 12.0
V_MAX_ST = V_MAX_FT / 2.5
ALPHA_S_ST = 100.0 / V_MAX_ST
ALPHA_S_FT = 153.0 / V_MAX_FT
ALPHA_L = 4.0 * ALPHA_S_ST
# Fast-twitch fibre percentage per muscle (Johnson, Polgar, Weightman & Appleton 1973).
FAST_TWITCH_PERCENT = {'TRIlong': 60.0, 'TRIlat': 61.0, 'TRImed': 50.0,
                       'BIClong': 55.0, 'BICshort': 55.0, 'BRA': 50.0}
# Resting metabolic rate used by the optional basal term, W/kg of body mass.
BASAL_W_PER_KG = 1.2


class MetabolicModel:
    """Instantaneous metabolic power of the six elbow muscles (Umberger et al. 2003).

    Args:
        arm: the arm whose muscles are evaluated (parameters are cached).
        include_basal: add ``BASAL_W_PER_KG * body_mass`` to the muscles' power.

    """

    def __init__(self, arm: ExoArm, include_basal: bool = False) -> None:
        """Cache muscle masses, optimal lengths and curve parameters."""
        m = arm.model
        ids = arm.muscle_ids
        lr = m.actuator_lengthrange[ids]
        rng = m.actuator_gainprm[ids, 0:2]
        self.l_opt = (lr[:, 1] - lr[:, 0]) / (rng[:, 1] - rng[:, 0])
        self._lr0 = lr[:, 0].copy()
        self._range0 = rng[:, 0].copy()
        self.f_max = m.actuator_gainprm[ids, 2].copy()
        self.muscle_mass = self.f_max / SPECIFIC_TENSION_PA * MUSCLE_DENSITY_KG_M3 * self.l_opt
        self.fast_twitch = np.array([FAST_TWITCH_PERCENT[n] for n in arm.MUSCLES])
        self._h_am = 1.28 * self.fast_twitch + 25.0
        self._curves = MuscleCurves(m, ids)
        self.basal_w = BASAL_W_PER_KG * arm.config.body_mass_kg if include_basal else 0.0
        # Per-muscle constants of the expressions below (folded once).
        ft = self.fast_twitch / 100.0
        self._inv_l_opt = 1.0 / self.l_opt
        self._h_am_s = self._h_am * APPROX_S
        self._k_short = -(ALPHA_S_ST * (1.0 - ft) + ALPHA_S_FT * ft) * APPROX_S
        self._k_long = ALPHA_L * APPROX_S
        self._l_opt_per_mass = self.l_opt / self.muscle_mass
        self._rows = MetabolicRows([self])

    def muscle_power(self, arm: ExoArm) -> np.ndarray:
        """Metabolic power of each muscle (6,) in W, >= 0, in the current state of ``arm``."""
        return self._rows.power_rows([arm])[0]

    def power(self, arm: ExoArm) -> float:
        """Total metabolic power in W (>= 0, finite): muscles plus the optional basal term."""
        return float(self.muscle_power(arm).sum()) + self.basal_w


class MetabolicRows:
    """The muscle energetics of a batch of episodes, each with its own :class:`MetabolicModel`.

    Row ``i`` of every array is episode ``i``; one episode is a batch of one (that is how
    :meth:`MetabolicModel.muscle_power` evaluates itself).

    Args:
        models: one model per episode (its muscle constants are stacked once).

    """

    def __init__(self, models: list[MetabolicModel]) -> None:
        self.models = list(models)
        self.curves = [mm._curves for mm in self.models]
        self.stacked = stack_curves(self.curves)

        def stack(name: str) -> np.ndarray:
            return np.stack([getattr(mm, name) for mm in self.models])
        self.inv_l_opt = stack('_inv_l_opt')
        self.range0 = stack('_range0')
        self.lr0 = stack('_lr0')
        self.h_am_s = stack('_h_am_s')
        self.f_max = stack('f_max')
        self.k_short = stack('_k_short')
        self.k_long = np.array([mm._k_long for mm in self.models])[:, None]
        self.l_opt_per_mass = stack('_l_opt_per_mass')
        self.muscle_mass = stack('muscle_mass')
        self.basal_w = np.array([mm.basal_w for mm in self.models])

    def muscle_power(self, length: np.ndarray, vel: np.ndarray, act: np.ndarray,
                     ctrl: np.ndarray) -> np.ndarray:
        """Metabolic power (N, 6), W, >= 0, of the muscle states given as (N, 6) arrays.

        ``length`` / ``vel``: actuator length (m) and velocity (m/s); ``act``: activation;
        ``ctrl``: excitation, each in ``ExoArm.MUSCLES`` order.
        """
        l_norm = self.range0 + (length - self.lr0) * self.inv_l_opt
        long = l_norm > 1.0
        gv = muscle_gain(self.curves, length, vel, stacked=self.stacked)
        # the isometric gain only scales fibres longer than optimal
        g0 = muscle_gain(self.curves, length, np.zeros_like(vel), where=long,
                         stacked=self.stacked)
        a = np.minimum(np.maximum(act, 0.0), 1.0)
        u = np.minimum(np.maximum(ctrl, 0.0), 1.0)
        big_a = np.where(u > a, u, 0.5 * (u + a))
        v = vel * self.inv_l_opt  # fibre velocity, l_opt/s, shortening negative
        h_am = self.h_am_s * big_a**0.6
        h_am = np.where(long, (0.4 - 0.6 / self.f_max * g0) * h_am, h_am)
        h_sl = np.where(v <= 0.0, self.k_short * v * big_a * big_a, self.k_long * v * big_a)
        # contractile-element work: -F_CE v_CE per kg, F_CE = -gain * a (>= 0)
        w = gv * a * v * self.l_opt_per_mass
        total = (h_am + h_sl + w) * self.muscle_mass
        if not np.all(np.isfinite(total)):
            total = np.nan_to_num(total, nan=0.0, posinf=0.0, neginf=0.0)
        return np.maximum(total, 0.0)

    def power(self, arms: list[ExoArm]) -> np.ndarray:
        """Total metabolic power (N,), W, of each episode's arm (as MetabolicModel.power)."""
        return self.power_rows(arms).sum(axis=1) + self.basal_w

    def power_rows(self, arms: list[ExoArm]) -> np.ndarray:
        """Metabolic power of each muscle (N, 6), W, of each episode's arm."""
        if len(arms) != len(self.models):
            raise ValueError(f'{len(arms)} arms for {len(self.models)} models')
        datas = [(arm.data, arm.muscle_index) for arm in arms]
        length = np.array([d.actuator_length[i] for d, i in datas])
        vel = np.array([d.actuator_velocity[i] for d, i in datas])
        act = np.array([arm.data.act[arm.muscle_act_index] for arm in arms])
        ctrl = np.array([d.ctrl[i] for d, i in datas])
        return self.muscle_power(length, vel, act, ctrl)
