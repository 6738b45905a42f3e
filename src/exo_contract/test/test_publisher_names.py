"""Publisher names of a topic (exo_contract.graph)."""

from exo_contract.graph import (
    matched_publisher_names,
    qualified_node_name,
    topic_publishers,
    UNDISCOVERED_PUBLISHER,
)


def test_qualified_node_name():
    assert qualified_node_name('sim_node', '/') == '/sim_node'
    assert qualified_node_name('bridge', '/lab/exo') == '/lab/exo/bridge'
    assert qualified_node_name('bridge', '/lab/') == '/lab/bridge'
    assert qualified_node_name('', '') == '/?'
    # rmw's placeholder for an endpoint whose node is not discovered yet
    assert qualified_node_name('_NODE_NAME_UNKNOWN_', '_NODE_NAMESPACE_UNKNOWN_') == \
        UNDISCOVERED_PUBLISHER


def test_matched_publishers_the_graph_does_not_name_yet_count():
    # DDS matched a second writer before the graph cache shows its node: two publishers.
    assert matched_publisher_names(['/controller_node'], 2) == [
        '/controller_node', UNDISCOVERED_PUBLISHER]
    assert matched_publisher_names([], 1) == [UNDISCOVERED_PUBLISHER]


def test_graph_names_are_kept_when_matching_lags_or_agrees():
    # A publisher with an incompatible QoS is in the graph but never matched: still named.
    assert matched_publisher_names(['/a', '/b'], 1) == ['/a', '/b']
    assert matched_publisher_names(['/a'], 1) == ['/a']
    assert matched_publisher_names([], 0) == []


def test_topic_publishers_names_the_graph_endpoints_and_pads_to_the_matched_count():
    class Info:
        def __init__(self, name, namespace):
            self.node_name, self.node_namespace = name, namespace

    class Node:
        def get_publishers_info_by_topic(self, topic):
            assert topic == '/joint_states'
            return [Info('sim_node', '/'), Info('_NODE_NAME_UNKNOWN_', '_NODE_NAMESPACE_UNKNOWN_')]

    assert topic_publishers(Node(), '/joint_states', 3) == [
        '/sim_node', UNDISCOVERED_PUBLISHER, UNDISCOVERED_PUBLISHER]
