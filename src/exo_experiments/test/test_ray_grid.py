"""The evaluation grid gives the same results in one process, on 2 workers and on Ray.

Ray runs for real: a local head with 2 CPUs started on this machine (the cluster of
docs/cluster.md, on one node; Ray itself turns the loopback address into the node's own
address), the rollouts sent to it as Ray tasks.
"""

import ray

from exo_experiments.evaluation.grid import run_evaluation

GRID = (['transparent', 'no_exo'], ['wave'], [70.0], 0.05)  # 3 s repetitive sessions


def _rollouts(report: dict) -> list[dict]:
    """The rollouts without their wall times, in a fixed order."""
    rows = [{k: v for k, v in r.items() if k != 'wall_s'} for r in report['rollouts']]
    return sorted(rows, key=lambda r: (r['task_id'], r['condition'], r['body_mass_kg'],
                                       r['seed']))


def _sessions(report: dict) -> dict:
    """The repetitive sessions (every seed's summary) without their wall times."""
    rep = report['repetitive']
    return {'over_seeds': rep['over_seeds'],
            'conditions': {c: {k: v for k, v in r.items() if k != 'wall_s'}
                           for c, r in rep['conditions'].items()}}


def test_the_grid_on_ray_equals_the_local_run():
    local = run_evaluation(*GRID, workers=1, progress=False, seeds=2)
    assert local['errors'] == 0 and len(local['rollouts']) == 4
    assert set(local['repetitive']['conditions']) == {'transparent', 'no_exo'}
    two = run_evaluation(*GRID, workers=2, progress=False, seeds=2)
    assert _rollouts(two) == _rollouts(local)
    assert _sessions(two) == _sessions(local)
    context = ray.init(num_cpus=2, include_dashboard=False, _node_ip_address='127.0.0.1',
                       log_to_driver=False)
    try:
        assert ray.cluster_resources()['CPU'] == 2
        on_ray = run_evaluation(*GRID, progress=False, seeds=2,
                                ray_address=context.address_info['address'])
    finally:
        ray.shutdown()
    assert on_ray['errors'] == 0
    assert _rollouts(on_ray) == _rollouts(local)
    assert _sessions(on_ray) == _sessions(local)
    assert on_ray['summary'] == local['summary']
