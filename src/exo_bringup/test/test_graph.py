"""Graph definition, pip-only launcher, launch files, URDF and controllers configuration.

ros2_control's controller_manager cannot run on this machine (no ros2_control wheels), so
the URDF and controllers YAML of exo_description are checked statically here: they must
describe the topic contract the controller expects. The launch files themselves are run in
test_launch_files.py.
"""

from pathlib import Path
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import yaml

from exo_bringup.graph import (
    network_environment,
    node_overrides,
    node_transport_environment,
    REAL_ARGUMENTS,
    REAL_GRAPH,
    share_path,
    SIM_ARGUMENTS,
    SIM_GRAPH,
)
from exo_bringup.launcher import GraphProcesses, node_command
from exo_impedance_controller.params import ControllerParams


def test_every_node_has_its_parameter_files_installed():
    for spec in SIM_GRAPH + REAL_GRAPH:
        for package, relative in spec.param_files:
            data = yaml.safe_load(share_path(package, relative).read_text())
            assert spec.name in data, f'{relative} has no section for {spec.name}'


def test_arguments_target_declared_parameters():
    declared = {}
    for spec in SIM_GRAPH:
        params = {}
        for package, relative in spec.param_files:
            params.update(yaml.safe_load(share_path(package, relative).read_text())
                          [spec.name]['ros__parameters'])
        declared[spec.name] = params
    for arg in SIM_ARGUMENTS + REAL_ARGUMENTS:
        assert arg.description
        for node, parameter in arg.targets:
            assert parameter in declared[node], f'{arg.name} -> {node}.{parameter}'


def test_node_command_carries_files_and_overrides():
    cmd = node_command(SIM_GRAPH[0], SIM_ARGUMENTS, {'body_mass_kg': '80.0'})
    assert cmd[1:3] == ['-m', 'exo_sim.sim_node']
    assert '__node:=sim_node' in cmd and 'body_mass_kg:=80.0' in cmd
    assert 'cuff_stiffness:=150.0' in cmd  # defaults are explicit
    assert node_overrides(SIM_ARGUMENTS, {}, 'controller_node') == {'torque_limit': '25.0'}


def test_launcher_rejects_unknown_arguments_and_graphs():
    with pytest.raises(ValueError, match='body_mas'):
        GraphProcesses('sim', {'body_mas': '80'})
    with pytest.raises(ValueError, match='graph'):
        GraphProcesses('moon')
    with pytest.raises(ValueError, match='body_mass_kg'):
        GraphProcesses('real', {'body_mass_kg': '80'})  # the real graph has no simulator


def test_only_policy_node_respawns():
    respawning = {s.name for s in SIM_GRAPH + REAL_GRAPH if s.respawn_delay is not None}
    assert respawning == {'policy_node'}
    assert GraphProcesses('sim').respawn == {'policy_node': 1.0}


def test_launcher_restarts_policy_node_and_stops_on_any_other_exit(tmp_path):
    """supervise(): a respawnable node comes back after its delay; another's exit ends.

    The graph's commands are replaced by short Python processes (the supervision, not the
    nodes, is under test; the nodes' own restart behaviour is tested in exo_policy).
    """
    graph = GraphProcesses('sim', log_dir=tmp_path)
    sleeper = [sys.executable, '-c', 'import time; time.sleep(60)']
    graph.commands = [('sim_node', sleeper), ('controller_node', sleeper),
                      ('policy_node', [sys.executable, '-c', 'print("up")'])]
    graph.respawn = {'policy_node': 0.2}
    try:
        graph.start()
        deadline = time.monotonic() + 20.0
        while graph.restarts.get('policy_node', 0) < 2 and time.monotonic() < deadline:
            assert graph.supervise() == {}
            time.sleep(0.05)
        assert graph.restarts['policy_node'] >= 2
        assert (tmp_path / 'policy_node.log').read_text().count('up') >= 2  # appended
        graph.processes['controller_node'].kill()
        graph.processes['controller_node'].wait(10)
        assert 'controller_node' in graph.supervise()
    finally:
        graph.stop()


def test_network_environment_keeps_fast_dds_off_shared_memory_unless_told():
    """UDPv4 by default (a killed node cannot block its publishers); the user's choice wins."""
    assert network_environment({})['FASTDDS_BUILTIN_TRANSPORTS'] == 'UDPv4'
    assert 'FASTDDS_BUILTIN_TRANSPORTS' not in network_environment(
        {'FASTDDS_BUILTIN_TRANSPORTS': 'DEFAULT'})
    assert network_environment({'FASTDDS_BUILTIN_TRANSPORTS': 'DEFAULT'},
                               {'dds_transports': 'SHM'})['FASTDDS_BUILTIN_TRANSPORTS'] == 'SHM'
    for typo in ('udp', 'UDPv4 '):  # a clear error, not Fast DDS's fallback to DEFAULT (SHM)
        with pytest.raises(ValueError, match='dds_transports'):
            network_environment({}, {'dds_transports': typo})
        with pytest.raises(ValueError, match='dds_transports'):
            GraphProcesses('sim', network={'dds_transports': typo})


