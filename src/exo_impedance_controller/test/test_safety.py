"""Tests of the safety layer: flags, saturation, joint limits, reference watchdog."""

from itertools import pairwise
import math

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from exo_impedance_controller.safety import (
    bound_reference_pull,
    clamp_reference,
    FaultLatch,
    InputPlausibility,
    joint_limit_filter,
    OwnerConflict,
    rate_limit,
    ReferenceSupervisor,
    SafetyFlags,
    saturate_torque,
    StalenessTimer,
    StopLatch,
    topic_owner_conflicts,
    TorqueRateLimiter,
)


def test_flags_mirror_controller_state_constants():
    expected = {
        'STIFFNESS_RATE_LIMITED': 1, 'STIFFNESS_CLAMPED': 2, 'TORQUE_SATURATED': 4,
        'JOINT_LIMIT': 8, 'REFERENCE_STALE': 16, 'JOINT_STATE_STALE': 32,
        'NONFINITE_INPUT': 64, 'INTERACTION_STALE': 128, 'INACTIVE': 256,
        'INPUT_FAULT': 512, 'ESTOP': 1024, 'MULTIPLE_PUBLISHERS': 2048,
        'TORQUE_RATE_LIMITED': 4096, 'REFERENCE_RATE_LIMITED': 8192,
        'ASSISTANCE_BOUNDED': 16384,
        'REFERENCE_REFUSED': 32768,
    }
    for name, value in expected.items():
        assert int(SafetyFlags[name]) == value
    assert {f.name for f in SafetyFlags} - {'NONE'} == set(expected)


def test_flags_match_message_definition_when_built():
    msg = pytest.importorskip('exo_interfaces.msg')
    for flag in SafetyFlags:
        if flag.name != 'NONE':
            assert getattr(msg.ControllerState, 'FLAG_' + flag.name) == int(flag)
    in_message = {n[len('FLAG_'):] for n in dir(msg.ControllerState) if n.startswith('FLAG_')}
    assert in_message == {f.name for f in SafetyFlags} - {'NONE'}


@pytest.mark.parametrize('tau, out, sat', [
    (3.0, 3.0, False), (30.0, 25.0, True), (-30.0, -25.0, True),
    (math.nan, 0.0, True), (math.inf, 0.0, True), (-math.inf, 0.0, True),
])
def test_saturate_torque(tau, out, sat):
    assert saturate_torque(tau, 25.0) == (out, sat)


def test_clamp_reference():
    assert clamp_reference(-1.0, 0.0, 2.0, 0.05) == (0.05, True)
    assert clamp_reference(3.0, 0.0, 2.0, 0.05) == (1.95, True)
    assert clamp_reference(1.0, 0.0, 2.0, 0.05) == (1.0, False)


def test_joint_limit_filter_removes_outward_torque_only():
    assert joint_limit_filter(5.0, 2.1, 0.0, 2.0) == (0.0, True)
    assert joint_limit_filter(-5.0, 2.1, 0.0, 2.0) == (-5.0, True)
    assert joint_limit_filter(-5.0, -0.1, 0.0, 2.0) == (0.0, True)
    assert joint_limit_filter(5.0, -0.1, 0.0, 2.0) == (5.0, True)
    assert joint_limit_filter(5.0, 1.0, 0.0, 2.0) == (5.0, False)


def test_staleness_timer():
    timer = StalenessTimer(0.1)
    assert timer.is_stale(0.0)  # missing
    timer.note(1.0)
    assert not timer.is_stale(1.05)
    assert timer.is_stale(1.2)
    assert timer.is_stale(0.5)  # from the future (clock reset): stale
    assert timer.is_stale(math.nan)


