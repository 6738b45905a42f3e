"""The bridge's pure core: timeout, clamp, joint limits, derating, stops, topic owners.

Virtual time throughout (no sleeps, no timing thresholds). The actuator tests run the real
opensourceleg classes (ActuatorBase, SafetyManager, ThermalModel) under this project's
numpy 2 with the simulated elbow actuator; Dephy/T-Motor/Moteus need their devices.
"""

import math
import sys
import types

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from exo_hardware.arm_model import ArmModel, OFFLINE_MOTOR_CONSTANTS, SimulatedElbowActuator
from exo_hardware.core import (
    BridgeCore,
    FLAG_CLAMPED,
    FLAG_COMMAND_CONFLICT,
    FLAG_ESTOP,
    FLAG_INACTIVE,
    FLAG_INVALID_COMMAND,
    FLAG_JOINT_LIMIT,
    flag_names,
    FLAG_NO_COMMAND,
    FLAG_RAMPING,
    FLAG_SENSOR_CONFLICT,
    FLAG_SENSOR_FAULT,
    FLAG_STOP_WORD,
    FLAG_THERMAL_DERATED,
    FLAG_THERMAL_FAULT,
)
from exo_hardware.params import BridgeParams
from exo_hardware.ports import (
    ActuatorPort,
    configure_sdk_logging,
    LoadcellTorque,
    make_actuator,
    make_interaction_sensor,
    SensorReadError,
)

DT = 0.001  # one bridge tick of virtual time, s


@pytest.fixture(autouse=True, scope='module')
def _sdk_log(tmp_path_factory):
    """Opensourceleg writes its log file into a temporary directory, not the cwd."""
    configure_sdk_logging(str(tmp_path_factory.mktemp('opensourceleg')))


def _core(**overrides) -> BridgeCore:
    core = BridgeCore(BridgeParams(**overrides), OFFLINE_MOTOR_CONSTANTS)
    core.active = True
    return core


def _run(core, t0, n, cmd=None, q=0.5, qd=0.0, current=0.0):
    """``n`` ticks from ``t0``; a command each tick when ``cmd`` is given. Returns outputs."""
    outs = []
    for i in range(n):
        t = t0 + i * DT
        if cmd is not None:
            core.on_command(t, [cmd])
        outs.append(core.step(t, q, qd, current))
    return outs


# ----------------------------------------------------------------------------- params
def test_default_params_are_valid_and_timeout_meets_the_target():
    p = BridgeParams()
    assert p.zeroing_deadline <= 0.020  # command timeout + one tick <= 20 ms


@pytest.mark.parametrize('values, quoted', [
    ({'command_timeout': -0.1}, '-0.1'),
    ({'torque_limit': 0.0}, '0.0'),
    ({'direction': 2}, '2'),
    ({'actuator': 'rocket'}, 'rocket'),
    ({'homing': 'spin'}, 'spin'),
    ({'home_angle': 3.0}, '3.0'),
    ({'joint_limit_upper': -1.0}, '-1.0'),
    ({'rate_hz': 'fast'}, 'fast'),
    ({'command_timeout': 0.5}, '0.5'),
    ({'rate_hz': 50.0}, '50.0'),  # slower than one tick per command timeout
    ({'actuator': 'dephy'}, 'dephy'),  # offline cuff needs the offline actuator
])
def test_invalid_params_are_rejected_with_the_value(values, quoted):
    with pytest.raises(ValueError, match=quoted):
        BridgeParams.from_mapping(values)


def test_from_mapping_converts_integers_and_rejects_unknown_names():
    assert BridgeParams.from_mapping({'torque_limit': 20}).torque_limit == 20.0
    with pytest.raises(ValueError, match='torque_limt'):
        BridgeParams.from_mapping({'torque_limt': 20.0})


