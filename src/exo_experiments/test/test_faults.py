"""Fault injection: every fault of the table ends safe, on the real graph.

One run of :func:`exo_experiments.faults.run_faults` (module fixture): sim_node, policy_node and
controller_node as separate processes over Fast DDS, in lockstep, on a private ROS domain
and this machine only; 'lift a heavy box' is restarted before each fault and the faults are
injected one after the other (policy_node killed last). Each test judges one fault from
what was recorded. Nothing asserts on timing: reaction times are only required to exist
within the observation window (at least a simulated second); the only wall-clock numbers
are the fixture's generous deadlines.
"""

import math

import pytest

from conftest import allocate_domain

pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')

from exo_experiments.faults import (  # noqa: E402
    ASSIST_TORQUE_BOUND_NM,
    evaluate,
    Fault,
    FAULTS_BY_KEY,
    format_table,
    MAX_DISPLACEMENT_RAD,
    peak,
    run_faults,
    Trace,
)
from exo_impedance_controller.params import ControllerParams  # noqa: E402
from exo_impedance_controller.safety import SafetyFlags  # noqa: E402

pytestmark = pytest.mark.integration

LIMIT = ControllerParams().torque_limit
READY_DEADLINE_S = 120.0


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """The whole suite, once: the graph is shared by every test of this file."""
    out = tmp_path_factory.mktemp('faults')
    domain, lock = allocate_domain()  # held for the whole module, as ros_domain does per test
    try:
        result = run_faults(domain_id=domain, log_dir=out / 'logs',
                            ready_timeout=READY_DEADLINE_S, progress=lambda _line: None)
    finally:
        lock.close()
    print(format_table(result.results))
    return result


def _logs(run) -> str:
    return '; '.join(f'{r.key}: {r.notes}' for r in run.results if r.notes)


def _result(run, key):
    results = {r.key: r for r in run.results}
    assert key in results, f'fault {key!r} was not run (a node crashed before it?) {_logs(run)}'
    return results[key]


def _common(r, controller_reacts=True):
    """The safe outcome shared by every fault."""
    assert r.alive, r.notes
    assert r.ticks > 100, 'too few controller ticks recorded around the fault'
    for name in ('max_abs_torque_during_nm', 'max_abs_torque_after_nm',
                 'max_abs_applied_during_nm', 'max_abs_applied_after_nm'):
        value = getattr(r, name)
        assert math.isnan(value) or value <= LIMIT + 1e-9, (name, value)
    assert r.reaction_ms_sim is not None, 'no safe tick after the injection'
    assert r.held_safe, 'not safe at the end of the fault'
    assert r.outcome == 'SAFE'


def test_every_command_within_the_limit_and_nodes_alive(run):
    """Whole run: every torque finite and within the limit, every fault run, no crash.

    Every commanded and every applied torque received is finite and at most the
    controller's torque limit; every fault ran; sim_node and controller_node lived to the
    end and exited cleanly on SIGINT (policy_node was killed on purpose).
    """
    tr = run.trace
    assert len(tr.torque) > 5000 and len(tr.applied) > 5000
    assert all(math.isfinite(t) and abs(t) <= LIMIT + 1e-9 for t in tr.torque)
    assert all(math.isfinite(t) and abs(t) <= LIMIT + 1e-9 for t in tr.applied)
    assert [r.key for r in run.results] == list(FAULTS_BY_KEY), _logs(run)
    assert run.exit_codes['sim_node'] in (0, -2) and run.exit_codes['controller_node'] in (0, -2)
    assert run.all_safe, format_table(run.results)


def test_reference_run_has_no_fault_flag(run):
    """Reference run: no fault, e-stop or owner flag, and the exo assists.

    The torque is well away from zero, so the reactions below are the faults' doing.
    """
    r = _result(run, 'none')
    assert r.outcome == 'SAFE'
    assert not {'INPUT_FAULT', 'ESTOP', 'MULTIPLE_PUBLISHERS', 'NONFINITE_INPUT'} & set(r.flags)
    assert r.max_abs_torque_during_nm > 2.0


@pytest.mark.parametrize('key', ['a', 'b', 'c'])
def test_invalid_sensor_values_latch_the_input_fault(run, key):
    """1e9 rad or NaN on /joint_states, 1e9 N*m on /interaction_torque: input FAULT.

    The INPUT_FAULT flag is raised, the command goes to zero and stays there to the end of
    the fault, no command beyond the limit, every node alive.
    """
    r = _result(run, key)
    _common(r)
    assert 'INPUT_FAULT' in r.flags
    assert r.zero_torque_ms_sim is not None


def test_second_joint_states_publisher_is_refused(run):
    """A second /joint_states publisher (2.0 rad, 500 Hz) is refused.

    MULTIPLE_PUBLISHERS is raised, the command is zero at the end of the fault and never
    beyond the limit meanwhile; every node alive.
    """
    r = _result(run, 'd')
    _common(r)
    assert 'MULTIPLE_PUBLISHERS' in r.flags
    assert r.zero_torque_ms_sim is not None


