"""Tests of ImpedanceControllerCore: bounded, finite commands under bad input."""

from itertools import pairwise
import math

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from exo_impedance_controller.core import ImpedanceControllerCore
from exo_impedance_controller.law import exo_acceleration
from exo_impedance_controller.params import ControllerParams
from exo_impedance_controller.safety import SafetyFlags as F
from exo_impedance_controller.stability import growth_factor

DT = 0.001
BAD = [math.nan, math.inf, -math.inf]


# Rate limits wide open, for tests of the other layers (each limit has its own tests).
WIDE = {'max_torque_rate': 1e9, 'max_interaction_torque_rate': 1e9,
        'max_reference_speed': 1e6}


# The assistance bound open, for tests of the other layers (the bound has its own tests).
OPEN_BOUND = {'max_assist_torque': 1e9, 'max_lead': 10.0}


def opened(**kw) -> ControllerParams:
    """ControllerParams with the WIDE / OPEN_BOUND limits set beyond their physical range.

    On purpose, for tests of the other layers: the validated constructor refuses such values
    (a 1e9 N*m/s torque rate is no device's), so they are set after it.
    """
    kw = {**OPEN_BOUND, **kw}
    beyond = {k: kw.pop(k) for k in list(kw) if k in WIDE or k in OPEN_BOUND}
    params = ControllerParams(**kw)
    for name, value in beyond.items():
        object.__setattr__(params, name, float(value))
    return params


def make(**kw):
    core = ImpedanceControllerCore(opened(**kw))
    core.reset(0.0, 1.0)
    return core


def run(core, t0, n, q=1.0, qd=0.0, ref=None, tau_ext=None):
    out = None
    for i in range(n):
        t = t0 + i * DT
        if ref is not None:
            core.set_reference(t, *ref)
        if tau_ext is not None:
            core.set_interaction(t, tau_ext)
        out = core.update(t, q, qd)
    return out


def test_first_tick_has_zero_h_and_no_growth():
    core = make()
    core.set_reference(0.0, 1.2, 0.0, 200.0)
    out = core.update(0.0, 1.0, 0.0)
    assert out.tick_period == 0.0
    assert out.k_bounded == core.params.stiffness_compliant
    assert out.flags & F.STIFFNESS_RATE_LIMITED


def test_tracks_and_rate_limits_stiffness():
    core = make()
    out = run(core, 0.0, 400, ref=(1.2, 0.0, 100.0), tau_ext=0.0)
    assert out.k_bounded == pytest.approx(100.0)
    assert out.flags == 0
    assert out.e == pytest.approx(0.2)
    # h is clamped to max_tick.
    out = core.update(10.0, 1.0, 0.0)
    assert out.tick_period == core.params.max_tick


@pytest.mark.parametrize('bad', BAD)
@pytest.mark.parametrize('where', ['q', 'qd', 'tau_ext', 'q_d', 'qd_d', 'k'])
def test_nonfinite_inputs_never_reach_the_command(bad, where):
    core = make()
    run(core, 0.0, 100, ref=(1.2, 0.0, 100.0), tau_ext=1.0)
    t = 0.1
    ref = {'q_d': 1.2, 'qd_d': 0.0, 'k': 100.0}
    if where in ref:
        ref[where] = bad
        assert not core.set_reference(t, ref['q_d'], ref['qd_d'], ref['k'])
    if where == 'tau_ext':
        assert not core.set_interaction(t, bad)
    q = bad if where == 'q' else 1.0
    qd = bad if where == 'qd' else 0.0
    before = core._last.torque
    out = core.update(t, q, qd)
    assert math.isfinite(out.torque) and abs(out.torque) <= core.params.torque_limit
    assert out.flags & F.NONFINITE_INPUT
    for name in ('q_ref', 'e', 'ed', 'k_bounded', 'tau_ext', 'lyapunov_value'):
        assert math.isfinite(getattr(out, name))
    sensor = where in ('q', 'qd', 'tau_ext')
    assert out.fault == sensor == bool(out.flags & F.INPUT_FAULT)
    if sensor:
        # Input fault: the torque heads for zero under the torque-rate limit.
        assert abs(out.torque) < abs(before)
        assert out.tau_ext == 0.0 and out.k_bounded <= core.params.stiffness_compliant
        n = core.params.fault_recovery_samples
        out = run(core, t + DT, n - 1, ref=(1.2, 0.0, 100.0), tau_ext=1.0)
        # Still in FAULT on valid (finite) samples: INPUT_FAULT without NONFINITE_INPUT.
        assert out.fault and out.flags & F.INPUT_FAULT
        assert not out.flags & F.NONFINITE_INPUT
        t += n * DT
    # A rejected reference is reported once; after recovery ticks are clean again.
    out = run(core, t + DT, 5, ref=(1.2, 0.0, 100.0), tau_ext=1.0)
    assert not out.flags & (F.NONFINITE_INPUT | F.INPUT_FAULT) and not out.fault