# ----------------------------------------------------------------------------- timeout
def test_command_timeout_gives_zero_and_records_the_latency():
    core = _core(resume_torque_rate=1e6)
    outs = _run(core, 0.0, 5, cmd=3.0)
    assert outs[-1].torque == 3.0 and outs[-1].flags == 0
    t_last = 4 * DT
    t = t_last
    out = outs[-1]
    while out.torque != 0.0:
        t += DT
        out = core.step(t, 0.5, 0.0)
    assert out.flags & FLAG_NO_COMMAND
    assert t - t_last > core.params.command_timeout
    assert t - t_last <= core.params.zeroing_deadline + 1e-9
    assert core.timeouts == 1 and core.last_timeout_latency == pytest.approx(t - t_last)
    # and it stays zero
    assert all(o.torque == 0.0 for o in _run(core, t + DT, 50))


def test_no_command_at_all_is_zero():
    core = _core()
    assert all(o.torque == 0.0 and o.flags & FLAG_NO_COMMAND for o in _run(core, 0.0, 20))
    assert core.timeouts == 0


@pytest.mark.parametrize('data', [[math.nan], [math.inf], [], [1.0, 2.0], ['x']])
def test_invalid_command_zeroes_at_once(data):
    core = _core(resume_torque_rate=1e6)
    _run(core, 0.0, 3, cmd=2.0)
    assert not core.on_command(3 * DT, data)
    out = core.step(3 * DT, 0.5, 0.0)
    assert out.torque == 0.0 and out.flags & FLAG_INVALID_COMMAND
    assert core.commands_rejected == 1


# ----------------------------------------------------------------------------- clamp
def test_clamp_to_the_torque_limit():
    core = _core(torque_limit=10.0, resume_torque_rate=1e6)
    for cmd in (50.0, -50.0):
        out = _run(core, 0.0, 3, cmd=cmd)[-1]
        assert out.torque == math.copysign(10.0, cmd) and out.flags & FLAG_CLAMPED


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True, width=64),
                          st.floats(-1.0, 3.5), st.booleans()), min_size=1, max_size=60))
def test_no_torque_beyond_the_clamp_for_any_command_sequence(seq):
    core = _core(torque_limit=12.0)
    t = 0.0
    for cmd, q, send in seq:
        t += DT
        if send:
            core.on_command(t, [cmd])
        out = core.step(t, q, 0.0)
        assert math.isfinite(out.torque) and abs(out.torque) <= 12.0


# ----------------------------------------------------------------------------- limits
def test_joint_limits_remove_only_the_outward_torque():
    core = _core(resume_torque_rate=1e6)
    upper, lower = core.params.joint_limit_upper, core.params.joint_limit_lower
    beyond_upper = _run(core, 0.0, 2, cmd=5.0, q=upper + 0.01)[-1]
    assert beyond_upper.torque == 0.0 and beyond_upper.flags & FLAG_JOINT_LIMIT
    back_down = _run(core, 1.0, 2, cmd=-5.0, q=upper + 0.01)[-1]
    assert back_down.torque == -5.0
    beyond_lower = _run(core, 2.0, 2, cmd=-5.0, q=lower - 0.01)[-1]
    assert beyond_lower.torque == 0.0 and beyond_lower.flags & FLAG_JOINT_LIMIT
    assert _run(core, 3.0, 2, cmd=5.0, q=lower - 0.01)[-1].torque == 5.0


@pytest.mark.parametrize('q, qd', [(math.nan, 0.0), (0.5, math.inf), (-1.0, 0.0),
                                   (3.0, 0.0), (0.5, 50.0)])
def test_invalid_joint_reading_gives_zero(q, qd):
    core = _core(resume_torque_rate=1e6)
    _run(core, 0.0, 2, cmd=4.0)
    core.on_command(2 * DT, [4.0])
    out = core.step(2 * DT, q, qd)
    assert out.torque == 0.0 and out.flags & FLAG_SENSOR_FAULT


