"""The one home of the tracking and effort metrics."""

import math

import numpy as np

from exo_contract.metrics import active_mask, effort, rmse


def test_active_mask_follows_the_phase_convention():
    phase = np.array([-1.0, 0.0, 0.25, 0.5, 1.0, -1.0])
    assert active_mask(phase).tolist() == [False, False, True, True, False, False]


def test_rmse_over_the_mask_and_skipping_non_finite():
    actual = np.array([1.0, 2.0, 4.0, np.nan])
    ref = np.array([1.0, 1.0, 1.0, 1.0])
    assert math.isclose(rmse(actual, ref), math.sqrt((0 + 1 + 9) / 3))
    assert math.isclose(rmse(actual, ref, np.array([False, True, False, True])), 1.0)
    assert math.isnan(rmse(actual, ref, np.zeros(4, dtype=bool)))


def test_effort_is_the_mean_sum_of_squared_activations():
    acts = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 1.0]])
    assert math.isclose(effort(acts), (1.0 + 0.5 + 2.0) / 3)
    assert math.isclose(effort(acts, np.array([False, True, True])), 1.25)
    assert math.isnan(effort(acts, np.zeros(3, dtype=bool)))
