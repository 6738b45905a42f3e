"""Tests of in-process rollouts."""

import numpy as np
import pytest

from exo_contract.tasks import TASKS_BY_ID
from exo_sim.rollout import ProportionalAssist, run_rollout, ZeroTorque


def test_shapes_and_finite():
    task = TASKS_BY_ID['ok_gesture']
    r = run_rollout(task, controller=ZeroTorque(), rest_before=0.2, rest_after=0.2)
    n = r.t.size
    assert n == int(round((task.duration_s + 0.4) / 0.001))
    for name in ('q_exo', 'qd_exo', 'q_human', 'qd_human', 'q_ref', 'qd_ref', 'tau_ext',
                 'tau_cmd', 'tau_bio', 'metabolic_power', 'phase'):
        arr = getattr(r, name)
        assert arr.shape == (n,), name
        assert np.all(np.isfinite(arr)), name
    assert r.activations.shape == (n, 6)
    assert np.all(r.tau_cmd == 0.0)
    assert np.all(r.metabolic_power >= 0)
    # One phase convention (exo_sim.step_loop): -1 at rest, [0, 1] while the task runs.
    assert r.phase[0] == -1.0 and r.phase[-1] == -1.0
    running = r.phase >= 0.0
    assert np.all(np.diff(r.phase[running]) > 0) and r.phase[running].max() <= 1.0
    assert abs(running.sum() * 0.001 - task.duration_s) < 0.002
    assert r.rmse_human() < 0.05 and r.rmse_exo() < 0.1
    assert r.task_id == 'ok_gesture'


def test_assistance_lowers_effort_lift_heavy():
    task = TASKS_BY_ID['lift_heavy']
    r0 = run_rollout(task, controller=ProportionalAssist(0.0), rest_before=0.2, rest_after=0.2)
    r1 = run_rollout(task, controller=ProportionalAssist(1.0), rest_before=0.2, rest_after=0.2)
    assert r1.effort() < 0.8 * r0.effort()
    assert r1.metabolic_power.mean() < r0.metabolic_power.mean()
    assert r1.rmse_human() < 0.05
    assert r0.config.payload_kg == pytest.approx(10.0)


def test_bimanual_payload_halved_and_control_period():
    task = TASKS_BY_ID['carry_bimanual']
    r = run_rollout(task, controller=ProportionalAssist(0.5), duration=1.0, control_period=0.005,
                    rest_before=0.0, rest_after=0.0)
    assert r.config.payload_kg == pytest.approx(5.0)
    # The command is held between control ticks.
    assert np.all(r.tau_cmd[1:5] == r.tau_cmd[0])


def test_invalid_alpha():
    with pytest.raises(ValueError, match='1.5'):
        ProportionalAssist(1.5)
