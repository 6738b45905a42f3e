"""In-process closed loop: the same oracle and controller cores as the nodes, every task."""

import pytest

from exo_bringup.harness import rollout_with_oracle, tracking_rmse
from exo_sim.model import ExoArmConfig
from exo_sim.tasks import TASKS


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
    # The oracle asks for ~150 N*m/rad at once; the bounded stiffness must climb to it.
    _, controller = rollout_with_oracle(TASKS[0])
    k = controller.counters.stiffness
    assert k[0] <= 2.0 + 1e-9
    assert max(k) > 50.0
