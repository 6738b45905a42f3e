"""Tests of the simulated human: eq. 2 driver with delay, noise, co-contraction, adaptation."""

from dataclasses import replace

import mujoco
import numpy as np
import pytest
from scipy.optimize import minimize

from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_sim.human import (
    cocontraction_index,
    DEFAULT_HUMAN,
    HumanConfig,
    identify_internal_model,
    load_memory,
    MemoryCache,
    PRIOR_THETA,
    save_memory,
    SimulatedHuman,
    solve_static_optimization,
)
from exo_sim.model import ExoArm, ExoArmConfig, strength_scale
from exo_sim.rollout import ProportionalAssist, run_rollout
from exo_sim.step_loop import StepLoop

QUIET = HumanConfig(noise_cv=0.0)
# Human-like tracking: not a servo (0.0003 rad before), not lost either.
RMSE_MIN = 0.003
RMSE_MAX = 0.06


@pytest.mark.parametrize('task', TASKS, ids=lambda t: t.task_id)
def test_tracks_every_task_like_a_person_unpowered_exo(task):
    """A naive human wearing the unpowered exo: errors of a person, muscles in range."""
    r = run_rollout(task, controller=ProportionalAssist(0.0), rest_before=0.2, rest_after=0.2,
                    seed=3)
    assert RMSE_MIN < r.rmse_human() < RMSE_MAX
    assert np.all(r.activations >= 0.0) and np.all(r.activations <= 1.0)
    assert np.all((r.cocontraction >= 0.0) & (r.cocontraction <= 1.0))


@pytest.mark.parametrize('body_mass', [60.0, 90.0])
@pytest.mark.parametrize('task_id', ['wave', 'lift_heavy'])
def test_tracks_without_exo_at_other_body_masses(body_mass, task_id):
    r = run_rollout(TASKS_BY_ID[task_id], config=ExoArmConfig(body_mass_kg=body_mass,
                                                              attach_exo=False),
                    rest_before=0.2, rest_after=0.2, seed=4)
    assert RMSE_MIN < r.rmse_human() < RMSE_MAX


def _excitations_after_push(push: float, steps: int, human: HumanConfig) -> np.ndarray:
    """Hold 1.0 rad at rest, push the exo with ``push`` N*m from step 200; ctrl per step."""
    loop = StepLoop(ExoArmConfig(payload_kg=1.0), rest_angle=1.0, human=human)
    out = np.empty((steps, 6))
    for k in range(steps):
        ref = loop.reference()
        loop.step(push if k >= 200 else 0.0, ref)
        out[k] = loop.arm.data.ctrl[loop.arm.muscle_ids]
    return out


def test_response_to_a_perturbation_lags_by_the_delay():
    """The muscles answer an exo push only after the sensory + electromechanical delay.

    Noise off: the command depends on the sensed (delayed) state and the reference only. A
    push on the exo from step 200 reaches the forearm through the cuff one step later: the
    arm's state first differs before step 202, and the excitation reaching the muscles
    changes exactly at step 202 + (30 + 25) (1 kHz), not before.
    """
    base = _excitations_after_push(0.0, 400, QUIET)
    pushed = _excitations_after_push(8.0, 400, QUIET)
    lag = int(round((QUIET.feedback_delay_s + QUIET.electromechanical_delay_s) / 0.001))
    assert lag == 55
    first = int(np.argmax(np.any(np.abs(pushed - base) > 1e-12, axis=1)))
    assert first == 202 + lag
    assert np.max(np.abs(pushed[first:] - base[first:])) > 1e-3  # a real response
    # without delays it answers at once
    fast = replace(QUIET, feedback_delay_s=0.0, electromechanical_delay_s=0.0)
    first_fast = int(np.argmax(np.any(np.abs(_excitations_after_push(8.0, 260, fast)
                                             - _excitations_after_push(0.0, 260, fast))
                                      > 1e-12, axis=1)))
    assert first_fast == 202


def test_response_to_a_reference_step_lags_by_the_delay():
    """A reference step reaches the feedback exactly after the 30 ms sensory delay.

    The arm, moved first by the feedforward, starts only after the 25 ms electromechanical
    delay.
    """
    runs = {}
    for target in (0.5, 0.8):  # the same human, with and without the step at step 300
        arm = ExoArm(ExoArmConfig(attach_exo=False))
        arm.reset(0.5)
        human = SimulatedHuman(arm, QUIET)
        feedback, angle = [], []
        for k in range(500):
            feedback.append(human.compute(0.5 if k < 300 else target).tau_feedback)
            arm.step()
            angle.append(arm.human_state()[0])
        runs[target] = (np.array(feedback[300:]), np.array(angle[300:]))
    changed = np.abs(runs[0.8][0] - runs[0.5][0]) > 1e-12
    assert int(np.argmax(changed)) == human.delay_steps == 30
    moved = np.abs(runs[0.8][1] - runs[0.5][1]) > 1e-6
    assert moved.any() and int(np.argmax(moved)) >= human.efferent_steps == 25


