"""Ctrl-C as ``ros2 launch`` sends it: SIGINT to each node process, exit status 0.

``launch`` escalates to SIGTERM after 5 s and reports any non-zero status as "process has
died"; the nodes must end before that with status 0, also while still loading.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip('rclpy')

#: launch's SIGINT -> SIGTERM escalation (LaunchConfiguration sigterm_timeout default).
LAUNCH_SIGTERM_TIMEOUT_S = 5.0


def _interrupt(module: str, wait_for: str | None, delay: float, extra=()) -> tuple:
    # ROS_DOMAIN_ID: the test's private domain (the ros_domain fixture).
    env = dict(os.environ, EXO_VIC_REALTIME='0', PYTHONUNBUFFERED='1')
    proc = subprocess.Popen([sys.executable, '-m', module, '--ros-args', *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    if wait_for is not None:
        deadline = time.monotonic() + 120.0
        for line in proc.stdout:
            out.append(line)
            if wait_for in line or time.monotonic() > deadline:
                break
    time.sleep(delay)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=LAUNCH_SIGTERM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        rest, _ = proc.communicate()
    elapsed = time.monotonic() - start
    print(f'{module}: exit status {proc.returncode} {elapsed:.2f} s after SIGINT')
    return proc.returncode, elapsed, ''.join(out) + rest


@pytest.mark.parametrize('module, ready, extra', [
    ('exo_impedance_controller.controller_node', 'active', ('-p', 'torque_limit:=20')),
    ('exo_hardware.bridge_node', 'active', ('-p', 'torque_limit:=20', '-p', 'autostart:=true')),
    ('exo_sim.sim_node', 'sim_node ready', ('-p', 'body_mass_kg:=80')),
])
def test_sigint_ends_a_running_node_with_status_0(module, ready, extra, ros_domain):
    status, elapsed, out = _interrupt(module, ready, 0.5, extra)
    assert status == 0, out[-2000:]
    assert 'Traceback' not in out


def test_sigint_stops_policy_node_while_it_loads(ros_domain):
    status, elapsed, out = _interrupt('exo_policy.policy_node', None, 3.0)
    assert status == 0, out[-2000:]
    assert 'policy_node ready' not in out
