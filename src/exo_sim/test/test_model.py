"""Tests of the composed MuJoCo arm + exo model."""

import math

import mujoco
import numpy as np
import pytest

from exo_sim.model import build_model, can_collide, ExoArm, ExoArmConfig, MUSCLES


def test_composition_has_joints_actuators_tendon():
    m = build_model(ExoArmConfig())
    assert m.joint('exo_elbow_joint').id >= 0
    assert m.joint('r_elbow_flex').id >= 0
    assert m.tendon('cuff').id >= 0
    assert {m.actuator(i).name for i in range(m.nu)} == set(MUSCLES) | {'Exo'}
    exo = m.actuator('Exo')
    assert m.actuator_trnid[exo.id, 0] == m.joint('exo_elbow_joint').id
    assert m.actuator_gear[exo.id, 0] == 1.0
    np.testing.assert_allclose(m.actuator_ctrlrange[exo.id], [-30.0, 30.0])
    assert m.opt.timestep == pytest.approx(0.001)
    np.testing.assert_allclose(m.jnt_axis[m.joint('exo_elbow_joint').id],
                               m.jnt_axis[m.joint('r_elbow_flex').id])
    link = m.body('exo_link').id
    geoms = np.flatnonzero(m.geom_bodyid == link)
    assert np.all(m.geom_contype[geoms] == 0) and np.all(m.geom_conaffinity[geoms] == 0)


def test_no_exo_condition():
    m = build_model(ExoArmConfig(attach_exo=False))
    assert m.nv == 1 and m.nu == 6
    arm = ExoArm(ExoArmConfig(attach_exo=False))
    assert arm.interaction_torque() == 0.0
    assert arm.apply_exo_torque(5.0) == 0.0
    assert arm.exo_state() == arm.human_state()


def test_mass_scaling_monotone_in_body_mass():
    masses = []
    for bm in (50.0, 60.0, 70.0, 80.0, 100.0):
        m = build_model(ExoArmConfig(body_mass_kg=bm))
        masses.append(m.body_mass[m.body('r_ulna_radius_hand').id])
    assert np.all(np.diff(masses) > 0)
    assert masses[2] == pytest.approx(0.0223 * 70.0)


def test_payload_changes_hand_mass():
    m0 = build_model(ExoArmConfig(payload_kg=0.0))
    m5 = build_model(ExoArmConfig(payload_kg=5.0))
    b = m0.body('carry_weight').id
    assert m5.body_mass[b] == pytest.approx(5.0)
    assert m0.body_mass[b] < 0.01
    arm = ExoArm()
    arm.set_payload(3.0)
    assert arm.model.body_mass[arm.payload_body] == pytest.approx(3.0)
    with pytest.raises(ValueError, match='-1.0'):
        arm.set_payload(-1.0)


def test_cuff_torque_sign():
    arm = ExoArm()
    arm.data.qpos[arm.exo_qpos] = 0.5  # exo flexed relative to the elbow at 0.3
    mujoco.mj_forward(arm.model, arm.data)
    tau = arm.interaction_torque()
    assert tau < 0
    assert tau == pytest.approx(150.0 * (0.3 - 0.5))
    # The same force appears physically on the exo joint.
    assert arm.data.qfrc_passive[arm.exo_dof] == pytest.approx(tau)


def test_apply_exo_torque_clips_and_rejects_nonfinite():
    arm = ExoArm()
    assert arm.apply_exo_torque(100.0) == 30.0
    assert arm.apply_exo_torque(-100.0) == -30.0
    assert arm.apply_exo_torque(float('nan')) == 0.0
    assert arm.apply_exo_torque(2.5) == 2.5


def test_exo_dynamics_reproduces_bias():
    arm = ExoArm()
    dyn = arm.exo_dynamics()
    assert dyn.inertia > 0 and dyn.gravity_sin > 0
    d = mujoco.MjData(arm.model)
    for q in (-1.0, 0.2, 0.9, 2.0):
        d.qpos[:] = 0.0
        d.qpos[arm.exo_qpos] = q
        mujoco.mj_forward(arm.model, d)
        assert d.qfrc_bias[arm.exo_dof] == pytest.approx(float(dyn.gravity(q)), abs=1e-9)
    # Rod-like link, centre of mass at exo_link_com: I >= m r^2, g ~ m g r (axis ~horizontal).
    assert dyn.inertia >= 1.0 * 0.15**2
    assert math.hypot(dyn.gravity_sin, dyn.gravity_cos) == pytest.approx(9.81 * 0.15, rel=5e-3)


