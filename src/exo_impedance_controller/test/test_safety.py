"""Tests of the safety layer: flags, saturation, joint limits, reference watchdog."""

from itertools import pairwise
import math

import pytest

from exo_impedance_controller.safety import (
    clamp_reference,
    joint_limit_filter,
    ReferenceSupervisor,
    SafetyFlags,
    saturate_torque,
    StalenessTimer,
)


def test_flags_mirror_controller_state_constants():
    expected = {
        'STIFFNESS_RATE_LIMITED': 1, 'STIFFNESS_CLAMPED': 2, 'TORQUE_SATURATED': 4,
        'JOINT_LIMIT': 8, 'REFERENCE_STALE': 16, 'JOINT_STATE_STALE': 32,
        'NONFINITE_INPUT': 64, 'INTERACTION_STALE': 128, 'INACTIVE': 256,
    }
    for name, value in expected.items():
        assert int(SafetyFlags[name]) == value


def test_flags_match_message_definition_when_built():
    msg = pytest.importorskip('exo_interfaces.msg')
    for flag in SafetyFlags:
        if flag.name != 'NONE':
            assert getattr(msg.ControllerState, 'FLAG_' + flag.name) == int(flag)


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
