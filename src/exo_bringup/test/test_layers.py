"""The layer rule: the contract at the bottom, the exoskeleton's computer free of MuJoCo.

docs/architecture.md, "Packages and layers": each package imports only the floors below it
(exo_sim, exo_policy, exo_impedance_controller, exo_hardware and exo_metabolic side by side:
the contract, the language front end where they need it, the messages and their own code);
exo_contract and exo_language import neither MuJoCo nor torch. The real exoskeleton's
computer runs policy_node and controller_node without MuJoCo (and the controller without
torch): checked here by running them with those modules made unimportable.

In the integration test this file plays the hardware side (the topics ros2_control's
joint_state_broadcaster / force_torque_sensor_broadcaster would publish): a test double,
because controller_manager and a physical exoskeleton cannot run here.
"""

import ast
import math
import os
from pathlib import Path
import subprocess
import sys
import time

import pytest

SRC = Path(__file__).resolve().parents[2]
PACKAGES = ('exo_contract', 'exo_language', 'exo_sim', 'exo_policy',
            'exo_impedance_controller', 'exo_hardware', 'exo_metabolic', 'exo_bringup',
            'exo_experiments')
_MIDDLE = {'exo_sim', 'exo_policy', 'exo_impedance_controller', 'exo_hardware',
           'exo_metabolic'}
# package -> first-party packages it may import (besides itself and exo_interfaces).
ALLOWED = {
    'exo_contract': set(),
    'exo_language': {'exo_contract'},
    'exo_sim': {'exo_contract', 'exo_language'},
    'exo_policy': {'exo_contract', 'exo_language'},
    'exo_impedance_controller': {'exo_contract'},
    'exo_hardware': {'exo_contract'},
    'exo_metabolic': {'exo_contract'},
    'exo_bringup': {'exo_contract', 'exo_language'} | _MIDDLE,
    'exo_experiments': {'exo_contract', 'exo_language', 'exo_bringup'} | _MIDDLE,
}
HEAVY = {'exo_contract': {'mujoco', 'torch'}, 'exo_language': {'mujoco', 'torch'},
         'exo_impedance_controller': {'mujoco', 'torch'}, 'exo_hardware': {'mujoco', 'torch'},
         'exo_metabolic': {'mujoco', 'torch'}, 'exo_policy': {'mujoco'}}


