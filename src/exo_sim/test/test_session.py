"""SimSession (what sim_node steps) and sim_node's parameters."""

import math

import numpy as np
import pytest
import yaml

from exo_contract.tasks import TASKS_BY_ID
from exo_sim.model import ExoArm, ExoArmConfig
from exo_sim.params import SimNodeParams
from exo_sim.rollout import run_rollout
from exo_sim.session import SimSession


def test_known_text_starts_the_task_with_its_payload():
    session = SimSession()
    task = session.start_task_text('Lift a heavy box, please.')
    assert task is TASKS_BY_ID['lift_heavy']
    assert math.isclose(session.arm.payload_kg, task.payload_per_arm_kg)
    peak = 0.0
    for _ in range(int(task.duration_s * 1000 / 10)):
        sample = session.tick(0.0, steps=10)
        peak = max(peak, sample.human_angle)
        assert math.isfinite(sample.interaction_torque)
    assert peak > task.baseline_rad + 0.8 * task.amplitude_rad
    assert sample.task_id == 'lift_heavy' and 0.0 <= sample.task_phase <= 1.0
    for _ in range(200):
        sample = session.tick(0.0, steps=10)
    assert sample.task_id == '' and sample.task_phase == -1.0  # back at rest


def test_seed_human_and_onset_are_passed_through():
    from exo_sim.human import HumanConfig
    quiet = HumanConfig(noise_cv=0.0)
    a = SimSession(seed=1, human=quiet)
    b = SimSession(seed=2, human=quiet)
    assert a.loop.human.seed == 1 and a.loop.human.config is quiet
    assert a.start_task_text('wave', onset_s=0.2) is TASKS_BY_ID['wave']
    b.start_task_text('wave', onset_s=0.2)
    for _ in range(30):
        sa, sb = a.tick(0.0, steps=10), b.tick(0.0, steps=10)
    assert sa.task_phase > 0.0 and sa.human_angle == sb.human_angle  # no noise: no seed
    assert a.loop.time == pytest.approx(0.3)


@pytest.mark.parametrize('text', ['do a backflip', '', '\u00e9\u00e9', 'lift'])
def test_unknown_text_leaves_the_human_at_rest(text):
    session = SimSession(rest_angle=0.4)
    assert session.start_task_text(text) is None
    for _ in range(100):
        sample = session.tick(0.0, steps=10)
    assert sample.task_id == '' and sample.task_phase == -1.0
    # A human who never wore the exo sags under its weight at first (a few degrees) ...
    assert abs(sample.human_angle - 0.4) < 0.06
    # ... and learns to carry it within seconds.
    for _ in range(500):
        sample = session.tick(0.0, steps=10)
    assert abs(sample.human_angle - 0.4) < 0.02 and sample.task_phase == -1.0


def test_exo_command_moves_the_exo_and_is_clipped():
    session = SimSession()
    sample = session.tick(1e6, steps=1)
    assert sample.exo_torque == session.arm.config.exo_torque_limit
    assert session.tick(math.nan).exo_torque == 0.0


@pytest.mark.parametrize('field, value', [('body_mass_kg', 20.0), ('rate_hz', 10.0),
                                          ('command_timeout', math.inf), ('joint_name', ''),
                                          ('max_catchup_steps', 0)])
def test_sim_params_reject_and_quote(field, value):
    with pytest.raises(ValueError, match=field) as err:
        SimNodeParams(**{field: value})
    assert repr(value) in str(err.value)


def test_rest_angle_validated():
    with pytest.raises(ValueError, match='rest_angle'):
        SimSession(rest_angle=3.0)


def test_controller_model_matches_the_simulated_exo(controller_yaml):
    """The controller's exo model (params.yaml) is the one identified from the sim model."""
    dyn = ExoArm(ExoArmConfig()).exo_dynamics()
    params = controller_yaml['controller_node']['ros__parameters']
    assert math.isclose(params['exo_inertia'], dyn.inertia, rel_tol=1e-3)
    assert math.isclose(params['exo_gravity_sin'], dyn.gravity_sin, rel_tol=1e-3)
    assert math.isclose(params['exo_gravity_cos'], dyn.gravity_cos, abs_tol=1e-4)


@pytest.fixture
def controller_yaml():
    from pathlib import Path

    share = pytest.importorskip('ament_index_python.packages').get_package_share_directory
    return yaml.safe_load((Path(share('exo_impedance_controller')) / 'config' / 'params.yaml')
                          .read_text())


def test_payload_change_keeps_the_running_state():
    session = SimSession(rest_angle=0.6)
    for _ in range(50):
        session.tick(0.0, steps=10)
    q_before = session.arm.human_state()[0]
    session.arm.set_payload(10.0)
    assert abs(session.arm.human_state()[0] - q_before) < 1e-12
    assert abs(session.arm.exo_state()[0] - q_before) < 0.05


class _Schedule:
    """Open-loop exo torque as a function of the loop time (a deterministic 'controller')."""

    def reset(self, q0):
        pass

    def __call__(self, obs):
        return self.at(obs.t)

    @staticmethod
    def at(t):
        return 3.0 * math.sin(2.0 * math.pi * 0.7 * t)


@pytest.mark.parametrize('task_id', ['wave', 'lift_heavy'])
def test_session_and_rollout_run_the_same_step_loop(task_id):
    """sim_node's session and the in-process rollout give the same trajectory.

    Same scenario both ways: rest at the baseline for 0.3 s, the instruction, the task, then
    rest; the exo applies the same torque schedule. The rollout records the state before
    each step, the session reports it after, so rollout step k+1 == session tick k.
    """
    task = TASKS_BY_ID[task_id]
    rest_before, rest_after = 0.3, 0.2
    rollout = run_rollout(task, config=ExoArmConfig(), controller=_Schedule(),
                          rest_before=rest_before, rest_after=rest_after)
    session = SimSession(ExoArmConfig(payload_kg=task.payload_per_arm_kg),
                         rest_angle=rollout.q_ref[0])
    n = rollout.t.size
    k_start = int(round(rest_before / 0.001))
    rows = []
    for k in range(n - 1):
        if k == k_start:
            assert session.start_task_text(task.text) is task
        s = session.tick(_Schedule.at(k * 0.001))
        rows.append((s.exo_angle, s.human_angle, s.interaction_torque, s.reference_angle,
                     s.task_phase, s.exo_torque))
    got = np.array(rows)
    want = np.column_stack([rollout.q_exo, rollout.q_human, rollout.tau_ext, rollout.q_ref,
                            rollout.phase, rollout.tau_cmd])
    # state after tick k == state before rollout step k + 1; reference/phase/torque of the
    # step just taken == rollout step k.
    np.testing.assert_allclose(got[:, :3], want[1:, :3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[:, 3:], want[:-1, 3:], rtol=0, atol=1e-12)
    assert got[:, 0].max() > task.baseline_rad + 0.5 * task.amplitude_rad  # the task ran