def test_stale_reference_ramps_stiffness_down_and_follows_the_arm():
    core = make()
    run(core, 0.0, 400, ref=(1.2, 0.5, 100.0), tau_ext=0.0)
    outs = [core.update(0.4 + i * DT, 1.0, 0.0) for i in range(1000)]
    stale = [o for o in outs if o.flags & F.REFERENCE_STALE]
    assert stale, 'reference never went stale'
    ks = [o.k_bounded for o in outs]
    assert all(b <= a for a, b in pairwise(ks))  # never a jump up
    assert ks[-1] == core.params.stiffness_compliant
    assert all(o.q_ref == 1.0 and o.e == 0.0 for o in stale)  # the measured angle
    assert all(o.ed == 0.0 for o in stale)  # reference velocity dropped to 0
    # Mid-ramp the stiffness is between the two levels (a ramp, not a step).
    assert any(5.0 < k < 95.0 for k in ks)


def test_missing_reference_holds_the_first_angle_compliantly():
    core = ImpedanceControllerCore(ControllerParams())
    out = core.update(0.0, 0.8, 0.0)
    assert out.q_ref == 0.8 and out.flags & F.REFERENCE_STALE
    assert out.k_bounded == core.params.stiffness_compliant


def test_stale_joint_state_gives_zero_torque():
    core = make()
    assert core.check_timeouts(0.0) is not None  # nothing received yet
    out = run(core, 0.0, 100, ref=(1.5, 0.0, 100.0), tau_ext=0.0)
    assert out.torque != 0.0
    assert core.check_timeouts(out.tick_period + 0.099 + 0.001) is None
    stale = core.check_timeouts(1.0)
    assert stale.torque == 0.0 and stale.flags & F.JOINT_STATE_STALE
    # Recovery restarts compliant and rises under the rate bound again.
    out = core.update(1.0, 1.0, 0.0)
    assert out.k_bounded == core.params.stiffness_compliant


def test_stale_interaction_is_treated_as_zero():
    core = make()
    run(core, 0.0, 50, ref=(1.0, 0.0, 50.0), tau_ext=5.0)
    out = core.update(0.2, 1.0, 0.0)
    assert out.tau_ext == 0.0 and out.flags & F.INTERACTION_STALE


def test_torque_saturation():
    core = make(torque_limit=3.0, **WIDE)
    out = run(core, 0.0, 400, ref=(2.0, 0.0, 300.0), q=0.5, tau_ext=0.0)
    assert out.torque == 3.0 and out.flags & F.TORQUE_SATURATED
    out = run(core, 0.4, 10, ref=(1.0, 0.0, 300.0), q=1.0, tau_ext=40.0)
    assert out.torque == -3.0


def test_joint_limits():
    core = make(**WIDE)
    out = run(core, 0.0, 10, ref=(5.0, 0.0, 100.0), tau_ext=0.0)
    assert out.q_ref == core.params.joint_limit_upper - core.params.joint_limit_margin
    assert out.flags & F.JOINT_LIMIT
    # Beyond the upper limit, outward (positive) torque is removed.
    out = run(core, 0.1, 10, q=2.4, ref=(2.0, 0.0, 100.0), tau_ext=-20.0)
    assert out.torque <= 0.0 and out.flags & F.JOINT_LIMIT
    out = run(core, 0.2, 10, q=-0.2, ref=(0.5, 0.0, 2.0), tau_ext=20.0)
    assert out.torque >= 0.0 and out.flags & F.JOINT_LIMIT


def test_inactive_outputs_zero_and_restarts_compliant():
    core = make()
    run(core, 0.0, 400, ref=(1.2, 0.0, 100.0), tau_ext=0.0)
    core.active = False
    out = run(core, 0.4, 5, ref=(1.2, 0.0, 100.0), tau_ext=0.0)
    assert out.torque == 0.0 and out.flags & F.INACTIVE
    core.active = True
    out = run(core, 0.405, 1, ref=(1.2, 0.0, 100.0), tau_ext=0.0)
    assert out.k_bounded <= core.params.stiffness_compliant * 1.1


def test_closed_loop_rollout_converges():
    # In-process rollout on the exo model: the core drives q to the reference.
    core = make()
    q, qd = 0.6, 0.0
    for i in range(3000):
        t = i * DT
        core.set_reference(t, 1.2, 0.0, 80.0)
        core.set_interaction(t, 0.0)
        out = core.update(t, q, qd)
        qdd = exo_acceleration(q, qd, out.torque, 0.0, core.dynamics)
        qd += qdd * DT
        q += qd * DT
    assert abs(q - 1.2) < 0.01


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(min_value=-3.0, max_value=3.0))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(finite_or_not, finite_or_not, finite_or_not, finite_or_not,
                          finite_or_not, finite_or_not, st.floats(0.0, 0.01)),
                min_size=1, max_size=30))