def test_node_transport_environment_gives_localhost_nodes_the_udp_profile():
    env = {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'FASTDDS_BUILTIN_TRANSPORTS': 'UDPv4'}
    out = node_transport_environment(env)
    assert out['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'SYSTEM_DEFAULT'
    profile = Path(out['FASTDDS_DEFAULT_PROFILES_FILE'])
    root = ET.parse(profile).getroot()
    ns = {'d': 'http://www.eprosima.com'}
    participant = root.find('d:profiles/d:participant', ns)
    assert participant.get('is_default_profile') == 'true'
    assert participant.findtext('d:rtps/d:useBuiltinTransports', namespaces=ns) == 'false'
    assert root.findtext('d:profiles/d:transport_descriptors/d:transport_descriptor/d:type',
                         namespaces=ns) == 'UDPv4'
    assert participant.findtext('d:rtps/d:builtin/d:initialPeersList/d:locator/d:udpv4/'
                                'd:address', namespaces=ns) == '127.0.0.1'
    # The user's own choices are left alone.
    for change in ({'FASTDDS_BUILTIN_TRANSPORTS': 'DEFAULT'},
                   {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'},
                   {'FASTDDS_DEFAULT_PROFILES_FILE': '/lab/fastdds.xml'},
                   {'ROS_STATIC_PEERS': '192.168.0.7'}, {'ROS_DISTRO': 'humble'}):
        assert node_transport_environment({**env, **change}) == {}


def test_graph_nodes_run_without_shared_memory_and_reach_a_default_participant(
        tmp_path, ros_context):
    """A graph node uses no shared memory yet talks with rmw's own LOCALHOST participant.

    The node started by GraphProcesses maps no Fast DDS shared-memory port and still relays,
    both ways, with an rclpy participant that has rmw's LOCALHOST transports (shared memory +
    UDP); stacks() makes it write its thread stacks (SIGUSR1) and it goes on running.

    The real task_text_relay node of the sim graph, alone, on the test's private domain.
    """
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from exo_bringup.send_task import publish_task_text
    from exo_contract.inputs import subscribe_input
    from exo_contract.topics import GRAPH_TASK_TEXT_TOPIC

    graph = GraphProcesses('sim', log_dir=tmp_path)
    graph.commands = [(name, cmd) for name, cmd in graph.commands if name == 'task_text_relay']
    node = rclpy.create_node('transport_probe', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    relayed = []
    subscribe_input(node, String, GRAPH_TASK_TEXT_TOPIC, lambda m: relayed.append(m.data))
    try:
        graph.start()
        pid = graph.processes['task_text_relay'].pid
        publish_task_text(node, 'lift a heavy box')
        deadline = time.monotonic() + 60.0
        while not relayed and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        assert relayed == ['lift a heavy box']
        assert 'fastdds_port' not in Path(f'/proc/{pid}/maps').read_text()
        environ = Path(f'/proc/{pid}/environ').read_bytes().split(b'\0')
        assert b'ROS_AUTOMATIC_DISCOVERY_RANGE=SYSTEM_DEFAULT' in environ
        text = graph.stacks(wait=1.0)
        assert '--- task_text_relay' in text
        assert 'most recent call first' in text and 'run_node' in text
        assert graph.dead() == {}
    finally:
        codes = graph.stop()
        node.destroy_node()
    assert codes == {'task_text_relay': 0}
    assert GraphProcesses('sim').stacks() == ''  # no log directory, nothing to read


def test_stacks_leaves_a_process_without_the_handler_running(tmp_path):
    """SIGUSR1 would end a process that has no handler yet (a node still importing)."""
    graph = GraphProcesses('sim', log_dir=tmp_path)
    graph.commands = [('sim_node', [sys.executable, '-c', 'import time; time.sleep(60)'])]
    try:
        graph.start()
        time.sleep(0.5)
        assert '--- sim_node' in graph.stacks(wait=0.2)
        assert graph.dead() == {}
    finally:
        graph.stop()


def test_urdf_ros2_control_matches_the_controller_contract():
    urdf = share_path('exo_description', 'urdf/exo_elbow.urdf').read_text()
    root = ET.fromstring(urdf.replace('${hardware_plugin}', 'mock_components/GenericSystem')
                         .replace('${cuff_sensor_name}', 'cuff_ft'))
    joint_name = ControllerParams().joint_name
    system = root.find('ros2_control')
    assert system is not None and system.get('type') == 'system'
    joint = system.find(f"joint[@name='{joint_name}']")
    assert joint is not None
    assert [c.get('name') for c in joint.findall('command_interface')] == ['effort']
    assert {'position', 'velocity'} <= {s.get('name') for s in joint.findall('state_interface')}
    sensor = system.find("sensor[@name='cuff_ft']")
    assert 'torque.z' in {s.get('name') for s in sensor.findall('state_interface')}
    limit = root.find(f"joint[@name='{joint_name}']/limit")
    assert float(limit.get('upper')) == pytest.approx(ControllerParams().joint_limit_upper)
    assert float(limit.get('effort')) >= ControllerParams().torque_limit


def test_controllers_yaml_serves_the_topic_contract():
    cfg = yaml.safe_load(share_path('exo_description', 'config/controllers.yaml').read_text())
    cm = cfg['controller_manager']['ros__parameters']
    assert cm['exo_effort_controller']['type'] == \
        'forward_command_controller/ForwardCommandController'
    assert cm['joint_state_broadcaster']['type'].startswith('joint_state_broadcaster/')
    assert cm['force_torque_sensor_broadcaster']['type'].startswith(
        'force_torque_sensor_broadcaster/')
    effort = cfg['exo_effort_controller']['ros__parameters']
    assert effort == {'joints': [ControllerParams().joint_name], 'interface_name': 'effort'}
    assert cfg['force_torque_sensor_broadcaster']['ros__parameters']['sensor_name'] == 'cuff_ft'


def test_docker_and_ci_use_the_documented_commands():
    root = Path(__file__).resolve().parents[3]
    if not (root / '.ci' / 'run').exists():
        pytest.skip('not running from a source checkout')
    assert 'make test' in (root / '.ci' / 'run').read_text()
    assert 'make test' in (root / 'README.md').read_text()