def test_outside_command_publisher_is_not_applied(run):
    """1000 N*m from an outside node on the command topic is never applied.

    sim_node (the actuator side) refuses the topic and applies zero by the end of the
    fault, never more than the torque limit; the controller keeps running without a fault.
    Not one outside command is applied, not even clamped: sim_node counts the outside
    writer by DDS matching before its first sample arrives (the ROS graph lags).
    """
    r = _result(run, 'e')
    _common(r)
    assert 'sim:refusing' in r.flags
    assert 'sim:clamped' not in r.flags
    assert 'INPUT_FAULT' not in r.flags


def test_estop_stops_and_resumes(run):
    """E-stop: true stops (ESTOP, compliant, zero torque), false resumes.

    After the release no ESTOP flag is left at the end of the window; every node alive.
    """
    r = _result(run, 'g')
    _common(r)
    assert 'ESTOP' in r.flags
    assert r.zero_torque_ms_sim is not None and r.compliant_ms_sim is not None
    assert r.recovered


def test_policy_killed_goes_compliant(run):
    """policy_node killed: the reference goes stale and the stiffness compliant.

    REFERENCE_STALE is raised, the stiffness reaches compliant and is held to the end of the
    window, no command beyond the limit; sim_node and controller_node live on.
    """
    r = _result(run, 'f')
    _common(r)
    assert 'REFERENCE_STALE' in r.flags
    assert r.compliant_ms_sim is not None


@pytest.mark.parametrize('key', ['h', 'i', 'k', 'l', 'm'])
def test_a_hostile_reference_cannot_move_the_arm(run, key):
    """A hostile reference, from outside or through policy_node's own path, is refused.

    A second or sole outside reference publisher (100 Hz, 1 kHz; policy_node alive or
    dead) and a wrong policy (K = 300, q_d = q + 1). With the arm at rest: the command
    stays within the assistance bound (6 N*m) and the arm moves less than 0.1 rad; refused
    as not from the reference's owner (a second or another publisher) or as not assistance
    (the wrong policy's lead); every node alive.
    """
    r = _result(run, key)
    _common(r)
    assert peak(r.max_abs_torque_during_nm, r.max_abs_torque_after_nm) \
        <= ASSIST_TORQUE_BOUND_NM
    assert r.displacement_rad < MAX_DISPLACEMENT_RAD
    expected = 'REFERENCE_REFUSED' if key == 'm' else 'MULTIPLE_PUBLISHERS'
    assert expected in r.flags, r.flags


def test_a_torque_limit_beyond_the_rating_is_refused_while_active(run):
    """``ros2 param set torque_limit 100`` while active: refused; ``get`` shows 25 N*m."""
    r = _result(run, 'j')
    _common(r)
    assert r.details['set_successful'] is False, r.details
    assert r.details['set_reason']
    assert r.details['value_in_effect_nm'] == pytest.approx(LIMIT)
    assert peak(r.max_abs_torque_during_nm, r.max_abs_torque_after_nm) \
        <= ASSIST_TORQUE_BOUND_NM
    assert r.displacement_rad < MAX_DISPLACEMENT_RAD


def test_evaluate_judges_a_synthetic_trace():
    """The judgement alone, without ROS, on a synthetic trace.

    A fault flag raised and held is a SAFE reaction (timed from the injection); one torque
    beyond the limit, or a lost node, makes it UNSAFE.
    """
    fault = Fault('x', 'synthetic', 'synthetic', 0.5, int(SafetyFlags.INPUT_FAULT),
                  make=lambda: None)
    tr = Trace()
    for i in range(2000):
        t = i * 1e-3
        tr.tick_sim.append(t)
        tr.tick_wall.append(t)
        tr.torque.append(10.0 if t < 0.55 else 0.0)
        tr.stiffness.append(50.0)
        tr.flags.append(int(SafetyFlags.INPUT_FAULT) if 0.502 <= t < 0.95 else 0)
    params = ControllerParams()
    r = evaluate(fault, tr, 0.5, 0.5, 1.0, 2.0, params, alive=True)
    assert r.outcome == 'SAFE' and abs(r.reaction_ms_sim - 2.0) < 1e-6
    assert abs(r.zero_torque_ms_sim - 50.0) < 1e-6 and r.recovered
    assert r.flags == ['INPUT_FAULT']
    tr.torque[700] = LIMIT + 1.0
    assert evaluate(fault, tr, 0.5, 0.5, 1.0, 2.0, params, alive=True).outcome == 'UNSAFE'
    assert evaluate(fault, tr, 0.5, 0.5, 1.0, 2.0, params, alive=False).outcome == 'UNSAFE'
