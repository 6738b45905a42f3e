"""Is a graph ready for an instruction? Who listens for the task text, by node name (rclpy glue).

Counting subscribers is not enough: controller_node's safety-input reader also reads the
text (stop words), so a count can be reached before policy_node listens and the
instruction would reach the human before the policy. The nodes read task_text_relay's
latched copy (/exo/task_text); the relay alone reads /task_text.
"""

from __future__ import annotations

from collections.abc import Iterable

from rclpy.node import Node

from exo_contract.topics import GRAPH_TASK_TEXT_TOPIC, TASK_TEXT_TOPIC

#: Node (as started by the graph) -> (topic, the node that reads the text on it for it).
TEXT_READERS = {
    'sim_node': (GRAPH_TASK_TEXT_TOPIC, 'sim_node'),
    # exo_policy.policy_node.INPUTS_SUFFIX
    'policy_node': (GRAPH_TASK_TEXT_TOPIC, 'policy_node_inputs'),
    'controller_node': (GRAPH_TASK_TEXT_TOPIC, 'controller_node_safety_inputs'),
    'task_text_relay': (TASK_TEXT_TOPIC, 'task_text_relay'),
}


def missing_text_readers(node: Node, started: Iterable[str]) -> set[str]:
    """Readers of the task text expected for the ``started`` nodes that are not there yet."""
    present = {(topic, info.node_name) for topic in (TASK_TEXT_TOPIC, GRAPH_TASK_TEXT_TOPIC)
               for info in node.get_subscriptions_info_by_topic(topic)}
    expected = {TEXT_READERS[name] for name in started if name in TEXT_READERS}
    return {name for _, name in expected - present}
