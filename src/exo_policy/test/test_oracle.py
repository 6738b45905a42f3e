"""Oracle reference source, its stiffness table and the phase profile of one episode.

The golden check of the shipped table against a fresh fit from simulation (and its
regeneration, ``exo_fit_oracle``) is in ``exo_bringup/test/test_fitting.py``.
"""

import math

import numpy as np
import pytest

from exo_contract.tasks import ReferenceTrajectory, TASKS
from exo_language.resolver import TaskResolver
from exo_policy.oracle import (
    OracleReferenceSource,
    PROFILE_POINTS,
    SOURCE_ORACLE,
    stiffness_profile,
    StiffnessTable,
)
from exo_policy.params import PolicyNodeParams
from exo_policy.reference_source import MAX_LEAD_RAD, SOURCE_FALLBACK

SHIPPED = StiffnessTable.load()
# The clip range of the eq. 4 fit, recorded by exo_fit_oracle in the table.
K_MIN = float(SHIPPED.metadata['k_min'])
K_MAX = float(SHIPPED.metadata['k_max'])


@pytest.fixture(scope='module')
def resolver():
    return TaskResolver('lexical')


def test_shipped_table_covers_every_task_with_positive_stiffness():
    table = StiffnessTable.load()
    assert set(table.profiles) == {t.task_id for t in TASKS}
    assert table.phase.size == PROFILE_POINTS
    for k in table.profiles.values():
        assert np.all(k >= K_MIN) and np.all(k <= K_MAX)


def test_stiffness_profile_uses_the_active_phase_only():
    # rest (-1) samples carry an absurd stiffness that must not leak into the profile
    phase = np.r_[[-1.0] * 50, np.linspace(0.0, 1.0, 400), [-1.0] * 50]
    k = np.r_[[1e4] * 50, 20.0 + 30.0 * np.sin(np.pi * np.linspace(0.0, 1.0, 400)), [1e4] * 50]
    profile = stiffness_profile(phase, k, 5.0, 250.0, smooth_points=1)
    grid = np.linspace(0.0, 1.0, PROFILE_POINTS)
    np.testing.assert_allclose(profile, 20.0 + 30.0 * np.sin(np.pi * grid), atol=0.3)
    clipped = stiffness_profile(phase, k, 25.0, 40.0)
    assert clipped.min() == 25.0 and clipped.max() == 40.0
    with pytest.raises(ValueError, match='active'):
        stiffness_profile(np.full(10, -1.0), np.ones(10), 5.0, 250.0)


def test_known_text_follows_the_task_reference(resolver):
    source = OracleReferenceSource(resolver=resolver)
    task = source.set_task_text('Lift a HEAVY box!', t=10.0)
    assert task is not None and task.task_id == 'lift_heavy'
    ref = ReferenceTrajectory(task)
    for tau in (0.0, 1.0, 2.5, task.duration_s):
        q, qd, _ = ref(tau)
        target = source.reference(10.0 + tau, q)  # the arm on the reference: not bounded
        assert target.source == SOURCE_ORACLE and target.task_id == 'lift_heavy'
        assert target.confidence == 1.0
        assert math.isclose(target.reference_angle, q) and math.isclose(
            target.reference_velocity, qd)
        assert K_MIN <= target.stiffness <= K_MAX


def test_the_lead_over_the_measured_angle_is_bounded(resolver):
    # The arm far behind the task reference: the reference leads it by MAX_LEAD_RAD (the
    # controller's max_lead) and moves with it; within the bound it is the task's.
    source = OracleReferenceSource(resolver=resolver)
    task = source.set_task_text('lift a heavy box', t=0.0)
    q, _, _ = ReferenceTrajectory(task)(2.5)
    far = source.reference(2.5, q - 0.5, 0.4)
    assert far.reference_angle == pytest.approx(q - 0.5 + MAX_LEAD_RAD)
    assert far.reference_velocity == 0.4
    near = source.reference(2.5, q - 0.05, 0.4)
    assert near.reference_angle == pytest.approx(q)


@pytest.mark.parametrize('text', ['do a backflip', '', '   ', 'lift', '\x00\x01', 'x' * 10000])
def test_unknown_text_gives_a_compliant_hold(text, resolver):
    source = OracleReferenceSource(compliant_stiffness=2.0, resolver=resolver)
    source.set_task_text('wave hello', t=0.0)
    assert source.set_task_text(text, t=1.0) is None
    target = source.reference(1.5, 0.7, 0.0)
    assert target.source == SOURCE_FALLBACK and target.task_id == ''
    assert target.confidence == 0.0 and target.stiffness == 2.0
    assert target.reference_angle == 0.7 and target.reference_velocity == 0.0


def test_fallback_without_a_measurement_is_not_finite(resolver):
    # policy_node publishes nothing then (the controller's watchdog takes over).
    target = OracleReferenceSource(resolver=resolver).reference(0.0, math.nan)
    assert math.isnan(target.reference_angle)


@pytest.mark.parametrize('phase, profiles', [
    (np.array([0.0, 0.0, 1.0]), {'a': np.ones(3)}),
    (np.linspace(0, 1, 3), {'a': np.array([1.0, -1.0, 1.0])}),
    (np.linspace(0, 1, 3), {'a': np.array([1.0, np.nan, 1.0])}),
    (np.linspace(0, 1, 3), {'a': np.ones(4)}),
])
def test_invalid_tables_are_rejected(phase, profiles):
    with pytest.raises(ValueError):
        StiffnessTable(phase, profiles)


def test_table_round_trip_and_version_check(tmp_path):
    phase = np.linspace(0, 1, 5)
    profiles = {t.task_id: np.full(5, 10.0 + i) for i, t in enumerate(TASKS)}
    path = tmp_path / 'table.npz'
    StiffnessTable(phase, profiles).save(path, {'note': 'test'})
    loaded = StiffnessTable.load(path)
    assert loaded.metadata == {'note': 'test'}
    assert loaded.stiffness('wave', 0.5) == profiles['wave'][2]
    assert loaded.stiffness('wave', 7.0) == profiles['wave'][-1]  # phase clipped
    del profiles['wave']
    StiffnessTable(phase, profiles).save(path)
    with pytest.raises(ValueError, match='wave'):
        StiffnessTable.load(path)


@pytest.mark.parametrize('field, value, quoted', [
    ('mode', 'magic', "'magic'"),
    ('rate_hz', 0.0, '0.0'),
    ('rate_hz', math.nan, 'nan'),
    ('compliant_stiffness', -1.0, '-1.0'),
    ('joint_name', '', "''"),
])
def test_policy_params_reject_and_quote(field, value, quoted):
    with pytest.raises(ValueError, match=field) as err:
        PolicyNodeParams(**{field: value})
    assert quoted in str(err.value)


def test_oracle_rejects_invalid_compliant_stiffness(resolver):
    with pytest.raises(ValueError, match='compliant_stiffness'):
        OracleReferenceSource(compliant_stiffness=0.0, resolver=resolver)