def test_property_command_always_finite_and_bounded(seq):
    core = make()
    t = 0.0
    prev = 0.0
    for q, qd, q_d, qd_d, k, tau_ext, dt in seq:
        t += dt
        core.set_reference(t, q_d, qd_d, k)
        core.set_interaction(t, tau_ext)
        out = core.update(t, q, qd)
        assert math.isfinite(out.torque) and abs(out.torque) <= core.params.torque_limit
        assert core.params.stiffness_min <= out.k_bounded <= core.params.stiffness_max
        # Torque-rate limit: at most max_torque_rate per second of the receipt clock.
        assert abs(out.torque - prev) <= core.params.max_torque_rate * dt * (1 + 1e-9) + 1e-12
        prev = out.torque


# -------------------------------------------------------------------------- input fault
def _tracking_core(**kw):
    """A core tracking a stiff reference with a clearly non-zero torque."""
    core = make(**kw)
    out = run(core, 0.0, 400, ref=(1.3, 0.0, 150.0), tau_ext=0.0)
    assert abs(out.torque) > 3.0 and not out.fault
    return core, out


def _assert_ramps_to_zero(core, prev, outs):
    """Torque magnitude never rises, obeys the rate limit and reaches zero in time."""
    p = core.params
    step = p.max_torque_rate * DT * (1.0 + 1e-9)
    ticks_to_zero = math.ceil(p.torque_limit / (p.max_torque_rate * DT))
    torques = [prev.torque] + [o.torque for o in outs]
    for a, b in pairwise(torques):
        assert abs(b) <= abs(a) and abs(b - a) <= step
    assert all(o.torque == 0.0 for o in outs[ticks_to_zero:])


@pytest.mark.parametrize('bad', [
    {'q': 1e9}, {'q': -1e9}, {'qd': 1e9}, {'q': math.nan}, {'qd': -math.inf},
    {'tau_ext': 1e9}, {'tau_ext': -1e9}, {'tau_ext': math.nan},
])
def test_implausible_input_for_half_a_second_ramps_to_zero_torque(bad):
    core, prev = _tracking_core()
    outs = []
    for i in range(500):  # 0.5 s of hostile input
        t = 0.4 + i * DT
        core.set_reference(t, 1.3, 0.0, 150.0)
        assert core.set_interaction(t, bad.get('tau_ext', 0.0)) == ('tau_ext' not in bad)
        outs.append(core.update(t, bad.get('q', 1.0), bad.get('qd', 0.0)))
    assert all(o.fault and o.flags & F.INPUT_FAULT for o in outs)
    # NONFINITE_INPUT only where a value was not finite; 1e9 is finite but implausible.
    nonfinite = not all(math.isfinite(v) for v in bad.values())
    assert all(bool(o.flags & F.NONFINITE_INPUT) == nonfinite for o in outs)
    assert all(o.k_bounded <= core.params.stiffness_compliant for o in outs)
    _assert_ramps_to_zero(core, prev, outs)


def test_interaction_torque_changing_too_fast_is_invalid():
    core, prev = _tracking_core()
    # 10 N*m within one 1 ms sample: 10000 N*m/s > max_interaction_torque_rate.
    assert not core.set_interaction(0.4, 10.0)
    out = core.update(0.4, 1.0, 0.0)
    assert out.fault and out.tau_ext == 0.0
    # The same torque reached at a plausible rate is valid (1 N*m per ms = 1000 N*m/s).
    core = make()
    run(core, 0.0, 10, ref=(1.0, 0.0, 2.0), tau_ext=0.0)
    for i in range(1, 11):
        assert core.set_interaction(0.01 + i * DT, float(i))
        assert not core.update(0.01 + i * DT, 1.0, 0.0).fault


def test_angle_plausibility_edges():
    p = ControllerParams()
    hi = p.joint_limit_upper + p.plausible_angle_margin
    core = make()
    assert not core.update(0.0, hi - 1e-6, 0.0).fault
    assert core.update(DT, hi + 1e-6, 0.0).fault
    core = make()
    assert not core.update(0.0, 1.0, p.max_plausible_velocity).fault
    assert core.update(DT, 1.0, p.max_plausible_velocity * 1.001).fault


def test_alternating_invalid_and_valid_samples_never_alternate_torque():
    core, prev = _tracking_core()
    outs = []
    for i in range(400):
        t = 0.4 + i * DT
        core.set_reference(t, 1.3, 0.0, 150.0)
        core.set_interaction(t, 0.0)
        outs.append(core.update(t, math.nan if i % 2 == 0 else 1.0, 0.0))
    assert all(o.fault for o in outs)
    _assert_ramps_to_zero(core, prev, outs)
    # Same with the interaction sensor alternating.
    core, prev = _tracking_core()
    outs = []
    for i in range(400):
        t = 0.4 + i * DT
        core.set_reference(t, 1.3, 0.0, 150.0)
        core.set_interaction(t, 1e9 if i % 2 == 0 else 0.0)
        outs.append(core.update(t, 1.0, 0.0))
    assert all(o.fault for o in outs)
    _assert_ramps_to_zero(core, prev, outs)


