"""Tests of the muscle energetics and eq. 15-16."""

import numpy as np
import pytest

from exo_sim.human import HumanConfig, SimulatedHuman
from exo_sim.metabolic import brockway_power, MetabolicModel, steady_state_energy
from exo_sim.model import ExoArm, ExoArmConfig


def test_power_nonnegative_and_grows_with_effort():
    arm = ExoArm(ExoArmConfig(payload_kg=5.0))
    arm.reset(1.2)
    model = MetabolicModel(arm)
    rest = model.power(arm)
    assert rest >= 0 and np.isfinite(rest)
    human = SimulatedHuman(arm, HumanConfig(noise_cv=0.0))
    for _ in range(300):
        human.compute(1.2)
        arm.step()
    loaded = model.power(arm)
    assert np.isfinite(loaded) and loaded > rest + 1.0
    assert np.all(model.muscle_mass > 0.01) and np.all(model.muscle_mass < 1.0)
    basal = MetabolicModel(arm, include_basal=True)
    assert basal.power(arm) == pytest.approx(loaded + 1.2 * 70.0)


def test_brockway():
    assert brockway_power(10.0, 8.0, 70.0) == pytest.approx((165.8 + 36.08) / 70.0)
    np.testing.assert_allclose(brockway_power(np.array([1.0, 2.0]), np.array([0.0, 0.0]), 1.0),
                               [16.58, 33.16])
    with pytest.raises(ValueError, match='-70'):
        brockway_power(1.0, 1.0, -70.0)
    with pytest.raises(ValueError):
        brockway_power(-1.0, 1.0, 70.0)


def test_steady_state_energy():
    t = np.linspace(0.0, 10.0, 101)
    ee = np.full_like(t, 2.0)
    assert steady_state_energy(t, ee, 70.0, 2.0, 7.0) == pytest.approx(70.0 * 2.0 * 5.0)
    assert steady_state_energy(t, t, 1.0, 0.0, 10.0) == pytest.approx(50.0)
    with pytest.raises(ValueError):
        steady_state_energy(t, ee, 70.0, 7.0, 2.0)
    with pytest.raises(ValueError):
        steady_state_energy(t, ee[:-1], 70.0, 1.0, 2.0)
