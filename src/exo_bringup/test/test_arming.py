"""The operator arms the real device: nothing moves before exo_arm; the pre-wear check.

Integration (real processes over Fast DDS): the real graph of ``exo_launch real``
(bridge_node with the offline actuator, policy_node, controller_node) starts with
bridge_node and controller_node unconfigured. Checked from the outside: no joint states,
no effort command, no torque until an operator acts; a configured but inactive bridge
writes zero effort (motor not enabled); ``exo_arm`` refuses while an e-stop is held and
arms once it is released; ``exo_prewear_check`` then runs its three items and writes its
report. The offline actuator stands in for the exoskeleton (no device here). Item c tests
the controller's bound on any reference; its verdict is whatever the controller does, so
only its presence is asserted here. Item a's deadline gets a margin for a loaded CI machine
(the report shows the measured latencies).

The pure checks (:mod:`exo_bringup.arming`, :mod:`exo_bringup.prewear`) are tested
without ROS below.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from exo_bringup.arming import bridge_problems, controller_problems, homing_notice
from exo_bringup.device import ControllerSample, JointSample
from exo_bringup.graph import (
    BRIDGE_NODE,
    OPERATOR_ARMED,
    REAL_ARGUMENTS,
    REAL_GRAPH,
    SIM_ARGUMENTS,
    SIM_GRAPH,
)
from exo_bringup.launcher import node_command
from exo_bringup.prewear import (
    build_report,
    estop_item,
    format_table,
    rogue_item,
    timeout_item,
)
from exo_hardware.core import FLAG_ESTOP, FLAG_INACTIVE, FLAG_NO_COMMAND, FLAG_SENSOR_FAULT
from exo_impedance_controller.safety import SafetyFlags

READY_DEADLINE_S = 180.0
CI_TIMEOUT_MARGIN_MS = 100.0


# ------------------------------------------------------------------ graph definition
def test_real_graph_starts_bridge_and_controller_unarmed_and_sim_autostarts():
    real = {spec.name: node_command(spec, REAL_ARGUMENTS, {}) for spec in REAL_GRAPH}
    for name in ('bridge_node', 'controller_node'):
        assert 'autostart:=false' in real[name], real[name]
    assert not any('autostart' in arg for arg in real['policy_node'])
    for spec in SIM_GRAPH:
        cmd = node_command(spec, SIM_ARGUMENTS, {})
        assert not any('autostart' in arg for arg in cmd), cmd  # files' default: true
    assert BRIDGE_NODE.parameters == OPERATOR_ARMED == (('autostart', False),)


# ------------------------------------------------------------------ pure checks
def _sample(q=0.3, effort=0.0):
    return JointSample(0.0, 0.0, q, 0.0, effort)


def test_bridge_problems_name_each_reason_to_refuse():
    ok = {'flags': str(FLAG_INACTIVE | FLAG_NO_COMMAND), 'estop': 'False',
          'stop_word': 'False'}
    assert bridge_problems(ok, _sample(), 0.0, 2.27) == []
    assert 'no /joint_states' in bridge_problems(ok, None, 0.0, 2.27)[0]
    assert 'outside the joint range' in bridge_problems(ok, _sample(q=2.5), 0.0, 2.27)[0]
    assert 'outside the joint range' in bridge_problems(ok, _sample(q=math.nan), 0.0, 2.27)[0]
    held = dict(ok, flags=str(FLAG_ESTOP), estop='True')
    assert any('e-stop held' in p and 'data: false' in p
               for p in bridge_problems(held, _sample(), 0.0, 2.27))
    fault = dict(ok, flags=str(FLAG_SENSOR_FAULT))
    assert any('invalid joint reading' in p for p in bridge_problems(fault, _sample(), 0, 2.27))
    assert bridge_problems({}, _sample(), 0.0, 2.27) == ['no /diagnostics from bridge_node yet']


def test_controller_problems_need_ticks_on_the_bridge_angle_without_estop():
    inactive = ControllerSample(0.0, 0.3, 0.0, int(SafetyFlags.INACTIVE))
    assert controller_problems([inactive], 0.31) == []
    assert 'no /exo/controller_state' in controller_problems([], 0.3)[0]
    assert 'another joint state source' in controller_problems([inactive], 0.6)[0]
    stopped = ControllerSample(0.0, 0.3, 0.0, int(SafetyFlags.ESTOP | SafetyFlags.INACTIVE))
    assert 'e-stopped (STOPPED: x)' in controller_problems([stopped], 0.3, 'STOPPED: x')[0]


def test_homing_notice_says_what_the_operator_must_do():
    assert 'Hold the exoskeleton elbow at 0.3 rad' in homing_notice(
        {'homing': 'current', 'home_angle': 0.3})
    assert 'Nobody may wear' in homing_notice({'homing': 'hardstop', 'home_angle': 0.3})


def test_prewear_verdicts():
    good = timeout_item(0.5, 0.0105, 0.012, [], 200, deadline=0.011)
    assert good.passed and good.key == 'a'
    late = timeout_item(0.5, 0.030, 0.032, [], 200, deadline=0.011)
    assert late.passed is False and 'zeroed 30.0 ms' in late.detail
    assert timeout_item(0.5, 0.030, 0.032, [], 200, 0.011, margin=0.05).passed
    assert timeout_item(0.0, 0.01, 0.01, [], 200, 0.011).passed is False  # probe never seen
    relapse = timeout_item(0.5, 0.01, 0.01, [0.4], 200, 0.011)
    assert relapse.passed is False and '1 non-zero' in relapse.detail
    assert timeout_item(0.5, 0.01, 0.01, [], 0, 0.011).passed is False  # nothing seen after
    assert estop_item([('x', True, ''), ('y', True, '')]).passed
    assert estop_item([('x', True, ''), ('y', False, 'late')]).detail == 'y: late'
    assert rogue_item(4.0, 4.2, False, 1000.0, 1.5, (0.2, 0.5)).passed
    bad = rogue_item(25.0, 25.0, True, 1000.0, 0.2, (0.2, 1.6))
    assert bad.passed is False and 'stopped early' in bad.detail
    table = format_table([good, bad])
    assert 'PASS' in table and 'FAIL' in table and table.splitlines()[1].startswith('----')
    report = build_report([good, bad], {'actuator': 'offline'}, 'disarmed')
    assert report['passed'] is False and report['items'][1]['verdict'] == 'FAIL'
    json.dumps(report)


# ------------------------------------------------------------------ integration
rclpy = pytest.importorskip('rclpy')
pytest.importorskip('opensourceleg')


def _run(module, *args, env, timeout=240.0):
    return subprocess.run([sys.executable, '-m', module, *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.mark.integration
def test_nothing_moves_before_the_operator_arms_then_the_prewear_check(tmp_path,
                                                                       monkeypatch, ros_domain):
    from std_msgs.msg import Bool

    from exo_bringup.device import BRIDGE, CONTROLLER, DeviceObserver, LifecycleClient
    from exo_bringup.launcher import GraphProcesses
    from exo_contract.qos import ESTOP_QOS
    from exo_contract.topics import ESTOP_TOPIC

    domain = ros_domain
    monkeypatch.setenv('ROS_LOG_DIR', str(tmp_path / 'ros_log'))
    env = dict(os.environ)
    graph = GraphProcesses('real', {'hardware': 'bridge', 'policy_mode': 'oracle'},
                           log_dir=tmp_path / 'logs')
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain)
    node = rclpy.create_node('test_arming_observer', context=context)

    def alive():
        assert not graph.dead(), f'node exited: {graph.dead()}\n{logs()}'

    def logs():
        return '\n'.join(f'--- {p.name}\n{p.read_text()[-3000:]}'
                         for p in sorted((tmp_path / 'logs').glob('*.log')))

    obs = DeviceObserver(node, alive)
    bridge, controller = LifecycleClient(obs, BRIDGE), LifecycleClient(obs, CONTROLLER)
    graph.start()
    try:
        # --- unarmed: both lifecycle nodes unconfigured, no joint state, no command.
        assert bridge.wait(READY_DEADLINE_S) and controller.wait(READY_DEADLINE_S), logs()
        obs.spin(2.0)
        assert (bridge.state(), controller.state()) == ('unconfigured', 'unconfigured')
        assert not obs.joints and not obs.commands and not obs.states

        # --- configured, not active (homing only): zero effort, motor not enabled.
        assert bridge.transition('configure'), logs()
        assert obs.wait_for(lambda: len(obs.joints) >= 200 and obs.bridge_diag, 30.0), logs()
        assert all(s.effort == 0.0 for s in obs.joints)
        assert obs.bridge_flags() & FLAG_INACTIVE
        assert not obs.commands

        # --- exo_arm refuses while an e-stop is held, and says how to release it.
        estop = node.create_publisher(Bool, ESTOP_TOPIC, ESTOP_QOS)
        estop.publish(Bool(data=True))
        obs.spin(1.0)
        # The timeout also bounds the discovery of the nodes' services (a loaded machine).
        refused = _run('exo_bringup.arming', '--yes', '--timeout', '20', env=env)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert 'REFUSED' in refused.stderr and 'e-stop' in refused.stderr, refused.stderr
        assert 'data: false' in refused.stderr
        assert bridge.state() == 'inactive'  # not enabled
        assert all(s.effort == 0.0 for s in obs.joints)

        # --- released: exo_arm arms both nodes in order.
        estop.publish(Bool(data=False))
        obs.spin(1.0)
        node.destroy_publisher(estop)
        armed = _run('exo_bringup.arming', '--yes', env=env)
        assert armed.returncode == 0, armed.stdout + armed.stderr + logs()
        assert 'ARMED' in armed.stdout
        assert (bridge.state(), controller.state()) == ('active', 'active')
        since = time.monotonic()
        assert obs.wait_for(lambda: any(s.effort != 0.0 for s in obs.joints_after(since)),
                            10.0), 'the armed device applies no torque'

        # --- the pre-wear check against the armed device.
        report_path = tmp_path / 'prewear.json'
        check = _run('exo_bringup.prewear_check', '--yes', '--report', str(report_path),
                     '--timeout-margin-ms', str(CI_TIMEOUT_MARGIN_MS), env=env)
        print(check.stdout, check.stderr)
        report = json.loads(report_path.read_text())
        items = {item['key']: item for item in report['items']}
        assert set(items) == {'a', 'b', 'c'}, report
        assert items['b']['passed'] is True, (items['b'], logs())
        assert items['a']['passed'] is True, (items['a'], logs())
        assert items['a']['data']['probe_effort'] > 0.0
        assert items['c']['passed'] in (True, False), items['c']
        assert items['c']['data']['max_effort'] is not None
        assert check.returncode == (0 if report['passed'] else 1), check.stdout
        assert 'item' in check.stdout and 'PASS' in check.stdout
        # Left armed after a pass, disarmed (zero torque, motor idle) after a failure.
        expected = ('active', 'active') if report['passed'] else ('inactive', 'unconfigured')
        assert (bridge.state(), controller.state()) == expected, report['final_state']
    finally:
        codes = graph.stop()
        obs.close()
        node.destroy_node()
        context.try_shutdown()
    assert codes['bridge_node'] in (0, -signal.SIGINT), (codes, logs())
