"""Tests of in-process rollouts."""

import numpy as np
import pytest

from exo_contract.tasks import TASKS_BY_ID
from exo_sim.episodes import practise
from exo_sim.human import DEFAULT_HUMAN
from exo_sim.rollout import ProportionalAssist, run_rollout, ZeroTorque


def test_shapes_and_finite():
    task = TASKS_BY_ID['ok_gesture']
    r = run_rollout(task, controller=ZeroTorque(), rest_before=0.2, rest_after=0.2)
    n = r.t.size
    assert n == int(round((task.duration_s + 0.4) / 0.001))
    for name in ('q_exo', 'qd_exo', 'q_human', 'qd_human', 'q_ref', 'qd_ref', 'tau_ext',
                 'tau_cmd', 'tau_bio', 'metabolic_power', 'phase', 'q_intent', 'cocontraction'):
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
    # a person, not a servo: tracks within a few degrees (0.0003 rad with the old servo)
    assert 0.003 < r.rmse_human() < 0.06 and r.rmse_exo() < 0.1
    assert r.task_id == 'ok_gesture' and r.seed == 0 and r.onset_s == 0.0
    # the delay-free intent leads the reference by the feedforward lead
    n = int(round(DEFAULT_HUMAN.feedforward_lead_s / 0.001))
    lead = r.q_intent[:r.t.size - n] - r.q_ref[n:]
    assert np.max(np.abs(lead[r.phase[n:] >= 0])) < 1e-9


def test_assistance_lowers_effort_lift_heavy():
    """Practised at each alpha, the human needs less effort with assistance, same task."""
    task = TASKS_BY_ID['lift_heavy']
    runs = {}
    for alpha in (0.0, 1.0):
        runs[alpha] = run_rollout(task, controller=ProportionalAssist(alpha), rest_before=0.2,
                                  rest_after=0.2, memory=practise(task, alpha), seed=5)
    r0, r1 = runs[0.0], runs[1.0]
    assert r1.effort() < 0.6 * r0.effort()
    assert r1.metabolic_power.mean() < r0.metabolic_power.mean()
    assert r1.rmse_human() < 0.05 and r0.rmse_human() < 0.05
    assert r0.config.payload_kg == pytest.approx(10.0)


def test_onset_delays_the_movement_after_the_instruction():
    task = TASKS_BY_ID['wave']
    r = run_rollout(task, rest_before=0.2, rest_after=0.1, onset_s=0.4)
    assert r.t.size == int(round((0.2 + 0.4 + task.duration_s + 0.1) / 0.001))
    moving = np.flatnonzero(r.phase >= 0)
    assert r.t[moving[0]] == pytest.approx(0.6)
    assert np.all(r.q_ref[r.t < 0.6] == r.q_ref[0])
    with pytest.raises(ValueError, match='onset_s'):
        run_rollout(task, onset_s=-1.0)


def test_metabolic_every_holds_the_power_between_samples():
    task = TASKS_BY_ID['ok_gesture']
    full = run_rollout(task, duration=0.5, rest_before=0.1, rest_after=0.0)
    sparse = run_rollout(task, duration=0.5, rest_before=0.1, rest_after=0.0,
                         metabolic_every=10)
    np.testing.assert_array_equal(sparse.q_human, full.q_human)
    np.testing.assert_array_equal(sparse.metabolic_power[::10], full.metabolic_power[::10])
    assert np.all(sparse.metabolic_power[1:10] == sparse.metabolic_power[0])


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