def test_reference_supervisor_ramps_down_and_holds_angle():
    sup = ReferenceSupervisor(timeout=0.1, k_compliant=2.0, ramp_time=0.5)
    sup.reset(None)
    sup.hold_if_unset(0.7)
    assert sup.target(0.0, 2.0) == (0.7, 0.0, 2.0, True)
    sup.accept(1.0, 1.2, 0.3, 200.0)
    assert sup.target(1.05, 50.0) == (1.2, 0.3, 200.0, False)
    # Stale from 1.2 on: the angle is held, velocity 0, stiffness ramps from 100 to 2.
    q_d, qd_d, k, stale = sup.target(1.2, 100.0)
    assert (q_d, qd_d, k, stale) == (1.2, 0.0, 100.0, True)
    ks = [sup.target(1.2 + 0.05 * i, 123.0)[2] for i in range(15)]
    assert all(b <= a for a, b in pairwise(ks))
    assert math.isclose(ks[5], 100.0 + (2.0 - 100.0) * 0.5)
    assert ks[-1] == 2.0
    # Below compliant: the target never goes up.
    sup.accept(2.0, 1.0, 0.0, 1.0)
    assert sup.target(3.0, 1.0)[2] == 1.0


def test_rate_limit():
    assert rate_limit(0.0, 1.0, 0.1) == (0.1, True)
    assert rate_limit(0.0, -1.0, 0.1) == (-0.1, True)
    assert rate_limit(0.0, 0.05, 0.1) == (0.05, False)
    assert rate_limit(0.3, 1.0, math.nan) == (0.3, True)
    assert rate_limit(0.3, 1.0, -1.0) == (0.3, True)


def test_torque_rate_limiter_clock_handling():
    lim = TorqueRateLimiter(rate=100.0, limit=5.0)
    assert lim.step(5.0, 1.0) == 0.0  # first step: no time base yet
    assert lim.step(5.0, 1.01) == pytest.approx(1.0)
    assert lim.step(5.0, 0.5) == pytest.approx(1.0)  # clock went back: restart, no change
    assert lim.step(5.0, 0.52) == pytest.approx(3.0)
    assert lim.step(math.nan, 0.53) == pytest.approx(2.0)  # a NaN target means zero
    assert lim.step(-5.0, math.nan) == pytest.approx(2.0)
    assert lim.step(0.0, 10.0) == 0.0  # zero within limit / rate of receipt time


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(min_value=0.0, max_value=0.02)), min_size=1, max_size=60))
def test_property_torque_rate_limiter_never_exceeds_limit_or_rate(seq):
    lim = TorqueRateLimiter(rate=500.0, limit=25.0)
    now, prev = 0.0, 0.0
    for target, dt in seq:
        now += dt
        if math.isfinite(target):
            target = max(-25.0, min(25.0, target))  # saturated upstream
        out = lim.step(target, now)
        assert math.isfinite(out) and abs(out) <= 25.0
        assert abs(out - prev) <= 500.0 * dt * (1 + 1e-9) + 1e-12
        prev = out


def test_input_plausibility():
    chk = InputPlausibility(0.0, 2.0, 0.3, 20.0, 50.0, 2000.0)
    assert chk.joint_state_valid(-0.3, 20.0) and chk.joint_state_valid(2.3, -20.0)
    for q, qd in ((-0.31, 0.0), (2.31, 0.0), (1.0, 20.1), (math.nan, 0.0), (1.0, math.inf)):
        assert not chk.joint_state_valid(q, qd)
    assert chk.interaction_valid(0.0, 1.0)
    assert not chk.interaction_valid(0.001, 51.0)  # beyond the sensor range
    assert not chk.interaction_valid(0.002, 10.0)  # 9 N*m in 2 ms: too fast
    assert chk.interaction_valid(0.003, 2.0)  # compared with the last VALID sample
    assert not chk.interaction_valid(0.003, 2.5)  # no time elapsed: no change allowed
    assert chk.interaction_valid(0.010, 16.0)  # 14 N*m in 7 ms = 2000 N*m/s: plausible
    assert not chk.interaction_valid(0.011, math.nan)
    chk.reset()
    assert chk.interaction_valid(0.0, 40.0)  # no history: only the range applies


def test_fault_latch():
    latch = FaultLatch(3)
    assert not latch.latched and not latch.valid()
    latch.invalid()
    assert latch.latched
    assert not latch.valid() and not latch.valid()
    latch.invalid()  # restarts the count
    assert [latch.valid() for _ in range(3)] == [False, False, True]
    assert not latch.latched


# ------------------------------------------------------------------ one owner per topic

