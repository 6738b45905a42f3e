"""exo_bench_bridge end to end: bridge_node (offline actuator) and controller_node as processes.

The console script the README names, run with one short run: the closed loop comes up with
the bridge started as a dry run on the offline actuator, the controller's command stream is
cut (SIGSTOP, then SIGKILL) and the actuator reads zero afterwards. Only the outcome is
asserted; rates and latencies are the benchmark's to report, not this test's.
"""

import json
import math
import shutil
import subprocess

import pytest


@pytest.mark.integration
def test_bench_bridge_runs_the_closed_loop_and_zeroes(tmp_path):
    script = shutil.which('exo_bench_bridge')
    assert script, 'exo_bench_bridge is not on PATH (source tools/env.sh)'
    out = tmp_path / 'bench'
    proc = subprocess.run([script, '--runs', '1', '--window', '1.0', '--out', str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / 'bench_bridge.json').read_text())
    assert results['domain'] != 42  # a private domain, never the project's default
    assert len(results['runs']) == 1 and results['crash']
    for run in results['runs'] + [results['crash']]:
        assert run['closed_loop_rate_hz'] > 0 and run['bridge_loop_rate_hz'] > 0
        # The actuator read zero after the command stream stopped, within a finite time.
        assert math.isfinite(run['external_latency_ms']) and run['external_latency_ms'] > 0
    assert (out / 'bench_bridge.png').exists()