def test_fault_recovers_after_n_consecutive_valid_samples_only():
    core, _ = _tracking_core(fault_recovery_samples=20)
    t = 0.4
    core.update(t, math.nan, 0.0)
    outs = [core.update(t + (i + 1) * DT, 1.0, 0.0) for i in range(15)]
    assert all(o.fault for o in outs)
    # An invalid sample during recovery restarts the count.
    t += 16 * DT
    assert core.update(t, 1e9, 0.0).fault
    outs = [core.update(t + (i + 1) * DT, 1.0, 0.0) for i in range(20)]
    assert [o.fault for o in outs] == [True] * 19 + [False]
    resumed = outs[-1]
    # Resuming: compliant stiffness (one tick of bounded growth), reference restarting at
    # the arm (one tick of rate-limited motion), torque from zero under the rate limit.
    p = core.params
    assert outs[-2].k_bounded <= p.stiffness_compliant
    assert resumed.k_bounded <= p.stiffness_compliant * growth_factor(
        DT, p.target_inertia, p.target_damping)
    assert abs(resumed.q_ref - 1.0) <= p.max_reference_speed * DT * (1 + 1e-9)
    assert outs[-2].torque == 0.0
    assert abs(resumed.torque - outs[-2].torque) <= core.params.max_torque_rate * DT + 1e-12
    out = run(core, t + 21 * DT, 400, ref=(1.3, 0.0, 150.0), tau_ext=0.0)
    assert not out.fault and out.k_bounded == pytest.approx(150.0)


def test_rejected_reference_is_not_an_input_fault():
    core, _ = _tracking_core()
    assert not core.set_reference(0.4, math.nan, 0.0, 150.0)
    out = core.update(0.4, 1.0, 0.0)
    assert out.flags & F.NONFINITE_INPUT and not out.fault
    assert not out.flags & F.INPUT_FAULT


# ---------------------------------------------------------------------- stale reference
def test_stale_reference_with_moving_arm_puts_no_spring_torque_on_it():
    core = make(**WIDE)
    p = core.params
    run(core, 0.0, 400, ref=(1.2, 0.0, 200.0), tau_ext=0.0)
    ratio = p.exo_inertia / p.target_inertia
    n_stale = 0
    for i in range(1500):  # reference stops; the wearer keeps moving the arm
        t = 0.4 + i * DT
        q = 1.2 + 0.6 * math.sin(3.0 * t)
        qd = 1.8 * math.cos(3.0 * t)
        core.set_interaction(t, 0.5)
        out = core.update(t, q, qd)
        if not out.flags & F.REFERENCE_STALE:
            continue
        n_stale += 1
        spring = (out.torque - core.dynamics.gravity(q) - ratio * p.target_damping * out.ed
                  + (1.0 - ratio) * out.tau_ext)
        # The spring torque against the wearer: at most K_compliant times a small error.
        assert abs(spring) <= p.stiffness_compliant * 1e-9
        assert out.q_ref == q and out.e == 0.0
    assert n_stale > 1000


def test_reference_step_is_rate_limited():
    core = make()
    vmax = core.params.max_reference_speed
    run(core, 0.0, 10, ref=(0.5, 0.0, 50.0), q=0.5, tau_ext=0.0)
    prev = core._last.q_ref
    for i in range(400):
        t = 0.01 + i * DT
        core.set_reference(t, 2.0, 100.0, 50.0)  # a 1.5 rad step, absurd velocity
        core.set_interaction(t, 0.0)
        out = core.update(t, 0.5, 0.0)
        assert out.q_ref - prev <= vmax * out.tick_period * (1 + 1e-12)
        assert out.ed <= vmax  # reference velocity clipped too
        prev = out.q_ref
    assert out.q_ref == 2.0


def test_max_reference_speed_does_not_clip_the_task_references():
    import numpy as np

    from exo_contract.tasks import ReferenceTrajectory, TASKS, TrajectoryParams
    vmax = ControllerParams().max_reference_speed
    for task in TASKS:
        # Nominal and the data set's +-10 % variation (faster and larger).
        for params in (TrajectoryParams(), TrajectoryParams(1.1, 0.9, 0.0)):
            ref = ReferenceTrajectory(task, params)
            _, qd, _ = ref(np.linspace(0.0, ref.duration, 20001))
            assert np.max(np.abs(qd)) < 0.6 * vmax, task.task_id


# ------------------------------------------------------------------------- hygiene
def test_reset_never_raises_the_stiffness():
    core = make()
    run(core, 0.0, 400, ref=(1.2, 0.0, 200.0), tau_ext=0.0)
    assert core.limiter.value > 100.0
    core.reset(1.0, 1.0)
    assert core.limiter.value == core.params.stiffness_compliant
    # Below the compliant level, reset keeps the lower value (it used to raise it).
    core = make(stiffness_compliant=50.0)
    assert core.limiter.value == core.params.stiffness_min
    core.reset(0.0, 1.0)
    assert core.limiter.value == core.params.stiffness_min


