"""Tests of the mission library and reference trajectories."""

import numpy as np
import pytest
from scipy.signal import find_peaks

from exo_contract.tasks import (
    ELBOW_MAX_RAD,
    find_task,
    normalize_text,
    ReferenceTrajectory,
    sample_trajectory_params,
    TASKS,
    TASKS_BY_ID,
    TrajectoryParams,
)

EXPECTED = {'bell': (1, 2, 4, 6, 8), 'double': (3, 7, 9), 'triple': (5,)}


def test_nine_tasks():
    assert len(TASKS) == 9 and len(TASKS_BY_ID) == 9
    assert [t.mission for t in TASKS] == list(range(1, 10))
    for shape, missions in EXPECTED.items():
        assert {t.mission for t in TASKS if t.shape == shape} == set(missions)
    assert [t.task_id for t in TASKS if t.bimanual] == ['carry_bimanual']
    assert TASKS_BY_ID['carry_bimanual'].payload_per_arm_kg == pytest.approx(5.0)
    assert TASKS_BY_ID['lift_heavy'].payload_kg == pytest.approx(10.0)


@pytest.mark.parametrize('task', TASKS, ids=lambda t: t.task_id)
def test_peaks_range_and_derivatives(task):
    ref = ReferenceTrajectory(task)
    h = 1e-3
    t = np.arange(-0.5, ref.duration + 0.5, h)
    q, qd, qdd = ref(t)
    peaks, _ = find_peaks(q, prominence=0.2 * ref.amplitude)
    assert len(peaks) == task.n_peaks
    assert q.min() >= 0.0 and q.max() <= ELBOW_MAX_RAD
    assert q[0] == pytest.approx(ref.baseline) and q[-1] == pytest.approx(ref.baseline)
    assert qd[0] == 0.0 and qd[-1] == 0.0
    np.testing.assert_allclose(np.gradient(q, h)[1:-1], qd[1:-1], atol=5e-3)
    np.testing.assert_allclose(np.gradient(qd, h)[1:-1], qdd[1:-1], atol=5e-2)
    # C2: no jumps in the acceleration.
    assert np.max(np.abs(np.diff(qdd))) < 0.3
    # The scalar fast path agrees with the vectorised one.
    for tk in (0.1, ref.duration / 3, ref.duration / 2):
        np.testing.assert_allclose(ref(tk), [x[0] for x in ref(np.array([tk]))], atol=1e-12)
    assert ref.phase(-1.0) == 0.0 and ref.phase(1e9) == 1.0


def test_params_variation_stays_in_range():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = sample_trajectory_params(rng, 0.5)
        for task in TASKS:
            q, _, _ = ReferenceTrajectory(task, p)(np.linspace(0, 20, 2001))
            assert 0.0 <= q.min() and q.max() <= ELBOW_MAX_RAD
    with pytest.raises(ValueError, match='3.0'):
        TrajectoryParams(amplitude_scale=3.0)


@pytest.mark.parametrize('text, task_id', [
    ('make an ok gesture', 'ok_gesture'), ('Make an OK gesture!', 'ok_gesture'),
    ('ok sign', 'ok_gesture'), ('Please give a thumbs up.', 'thumbs_up'),
    ('thumbs down', 'thumb_down'), ('  Drink   from a CUP ', 'drink'),
    ('wave goodbye', 'wave'), ('lift the heavy box', 'lift_heavy'),
    ('Could you lift a light box, please?', 'lift_light'), ('carry a box', 'carry_bimanual'),
    ('put a box on a shelf', 'shelf'), ('mission 9', 'carry_bimanual'),
    ('lift_heavy', 'lift_heavy')])
def test_find_task_matches(text, task_id):
    task = find_task(text)
    assert task is not None and task.task_id == task_id


@pytest.mark.parametrize('text', ['', '   ', 'dance', 'lift', 'mission 10', 'x' * 100000,
                                  'hébergement ✓', '\x00\x07\n', 'the', None, 42])
def test_find_task_none(text):
    assert find_task(text) is None


def test_normalize_text():
    assert normalize_text('Can you, NOW, give   a thumbs-up?') == 'give thumbs up'
    assert normalize_text(None) == ''