def test_topic_owner_conflicts_name_every_publisher():
    publishers = {
        '/joint_states': ['/sim_node', '/intruder'],
        '/interaction_torque': ['/sim_node'],
        '/exo/unused': [],
    }
    conflicts = topic_owner_conflicts(publishers)
    assert conflicts == (OwnerConflict('/joint_states', ('/intruder', '/sim_node')),)
    text = conflicts[0].describe()
    assert text == '2 publishers on /joint_states: /intruder, /sim_node'
    assert topic_owner_conflicts({'/joint_states': ['/sim_node'],
                                  '/interaction_torque': []}) == ()


def test_one_node_with_two_publishers_is_a_conflict():
    (conflict,) = topic_owner_conflicts({'/joint_states': ['/a', '/a', '/b']})
    assert conflict.describe() == '3 publishers on /joint_states: /a (2 publishers), /b'


def test_conflicts_sorted_by_topic():
    conflicts = topic_owner_conflicts({'/z': ['/a', '/b'], '/a': ['/c', '/d']})
    assert [c.topic for c in conflicts] == ['/a', '/z']


# ------------------------------------------------------------------------------ e-stop
def test_stop_latch_topic_true_holds_until_false_from_the_same_publisher():
    latch = StopLatch()
    assert not latch.stopped
    assert not latch.on_message('dev', True, 0.0)
    assert latch.stopped and latch.holders() == (('dev', False),)
    ok, message = latch.resume(0.1)  # the service may not override a pressed button
    assert not ok and 'release it there' in message and latch.stopped
    assert latch.on_message('dev', False, 0.2)
    assert not latch.stopped


def test_stop_latch_is_the_or_of_the_publishers():
    latch = StopLatch()
    latch.on_message('a', True, 0.0)
    latch.on_message('b', False, 0.1)  # another device's release does not end a's stop
    assert latch.stopped
    latch.on_message('a', False, 0.2)
    assert not latch.stopped


def test_stop_latch_latched_stops_need_an_explicit_resume():
    latch = StopLatch()
    latch.request_stop(StopLatch.TASK_TEXT, 1.0, "'stop'")
    assert latch.stopped and latch.latched() == {StopLatch.TASK_TEXT: "'stop'"}
    assert latch.resume(0.0) == (True, 'resumed') and not latch.stopped
    assert latch.resume(0.0) == (True, 'not stopped')
    latch.request_stop(StopLatch.SERVICE, 2.0)
    assert latch.on_message('dev', False, 0.0, stamp=3.0)  # heartbeat off: a command
    assert not latch.stopped


def test_stop_latch_resume_message_older_than_the_stop_does_not_clear_it():
    # Delivery order of latched samples is arbitrary: a resume sent before the stop word
    # (by the publishers' clocks) must not end it.
    latch = StopLatch()
    latch.request_stop(StopLatch.TASK_TEXT, stamp=10.0)
    latch.on_message('dev', False, 0.0, stamp=9.0)
    assert latch.stopped
    latch.on_message('dev', False, 0.0, stamp=11.0)
    assert not latch.stopped
    latch.request_stop(StopLatch.TASK_TEXT, stamp=20.0)
    latch.request_stop(StopLatch.TASK_TEXT, stamp=15.0)  # keeps the latest stop time
    latch.on_message('dev', False, 0.0, stamp=17.0)
    assert latch.stopped


def test_stop_latch_heartbeat_loss_latches_and_repeated_false_does_not_resume():
    latch = StopLatch(heartbeat_timeout=0.5)
    assert not latch.check_heartbeat(100.0)  # no publisher seen yet: no heartbeat to lose
    latch.on_message('dev', False, 0.0)
    assert not latch.check_heartbeat(0.5) and not latch.stopped
    assert latch.check_heartbeat(0.6) and latch.stopped
    assert not latch.check_heartbeat(0.7)  # reported once
    ok, message = latch.resume(0.7)
    assert not ok and 'heartbeat' in message
    assert not latch.on_message('dev', False, 0.8)  # heartbeat back: not a command
    assert latch.stopped
    assert latch.resume(0.9) == (True, 'resumed') and not latch.stopped


def test_stop_latch_heartbeat_release_edge_resumes():
    latch = StopLatch(heartbeat_timeout=0.5)
    latch.on_message('dev', False, 0.0)
    latch.request_stop(StopLatch.TASK_TEXT)
    assert not latch.on_message('dev', False, 0.1) and latch.stopped  # heartbeat
    latch.on_message('dev', True, 0.2)
    assert latch.on_message('dev', False, 0.3)  # press and release: a command
    assert not latch.stopped
    latch.on_message('dev', False, 0.4)
    assert latch.heartbeat_expired(math.nan)  # an unknown clock is not a live heartbeat


