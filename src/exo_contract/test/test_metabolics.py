"""Tests of eq. 15 (Brockway) and eq. 16 (steady-state energy), the contract's one home."""

import math

import numpy as np
import pytest

from exo_contract.metabolics import (
    brockway_power,
    gas_exchange_for_power,
    steady_state_energy,
)


def test_brockway_coefficients_and_body_mass():
    # 10 mL/s O2 and 8 mL/s CO2 for a 70 kg subject.
    assert brockway_power(10.0, 8.0, 70.0) == pytest.approx((165.8 + 36.08) / 70.0)
    np.testing.assert_allclose(brockway_power(np.array([1.0, 2.0]), np.zeros(2), 1.0),
                               [16.58, 33.16])


@pytest.mark.parametrize('vo2, vco2, mass', [
    (-1.0, 1.0, 70.0), (1.0, math.nan, 70.0), (1.0, 1.0, 0.0), (1.0, 1.0, math.inf),
    (1.0, 1.0, True)])
def test_brockway_rejects_invalid_input_quoting_it(vo2, vco2, mass):
    with pytest.raises(ValueError):
        brockway_power(vo2, vco2, mass)


@pytest.mark.parametrize('power, rer', [(0.0, 0.85), (84.0, 0.7), (600.0, 1.0)])
def test_gas_exchange_for_power_inverts_eq_15(power, rer):
    vo2, vco2 = gas_exchange_for_power(power, rer)
    assert vco2 == pytest.approx(rer * vo2)
    assert brockway_power(vo2, vco2, 70.0) * 70.0 == pytest.approx(power)


def test_gas_exchange_for_power_rejects_invalid_input():
    with pytest.raises(ValueError, match='rer'):
        gas_exchange_for_power(80.0, 2.0)
    with pytest.raises(ValueError, match='power'):
        gas_exchange_for_power(-1.0, 0.85)


def test_steady_state_energy_integrates_over_the_window():
    t = np.linspace(0.0, 10.0, 101)
    assert steady_state_energy(t, np.full_like(t, 2.0), 70.0, 2.0, 7.0) == pytest.approx(700.0)
    assert steady_state_energy(t, t, 1.0, 0.0, 10.0) == pytest.approx(50.0)
    # Window edges between samples are interpolated: integral of t over [2.05, 7.33].
    assert steady_state_energy(t, t, 1.0, 2.05, 7.33) == pytest.approx(
        (7.33**2 - 2.05**2) / 2)
    with pytest.raises(ValueError):
        steady_state_energy(t, t, 70.0, 7.0, 2.0)
    with pytest.raises(ValueError):
        steady_state_energy(t, t[:-1], 70.0, 1.0, 2.0)
    with pytest.raises(ValueError):
        steady_state_energy(t[::-1], t, 70.0, 1.0, 2.0)