# ----------------------------------------------------------------------------- thermal
def test_thermal_derating_then_latched_fault():
    core = _core(resume_torque_rate=1e6, torque_limit=25.0)
    t, out = 0.0, None
    heavy_current = 30000.0  # mA: far above what the motor can hold for long
    derated = None
    for _ in range(20000):
        t += 0.01
        core.on_command(t, [10.0])
        out = core.step(t, 0.5, 0.0, current_ma=heavy_current)
        if derated is None and out.flags & FLAG_THERMAL_DERATED:
            derated = out
        if out.flags & FLAG_THERMAL_FAULT:
            break
    assert derated is not None and 0.0 < derated.thermal_scale < 1.0
    assert derated.torque == pytest.approx(10.0 * derated.thermal_scale)
    assert out.flags & FLAG_THERMAL_FAULT and out.torque == 0.0
    assert core.thermal_fault
    # latched: a cold current does not release it
    core.on_command(t + 0.01, [10.0])
    assert core.step(t + 0.01, 0.5, 0.0, current_ma=0.0).torque == 0.0


# ----------------------------------------------------------------------------- stops
def test_estop_zeroes_until_released_then_ramps_up_from_zero():
    core = _core(resume_torque_rate=1000.0)  # 1 N*m per tick
    assert _run(core, 0.0, 10, cmd=5.0)[-1].torque == 5.0
    core.set_estop(True)
    outs = _run(core, 10 * DT, 10, cmd=5.0)
    assert all(o.torque == 0.0 and o.flags & FLAG_ESTOP for o in outs)
    core.set_estop(False)
    outs = _run(core, 20 * DT, 8, cmd=5.0)
    torques = [o.torque for o in outs]
    assert torques[:5] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])  # no step after a stop
    assert torques[-1] == 5.0
    assert outs[2].flags & FLAG_RAMPING and not outs[-1].flags & FLAG_RAMPING


def test_stop_word_latches_until_estop_false():
    core = _core(resume_torque_rate=1e6)
    _run(core, 0.0, 3, cmd=5.0)
    assert not core.on_text('lift a heavy box')
    assert core.on_text('STOP!!!')
    assert all(o.torque == 0.0 and o.flags & FLAG_STOP_WORD for o in _run(core, 1.0, 5, 5.0))
    assert not core.on_text('lift a heavy box')  # a task text does not resume
    assert _run(core, 2.0, 3, cmd=5.0)[-1].torque == 0.0
    core.set_estop(False)
    assert _run(core, 3.0, 3, cmd=5.0)[-1].torque == 5.0


def test_inactive_gives_zero():
    core = _core(resume_torque_rate=1e6)
    core.active = False
    assert all(o.torque == 0.0 and o.flags & FLAG_INACTIVE for o in _run(core, 0.0, 5, 5.0))


# ----------------------------------------------------------------------------- owners
def test_two_command_publishers_give_zero_and_are_named():
    core = _core(resume_torque_rate=1e6)
    core.set_command_publishers(['/controller_node', '/rogue'])
    out = _run(core, 0.0, 3, cmd=5.0)[-1]
    assert out.torque == 0.0 and out.flags & FLAG_COMMAND_CONFLICT
    assert '/controller_node' in core.reasons(out.flags) and '/rogue' in core.reasons(out.flags)
    core.set_command_publishers(['/controller_node'])
    assert _run(core, 1.0, 3, cmd=5.0)[-1].torque == 5.0


def test_another_sensor_publisher_gives_zero():
    core = _core(resume_torque_rate=1e6)
    core.set_sensor_intruders(['/sim_node'])
    out = _run(core, 0.0, 3, cmd=5.0)[-1]
    assert out.torque == 0.0 and out.flags & FLAG_SENSOR_CONFLICT
    assert '/sim_node' in core.reasons(out.flags)
    assert 'another sensor publisher' in flag_names(out.flags)


# ----------------------------------------------------------------------------- actuator
def _offline(**overrides):
    clock = [0.0]
    p = BridgeParams(**overrides)
    actuator = make_actuator(p, clock=lambda: clock[0])
    return p, actuator, ActuatorPort(actuator, p.direction), clock


