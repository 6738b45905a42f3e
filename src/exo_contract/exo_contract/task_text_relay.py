"""task_text_relay: the one reader of /task_text; every node reads its latched copy.

``ros2 topic pub --once /task_text ...`` waits until one subscription matches, publishes
once (RELIABLE + VOLATILE by default) and exits. A volatile message reaches only the
readers matched at that moment: with sim_node, policy_node and controller_node each
reading /task_text, whichever matched first got the text and the others never did.

So the graph has one reader of /task_text: this node. It reads the topic from any
publisher (:func:`exo_contract.inputs.subscribe_input`: a live reader for volatile
publishers such as ``ros2 topic pub`` or a lab device, a latched reader for the history of
latched ones such as ``exo_send_task``) and re-publishes each text once on
``/exo/task_text``, RELIABLE + TRANSIENT_LOCAL (latched, depth 10). sim_node,
policy_node, controller_node (stop words) and bridge_node (stop words) read that copy, so
a node that matched a moment later, or started later, still gets the text. The relay is the
one owner of ``/exo/task_text`` (SROS2 policy); it logs any other publisher of it as an
error.

The relay is part of every graph (exo_bringup.graph) and is never restarted: its exit
stops the graph, as the controller's does (stop words reach the controller through it).
"""

from __future__ import annotations

from rclpy.node import Node
from std_msgs.msg import String

from exo_contract.graph import topic_publishers
from exo_contract.inputs import subscribe_input
from exo_contract.qos import GRAPH_TASK_TEXT_QOS
from exo_contract.runtime import run_node
from exo_contract.topics import GRAPH_TASK_TEXT_TOPIC, TASK_TEXT_TOPIC

NODE_NAME = 'task_text_relay'
#: Longest text shown in the log, characters.
MAX_LOGGED_TEXT = 80
#: Period of the check that the relay alone publishes /exo/task_text, s.
OWNER_CHECK_PERIOD_S = 1.0


class TaskTextRelay(Node):
    """Re-publishes every /task_text message once, latched, on /exo/task_text."""

    def __init__(self, **kwargs) -> None:
        """Create the readers of /task_text and the latched publisher of its copy."""
        super().__init__(NODE_NAME, **kwargs)
        self._publisher = self.create_publisher(String, GRAPH_TASK_TEXT_TOPIC,
                                                GRAPH_TASK_TEXT_QOS)
        self.relayed = 0
        self._intruders: tuple = ()
        self._readers = subscribe_input(self, String, TASK_TEXT_TOPIC, self._on_text)
        self.create_timer(OWNER_CHECK_PERIOD_S, self._check_owner)
        self.get_logger().info(f'relaying {TASK_TEXT_TOPIC} (any publisher) to '
                               f'{GRAPH_TASK_TEXT_TOPIC} (latched)')

    def _on_text(self, msg: String) -> None:
        self._publisher.publish(msg)
        self.relayed += 1
        text = msg.data
        shown = text[:MAX_LOGGED_TEXT] + ('...' if len(text) > MAX_LOGGED_TEXT else '')
        self.get_logger().info(f'relayed {shown!r}')

    def _check_owner(self) -> None:
        """Log any other publisher of /exo/task_text (once per change)."""
        own = f'{self.get_namespace().rstrip("/")}/{self.get_name()}'
        names = topic_publishers(self, GRAPH_TASK_TEXT_TOPIC, 0)
        intruders = tuple(sorted(n for n in names if n != own))
        if intruders and intruders != self._intruders:
            self.get_logger().error(
                f'{GRAPH_TASK_TEXT_TOPIC} has other publishers {list(intruders)}: it is '
                f"this relay's copy of {TASK_TEXT_TOPIC}; publish on {TASK_TEXT_TOPIC}")
        self._intruders = intruders


def main(args=None) -> None:
    """Run the relay until shutdown."""
    run_node(TaskTextRelay, args)


if __name__ == '__main__':
    main()