def test_torque_rate_limit_and_zero_in_bounded_time():
    core = make(torque_limit=10.0, max_torque_rate=200.0)
    outs = [core.update(i * DT, 0.5, 0.0) for i in range(3)]
    for i in range(3, 400):
        t = i * DT
        core.set_reference(t, 2.0, 0.0, 300.0)
        core.set_interaction(t, 0.0)
        outs.append(core.update(t, 0.5, 0.0))
    torques = [o.torque for o in outs]
    assert all(abs(b - a) <= 200.0 * DT * (1 + 1e-9) for a, b in pairwise(torques))
    assert max(torques) == 10.0  # the limit is reached, never exceeded
    # Joint states stop: the watchdog ramps to zero within torque_limit / rate (+1 call).
    last = outs[-1]
    now = 0.399
    prev = last.torque
    for _ in range(80):
        now += 0.005
        out = core.check_timeouts(now)
        if out is None:
            continue
        assert abs(out.torque - prev) <= 200.0 * 0.005 * (1 + 1e-9) + 0.02 * 200.0
        prev = out.torque
    assert prev == 0.0
    assert core.check_timeouts(0.399 + 0.02 + 10.0 / 200.0 + 0.005).torque == 0.0


def test_rate_limit_flags():
    core = make(max_reference_speed=1.0, max_torque_rate=100.0)
    # The exo's own weight at q = 1 needs about 1.24 N*m: 0.1 N*m per tick at the limit.
    outs = [run(core, i * DT, 1, ref=(1.0, 0.0, 100.0), tau_ext=0.0) for i in range(30)]
    limited = [bool(o.flags & F.TORQUE_RATE_LIMITED) for o in outs]
    assert limited[:10] == [True] * 10 and limited[-1] is False
    assert all(abs(b.torque - a.torque) <= 0.1 + 1e-12 for a, b in pairwise(outs))
    out = run(core, 0.030, 1, ref=(2.0, 0.0, 100.0), tau_ext=0.0)
    assert out.flags & F.REFERENCE_RATE_LIMITED
    assert out.q_ref == pytest.approx(1.0 + 1.0 * DT)
    out = run(core, 0.031, 3000, ref=(1.5, 0.0, 100.0), tau_ext=0.0)
    assert not out.flags & F.REFERENCE_RATE_LIMITED


# --------------------------------------------------------------------------- e-stop
def _stop_then_tick(core, t0, n, cause):
    outs = []
    for i in range(n):
        t = t0 + i * DT
        if i == 0:
            cause(core, t)
        core.set_reference(t, 1.3, 0.0, 150.0)
        core.set_interaction(t, 0.0)
        outs.append(core.update(t, 1.0, 0.0))
    return outs


@pytest.mark.parametrize('cause', ['topic', 'service', 'task_text', 'heartbeat'])
def test_estop_ramps_to_zero_torque_and_compliant_until_explicit_resume(cause):
    core, prev = _tracking_core(estop_heartbeat_timeout=0.05)
    stop = core.stop
    if cause == 'heartbeat':
        stop.on_message('dev', False, 0.3)

    def trigger(core, t):
        if cause == 'topic':
            stop.on_message('dev', True, t)
        elif cause == 'heartbeat':
            assert stop.check_heartbeat(t)  # last message at 0.3 s, t = 0.4 s
        else:
            stop.request_stop(cause)

    outs = _stop_then_tick(core, 0.4, 300, trigger)
    assert all(o.stopped and o.flags & F.ESTOP and not o.fault for o in outs)
    assert all(o.k_bounded <= core.params.stiffness_compliant for o in outs)
    assert all(o.q_ref == 1.0 and o.e == 0.0 for o in outs)  # the measured angle
    _assert_ramps_to_zero(core, prev, outs)
    # A reset (e.g. reconfigure) does not end the stop.
    core.reset(0.7, 1.0)
    assert core.update(0.7, 1.0, 0.0).stopped
    # Explicit resume.
    if cause == 'topic':
        assert stop.on_message('dev', False, 0.7)
    else:
        if cause == 'heartbeat':
            stop.on_message('dev', False, 0.7)
        assert stop.resume(0.7) == (True, 'resumed')
    outs = [core.update(0.701 + i * DT, 1.0, 0.0) for i in range(3)]
    resumed = outs[0]
    assert not resumed.stopped and not resumed.flags & F.ESTOP
    assert resumed.k_bounded <= core.params.stiffness_compliant * growth_factor(
        DT, core.params.target_inertia, core.params.target_damping)
    # Torque rises from zero under the rate limit.
    assert abs(outs[0].torque) <= core.params.max_torque_rate * DT + 1e-12


def test_estop_during_input_fault_carries_both_flags_and_zero_torque():
    core, prev = _tracking_core()
    core.stop.request_stop('service')
    outs = [core.update(0.4 + i * DT, math.nan, 0.0) for i in range(100)]
    assert all(o.fault and o.stopped for o in outs)
    assert all(o.flags & F.ESTOP and o.flags & F.INPUT_FAULT for o in outs)
    _assert_ramps_to_zero(core, prev, outs)


