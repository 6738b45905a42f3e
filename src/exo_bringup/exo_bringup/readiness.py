"""Is a graph ready for an instruction? Who listens for the task text, by node name (rclpy glue).

Counting subscribers is not enough: controller_node's safety-input reader also reads the
text (stop words), so a count can be reached before policy_node listens and the
instruction would reach the human before the policy. The nodes read task_text_relay's
latched copy (/exo/task_text); the relay alone reads /task_text.

And has policy_node loaded its reference source (:class:`PolicyLoadWait`)?
"""

from __future__ import annotations

from collections.abc import Iterable
import math

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node

from exo_contract.qos import STATE_QOS
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


#: Name of policy_node's load status on /diagnostics (exo_policy.policy_node.SOURCE_STATUS)
#: and its messages.
POLICY_SOURCE_STATUS = 'policy_node: reference source'
POLICY_LOADING, POLICY_LOADED, POLICY_LOAD_FAILED = 'loading', 'loaded', 'load failed'
#: Wall seconds between progress lines while policy_node loads.
LOAD_PROGRESS_S = 10.0
#: The most a wait for policy_node's load may take, wall s (a safety net only: loading the
#: language model and the checkpoint takes seconds to minutes, longer on a loaded machine).
LOAD_TIMEOUT_S = 3600.0
#: A 'loading' status older than this (wall s) no longer extends the wait (a stuck node:
#: policy_node repeats it once a second).
LOAD_STATUS_FRESH_S = 30.0


class PolicyLoadWait:
    """Follows policy_node's load status on /diagnostics while a tool waits for the graph.

    The graph tools wait as long as policy_node says it is loading (its compliant reference
    holds the exo meanwhile), with a progress line every LOAD_PROGRESS_S, up to
    LOAD_TIMEOUT_S; a 'load failed' status ends the wait at once. ``clock`` gives wall
    seconds (time.monotonic).
    """

    def __init__(self, node: Node, clock, print_line=print, prefix: str = '[graph]') -> None:
        self.node, self.clock, self.print_line, self.prefix = node, clock, print_line, prefix
        self.message = ''
        self.heard = -math.inf
        self.start = clock()
        self._next_note = self.start + LOAD_PROGRESS_S
        self._sub = node.create_subscription(DiagnosticArray, '/diagnostics', self._on,
                                             STATE_QOS)

    def _on(self, msg) -> None:
        for status in msg.status:
            if status.name == POLICY_SOURCE_STATUS:
                self.message, self.heard = status.message, self.clock()

    @property
    def loaded(self) -> bool:
        """policy_node said its source is loaded."""
        return self.message == POLICY_LOADED

    def loading(self) -> bool:
        """policy_node says (recently) that it is still loading."""
        return (self.message == POLICY_LOADING
                and self.clock() - self.heard < LOAD_STATUS_FRESH_S)

    def check(self, deadline: float) -> bool:
        """One poll of the wait: print progress; False once it should give up.

        Gives up at ``deadline`` (wall s) unless policy_node is still loading (then at
        LOAD_TIMEOUT_S after the start); raises RuntimeError on 'load failed'.
        """
        now = self.clock()
        if self.message == POLICY_LOAD_FAILED:
            raise RuntimeError('policy_node could not load its reference source (see its '
                               'log); it stays compliant')
        if now >= self._next_note:
            self._next_note = now + LOAD_PROGRESS_S
            self.print_line(f'{self.prefix} waiting for the graph ({now - self.start:.0f} s): '
                            f'policy_node {self.message or "not heard yet"} (its compliant '
                            'reference holds the exo meanwhile)')
        if now < deadline:
            return True
        return self.loading() and now - self.start < LOAD_TIMEOUT_S

    def close(self) -> None:
        """Stop listening."""
        self.node.destroy_subscription(self._sub)