def test_reset_and_step():
    arm = ExoArm()
    arm.reset(0.7)
    assert arm.human_state() == pytest.approx((0.7, 0.0))
    assert arm.exo_state() == pytest.approx((0.7, 0.0))
    assert np.allclose(arm.muscle_activations(), 0.001)
    arm.step(10)
    assert arm.time == pytest.approx(0.01)


@pytest.mark.parametrize('field, value', [('body_mass_kg', -3.0), ('payload_kg', 25.0),
                                          ('cuff_stiffness', 0.0), ('timestep', float('nan')),
                                          ('cuff_damping', -1.0)])
def test_invalid_config_rejected(field, value):
    with pytest.raises(ValueError, match=field) as err:
        ExoArmConfig(**{field: value})
    assert repr(value) in str(err.value)


def test_collision_detection_is_off_only_where_nothing_can_collide():
    """Contacts are off where no geom pair can collide, and that changes no number.

    Switching them on again in the composed model gives the same steps; a model with a
    colliding pair keeps them.
    """
    arm = ExoArm(ExoArmConfig())
    m = arm.model
    assert not can_collide(m)
    assert m.opt.disableflags & int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
    with_contacts = ExoArm(ExoArmConfig())
    with_contacts.model.opt.disableflags &= ~int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
    for a in (arm, with_contacts):
        a.reset(0.4)
        a.data.ctrl[a.muscle_ids] = 0.3
        a.apply_exo_torque(2.0)
        a.step(300)
    assert np.array_equal(arm.data.qpos, with_contacts.data.qpos)
    assert np.array_equal(arm.data.qvel, with_contacts.data.qvel)
    spec = mujoco.MjSpec()
    for z in (0.0, 0.05):
        body = spec.worldbody.add_body(pos=[0, 0, z])
        body.add_freejoint()
        body.add_geom(size=[0.1, 0, 0])
    assert can_collide(spec.compile())


@pytest.mark.parametrize('attach_exo', [True, False])
def test_dropping_the_visual_meshes_changes_no_number(attach_exo):
    """The model without its meshes steps exactly like the model with them.

    Every compiled mass and inertia is the same; 1500 steps under varying excitations and
    exo torques, with a payload change (mj_setConst) half way and the elbow in its joint
    limits at times, give the same states, muscle forces and interaction torque, bit for
    bit. Without meshes the model is a hundredth of the size.
    """
    config = ExoArmConfig(body_mass_kg=82.0, payload_kg=2.5, attach_exo=attach_exo)
    lean = build_model(config)
    full = build_model(config, visual_meshes=True)
    assert full.nmesh > 0 and lean.nmesh == 0
    assert lean.nbuffer * 50 < full.nbuffer
    for name in ('body_mass', 'body_inertia', 'body_ipos', 'body_iquat', 'body_subtreemass',
                 'dof_M0', 'dof_invweight0', 'actuator_lengthrange', 'actuator_acc0',
                 'tendon_length0', 'tendon_invweight0'):
        assert np.array_equal(getattr(lean, name), getattr(full, name)), name
    rng = np.random.default_rng(5)
    datas = [mujoco.MjData(lean), mujoco.MjData(full)]
    payload = lean.body('carry_weight').id
    limited = 0
    for k in range(1500):
        excitation = rng.uniform(0.0, 1.0, 6)
        torque = rng.uniform(-10.0, 10.0)
        if k == 750:
            for model, data in zip((lean, full), datas, strict=True):
                model.body_mass[payload] = 6.0
                mujoco.mj_setConst(model, mujoco.MjData(model))
                mujoco.mj_forward(model, data)
        for model, data in zip((lean, full), datas, strict=True):
            ids = [model.actuator(n).id for n in MUSCLES]
            data.ctrl[ids] = excitation
            if attach_exo:
                data.ctrl[model.actuator('Exo').id] = torque
            mujoco.mj_step(model, data)
        limited += datas[0].nefc > 0
    assert limited > 50  # the joint-limit constraints took part
    lean_data, full_data = datas
    for name in ('qpos', 'qvel', 'act', 'actuator_force', 'ten_length', 'qfrc_passive'):
        assert np.array_equal(getattr(lean_data, name), getattr(full_data, name)), name
