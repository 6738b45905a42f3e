"""The SROS2 access-control policy of the graph (src/exo_bringup/security/policy.xml).

The policy is parsed (sros2 policy format 0.2.0) and checked against the ownership table
below (who alone may publish each topic of exo_contract.topics.TOPIC_TYPES, /diagnostics and
/clock), against the graph definition (every node the launchers start has its enclave), and
against the real sim_node, policy_node and controller_node, started in one process on a
private ROS domain: every topic and service they actually use must be allowed to them.
sros2 itself is not on PyPI, so the keystore tooling is not run here (docs/lab_integration.md).
"""

from pathlib import Path
import time
import xml.etree.ElementTree as ET

import pytest

from exo_bringup.graph import enclave, ENCLAVE_ROOT, REAL_GRAPH, share_path, SIM_GRAPH
from exo_contract.topics import TOPIC_TYPES

POLICY = Path(__file__).resolve().parents[1] / 'security' / 'policy.xml'
OPERATORS = {'exo_send_task', 'exo_demo', 'exo_bench', 'exo_trial'}
#: Who alone may publish each topic: the one owner of each topic of the graph (hardware
#: topics: the simulation, the Python bridge or ros2_control's broadcasters, never two at
#: once); a new topic in TOPIC_TYPES must be added here and to the policy.
OWNERS = {
    '/task_text': OPERATORS,
    '/exo/task_text': {'task_text_relay'},
    '/joint_states': {'sim_node', 'bridge_node', 'joint_state_broadcaster'},
    '/interaction_torque': {'sim_node', 'bridge_node', 'force_torque_sensor_broadcaster'},
    '/exo_effort_controller/commands': {'controller_node'},
    '/exo/impedance_reference': {'policy_node'},
    '/exo/controller_state': {'controller_node'},
    '/exo/human_state': {'sim_node'},
    '/exo/metabolic_power': {'sim_node', 'metabolic_analyser'},
    '/exo/gas_exchange': {'sim_analyser', 'exo_replay_gas', 'metabolic_analyser'},
    '/exo/energy_expenditure': {'metabolic_node'},
    '/exo/estop': {'exo_estop'},
    '/clock': {'sim_node'},
    '/diagnostics': {'sim_node', 'policy_node', 'controller_node', 'bridge_node',
                     'metabolic_node', 'controller_manager'},
}
PARAMETER_SERVICES = {'~/describe_parameters', '~/get_parameter_types', '~/get_parameters',
                      '~/list_parameters', '~/set_parameters', '~/set_parameters_atomically'}


def _parse(path: Path = POLICY) -> dict:
    """Policy -> {(enclave, node): {'publish'|'subscribe'|'reply'|'request': {names}}}."""
    root = ET.parse(path).getroot()
    assert root.tag == 'policy' and root.get('version') == '0.2.0'
    (enclaves,) = root.findall('enclaves')
    profiles = {}
    for enc in enclaves.findall('enclave'):
        path_ = enc.get('path')
        assert path_ and path_.startswith(ENCLAVE_ROOT + '/'), path_
        for profile in enc.findall('profiles/profile'):
            assert profile.get('ns') == '/'
            rules = {'publish': set(), 'subscribe': set(), 'reply': set(), 'request': set()}
            for group, item in (('topics', 'topic'), ('services', 'service')):
                for block in profile.findall(group):
                    modes = {k: v for k, v in block.attrib.items()}
                    assert modes and set(modes.values()) == {'ALLOW'}, modes
                    for mode in modes:
                        rules[mode] |= {e.text.strip() for e in block.findall(item)}
            key = (path_, profile.get('node'))
            assert key not in profiles, f'duplicate profile {key}'
            profiles[key] = rules
    return profiles


def _by_node(profiles: dict) -> dict:
    nodes = {}
    for (_, node), rules in profiles.items():
        assert node not in nodes, f'node {node!r} has profiles in two enclaves'
        nodes[node] = rules
    return nodes


def _expand(name: str, node: str) -> str:
    return f'/{node}/{name[2:]}' if name.startswith('~/') else name


def test_policy_is_installed_with_the_package():
    assert share_path('exo_bringup', 'security/policy.xml').read_text() == POLICY.read_text()


