"""exo_demo end to end (what ``make demo`` runs), on one task.

The console script starts the lockstep sim graph and the recorder as processes, sends the
task and a text that names no task, and writes the summary, the plots and a rosbag2
recording.

One task, practised twice beforehand as in ``make demo`` (which runs all nine), keeps it
short. Only the outcome is asserted, not timing. (A first-time wearer, ``--naive-human``,
is not held to the tracking target: under the default gravity share it tracks the
unloaded gestures at about 0.07 rad, README.)
"""

import json
import shutil
import subprocess

import pytest


@pytest.mark.integration
def test_demo_runs_a_task_and_refuses_unknown_text(tmp_path, ros_domain):
    script = shutil.which('exo_demo')
    assert script, 'exo_demo is not on PATH (source tools/env.sh)'
    out = tmp_path / 'demo'
    proc = subprocess.run([script, '--tasks', 'ok_gesture', '--strict', '--out', str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    summary = json.loads((out / 'summary.json').read_text())
    names = [task['name'] for task in summary['tasks']]
    assert names == ['ok_gesture', ''], names  # the unknown text resolves to no task
    gesture = summary['tasks'][0]
    assert gesture['rmse_rad'] is not None and gesture['rmse_rad'] <= 0.05
    assert summary['stiffness_rate_violations_total'] == 0
    assert summary['torque_limit_violations_total'] == 0
    assert (out / 'recording' / 'metadata.yaml').exists()
    assert (out / 'overview.png').exists()
    assert summary['human'] == 'practised'
    assert list(json.loads((out / 'human_memory.json').read_text())) == ['ok_gesture']


def test_demo_refuses_unknown_task_ids(capsys):
    from exo_experiments.demo import main  # noqa: PLC0415
    with pytest.raises(SystemExit):
        main(['--tasks', 'backflip'])
    assert 'unknown task ids' in capsys.readouterr().err
