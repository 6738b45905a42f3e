"""Oracle reference source, its stiffness table, and the shipped table's regeneration."""

import math

import numpy as np
import pytest

from exo_policy.fit_oracle import fit_task_profile, K_MAX, K_MIN
from exo_policy.oracle import (
    OracleReferenceSource,
    SOURCE_FALLBACK,
    SOURCE_ORACLE,
    StiffnessTable,
)
from exo_policy.params import PolicyNodeParams
from exo_sim.tasks import ReferenceTrajectory, TASKS, TASKS_BY_ID


def test_shipped_table_covers_every_task_with_positive_stiffness():
    table = StiffnessTable.load()
    assert set(table.profiles) == {t.task_id for t in TASKS}
    for k in table.profiles.values():
        assert np.all(k >= K_MIN) and np.all(k <= K_MAX)


def test_shipped_table_matches_a_fresh_fit():
    """Golden check: regenerate with `exo_fit_oracle` when this fails after a model change."""
    table = StiffnessTable.load()
    fresh = fit_task_profile(TASKS_BY_ID['wave'], phase=table.phase)
    np.testing.assert_allclose(fresh, table.profiles['wave'], rtol=1e-6, atol=1e-6)


def test_known_text_follows_the_task_reference():
    source = OracleReferenceSource()
    task = source.set_task_text('Lift a HEAVY box!', t=10.0)
    assert task is not None and task.task_id == 'lift_heavy'
    ref = ReferenceTrajectory(task)
    for tau in (0.0, 1.0, 2.5, task.duration_s):
        target = source.reference(10.0 + tau, 0.3)
        q, qd, _ = ref(tau)
        assert target.source == SOURCE_ORACLE and target.task_id == 'lift_heavy'
        assert target.confidence == 1.0
        assert math.isclose(target.reference_angle, q) and math.isclose(
            target.reference_velocity, qd)
        assert K_MIN <= target.stiffness <= K_MAX


@pytest.mark.parametrize('text', ['do a backflip', '', '   ', 'lift', '\x00\x01', 'x' * 10000])
def test_unknown_text_gives_a_compliant_hold(text):
    source = OracleReferenceSource(compliant_stiffness=2.0)
    source.set_task_text('wave hello', t=0.0)
    assert source.set_task_text(text, t=1.0) is None
    target = source.reference(1.5, 0.7, 0.0)
    assert target.source == SOURCE_FALLBACK and target.task_id == ''
    assert target.confidence == 0.0 and target.stiffness == 2.0
    assert target.reference_angle == 0.7 and target.reference_velocity == 0.0


def test_fallback_without_a_measurement_is_not_finite():
    # policy_node publishes nothing then (the controller's watchdog takes over).
    target = OracleReferenceSource().reference(0.0, math.nan)
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


def test_oracle_rejects_invalid_compliant_stiffness():
    with pytest.raises(ValueError, match='compliant_stiffness'):
        OracleReferenceSource(compliant_stiffness=0.0)