def _trajectory(seed: int, human: HumanConfig = DEFAULT_HUMAN) -> np.ndarray:
    r = run_rollout(TASKS_BY_ID['drink'], controller=ProportionalAssist(0.5), duration=1.5,
                    rest_before=0.1, rest_after=0.0, seed=seed, human=human)
    return np.column_stack([r.q_human, r.q_exo, r.activations])


def test_noise_is_seeded_and_reproducible():
    a = _trajectory(11)
    np.testing.assert_array_equal(a, _trajectory(11))
    b = _trajectory(12)
    assert np.max(np.abs(a - b)) > 1e-3
    # without noise the seed does not matter
    np.testing.assert_array_equal(_trajectory(11, QUIET), _trajectory(12, QUIET))


def test_strength_scales_with_body_mass():
    """Maximal isometric forces scale as (m / 70 kg)^(2/3) (geometric similarity)."""
    forces = {}
    for mass in (60.0, 70.0, 90.0):
        arm = ExoArm(ExoArmConfig(body_mass_kg=mass))
        forces[mass] = arm.model.actuator_gainprm[arm.muscle_ids, 2].copy()
        np.testing.assert_allclose(arm.model.actuator_biasprm[arm.muscle_ids, 2],
                                   forces[mass])
    np.testing.assert_allclose(forces[90.0] / forces[60.0], (90.0 / 60.0) ** (2.0 / 3.0))
    np.testing.assert_allclose(forces[70.0] / forces[60.0], 1.0 / strength_scale(60.0))
    assert strength_scale(70.0) == pytest.approx(1.0)
    # the human's torque capacity follows
    cap = {}
    for mass in (60.0, 90.0):
        arm = ExoArm(ExoArmConfig(body_mass_kg=mass))
        arm.reset(1.0)
        c, _ = SimulatedHuman(arm, QUIET).muscle_coefficients()
        cap[mass] = c[c > 0].sum()
    assert cap[90.0] / cap[60.0] == pytest.approx((1.5) ** (2.0 / 3.0), rel=1e-6)


def _hold(payload: float) -> tuple[np.ndarray, float]:
    loop = StepLoop(ExoArmConfig(payload_kg=payload, attach_exo=False), rest_angle=1.2,
                    human=QUIET)
    for _ in range(500):
        loop.step(0.0, loop.reference())
    return loop.activations(), loop.co_contraction_index()


def test_co_contraction_rises_with_load():
    """Antagonists (triceps) are held above their minimum, more so with a heavier load."""
    light, cci_light = _hold(0.0)
    heavy, cci_heavy = _hold(5.0)
    triceps = slice(0, 3)
    assert np.all(light[triceps] > 0.005)  # above the 0.001 minimum
    assert np.all(heavy[triceps] > 2.0 * light[triceps])
    assert 0.0 < cci_light < 1.0 and 0.0 < cci_heavy < 1.0


def test_cocontraction_index():
    c = np.array([-10.0, 20.0])
    assert cocontraction_index(c, [0.0, 0.5]) == 0.0
    assert cocontraction_index(c, [1.0, 0.5]) == pytest.approx(1.0)
    assert cocontraction_index(c, [0.5, 0.5]) == pytest.approx(2 * 5 / 15)


def test_internal_model_is_the_own_arm_and_knows_no_exo():
    """The prior model is the arm + payload alone, the same with or without the exo."""
    with_exo = ExoArm(ExoArmConfig(payload_kg=2.0))
    without = ExoArm(ExoArmConfig(payload_kg=2.0, attach_exo=False))
    np.testing.assert_allclose(identify_internal_model(with_exo),
                               identify_internal_model(without), rtol=1e-9, atol=1e-12)
    human = SimulatedHuman(with_exo, QUIET)
    np.testing.assert_array_equal(human.theta, PRIOR_THETA)
    # the model is MuJoCo's inverse dynamics of the elbow alone
    m, d = without.model, mujoco.MjData(without.model)
    d.qpos[:] = 1.1
    d.qvel[:] = 0.7
    mujoco.mj_forward(m, d)
    d.qacc[:] = -2.0
    mujoco.mj_inverse(m, d)
    assert human.feedforward(1.1, 0.7, -2.0) == pytest.approx(d.qfrc_inverse[0], abs=1e-6)