def test_estop_while_joint_states_are_stale_is_flagged_by_the_watchdog():
    core, _ = _tracking_core()
    core.stop.on_message('dev', True, 0.4)
    out = core.check_timeouts(1.0)
    assert out.stopped and out.flags & F.ESTOP and out.flags & F.JOINT_STATE_STALE
    assert out.k_bounded <= core.params.stiffness_compliant


def test_core_shares_the_latch_it_is_given():
    from exo_impedance_controller.safety import StopLatch
    latch = StopLatch()
    latch.request_stop(StopLatch.SERVICE)
    core = ImpedanceControllerCore(ControllerParams(), latch)
    assert core.stop is latch and core.update(0.0, 1.0, 0.0).stopped


# --------------------------------------------------------------- one owner per topic
def test_owner_conflict_gives_zero_torque_and_recovers_after_n_valid_ticks():
    core, prev = _tracking_core(fault_recovery_samples=20)
    core.set_owner_conflict(True)
    outs = []
    for i in range(200):
        t = 0.4 + i * DT
        core.set_reference(t, 1.3, 0.0, 150.0)
        core.set_interaction(t, 0.0)
        outs.append(core.update(t, 1.0, 0.0))  # valid data: only the conflict is wrong
    assert all(o.fault and o.flags & F.MULTIPLE_PUBLISHERS and o.flags & F.INPUT_FAULT
               for o in outs)
    assert not any(o.flags & F.NONFINITE_INPUT for o in outs)
    _assert_ramps_to_zero(core, prev, outs)
    assert core.check_timeouts(10.0).flags & F.MULTIPLE_PUBLISHERS
    core.set_owner_conflict(False)
    outs = [core.update(0.6 + i * DT, 1.0, 0.0) for i in range(21)]
    assert [o.fault for o in outs] == [True] * 19 + [False] * 2
    assert not any(o.flags & F.MULTIPLE_PUBLISHERS for o in outs)
    assert outs[18].torque == 0.0


# --------------------------------------------------------------- assistance bound
def _bounded(**kw):
    """A core with the shipped assistance bound (ControllerParams defaults)."""
    core = ImpedanceControllerCore(ControllerParams(**kw))
    core.reset(0.0, 0.29)
    return core


def _bound_only():
    """The shipped bound, with far references taken.

    The shipped rules refuse a reference leading the arm by more than max_lead +
    reference_lead_tolerance (tested below); with the tolerance at pi no reference is
    refused, so the bound alone acts on far references.
    """
    return _bounded(reference_lead_tolerance=math.pi)


def test_a_hostile_reference_exerts_at_most_the_assistance_bound():
    # Arm at rest at 0.29 rad; a reference at 1.6 rad with K = 300 for 1.5 s.
    p = ControllerParams()
    core = _bound_only()
    outs = [None] * 1500
    for i in range(1500):
        t = i * DT
        core.set_reference(t, 1.6, 0.0, 300.0)
        outs[i] = core.update(t, 0.29, 0.0)
    g = abs(core.dynamics.gravity(0.29))
    ratio = p.exo_inertia / p.target_inertia
    for out in outs:
        assert abs(out.k_bounded * out.e) <= p.max_assist_torque * (1 + 1e-12)
        assert abs(out.e) <= p.max_lead + 1e-12
        assert abs(out.torque) <= g + ratio * p.max_assist_torque + 1e-9
    last = outs[-1]
    assert last.k_bounded == pytest.approx(300.0)
    assert last.e == pytest.approx(p.max_assist_torque / 300.0)
    assert last.flags & F.ASSISTANCE_BOUNDED


def test_at_low_stiffness_the_lead_bound_holds():
    p = ControllerParams()
    core = _bound_only()
    out = None
    for i in range(2000):
        t = i * DT
        core.set_reference(t, 1.29, 0.0, 2.0)
        out = core.update(t, 0.29, 0.0)
    assert out.e == pytest.approx(p.max_lead)
    assert out.q_ref == pytest.approx(0.29 + p.max_lead)
    assert out.flags & F.ASSISTANCE_BOUNDED


def test_the_bound_moves_the_angle_not_the_stiffness():
    # K is the eq. 13 limiter's own sequence with and without the bound.
    bounded, free = _bound_only(), make()
    free.reset(0.0, 0.29)
    for i in range(600):
        t = i * DT
        q = 0.29 + 0.2 * math.sin(3.0 * t)
        k = 20.0 if i < 300 else 250.0
        for core in (bounded, free):
            core.set_reference(t, q + 0.3, 0.0, k)
        a, b = bounded.update(t, q, 0.0), free.update(t, q, 0.0)
        assert a.k_bounded == b.k_bounded
        assert abs(a.e) <= abs(b.e) + 1e-12
        assert a.e * b.e >= 0.0  # toward the arm, never past it


def test_a_reference_within_the_bound_is_not_changed():
    core, free = _bounded(), make()
    free.reset(0.0, 0.29)
    for i in range(500):
        t = i * DT
        for c in (core, free):
            c.set_reference(t, 0.31, 0.5, 100.0)  # 2 N*m at 100 N*m/rad
        a, b = core.update(t, 0.29, 0.0), free.update(t, 0.29, 0.0)
        assert a == b
        assert not a.flags & F.ASSISTANCE_BOUNDED