def _imports(path: Path) -> set[str]:
    """Top-level module names imported anywhere in ``path`` (lazy imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split('.')[0])
    return names


@pytest.mark.parametrize('package', PACKAGES)
def test_import_graph_follows_the_layers(package):
    sources = sorted((SRC / package / package).rglob('*.py'))
    assert sources, f'no sources found for {package}'
    first_party = set(PACKAGES)
    bad = []
    for path in sources:
        imported = _imports(path)
        for name in sorted(imported & first_party - {package} - ALLOWED[package]):
            bad.append(f'{path.relative_to(SRC)} imports {name}')
        for name in sorted(imported & HEAVY.get(package, set())):
            bad.append(f'{path.relative_to(SRC)} imports {name}')
    assert not bad, '\n'.join(bad)


def _blocker(tmp_path: Path, *modules: str) -> dict[str, str]:
    """Environment whose Python cannot import ``modules`` (a failing package shadows each)."""
    root = tmp_path / ('blocked_' + '_'.join(modules))
    for name in modules:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / '__init__.py').write_text(
            f'raise ImportError("{name} is blocked: this process must run without it")\n')
    env = os.environ.copy()
    env['PYTHONPATH'] = f'{root}{os.pathsep}{env.get("PYTHONPATH", "")}'
    return env


@pytest.mark.parametrize('modules, blocked', [
    (('exo_policy.policy_node', 'exo_policy.sources', 'exo_policy.runtime',
      'exo_policy.promp', 'exo_policy.oracle'), ('mujoco',)),
    (('exo_impedance_controller.controller_node', 'exo_hardware.bridge_node',
      'exo_metabolic.metabolic_node'), ('mujoco', 'torch')),
    (('exo_language.resolver', 'exo_language.calibration', 'exo_contract.tasks',
      'exo_contract.qos', 'exo_contract.runtime', 'exo_contract.metrics',
      'exo_contract.metabolics', 'exo_contract.stop_words', 'exo_contract.dataset',
      'exo_contract.task_text_relay'),
     ('mujoco', 'torch')),
])
def test_real_side_modules_import_without_mujoco(tmp_path, modules, blocked):
    env = _blocker(tmp_path, *blocked)
    code = ('import importlib, sys\n'
            f'for name in {blocked!r}:\n'
            '    try:\n'
            '        importlib.import_module(name)\n'
            '    except ImportError:\n'
            '        pass\n'
            '    else:\n'
            '        raise SystemExit(f"{name} was not blocked")\n'
            f'for name in {modules!r}:\n'
            '    importlib.import_module(name)\n'
            f'loaded = [n for n in {blocked!r} if n in sys.modules]\n'
            'assert not loaded, loaded\n'
            'print("ok")\n')
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0 and 'ok' in out.stdout, out.stdout + out.stderr


@pytest.mark.integration
def test_policy_and_controller_run_without_mujoco(tmp_path, ros_context):
    """policy_node (the learned policy, no MuJoCo) + controller_node (no MuJoCo, no torch)."""
    rclpy = pytest.importorskip('rclpy')
    from geometry_msgs.msg import WrenchStamped
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from exo_bringup.graph import CONTROLLER_NODE, POLICY_NODE, REAL_ARGUMENTS, TASK_TEXT_RELAY
    from exo_bringup.launcher import node_command
    from exo_bringup.send_task import publish_task_text
    from exo_contract.qos import (
        COMMAND_QOS,
        EFFORT_COMMAND_TOPIC,
        IMPEDANCE_REFERENCE_TOPIC,
        INTERACTION_TORQUE_TOPIC,
        JOINT_STATES_TOPIC,
        SENSOR_PUB_QOS,
    )
    from exo_interfaces.msg import ImpedanceReference

    logs = tmp_path / 'logs'
    logs.mkdir()
    procs = {}
    files = []
    for spec, blocked in ((POLICY_NODE, ('mujoco',)), (CONTROLLER_NODE, ('mujoco', 'torch')),
                          (TASK_TEXT_RELAY, ('mujoco', 'torch'))):
        env = _blocker(tmp_path, *blocked)
        env['PYTHONUNBUFFERED'] = '1'
        log = open(logs / f'{spec.name}.log', 'w')  # noqa: SIM115 (closed below)
        files.append(log)
        procs[spec.name] = subprocess.Popen(
            node_command(spec, REAL_ARGUMENTS, {'policy_mode': 'learned'}), env=env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    context = ros_context
    node = rclpy.create_node('hardware_double', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    refs, commands = [], []
    node.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, refs.append,
                             COMMAND_QOS)
    node.create_subscription(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                             lambda m: commands.append(list(m.data)), COMMAND_QOS)
    joint_pub = node.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
    torque_pub = node.create_publisher(WrenchStamped, INTERACTION_TORQUE_TOPIC,
                                       SENSOR_PUB_QOS)

    def publish_hardware():
        stamp = node.get_clock().now().to_msg()
        js = JointState(name=['exo_elbow_joint'], position=[0.3], velocity=[0.0],
                        effort=[0.0])
        js.header.stamp = stamp
        joint_pub.publish(js)
        w = WrenchStamped()
        w.header.stamp = stamp
        torque_pub.publish(w)

    node.create_timer(0.002, publish_hardware)

    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.01)
            dead = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
            assert not dead, (dead, _read(logs))

    try:
        deadline = time.monotonic() + 180.0
        # policy_node reads the relayed text once its policy is loaded (it publishes the
        # compliant reference meanwhile); the relay reads /task_text.
        while not (refs and commands and node.count_subscribers('/task_text') >= 2 and any(
                info.node_name.startswith('policy_node')
                for info in node.get_subscriptions_info_by_topic('/exo/task_text'))):
            assert time.monotonic() < deadline, 'nodes did not come up: ' + _read(logs)
            spin(0.2)
        publish_task_text(node, 'lift a heavy box')
        refs.clear()
        spin(1.5)
        assert any(r.task_id == 'lift_heavy' and r.source == 'learned' for r in refs), (
            [(r.task_id, r.source) for r in refs[-3:]], _read(logs))
        assert commands and all(math.isfinite(c[0]) and abs(c[0]) <= 25.0 + 1e-9
                                for c in commands[-100:])
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, 2)
        for p in procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()
        for f in files:
            f.close()
        executor.shutdown()
        node.destroy_node()
    log_text = _read(logs)
    assert 'blocked' not in log_text, log_text
    assert all(p.returncode in (0, -2) for p in procs.values()), (
        {n: p.returncode for n, p in procs.items()}, log_text)


def _read(logs: Path) -> str:
    return '\n'.join(f'--- {p.name}\n{p.read_text()[-3000:]}'
                     for p in sorted(logs.glob('*.log')))
