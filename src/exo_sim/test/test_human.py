"""Tests of the simulated human (inverse dynamics + static optimisation)."""

import mujoco
import numpy as np
import pytest
from scipy.optimize import minimize

from exo_contract.tasks import ReferenceTrajectory, TASKS, TASKS_BY_ID
from exo_sim.human import HumanControllerConfig, HumanMuscleController, solve_static_optimization
from exo_sim.model import ExoArm, ExoArmConfig

RMSE_LIMIT = 0.05


def track(task, body_mass=70.0, attach_exo=True):
    """Track the task unpowered; return (rmse, activations (T, 6))."""
    arm = ExoArm(ExoArmConfig(body_mass_kg=body_mass, payload_kg=task.payload_per_arm_kg,
                              attach_exo=attach_exo))
    ref = ReferenceTrajectory(task)
    arm.reset(ref.baseline)
    human = HumanMuscleController(arm)
    n = int(round(ref.duration / arm.model.opt.timestep))
    err = np.empty(n)
    acts = np.empty((n, 6))
    for k in range(n):
        human.compute(*ref(arm.time))
        arm.apply_exo_torque(0.0)
        arm.step()
        err[k] = arm.human_state()[0] - ref(arm.time)[0]
        acts[k] = arm.muscle_activations()
    return float(np.sqrt(np.mean(err**2))), acts


@pytest.mark.parametrize('task', TASKS, ids=lambda t: t.task_id)
def test_tracks_every_task_unpowered_70kg(task):
    rmse, acts = track(task)
    assert rmse <= RMSE_LIMIT
    assert np.all(acts >= 0.0) and np.all(acts <= 1.0)


@pytest.mark.parametrize('body_mass', [60.0, 80.0])
@pytest.mark.parametrize('task_id', ['wave', 'lift_heavy'])
def test_tracks_other_body_masses(body_mass, task_id):
    rmse, _ = track(TASKS_BY_ID[task_id], body_mass=body_mass)
    assert rmse <= RMSE_LIMIT


@pytest.mark.parametrize('task_id', ['thumb_down', 'lift_heavy'])
def test_tracks_without_exo(task_id):
    rmse, _ = track(TASKS_BY_ID[task_id], attach_exo=False)
    assert rmse <= RMSE_LIMIT


def test_static_optimization_kkt_matches_scipy():
    rng = np.random.default_rng(1)
    for _ in range(20):
        c = rng.normal(0.0, 15.0, 6)
        tau = rng.uniform(-20, 20)
        a, feasible = solve_static_optimization(c, tau, 0.001, 1.0)
        assert np.all(a >= 0.001 - 1e-12) and np.all(a <= 1.0 + 1e-12)
        if not feasible:
            continue
        assert c @ a == pytest.approx(tau, abs=1e-9)
        ref = minimize(lambda x: x @ x, np.full(6, 0.5), jac=lambda x: 2 * x,
                       bounds=[(0.001, 1.0)] * 6, method='SLSQP',
                       constraints={'type': 'eq', 'fun': lambda x, c=c, tau=tau: c @ x - tau},
                       options={'ftol': 1e-12, 'maxiter': 200})
        assert a @ a <= ref.fun + 1e-7
        # KKT: interior activations are proportional to c with one multiplier.
        inner = (a > 0.0011) & (a < 0.999)
        if inner.sum() >= 2:
            lam = a[inner] / c[inner]
            np.testing.assert_allclose(lam, lam[0], rtol=1e-9)


def test_static_optimization_infeasible_saturates():
    c = np.array([10.0, 5.0, -4.0])
    a, feasible = solve_static_optimization(c, 100.0, 0.0, 1.0)
    assert not feasible
    np.testing.assert_allclose(a, [1.0, 1.0, 0.0])


def test_required_torque_equals_mj_inverse():
    arm = ExoArm(ExoArmConfig(payload_kg=2.0))
    arm.data.qpos[arm.human_qpos] = 1.0
    arm.data.qpos[arm.exo_qpos] = 1.1
    arm.data.qvel[:] = [0.3, -0.2]
    mujoco.mj_forward(arm.model, arm.data)
    human = HumanMuscleController(arm)
    tau = human.required_torque(2.0)
    d = mujoco.MjData(arm.model)
    d.qpos[:] = arm.data.qpos
    d.qvel[:] = arm.data.qvel
    d.qacc[:] = arm.data.qacc
    d.qacc[arm.human_dof] = 2.0
    mujoco.mj_inverse(arm.model, d)
    assert tau == pytest.approx(d.qfrc_inverse[arm.human_dof], abs=1e-9)


def test_cuff_help_reduces_required_torque():
    arm = ExoArm(ExoArmConfig(payload_kg=2.0))
    arm.reset(1.0)
    human = HumanMuscleController(arm)
    tau0 = human.required_torque(0.0)
    arm.data.qpos[arm.exo_qpos] = 1.1  # exo leads in flexion: the cuff pulls the forearm up
    mujoco.mj_forward(arm.model, arm.data)
    assert human.required_torque(0.0) < tau0


def test_excitation_reaches_target_activation():
    arm = ExoArm(ExoArmConfig(payload_kg=2.0))
    arm.reset(0.8)
    human = HumanMuscleController(arm)
    for _ in range(200):
        cmd = human.compute(0.8)
        arm.step()
    if cmd.achieved:
        np.testing.assert_allclose(arm.muscle_activations(), cmd.activations, atol=1e-9)
    assert np.any(cmd.activations > 0.01)
    assert human.rest().activations.shape == (6,)


def test_invalid_gains_rejected():
    with pytest.raises(ValueError, match='-1.0'):
        HumanControllerConfig(kp=-1.0)
