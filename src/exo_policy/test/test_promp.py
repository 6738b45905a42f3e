"""ProMP baseline: fit on a tiny synthetic dataset, persistence, and the reference source."""

import math

import numpy as np
import pytest

from exo_contract.tasks import TASKS_BY_ID
from exo_language.resolver import Resolution, TaskResolver
from exo_policy.promp import (
    demonstrations_from_table,
    fit_summary,
    K_FLOOR,
    ProMPModel,
    ProMPReferenceSource,
    SOURCE_PROMP,
    subsample_demonstrations,
)
from exo_policy.reference_source import MAX_LEAD_RAD, SOURCE_FALLBACK

PHASE = np.linspace(0.0, 1.0, 100)


class FixedResolver:
    """Resolves any text to one task with a given confidence."""

    def __init__(self, task_id: str, confidence: float) -> None:
        self.resolution = Resolution(TASKS_BY_ID[task_id], confidence, 'fixed')

    def resolve(self, text):
        return self.resolution


@pytest.fixture(scope='module')
def resolver():
    return TaskResolver('lexical')


def _synthetic_table(n_episodes: int = 3, task_id: str = 'ok_gesture') -> dict:
    """Dataset-like columns: bell angle + stiffness peaking at the rise, rest rows at -1."""
    rng = np.random.default_rng(1)
    rows = {k: [] for k in ('episode', 'task_id', 'condition', 'phase', 'q_ref', 'k_int')}
    for ep in range(n_episodes):
        n = 380 + 10 * ep  # different lengths: resampling in phase must align them
        phase = np.linspace(0.0, 1.0, n)
        amp = 1.0 + 0.05 * rng.standard_normal()
        q = 0.3 + amp * np.sin(np.pi * phase) ** 2
        k = 60.0 + 40.0 * np.exp(-((phase - 0.3) / 0.1) ** 2)
        for cond in ('exo', 'no_exo'):
            full_phase = np.r_[[-1.0] * 20, phase, [-1.0] * 20]
            rows['episode'].append(np.full(n + 40, 2 * ep + (cond == 'no_exo')))
            rows['task_id'].append(np.full(n + 40, task_id))
            rows['condition'].append(np.full(n + 40, cond))
            rows['phase'].append(full_phase)
            rows['q_ref'].append(np.r_[[0.3] * 20, q, [0.3] * 20])
            kk = np.r_[[60.0] * 20, k, [60.0] * 20]
            rows['k_int'].append(kk if cond == 'exo' else np.full(n + 40, np.nan))
    return {k: np.concatenate(v) for k, v in rows.items()}


@pytest.fixture(scope='module')
def fitted():
    table = _synthetic_table()
    demos = demonstrations_from_table(table)
    return ProMPModel.fit(demos, n_weights_per_dim=15, n_iter=50), demos


def test_demonstrations_use_exo_episodes_on_the_phase_grid(fitted):
    _, demos = fitted
    assert set(demos) == {'ok_gesture'}
    assert demos['ok_gesture'].shape == (3, 100, 2)  # the no_exo episodes (NaN K) are dropped


def test_fit_reproduces_the_training_mean_with_positive_stiffness(fitted):
    model, demos = fitted
    y = model.mean('ok_gesture', PHASE)
    target = demos['ok_gesture'].mean(axis=0)
    assert np.sqrt(np.mean((y[:, 0] - target[:, 0]) ** 2)) < 0.02  # rad
    assert np.sqrt(np.mean((y[:, 1] - target[:, 1]) ** 2)) < 3.0  # N*m/rad
    assert y[:, 0].max() == pytest.approx(target[:, 0].max(), abs=0.03)
    ks = [model.sample('ok_gesture', p)[2] for p in PHASE]
    assert min(ks) >= K_FLOOR


def test_save_load_round_trip(fitted, tmp_path):
    model, _ = fitted
    path = tmp_path / 'promp.npz'
    model.save(path)
    loaded = ProMPModel.load(path, require_all_tasks=False)
    assert loaded.task_ids == model.task_ids
    np.testing.assert_array_equal(loaded.weight_mean['ok_gesture'],
                                  model.weight_mean['ok_gesture'])
    np.testing.assert_allclose(loaded.mean('ok_gesture', PHASE), model.mean('ok_gesture', PHASE))
    with pytest.raises(ValueError, match='no ProMP for tasks'):
        ProMPModel.load(path)


def test_the_phase_starts_the_demonstrations_mean_onset_after_the_instruction(fitted,
                                                                             tmp_path, resolver):
    model, demos = fitted
    delayed = ProMPModel.fit(demos, n_weights_per_dim=15, n_iter=50,
                             onset_s={'ok_gesture': 0.6})
    path = tmp_path / 'delayed.npz'
    delayed.save(path)
    delayed = ProMPModel.load(path, require_all_tasks=False)
    assert delayed.onset_s == {'ok_gesture': 0.6}
    plain = ProMPReferenceSource(model, resolver)
    late = ProMPReferenceSource(delayed, resolver)
    for source in (plain, late):
        source.set_task_text('make an OK gesture', t=1.0)
    dur = TASKS_BY_ID['ok_gesture'].duration_s
    for t in (1.0 + 0.3 * dur, 1.0 + 0.5 * dur):
        assert late.reference(t + 0.6, 0.3).reference_angle == pytest.approx(
            plain.reference(t, 0.3).reference_angle, abs=1e-9)
    # before its onset the delayed primitive holds its start
    assert late.reference(1.3, 0.3).reference_angle == pytest.approx(
        plain.reference(1.0, 0.3).reference_angle, abs=1e-9)
    with pytest.raises(ValueError, match='onset_s'):
        ProMPModel.fit(demos, n_weights_per_dim=15, n_iter=5, onset_s={'ok_gesture': -1.0})


