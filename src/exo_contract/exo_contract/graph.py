"""Who publishes a topic: node names from the ROS graph, checked against DDS matching.

Helpers (no rclpy import) shared by controller_node, sim_node and bridge_node, which refuse
a topic that has more than one publisher.
"""

from typing import Sequence

#: Stands for a publisher that DDS has matched but the ROS graph cache does not name yet.
UNDISCOVERED_PUBLISHER = '<publisher not yet in the ROS graph>'


#: What rmw reports for an endpoint whose node's discovery information has not arrived.
RMW_UNKNOWN_NODE_NAME = '_NODE_NAME_UNKNOWN_'


def qualified_node_name(name: str, namespace: str) -> str:
    """Return the fully qualified node name: ``'/ns/name'`` (``'/name'`` in the root).

    An endpoint whose node rmw does not know yet is :data:`UNDISCOVERED_PUBLISHER`.
    """
    if name == RMW_UNKNOWN_NODE_NAME:
        return UNDISCOVERED_PUBLISHER
    ns = (namespace or '/').rstrip('/')
    return f'{ns}/{name or "?"}'


def endpoint_node_name(info) -> str:
    """Qualified node name of an rclpy ``TopicEndpointInfo``."""
    return qualified_node_name(info.node_name, info.node_namespace)


def topic_publishers(node, topic: str, matched: int) -> list:
    """Publishers of ``topic`` in ``node``'s graph, padded to the ``matched`` DDS count.

    ``node`` is an rclpy node (``get_publishers_info_by_topic``); see
    :func:`matched_publisher_names`.
    """
    return matched_publisher_names(
        [endpoint_node_name(i) for i in node.get_publishers_info_by_topic(topic)], matched)


def matched_publisher_names(graph_names: Sequence[str], matched: int) -> list:
    """Publisher names of a topic: the graph's, padded to the reader's matched count.

    A reader matches a writer (rclpy ``Subscription.get_publisher_count``) before it can
    receive a sample from it, while the ROS graph cache that names the writer's node may lag
    by milliseconds: each matched publisher the graph does not show yet counts as
    :data:`UNDISCOVERED_PUBLISHER`, so a second publisher is refused from its first sample.
    """
    names = list(graph_names)
    names.extend([UNDISCOVERED_PUBLISHER] * max(int(matched) - len(names), 0))
    return names
