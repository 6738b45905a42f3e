"""Tests of exo_experiments.analysis and exo_experiments.plots on synthetic recordings."""

import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import WrenchStamped
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from exo_experiments.analysis import (
    check_stiffness_bound,
    elapsed_tick,
    load_recording,
    stiffness_rate_violated,
    summarize,
    write_summary,
)
from exo_experiments.mcap_io import McapRos2Writer
from exo_experiments.plots import write_plots
from exo_interfaces.msg import ControllerState, HumanState, ImpedanceReference

T0 = 1_700_000_000_000_000_000
DT = 10_000_000  # 100 Hz
REST, ACTIVE = 10, 100
TORQUE_LIMIT = 10.0
ERROR = 0.05  # exo angle = ground truth +/- ERROR -> RMSE exactly ERROR
POLICY_OFFSET = 0.02  # policy reference = ground truth + POLICY_OFFSET
DAMPING, INERTIA, K0 = 20.0, 1.0, 100.0
TASKS = (('lift_cup', 'lift the cup to your mouth'), ('wave', 'wave hello'))


def _time(ns):
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _write_recording(path, inject, receipt_delay_ns=0):
    """Two tasks of REST + ACTIVE + REST ticks; faults in the first task when inject.

    ``receipt_delay_ns``: every other /joint_states message reaches the recorder this much
    later than it was stamped (a loaded machine); the stamps stay exact.
    """
    growth = math.exp(2.0 * DT * 1e-9 * DAMPING / INERTIA)
    with McapRos2Writer(path) as writer:
        k = 0
        stiffness = K0
        for task_index, (task_id, text) in enumerate(TASKS):
            writer.write('/task_text', 'std_msgs/msg/String',
                         serialize_message(String(data=text)), T0 + k * DT - DT // 2)
            for i in range(REST + ACTIVE + REST):
                t = T0 + k * DT
                active = REST <= i < REST + ACTIVE
                phase = (i - REST) / (ACTIVE - 1) if active else -1.0
                truth = 0.5 + 0.4 * math.sin(0.1 * k)
                exo = truth + (ERROR if k % 2 else -ERROR)
                human = HumanState(task_id=task_id if active else '', task_phase=phase,
                                   elbow_angle=truth + 0.01, reference_angle=truth)
                human.header.stamp = _time(t)
                writer.write('/exo/human_state', 'exo_interfaces/msg/HumanState',
                             serialize_message(human), t)
                joints = JointState(name=['elbow', 'exo_elbow_joint'], position=[9.0, exo])
                joints.header.stamp = _time(t)
                writer.write('/joint_states', 'sensor_msgs/msg/JointState',
                             serialize_message(joints), t + (receipt_delay_ns if k % 2 else 0))
                reference = ImpedanceReference(joint_names=['exo_elbow_joint'],
                                               reference_angle=[truth + POLICY_OFFSET],
                                               stiffness=[K0], task_id=task_id,
                                               source='oracle')
                writer.write('/exo/impedance_reference',
                             'exo_interfaces/msg/ImpedanceReference',
                             serialize_message(reference), t)
                torque = 1.0
                if inject and task_index == 0 and i == REST + 20:
                    stiffness = K0 * growth * 1.01  # just above the bound: one violation
                elif inject and task_index == 0 and i == REST + 30:
                    torque = TORQUE_LIMIT + 2.0
                elif inject and task_index == 0 and i == REST + 40:
                    torque = float('nan')
                elif i == REST + 60:
                    stiffness = stiffness * growth  # exactly at the bound: allowed
                else:
                    stiffness = K0  # falling is always allowed
                state = ControllerState(
                    joint_state_stamp=_time(t), tick_period=DT * 1e-9,
                    joint_names=['exo_elbow_joint'], position=[exo],
                    reference_angle=[truth + POLICY_OFFSET], stiffness_raw=[2 * K0],
                    stiffness_bounded=[stiffness], damping=[DAMPING], inertia=[INERTIA],
                    commanded_torque=[torque], interaction_torque=[0.1])
                state.header.stamp = _time(t + 1_000_000)  # 1 ms latency
                writer.write('/exo/controller_state', 'exo_interfaces/msg/ControllerState',
                             serialize_message(state), t + 1_000_000)
                writer.write('/exo_effort_controller/commands', 'std_msgs/msg/Float64MultiArray',
                             serialize_message(Float64MultiArray(data=[torque])), t + 1_000_000)
                wrench = WrenchStamped()
                wrench.wrench.torque.z = 0.1
                writer.write('/interaction_torque', 'geometry_msgs/msg/WrenchStamped',
                             serialize_message(wrench), t)
                k += 1
    return path


@pytest.fixture(scope='module')
def faulty(tmp_path_factory):
    return _write_recording(tmp_path_factory.mktemp('faulty') / 'run.mcap', inject=True)


@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    return _write_recording(tmp_path_factory.mktemp('clean') / 'run.mcap', inject=False)


def test_summary_reports_injected_faults(faulty):
    summary = summarize(faulty, torque_limit=TORQUE_LIMIT)
    assert summary['schema_version'] == 1
    assert [t['name'] for t in summary['tasks']] == ['lift_cup', 'wave']
    assert [t['text'] for t in summary['tasks']] == [text for _, text in TASKS]
    first, second = summary['tasks']
    assert first['samples'] == ACTIVE
    assert first['rmse_rad'] == pytest.approx(ERROR, rel=1e-9)
    expected_policy = math.sqrt(((ERROR - POLICY_OFFSET) ** 2
                                 + (ERROR + POLICY_OFFSET) ** 2) / 2)
    assert first['rmse_vs_policy_rad'] == pytest.approx(expected_policy, rel=1e-9)
    assert first['stiffness_rate_violations'] == 1
    assert first['torque_limit_violations'] == 1
    assert first['nonfinite_commands'] == 1
    assert first['max_abs_torque_nm'] == pytest.approx(TORQUE_LIMIT + 2.0)
    assert second['stiffness_rate_violations'] == 0
    assert second['torque_limit_violations'] == 0
    assert second['nonfinite_commands'] == 0
    assert summary['stiffness_rate_violations_total'] == 1
    assert summary['torque_limit_violations_total'] == 1
    assert summary['nonfinite_commands_total'] == 1
    assert check_stiffness_bound(faulty) == (2 * (REST + ACTIVE + REST), 1)


def test_summary_of_clean_run_is_zero(clean, tmp_path):
    summary = summarize(clean, torque_limit=TORQUE_LIMIT)
    n = 2 * (REST + ACTIVE + REST)
    for task in summary['tasks']:
        assert task['samples'] == ACTIVE
        assert task['rmse_rad'] == pytest.approx(ERROR, rel=1e-9)
        assert task['stiffness_rate_violations'] == 0
        assert task['torque_limit_violations'] == 0
        assert task['nonfinite_commands'] == 0
        assert task['max_abs_torque_nm'] == pytest.approx(1.0)
        assert task['duration_s'] == pytest.approx((ACTIVE - 1) * DT * 1e-9)
    assert summary['stiffness_rate_violations_total'] == 0
    assert summary['messages']['/joint_states'] == n
    assert summary['messages']['/task_text'] == len(TASKS)
    assert summary['controller_rate_hz'] == pytest.approx(1e9 / DT)
    assert summary['command_latency_ms_p50'] == pytest.approx(1.0)
    assert summary['command_latency_ms_p99'] == pytest.approx(1.0)
    assert check_stiffness_bound(clean) == (n, 0)
    out = write_summary(summary, tmp_path / 'summary.json')
    assert out.read_text().count('"name"') == len(TASKS)


def test_explicit_task_windows(clean):
    rec = load_recording(clean)
    start = int(rec.human_t[REST])
    end = int(rec.human_t[REST + ACTIVE])
    summary = summarize(rec, TORQUE_LIMIT, task_windows=[('custom', start, end)])
    assert [t['name'] for t in summary['tasks']] == ['custom']
    assert summary['tasks'][0]['samples'] == ACTIVE


def test_stiffness_rate_bound_edges():
    h = 0.001
    growth = math.exp(2 * h * DAMPING / INERTIA)
    ok = stiffness_rate_violated(np.array([K0]), np.array([K0 * growth]), h, [DAMPING],
                                 [INERTIA])
    bad = stiffness_rate_violated(np.array([K0]), np.array([K0 * growth * (1 + 1e-6)]), h,
                                  [DAMPING], [INERTIA])
    assert (ok, bad) == (False, True)
    assert stiffness_rate_violated(np.array([K0]), np.array([np.nan]), h, [DAMPING],
                                   [INERTIA])


def test_invalid_torque_limit(clean):
    with pytest.raises(ValueError, match='torque_limit'):
        summarize(clean, torque_limit=0.0)


def test_plots_are_written(faulty, tmp_path):
    summary = summarize(faulty, torque_limit=TORQUE_LIMIT)
    paths = write_plots(faulty, tmp_path / 'plots', summary)
    assert len(paths) == 1 + len(TASKS)
    for path in paths:
        assert path.suffix == '.png'
        assert path.stat().st_size > 1000


def test_a_state_the_recorder_missed_is_not_a_bound_violation():
    """A recorder under load misses controller states.

    The stiffness then grew over every tick between the two recorded ones, and is judged
    over that time, not over one tick.
    """
    h, d, m = 0.001, 1.0, 0.05
    grown = 2.0 * np.exp(2 * 5 * h * d / m)  # five ticks at the full eq. 13 rate
    assert stiffness_rate_violated(np.array([2.0]), np.array([grown]), h, d, m)
    five = elapsed_tick(h, 10_005_000_000, 10_000_000_000)
    assert five == pytest.approx(0.005)
    assert not stiffness_rate_violated(np.array([2.0]), np.array([grown * 0.999]), five, d, m)
    assert elapsed_tick(h, 10_000_500_000, 10_000_000_000) == h  # never shorter than a tick
    assert elapsed_tick(h, 0, 10_000_000_000) == h  # unstamped: the tick period


def test_tracking_is_aligned_on_the_stamps_not_on_the_receipt_time(tmp_path):
    """A late recorder does not change the tracking error.

    Both streams carry sim_node's stamps (exact in lockstep), and the RMSE is aligned on
    them.
    """
    path = _write_recording(tmp_path / 'late.mcap', inject=False, receipt_delay_ns=3 * DT)
    first = summarize(path, TORQUE_LIMIT)['tasks'][0]
    assert first['rmse_rad'] == pytest.approx(ERROR, rel=1e-9)


def test_ids_carried_over_from_the_previous_task_do_not_name_a_segment():
    from exo_experiments.analysis import _fresh  # noqa: PLC0415
    ids = ['wave', 'wave', 'wave', 'wave', '', '', 'lift_heavy', 'lift_heavy']
    # a segment starting while the previous task's messages still arrive
    assert _fresh(ids, np.array([0, 0, 1, 1, 1, 1, 0, 0], bool), 'wave') == ['', '']
    assert _fresh(ids, np.array([0, 0, 0, 1, 1, 1, 1, 1], bool), 'wave') == [
        '', '', 'lift_heavy', 'lift_heavy']
    assert _fresh(ids, np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)) == ['wave', 'wave']
    assert _fresh([], np.zeros(0, bool)) == []


def test_the_new_task_seen_before_its_instruction_still_names_the_segment():
    """A loaded recorder can receive /task_text after the human's first samples of the task.

    Those samples precede the segment; the run that crosses into it is the segment's own
    task, not one carried over, unless it is the previous segment's task.
    """
    from exo_experiments.analysis import _fresh  # noqa: PLC0415
    ids = ['', '', 'ok_gesture', 'ok_gesture', 'ok_gesture', 'ok_gesture', '']
    mask = np.array([0, 0, 0, 1, 1, 1, 1], bool)
    assert _fresh(ids, mask) == ['ok_gesture', 'ok_gesture', 'ok_gesture', '']
    assert _fresh(ids, mask, 'wave') == ['ok_gesture', 'ok_gesture', 'ok_gesture', '']
    assert _fresh(ids, mask, 'ok_gesture') == ['']
