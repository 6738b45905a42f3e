"""The benchmark's median over runs (pure; the benchmark itself measures, it asserts nothing)."""

import pytest

from exo_experiments.bench import GRAPH_KEYS, median_of_runs


def test_the_reported_numbers_are_the_median_of_the_runs_with_each_run_kept():
    runs = [{key: 1.0 for key in GRAPH_KEYS} for _ in range(3)]
    for run, rate, p99 in zip(runs, (678.0, 779.0, 776.0), (1.27, 1.35, None), strict=True):
        run['controller_rate_hz'] = rate
        run['command_latency_ms_p99'] = p99
    out = median_of_runs(runs)
    assert out['runs'] == 3
    assert out['controller_rate_hz'] == 776.0  # the median, not the best run
    assert out['controller_rate_hz_runs'] == [678.0, 779.0, 776.0]
    assert out['controller_rate_hz_range'] == [678.0, 779.0]
    # a run without latencies is left out of that number's median
    assert out['command_latency_ms_p99'] == pytest.approx(1.31)
    assert median_of_runs([{key: None for key in GRAPH_KEYS}])['controller_rate_hz'] is None