def test_stop_latch_gone_publisher_keeps_its_stop_until_a_resume():
    latch = StopLatch()
    latch.update_live({'dev'})
    latch.on_message('dev', True, 0.0)
    latch.update_live(set())  # the device died with its button pressed
    assert latch.stopped and latch.holders() == (('dev', True),)
    latch.update_live(set())
    assert latch.stopped
    assert latch.resume(1.0) == (True, 'resumed') and not latch.stopped
    assert latch.holders() == ()


def test_stop_latch_unlisted_publisher_is_never_taken_for_gone():
    latch = StopLatch()
    latch.on_message('new', True, 0.0)  # not yet in the graph listing
    latch.update_live({'other'})
    latch.update_live(set())
    assert latch.holders() == (('new', False),)
    assert not latch.resume(0.0)[0]


def test_stop_latch_release_from_another_publisher_clears_gone_holders():
    latch = StopLatch()
    latch.update_live({'a', 'b'})
    latch.on_message('a', True, 0.0)
    latch.update_live({'b'})
    assert latch.on_message('b', False, 1.0)
    assert not latch.stopped


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(['msg', 'text', 'service_stop', 'resume', 'hb',
                                           'live']),
                          st.sampled_from(['a', 'b']), st.booleans()), max_size=30))
def test_stop_latch_never_resumes_without_a_resume_command(events):
    """Property: only a resume command ends a stop; a stop event always stops."""
    latch = StopLatch(heartbeat_timeout=0.5)
    now = 0.0
    for kind, source, value in events:
        now += 0.2
        before = latch.stopped
        command = False
        if kind == 'msg':
            command = latch.on_message(source, value, now)
            if value:
                assert latch.stopped
        elif kind == 'text':
            latch.request_stop(StopLatch.TASK_TEXT)
            assert latch.stopped
        elif kind == 'service_stop':
            latch.request_stop(StopLatch.SERVICE)
            assert latch.stopped
        elif kind == 'resume':
            command = latch.resume(now)[0]
        elif kind == 'hb':
            now += 1.0
            latch.check_heartbeat(now)
        else:
            latch.update_live({source} if value else set())
        if before and not latch.stopped:
            assert command  # a release, a False command or the service, nothing else


def test_reference_pull_bound_cuts_the_velocity_only_as_far_as_needed():
    # Dt = 1, bound 5 N*m: with the spring at 3 N*m, qd_d may add at most 2 N*m.
    assert bound_reference_pull(10.0, 3.0, 1.0, 5.0) == (2.0, True)
    assert bound_reference_pull(-10.0, 3.0, 1.0, 5.0) == (-8.0, True)
    assert bound_reference_pull(1.5, 3.0, 1.0, 5.0) == (1.5, False)
    # Dt = 2: the velocity is scaled by the damping.
    assert bound_reference_pull(10.0, -1.0, 2.0, 5.0) == (3.0, True)
    # The spring at (or a rounding beyond) the bound: no feed-forward in its direction, the
    # velocity moved toward 0 and never past it.
    assert bound_reference_pull(6.0, 5.0, 1.0, 5.0) == (0.0, True)
    assert bound_reference_pull(6.0, 5.0 + 1e-12, 1.0, 5.0) == (0.0, True)
    assert bound_reference_pull(-6.0, -5.0 - 1e-12, 1.0, 5.0) == (0.0, True)


@settings(max_examples=300, deadline=None)
@given(qd_d=st.floats(-1e3, 1e3), spring=st.floats(-5.0, 5.0), damping=st.floats(0.01, 100.0))
def test_reference_pull_bound_holds(qd_d, spring, damping):
    bounded, changed = bound_reference_pull(qd_d, spring, damping, 5.0)
    assert abs(damping * bounded + spring) <= 5.0 * (1 + 1e-9) + 1e-9
    assert changed == (bounded != qd_d)
    assert abs(bounded) <= abs(qd_d) and bounded * qd_d >= 0.0