def test_subsample_and_summary(fitted):
    model, demos = fitted
    assert subsample_demonstrations(demos, 0)['ok_gesture'].shape[0] == 3
    two = subsample_demonstrations(demos, 2, seed=1)['ok_gesture']
    assert two.shape == (2, 100, 2)
    assert any(np.array_equal(two[0], d) for d in demos['ok_gesture'])
    (line,) = fit_summary(model, demos)
    assert line.startswith('ok_gesture') and 'demos    3' in line


def test_source_bounds_the_assistance_torque(fitted, resolver):
    """|K (q_d - q)| never exceeds max_assist_torque, wherever the arm is."""
    model, _ = fitted
    source = ProMPReferenceSource(model, resolver, max_assist_torque=3.0)
    task = source.set_task_text('make an OK gesture', t=0.0)
    for t in np.linspace(0.0, task.duration_s + 1.0, 25):
        for q in (0.0, 0.5, 1.2, 2.2):
            target = source.reference(float(t), q)
            assert abs(target.stiffness * (target.reference_angle - q)) <= 3.0 + 1e-9
    with pytest.raises(ValueError, match='max_assist_torque'):
        ProMPReferenceSource(model, resolver, max_assist_torque=0.0)


def test_source_follows_the_mean_and_holds_the_end(fitted, resolver):
    model, _ = fitted
    # A bound far above this primitive's torques: the mean itself comes out.
    source = ProMPReferenceSource(model, resolver, max_assist_torque=100.0)
    task = source.set_task_text('make an OK gesture', t=2.0)
    assert task is TASKS_BY_ID['ok_gesture']
    dur = task.duration_s
    y = model.mean('ok_gesture', np.array([0.5]))[0]

    def arm(phase):  # the arm on the mean: the lead bound (its own test) leaves it as is
        return float(model.mean('ok_gesture', np.array([phase]))[0][0])

    target = source.reference(2.0 + 0.5 * dur, arm(0.5))
    assert target.source == SOURCE_PROMP and target.task_id == 'ok_gesture'
    assert target.reference_angle == pytest.approx(y[0], abs=1e-3)
    assert target.stiffness == pytest.approx(y[1], rel=1e-2)
    # velocity = time derivative of the mean
    eps = 1e-3
    q1 = source.reference(2.0 + 0.25 * dur - eps, arm(0.25)).reference_angle
    q2 = source.reference(2.0 + 0.25 * dur + eps, arm(0.25)).reference_angle
    vel = source.reference(2.0 + 0.25 * dur, arm(0.25)).reference_velocity
    assert abs(vel) > 0.1 and vel == pytest.approx((q2 - q1) / (2 * eps), rel=0.05)
    end = source.reference(2.0 + dur, arm(1.0))
    late = source.reference(2.0 + 3 * dur, arm(1.0) + 0.1)
    assert late.reference_angle == end.reference_angle and late.reference_velocity == 0.0


def test_the_lead_over_the_measured_angle_is_bounded(fitted, resolver):
    # The arm far from the mean: the reference leads it by MAX_LEAD_RAD (the controller's
    # max_lead) and moves with it (the measured velocity), whatever the torque bound.
    model, _ = fitted
    source = ProMPReferenceSource(model, resolver, max_assist_torque=100.0)
    task = source.set_task_text('make an OK gesture', t=2.0)
    y = model.mean('ok_gesture', np.array([0.5]))[0]
    q = float(y[0]) - 0.5
    target = source.reference(2.0 + 0.5 * task.duration_s, q, 0.3)
    assert target.reference_angle == pytest.approx(q + MAX_LEAD_RAD)
    assert target.reference_velocity == 0.3


@pytest.mark.parametrize('text', ['do a backflip', '', 'x' * 10000])
def test_unknown_text_falls_back(fitted, text, resolver):
    source = ProMPReferenceSource(fitted[0], resolver, compliant_stiffness=2.0)
    source.set_task_text('make an ok gesture', 0.0)
    assert source.set_task_text(text, 1.0) is None
    target = source.reference(1.5, 0.7)
    assert target.source == SOURCE_FALLBACK and target.task_id == ''
    assert target.stiffness == 2.0 and target.reference_angle == 0.7
    assert target.confidence == 0.0 and target.reference_velocity == 0.0
    assert math.isnan(source.reference(1.6, float('nan')).reference_angle)


def test_task_without_a_model_and_custom_resolver_fall_back(fitted):
    source = ProMPReferenceSource(fitted[0], resolver=FixedResolver('wave', 0.7))
    assert source.set_task_text('anything', 0.0) is None  # no ProMP for 'wave' here
    source = ProMPReferenceSource(fitted[0], resolver=FixedResolver('ok_gesture', 0.7))
    assert source.set_task_text('anything', 0.0) is TASKS_BY_ID['ok_gesture']
    assert source.reference(1.0, 0.3).confidence == 0.7


def test_shipped_model_covers_every_task(resolver):
    model = ProMPModel.load()
    assert set(model.task_ids) == set(TASKS_BY_ID)
    source = ProMPReferenceSource(resolver=resolver)
    assert source.set_task_text('lift a heavy box', 0.0) is TASKS_BY_ID['lift_heavy']
    for t in np.linspace(0.0, 7.0, 15):
        target = source.reference(float(t), 0.3)
        assert math.isfinite(target.reference_angle) and target.stiffness >= K_FLOOR