def test_adaptation_across_repetitions_learns_the_assistance():
    """Repeating a lift with alpha = 1, the human lowers its gain and tracks better."""
    task = TASKS_BY_ID['lift_light']
    loop = StepLoop(ExoArmConfig(payload_kg=task.payload_per_arm_kg), 0.3, seed=2)
    errors = []
    for _ in range(4):
        loop.start_task(task)
        err = []
        while True:
            ref = loop.reference()
            if ref.phase < 0:
                break
            err.append(loop.arm.human_state()[0] - ref.q)
            loop.step(loop.arm.biological_torque(), ref)
        errors.append(float(np.sqrt(np.mean(np.square(err)))))
        for _ in range(200):
            loop.step(loop.arm.biological_torque(), loop.reference())
    gain = loop.human.theta[0]
    assert gain < 0.85  # learnt that the exo carries part of the weight (ideal: ~0.55)
    assert errors[-1] < 0.7 * errors[0]
    assert loop.human.memory[task.task_id][0] == gain


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


@pytest.mark.parametrize('field, value', [('feedback_delay_s', -0.01), ('noise_cv', 2.0),
                                          ('effort_weight', 0.0),
                                          ('adaptation_time_s', float('nan'))])
def test_invalid_config_rejected_and_quoted(field, value):
    with pytest.raises(ValueError, match=field) as err:
        HumanConfig(**{field: value})
    assert repr(value) in str(err.value)


def test_stepping_rejects_a_bad_seed():
    with pytest.raises(ValueError, match='seed'):
        StepLoop(seed=-1)


def test_reseed_makes_the_noise_independent_of_the_steps_before():
    """After reseed(s) the noise is the same whatever was drawn before (sim_node's tasks)."""
    arm_a, arm_b = ExoArm(ExoArmConfig()), ExoArm(ExoArmConfig())
    a, b = SimulatedHuman(arm_a, seed=1), SimulatedHuman(arm_b, seed=2)
    for _ in range(37):
        a.compute(0.5)
    a.reseed(9)
    b.reseed(9)

    def noise(h: SimulatedHuman) -> np.ndarray:
        return h._rows.xi[h._row].copy()
    np.testing.assert_array_equal(noise(a), noise(b))
    steps_a, steps_b = [], []
    for _ in range(5):
        a.compute(0.5)
        b.compute(0.5)
        steps_a.append(noise(a))
        steps_b.append(noise(b))
    np.testing.assert_array_equal(steps_a, steps_b)
    assert not np.array_equal(steps_a[0], steps_a[1])


def test_memory_file_round_trip_and_refuses_bad_content(tmp_path):
    human = SimulatedHuman(ExoArm(ExoArmConfig()), seed=0,
                           memory={'lift_heavy': np.array([0.6, 0.9])})
    path = tmp_path / 'memory.json'
    save_memory(path, human.memory)
    loaded = load_memory(path)
    np.testing.assert_array_equal(loaded['lift_heavy'], [0.6, 0.9])
    for bad in ('[1, 2]', '{"lift_heavy": [1.0]}', '{"lift_heavy": [NaN, 1.0]}',
                '{"lift_heavy": [-1.0, 1.0]}', 'not json'):
        path.write_text(bad)
        with pytest.raises(ValueError, match='memory file'):
            load_memory(path)
    with pytest.raises(ValueError, match='cannot read'):
        load_memory(tmp_path / 'missing.json')


def test_memory_cache_keeps_copies_and_stays_bounded():
    """A cached memory is a copy both ways; new keys past the bound start the cache again."""
    cache = MemoryCache(4)
    assert cache.missing(['a', 'b', 'a']) == ['a', 'b']
    theta = np.array([1.5, 0.75])
    cache.store('a', {'': theta, 'lift_heavy': theta})
    cache.store('b', None)
    theta[0] = 9.0  # the caller's array changes: the cache does not
    got = cache.memory('a')
    assert set(got) == {'', 'lift_heavy'}
    assert got['lift_heavy'].tolist() == [1.5, 0.75]
    got['lift_heavy'][1] = 0.0  # nor when a copy handed out changes
    assert cache.memory('a')['lift_heavy'].tolist() == [1.5, 0.75]
    assert cache.memory('b') == {}
    assert cache.missing(['a', 'c']) == ['c']  # 2 cached + 2 asked for: within 4
    cache.store('c', {'': np.ones(2)})
    assert cache.missing(['d', 'e']) == ['d', 'e']  # 3 cached + 2 asked for > 4: emptied
    with pytest.raises(KeyError):
        cache.memory('a')
