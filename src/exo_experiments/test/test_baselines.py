"""The physics baselines (exo_policy.baselines) against the simulator they assist."""

import math

import numpy as np
import pytest

from exo_contract.tasks import TASKS_BY_ID
from exo_language.resolver import TaskResolver
from exo_policy.baselines import (
    arm_gravity_torque,
    ConstantAssistReferenceSource,
    ConstantStiffnessSource,
    GravityShareReferenceSource,
)
from exo_sim.human import identify_internal_model
from exo_sim.model import ExoArm, ExoArmConfig


@pytest.fixture(scope='module')
def resolver():
    """The lexical resolver (no sentence encoder: fast, deterministic)."""
    return TaskResolver('lexical')


@pytest.mark.parametrize('mass,payload', [(55.0, 0.0), (70.0, 2.0), (90.0, 10.0)])
def test_gravity_model_matches_the_simulated_arm(mass, payload):
    """The baseline's gravity torque is the MyoSim elbow's (forearm + hand + payload)."""
    arm = ExoArm(ExoArmConfig(body_mass_kg=mass, payload_kg=payload, attach_exo=False))
    coef = identify_internal_model(arm)
    for q in (0.2, 0.9, 1.6):
        expected = coef[0] * math.sin(q) + coef[1] * math.cos(q)
        assert arm_gravity_torque(q, mass, payload) == pytest.approx(expected, rel=0.01,
                                                                     abs=0.02)


def test_gravity_share_asks_for_its_share_within_the_bound(resolver):
    """Share * G(q) as K (q_d - q), capped at max_assist_torque; nothing before any text."""
    src = GravityShareReferenceSource(0.3, 70.0, stiffness=40.0, resolver=resolver)
    assert src.reference(0.0, 0.5).source == 'fallback'
    assert src.set_task_text('lift a light box', 0.0).task_id == 'lift_light'
    q = 1.0
    target = src.reference(0.01, q)
    assert target.stiffness == 40.0
    assert 40.0 * (target.reference_angle - q) == pytest.approx(
        0.3 * arm_gravity_torque(q, 70.0, 2.0), rel=1e-6)
    src.set_task_text('lift a heavy box', 1.0)
    target = src.reference(1.01, q)
    assert 40.0 * (target.reference_angle - q) == pytest.approx(5.0, rel=1e-6)
    assert src.set_task_text('recite a poem backwards', 2.0) is None
    assert src.reference(2.01, q).source == 'fallback'


def test_constant_assist_only_on_loaded_tasks(resolver):
    """max_assist_torque on lift tasks, zero assistance on unloaded ones."""
    src = ConstantAssistReferenceSource(resolver=resolver)
    src.set_task_text('lift a heavy box', 0.0)
    t = src.reference(0.01, 0.7)
    assert t.stiffness * (t.reference_angle - 0.7) == pytest.approx(5.0)
    src.set_task_text('wave hello', 1.0)
    t = src.reference(1.01, 0.7)
    assert t.reference_angle == pytest.approx(0.7)
    with pytest.raises(ValueError, match='torque_nm'):
        ConstantAssistReferenceSource(torque_nm=6.0, resolver=resolver)


def test_constant_stiffness_keeps_the_assistance_torque(resolver):
    """The ablation changes the stiffness, never the torque at the measured angle."""
    inner = GravityShareReferenceSource(0.5, 80.0, stiffness=150.0, resolver=resolver)
    wrapped = ConstantStiffnessSource(
        GravityShareReferenceSource(0.5, 80.0, stiffness=150.0, resolver=resolver), 40.0)
    task = TASKS_BY_ID['shelf']
    inner.set_task_text(task.text, 0.0)
    wrapped.set_task_text(task.text, 0.0)
    for i, q in enumerate(np.linspace(0.3, 1.5, 7)):
        a = inner.reference(0.5 + 0.01 * i, float(q))
        b = wrapped.reference(0.5 + 0.01 * i, float(q))
        assert b.stiffness == 40.0
        assert 40.0 * (b.reference_angle - q) == pytest.approx(
            a.stiffness * (a.reference_angle - q), abs=1e-9)
    assert wrapped.reference(1.0, math.nan).source == 'fallback'