def _advance(port, clock, seconds, torque=None):
    r = None
    for _ in range(int(round(seconds / DT))):
        clock[0] += DT
        r = port.read()
        if torque is not None:
            port.write(torque)
    return r


@pytest.mark.parametrize('direction', [1, -1])
def test_zeroing_makes_the_held_posture_read_home_angle(direction):
    p, actuator, port, clock = _offline(direction=direction, home_angle=0.7)
    assert isinstance(actuator, SimulatedElbowActuator)
    port.open()
    assert port.read().q != pytest.approx(0.7)  # the raw encoder has an offset
    port.zero('current', p.home_angle)
    assert port.read().q == pytest.approx(0.7, abs=1e-9)
    port.close()


def test_torque_moves_the_arm_and_disable_removes_it():
    _, _, passive, clock_a = _offline()
    _, act_b, driven, clock_b = _offline()
    for port in (passive, driven):
        port.open()
        port.zero('current', 0.3)
        port.enable()
    q_passive = _advance(passive, clock_a, 0.3, torque=0.0).q
    r = _advance(driven, clock_b, 0.3, torque=3.0)
    assert r.q > q_passive + 0.05
    assert r.current_ma > 0.0 and act_b.output_torque_applied == pytest.approx(3.0)
    driven.disable()
    assert not driven.enabled and act_b.output_torque_applied == 0.0
    driven.write(5.0)  # ignored once disabled
    assert act_b.output_torque_applied == 0.0
    driven.close()
    driven.close()  # twice is fine
    passive.close()


def test_offline_cuff_gives_a_non_trivial_interaction_torque():
    p, actuator, port, clock = _offline()
    sensor = make_interaction_sensor(p, actuator)
    port.open()
    port.zero('current', p.home_angle)
    port.enable()
    values = []
    for _ in range(30):
        _advance(port, clock, 0.1, torque=0.0)
        values.append(sensor.read())
    assert max(values) - min(values) > 0.2  # N*m: the human moves against the exo
    port.close()


def test_safety_decorators_turn_bad_readings_into_sensor_faults():
    _, actuator, port, clock = _offline()
    port.open()
    actuator.arm.q = math.nan
    with pytest.raises(SensorReadError):
        port.read()
    port.close()


def test_arm_model_settles_where_the_cuff_holds_gravity():
    arm = ArmModel(human_amplitude=0.0, human_center=0.8)
    for _ in range(40000):
        arm.step(5e-4, 0.0)
    g = arm.gravity_sin * math.sin(arm.q) + arm.gravity_cos * math.cos(arm.q)
    assert arm.cuff_stiffness * (0.8 - arm.q) == pytest.approx(g, abs=1e-6)
    assert abs(arm.qd) < 1e-6


# ----------------------------------------------------------------------------- factories
def test_driver_without_its_library_fails_with_a_clear_message():
    if 'flexsea' in sys.modules:
        pytest.skip('flexsea is installed here')
    with pytest.raises(ValueError, match='flexsea'):
        make_actuator(BridgeParams(actuator='dephy', interaction_sensor='none'))


def test_factory_must_return_an_opensourceleg_actuator(monkeypatch):
    module = types.ModuleType('fake_exo_hardware')
    module.make = lambda params: object()
    monkeypatch.setitem(sys.modules, 'fake_exo_hardware', module)
    with pytest.raises(ValueError, match='ActuatorBase'):
        make_actuator(BridgeParams(actuator='fake_exo_hardware:make',
                                   interaction_sensor='none'))
    with pytest.raises(ValueError, match='cannot load'):
        make_actuator(BridgeParams(actuator='fake_exo_hardware:missing',
                                   interaction_sensor='none'))


def test_loadcell_torque_reads_the_axis():
    class Cell:
        mz = 0.0

        def update(self):
            self.mz = 2.5

    assert LoadcellTorque(Cell(), 'mz', lever_arm=2.0).read() == 5.0
    with pytest.raises(ValueError, match='qq'):
        LoadcellTorque(Cell(), 'qq')
