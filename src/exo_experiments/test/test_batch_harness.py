"""The closed loop (human, metabolics, oracle, controller core) batched = each alone, exactly."""

import numpy as np

from exo_contract.tasks import TASKS_BY_ID
from exo_experiments.harness import rollout_with_oracle, rollouts_with_oracle

KEYS = ('q_exo', 'q_human', 'tau_cmd', 'tau_ext', 'metabolic_power', 'activations',
        'cocontraction', 'q_intent', 'phase')


def test_a_batch_of_closed_loops_gives_each_the_trajectory_it_has_alone():
    tasks = [TASKS_BY_ID['lift_heavy'], TASKS_BY_ID['drink'], TASKS_BY_ID['lift_heavy']]
    seeds = [0, 3, 7]
    batch = rollouts_with_oracle(tasks, seeds, duration=1.2, rest_after=0.2)
    for (res, ctrl), task, seed in zip(batch, tasks, seeds, strict=True):
        alone, ctrl_alone = rollout_with_oracle(task, seed=seed, duration=1.2, rest_after=0.2)
        for key in KEYS:
            assert np.array_equal(getattr(res, key), getattr(alone, key)), key
        assert ctrl.counters == ctrl_alone.counters
        assert ctrl.counters.ticks == len(res.t) > 0
    # different seeds, different trajectories: the batch keeps the episodes apart
    assert not np.array_equal(batch[0][0].q_human, batch[2][0].q_human)