@settings(max_examples=200, deadline=None)
@given(q=st.floats(0.0, 2.2), q_d=st.floats(-10.0, 10.0), qd=st.floats(-5.0, 5.0),
       qd_d=st.floats(-100.0, 100.0), k=st.floats(-1e3, 1e6))
def test_any_reference_keeps_what_it_sets_within_the_bound(q, q_d, qd, qd_d, k):
    p = ControllerParams()
    core = _bounded()
    for i in range(50):
        t = i * DT
        core.set_reference(t, q_d, qd_d, k)
        out = core.update(t, q, qd)
        assert abs(out.k_bounded * out.e) <= p.max_assist_torque * (1 + 1e-9)
        assert abs(out.e) <= p.max_lead * (1 + 1e-9)
        # What the reference sets of Dt ed + K e (the rest, -Dt qd, damps the wearer).
        qd_d = out.ed + qd
        if not out.flags & F.ASSISTANCE_BOUNDED or abs(qd_d - qd) > 1e-12:
            assert abs(p.target_damping * qd_d + out.k_bounded * out.e) \
                <= p.max_assist_torque * (1 + 1e-9) + 1e-12


def test_the_reference_velocity_adds_no_push_beyond_the_bound():
    # Arm at rest; the reference hugs it with the spring at its bound (K e = 5 N*m) and asks
    # for a large velocity: the feed-forward Dt qd_d would add Dt * max_reference_speed.
    p = ControllerParams()
    core = _bounded()
    ratio = p.exo_inertia / p.target_inertia
    g = core.dynamics.gravity(0.29)
    out = None
    for i in range(1500):
        t = i * DT
        core.set_reference(t, 0.29 + 4.9 / 300.0, 100.0, 300.0)
        out = core.update(t, 0.29, 0.0)
        pull = p.target_damping * (out.ed + out.qd) + out.k_bounded * out.e
        assert abs(pull) <= p.max_assist_torque * (1 + 1e-9)
        assert abs(out.torque - g) <= ratio * p.max_assist_torque + 1e-9
    assert out.k_bounded == pytest.approx(300.0)
    assert out.e == pytest.approx(4.9 / 300.0)  # the angle is kept, the velocity cut
    assert out.ed == pytest.approx((p.max_assist_torque - 4.9) / p.target_damping)
    assert out.flags & F.ASSISTANCE_BOUNDED


def test_a_fast_oscillation_within_the_lead_bound_stays_within_the_bound():
    # 20 Hz, 0.1 rad around the arm with its own velocity (up to 12.6 rad/s), K = 300.
    p = ControllerParams()
    core = _bounded()
    ratio = p.exo_inertia / p.target_inertia
    g = core.dynamics.gravity(0.29)
    w = 2.0 * math.pi * 20.0
    for i in range(1500):
        t = i * DT
        core.set_reference(t, 0.29 + 0.1 * math.sin(w * t), 0.1 * w * math.cos(w * t), 300.0)
        out = core.update(t, 0.29, 0.0)
        assert abs(out.torque - g) <= ratio * p.max_assist_torque + 1e-9


# ------------------------------------------------------- one owner of the reference
def test_a_second_reference_publisher_makes_the_exo_compliant_until_one_remains():
    p = ControllerParams()
    core = _bounded()
    for i in range(500):  # assisting: 100 N*m/rad, 0.03 rad ahead
        core.set_reference(i * DT, 0.32, 0.0, 100.0)
        out = core.update(i * DT, 0.29, 0.0)
    assert out.k_bounded == pytest.approx(100.0)
    core.set_reference_conflict(True)
    t = 500 * DT
    assert not core.set_reference(t, 1.6, 0.0, 300.0)  # refused
    out = core.update(t, 0.29, 0.0)
    assert out.k_bounded <= p.stiffness_compliant
    assert out.q_ref == 0.29 and out.e == 0.0
    assert out.flags & F.MULTIPLE_PUBLISHERS and out.flags & F.REFERENCE_STALE
    core.set_reference_conflict(False)
    n = p.fault_recovery_samples
    for i in range(501, 501 + n):
        t = i * DT
        assert not core.set_reference(t, 0.32, 0.0, 100.0)  # still refused: recovering
        out = core.update(t, 0.29, 0.0)
        assert out.k_bounded <= p.stiffness_compliant and out.e == 0.0
        assert not out.flags & F.MULTIPLE_PUBLISHERS
    t = (501 + n) * DT
    assert core.set_reference(t, 0.32, 0.0, 100.0)  # one publisher again: taken
    out = core.update(t, 0.29, 0.0)
    assert not out.flags & F.REFERENCE_STALE
    assert out.k_bounded > p.stiffness_compliant


# ----------------------------------------------- a reference that is not assistance
def _lead_run(core, n, t0, q, lead, k=300.0, qd=0.0):
    outs = []
    for i in range(n):
        t = t0 + i * DT
        core.set_reference(t, q + lead, 0.0, k)
        outs.append(core.update(t, q, qd))
    return outs