def test_every_topic_has_its_owners_and_readers():
    nodes = _by_node(_parse())
    assert set(TOPIC_TYPES) <= set(OWNERS), 'a topic without an owner in this test'
    for topic, owners in OWNERS.items():
        publishers = {n for n, r in nodes.items() if topic in r['publish']}
        subscribers = {n for n, r in nodes.items() if topic in r['subscribe']}
        assert publishers == owners, (topic, publishers)
        assert subscribers, f'nobody may read {topic}'
    # The actuator is commanded by controller_node alone, and read by the hardware side.
    command = '/exo_effort_controller/commands'
    assert {n for n, r in nodes.items() if command in r['subscribe']} >= {
        'sim_node', 'bridge_node', 'exo_effort_controller'}


def test_every_node_of_the_graph_has_its_enclave():
    profiles = _parse()
    for spec in SIM_GRAPH + REAL_GRAPH:
        assert (enclave(spec), spec.name) in profiles, spec.name
    for (_, node), rules in profiles.items():
        assert '/rosout' in rules['publish'], node
        if not node.endswith(('_safety_inputs', '_inputs')):  # helper nodes
            assert PARAMETER_SERVICES <= rules['reply'], node
    nodes = _by_node(profiles)
    assert {'/clock'} <= nodes['policy_node']['subscribe'] & nodes['controller_node']['subscribe']
    assert '~/estop' in nodes['controller_node']['reply']


def test_a_policy_missing_an_owner_fails(tmp_path):
    """The check bites: a policy in which sim_node may not publish /joint_states."""
    text = POLICY.read_text().replace('<topic>/joint_states</topic>', '<topic>/x</topic>', 1)
    bad = tmp_path / 'policy.xml'
    bad.write_text(text)
    nodes = _by_node(_parse(bad))
    assert {n for n, r in nodes.items() if '/joint_states' in r['publish']} != \
        OWNERS['/joint_states']


def test_running_nodes_stay_within_the_policy(ros_context):
    """Every endpoint of the real sim_node, policy_node, controller_node and relay is allowed."""
    pytest.importorskip('rclpy')
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from exo_contract.task_text_relay import TaskTextRelay
    from exo_impedance_controller.controller_node import ControllerNode
    from exo_policy.policy_node import PolicyNode
    from exo_sim.sim_node import SimNode

    allowed = _by_node(_parse())
    context = ros_context
    executor = SingleThreadedExecutor(context=context)
    nodes = []
    try:
        sim_time = [Parameter('use_sim_time', value=True)]
        lexical = Parameter('language_encoder', value='lexical')
        sim = SimNode(context=context, parameter_overrides=[
            Parameter('clock_mode', value='lockstep'), lexical])
        nodes = [sim, PolicyNode(context=context, parameter_overrides=sim_time + [
            Parameter('mode', value='oracle'), lexical])]
        controller = ControllerNode(context=context, parameter_overrides=sim_time)
        nodes += [controller, TaskTextRelay(context=context)]
        controller.trigger_configure()
        controller.trigger_activate()
        for node in nodes:
            executor.add_node(node)
        deadline = time.monotonic() + 60.0
        names = set()
        while not {'sim_node', 'policy_node', 'controller_node', 'task_text_relay'} <= names:
            assert time.monotonic() < deadline, names
            executor.spin_once(timeout_sec=0.05)
            names = {n for n, _ in sim.get_node_names_and_namespaces()}
        settle = time.monotonic() + 2.0  # discovery of the endpoints
        while time.monotonic() < settle:
            executor.spin_once(timeout_sec=0.05)
        graph = sim.get_node_names_and_namespaces()
        assert graph
        for name, namespace in graph:
            assert name in allowed, f'node {name!r} has no profile in the policy'
            rules = {mode: {_expand(n, name) for n in names}
                     for mode, names in allowed[name].items()}
            used = {
                'publish': sim.get_publisher_names_and_types_by_node(name, namespace),
                'subscribe': sim.get_subscriber_names_and_types_by_node(name, namespace),
                'reply': sim.get_service_names_and_types_by_node(name, namespace),
                'request': sim.get_client_names_and_types_by_node(name, namespace),
            }
            for mode, endpoints in used.items():
                missing = {t for t, _ in endpoints} - rules[mode]
                assert not missing, f'{name} may not {mode} {sorted(missing)}'
    finally:
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
