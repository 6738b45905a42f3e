"""Is a graph ready for an instruction? Who listens on /task_text, by node name (rclpy glue).

Counting subscribers is not enough: controller_node's safety-input reader also subscribes
/task_text (stop words), so a count can be reached before policy_node listens and the
instruction would reach the human before the policy.
"""

from __future__ import annotations

from collections.abc import Iterable

from rclpy.node import Node

from exo_contract.topics import TASK_TEXT_TOPIC

#: Node (as started by the graph) -> the node that reads /task_text for it.
TEXT_READERS = {
    'sim_node': 'sim_node',
    'policy_node': 'policy_node_inputs',  # exo_policy.policy_node.INPUTS_SUFFIX
    'controller_node': 'controller_node_safety_inputs',
}


def missing_text_readers(node: Node, started: Iterable[str]) -> set[str]:
    """Readers of /task_text expected for the ``started`` nodes that are not there yet."""
    present = {info.node_name for info in node.get_subscriptions_info_by_topic(TASK_TEXT_TOPIC)}
    expected = {TEXT_READERS[name] for name in started if name in TEXT_READERS}
    return expected - present