def test_a_far_reference_is_refused_not_bounded():
    # Arm at rest at 0.29 rad; a reference at 1.6 rad with K = 300: refused from its first
    # sample, the exo compliant, the reference following the arm (no spring at all).
    p = ControllerParams()
    core = _bounded()
    g = core.dynamics.gravity(0.29)
    for i in range(1500):
        t = i * DT
        assert not core.set_reference(t, 1.6, 0.0, 300.0)
        out = core.update(t, 0.29, 0.0)
        assert out.e == 0.0 and out.q_ref == 0.29
        assert out.flags & F.REFERENCE_REFUSED and out.flags & F.REFERENCE_STALE
        assert not out.flags & F.ASSISTANCE_BOUNDED
        assert out.k_bounded <= p.stiffness_compliant
        assert abs(out.torque) <= abs(g) + 1e-9  # the exo's own gravity compensation only
    assert out.torque == pytest.approx(g)


def test_refusal_drops_an_assisting_reference_and_the_stiffness_ramps_down():
    p = ControllerParams()
    core = _bounded()
    out = _lead_run(core, 500, 0.0, 0.29, 0.03, k=100.0)[-1]
    assert out.k_bounded == pytest.approx(100.0) and out.e == pytest.approx(0.03)
    # q + 1 (a wrong policy): refused; the assisting reference is dropped at once.
    outs = _lead_run(core, 600, 0.5, 0.29, 1.0, k=300.0)
    assert all(o.e == 0.0 for o in outs)
    ks = [o.k_bounded for o in outs]
    assert all(b <= a for a, b in pairwise(ks))  # ramps down, never up
    assert ks[0] > p.stiffness_compliant and ks[-1] == pytest.approx(p.stiffness_compliant)


def test_the_refusal_threshold_is_max_lead_plus_the_tolerance():
    p = ControllerParams()
    edge = p.max_lead + p.reference_lead_tolerance
    inside = _lead_run(_bounded(), 50, 0.0, 0.29, edge - 1e-6, k=2.0)[-1]
    assert not inside.flags & F.REFERENCE_REFUSED
    assert inside.e == pytest.approx(p.max_lead)  # taken, then bounded
    for lead in (edge + 1e-6, -(edge + 1e-6)):
        out = _lead_run(_bounded(), 50, 0.0, 0.29, lead, k=2.0)[-1]
        assert out.flags & F.REFERENCE_REFUSED and out.e == 0.0


def test_references_are_taken_again_after_n_ticks_without_a_far_one():
    p = ControllerParams()
    n = p.fault_recovery_samples
    core = _bounded()
    _lead_run(core, 10, 0.0, 0.29, 1.0)
    # Alternating near and far references: the far ones restart the count, none is taken.
    for i in range(4 * n):
        t = (10 + i) * DT
        core.set_reference(t, 0.29 + (1.0 if i % 2 else 0.05), 0.0, 100.0)
        out = core.update(t, 0.29, 0.0)
        assert out.e == 0.0 and out.flags & F.REFERENCE_REFUSED
    t0 = (10 + 4 * n) * DT
    outs = _lead_run(core, n + 50, t0, 0.29, 0.05, k=100.0)
    first = next(i for i, o in enumerate(outs) if o.e != 0.0)
    assert first == n - 1  # n valid ticks since the far one (its own counts), then taken
    assert not outs[-1].flags & (F.REFERENCE_REFUSED | F.REFERENCE_STALE)
    assert outs[-1].e == pytest.approx(0.05)


def test_a_reference_before_the_first_measurement_is_judged_on_it():
    core = ImpedanceControllerCore(ControllerParams())
    core.reset(0.0, None)
    core.set_reference(0.0, 1.6, 0.0, 300.0)
    out = core.update(0.0, 0.29, 0.0)
    assert out.e == 0.0 and out.flags & F.REFERENCE_REFUSED



def test_an_angle_in_doubt_never_judges_a_reference():
    # A second /joint_states publisher claims 2.0 rad while the arm is at 0.29: an input
    # fault (zero torque). The policy's assisting reference is not refused on that angle;
    # once one publisher remains it is taken after the recovery count, no refusal.
    p = ControllerParams()
    core = _bounded()
    _lead_run(core, 200, 0.0, 0.29, 0.05, k=100.0)
    core.set_owner_conflict(True)
    for i in range(200):
        t = (200 + i) * DT
        core.set_reference(t, 0.34, 0.0, 100.0)
        out = core.update(t, 2.0 if i % 2 else 0.29, 0.0)
        assert out.fault and not out.flags & F.REFERENCE_REFUSED
    core.set_owner_conflict(False)
    outs = _lead_run(core, p.fault_recovery_samples + 50, 0.4, 0.29, 0.05, k=100.0)
    assert not any(o.flags & F.REFERENCE_REFUSED for o in outs)
    assert not outs[-1].fault and outs[-1].e == pytest.approx(0.05)
