"""Energy expenditure from gas exchange (eq. 15, Brockway) and steady-state energy (eq. 16).

The one home of the paper's metabolic equations (numpy only, no rclpy), used by the muscle
model of the simulation (:mod:`exo_sim.metabolic`), the in-process evaluation
(:mod:`exo_experiments.evaluation.repetitive`), the gas-exchange pipeline
(:mod:`exo_metabolic.gas_exchange`, ``metabolic_node``) and the trial protocol
(``exo_trial``):

* eq. 15 (Brockway 1987): ``EE = (16.58 VO2 + 4.51 VCO2) / m`` in W/kg, VO2 and VCO2 in
  mL/s (STPD), m in kg (:func:`brockway_power`); its inverse for a given respiratory
  exchange ratio ``RER = VCO2 / VO2`` (:func:`gas_exchange_for_power`), used by the
  simulated analyser;
* eq. 16: ``EC = m * integral_{t1}^{t2} EE(t) dt`` in J (:func:`steady_state_energy`).

Brockway's equation also has a urinary-nitrogen term (``-1.27 N``); like the paper, it is
left out (protein oxidation is neglected over a 10-minute trial).
"""

from __future__ import annotations

import math

import numpy as np

#: Energy per mL of O2 consumed, J/mL (Brockway 1987).
BROCKWAY_J_PER_ML_O2 = 16.58
#: Energy per mL of CO2 produced, J/mL (Brockway 1987).
BROCKWAY_J_PER_ML_CO2 = 4.51
#: mL/min per mL/s.
ML_PER_MIN_PER_ML_PER_S = 60.0


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)
                                       and value > 0):
        raise ValueError(f'{name} must be a positive finite number, got {value!r}')


def brockway_power(vo2_ml_s: float | np.ndarray, vco2_ml_s: float | np.ndarray,
                   body_mass_kg: float) -> float | np.ndarray:
    """Energy expenditure (eq. 15, Brockway 1987) in W/kg.

    ``EE = (16.58 VO2 + 4.51 VCO2) / m`` with VO2, VCO2 in mL/s (scalars or equal shapes).
    """
    _check_positive('body_mass_kg', body_mass_kg)
    vo2 = np.asarray(vo2_ml_s, dtype=float)
    vco2 = np.asarray(vco2_ml_s, dtype=float)
    if not (np.all(np.isfinite(vo2)) and np.all(vo2 >= 0)):
        raise ValueError(f'vo2_ml_s must be finite and >= 0, got {vo2_ml_s!r}')
    if not (np.all(np.isfinite(vco2)) and np.all(vco2 >= 0)):
        raise ValueError(f'vco2_ml_s must be finite and >= 0, got {vco2_ml_s!r}')
    ee = (BROCKWAY_J_PER_ML_O2 * vo2 + BROCKWAY_J_PER_ML_CO2 * vco2) / body_mass_kg
    return float(ee) if ee.ndim == 0 else ee


def gas_exchange_for_power(power_w: float, rer: float) -> tuple[float, float]:
    """Inverse of eq. 15: (VO2, VCO2) in mL/s that give ``power_w`` W at ``rer``.

    With ``VCO2 = RER * VO2``: ``VO2 = P / (16.58 + 4.51 RER)``.
    """
    if not (math.isfinite(power_w) and power_w >= 0):
        raise ValueError(f'power_w must be finite and >= 0, got {power_w!r}')
    if not (math.isfinite(rer) and 0.6 <= rer <= 1.3):
        raise ValueError(f'rer must be in [0.6, 1.3], got {rer!r}')
    vo2 = power_w / (BROCKWAY_J_PER_ML_O2 + BROCKWAY_J_PER_ML_CO2 * rer)
    return vo2, rer * vo2


def steady_state_energy(t: np.ndarray, ee_w_per_kg: np.ndarray, body_mass_kg: float,
                        t1: float, t2: float) -> float:
    """Steady-state energy (eq. 16) in J: ``m * integral_{t1}^{t2} EE dt`` (trapezoid).

    Args:
        t: strictly increasing sample times (T,), s.
        ee_w_per_kg: energy expenditure samples (T,), W/kg.
        body_mass_kg: body mass, kg.
        t1: window start, s (within ``t``).
        t2: window end, s, > t1 (within ``t``).

    """
    _check_positive('body_mass_kg', body_mass_kg)
    t = np.asarray(t, dtype=float)
    ee = np.asarray(ee_w_per_kg, dtype=float)
    if t.ndim != 1 or t.shape != ee.shape or t.size < 2:
        raise ValueError(f't and ee_w_per_kg must be equal (T,) arrays with T >= 2, got shapes '
                         f'{t.shape} and {ee.shape}')
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(ee)) and np.all(np.diff(t) > 0)):
        raise ValueError('t must be finite and strictly increasing and ee finite')
    if not (math.isfinite(t1) and math.isfinite(t2) and t[0] <= t1 < t2 <= t[-1]):
        raise ValueError(f'window must satisfy {t[0]} <= t1 < t2 <= {t[-1]}, got t1={t1!r}, '
                         f't2={t2!r}')
    inside = (t > t1) & (t < t2)
    tw = np.concatenate(([t1], t[inside], [t2]))
    ew = np.interp(tw, t, ee)
    return float(body_mass_kg * np.trapezoid(ew, tw))


def reduction_pct(ec: float | None, ec_reference: float | None) -> float | None:
    """Reduction of EC against a reference condition in %: positive = less energy.

    None when either value is missing; NaN when the reference is not a positive number.
    """
    if ec is None or ec_reference is None:
        return None
    if not (math.isfinite(ec_reference) and ec_reference > 0):
        return math.nan
    return 100.0 * (ec_reference - ec) / ec_reference
