"""In-process closed loop: the same oracle and controller cores as the nodes, every task."""

import math

import pytest

from exo_contract.metrics import active_mask, rmse
from exo_contract.tasks import TASKS
from exo_experiments.harness import ImpedanceAssist, rollout_with_oracle, tracking_rmse
from exo_impedance_controller.core import ControlOutput
from exo_impedance_controller.stability import stiffness_bound
from exo_policy.oracle import OracleReferenceSource
from exo_sim.model import ExoArmConfig


@pytest.mark.parametrize('task', TASKS, ids=lambda t: t.task_id)
def test_every_task_tracks_without_violations(task):
    result, controller = rollout_with_oracle(task)
    c = controller.counters
    assert c.ticks == result.t.size
    assert c.stiffness_rate_violations == 0
    assert c.torque_limit_violations == 0
    assert c.nonfinite_commands == 0
    assert tracking_rmse(result) <= 0.05


@pytest.mark.parametrize('mass', [60.0, 80.0])
def test_other_body_masses(mass):
    result, controller = rollout_with_oracle(
        TASKS[7], config=ExoArmConfig(body_mass_kg=mass))
    assert tracking_rmse(result) <= 0.05
    assert controller.counters.stiffness_rate_violations == 0


def test_the_bound_is_active_when_the_task_starts():
    # The oracle asks for ~150 N*m/rad at once (lift_heavy); the bounded stiffness must
    # climb to it.
    _, controller = rollout_with_oracle(TASKS[7])
    k = controller.counters.stiffness
    assert k[0] <= 2.0 + 1e-9
    assert max(k) > 50.0


def test_tracking_rmse_is_the_active_phase_metric():
    result, _ = rollout_with_oracle(TASKS[0], rest_before=0.2, rest_after=0.2)
    active = active_mask(result.phase)
    assert 0 < active.sum() < result.t.size  # rest is excluded
    assert tracking_rmse(result) == rmse(result.q_exo, result.q_ref, active)
    assert tracking_rmse(result) == result.rmse_exo()


def _output(k, h=0.001, torque=0.0):
    return ControlOutput(torque, 0.0, 0.0, 0.0, 0.0, 0.0, k, k, 5.0, 0.25, 0.0, 0.0, 0.0, h, 0)


def test_safety_counters_use_the_one_stiffness_bound():
    assist = ImpedanceAssist(OracleReferenceSource(), TASKS[0].text, 0.5)
    assist.reset(0.3)
    ceiling = stiffness_bound(10.0, 0.001, 0.25, 5.0)
    too_high = stiffness_bound(ceiling, 0.001, 0.25, 5.0) * (1 + 1e-6)
    for k in (10.0, ceiling, too_high, 1.0):
        assist._count(_output(k))
    # Only the rise above the ceiling counts (a drop is always allowed).
    assert assist.counters.stiffness_rate_violations == 1
    assist._count(_output(1.0, torque=math.nan))
    assist._count(_output(1.0, torque=assist.params.torque_limit + 1.0))
    c = assist.counters
    assert (c.ticks, c.nonfinite_commands, c.torque_limit_violations) == (6, 1, 1)
    assert c.stiffness_rate_violations == 1
