"""Inputs a person or a lab device sends (/task_text, /exo/estop): read from any publisher.

The rule (docs/ros_cli.md, "Inputs and QoS"): every node that acts on such an input reads
it with two subscriptions of the same topic,

* a **live** reader, RELIABLE + VOLATILE: it matches every publisher, volatile
  (``ros2 topic pub`` with its defaults, a lab device) and transient-local (``exo_send_task``,
  a latched e-stop), and gets each message published while it is matched;
* a **latched** reader, RELIABLE + TRANSIENT_LOCAL: it matches only transient-local
  publishers and gets their history, so a stop (or an instruction) published before the
  node started still reaches it.

A message of a transient-local publisher arrives on both; :class:`DuplicateFilter` passes it
once. The exo's own publishers of these topics stay transient-local (latched): a node
that starts later still gets their last message.

Pure logic here (:class:`DuplicateFilter`); :func:`subscribe_input` and
:class:`PolledInput` create the subscriptions (rclpy).
"""

from __future__ import annotations

from collections import deque
import time
from typing import Any, Callable, Hashable, Iterator

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message

#: How long a message seen on one reader waits for its copy on the other, s.
DUPLICATE_WINDOW_S = 2.0
LIVE, LATCHED = 0, 1


def input_qos(durability: DurabilityPolicy, depth: int = 10) -> QoSProfile:
    """RELIABLE, KEEP_LAST ``depth``, with ``durability`` (an input reader's profile)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE, durability=durability)


class DuplicateFilter:
    """Pass each message once when it may arrive on both readers (live and latched).

    A message arrives on the live reader, and, when its publisher is transient-local, also
    on the latched one. ``accept(reader, key, now)`` is False for the second copy: a
    message whose ``key`` equals that of a message from the *other* reader received within
    ``window`` s and not yet paired. Copies pair one to one, so a text sent twice is
    passed twice. ``key``: the publisher id and sequence number where known, else the
    serialized message.
    """

    def __init__(self, window: float = DUPLICATE_WINDOW_S) -> None:
        """Create an empty filter; ``window`` in the units of ``now``."""
        self.window = window
        self._pending: deque = deque()  # (time, reader, key), oldest first
        self.duplicates = 0

    def accept(self, reader: int, key: Hashable, now: float) -> bool:
        """True when this message is new; False for the other reader's copy."""
        while self._pending and now - self._pending[0][0] > self.window:
            self._pending.popleft()
        for i, (_, other, other_key) in enumerate(self._pending):
            if other != reader and other_key == key:
                del self._pending[i]
                self.duplicates += 1
                return False
        self._pending.append((now, reader, key))
        return True


def message_key(msg: Any, info: Any = None) -> Hashable:
    """Identity of a message: publisher id + sequence number if known, else its bytes."""
    if isinstance(info, dict):
        gid = info.get('publisher_gid')
        seq = info.get('publication_sequence_number')
        if gid is not None and isinstance(seq, int) and 0 < seq < 2**63:
            data = gid.get('data') if isinstance(gid, dict) else getattr(gid, 'data', gid)
            return bytes(data), seq
    return serialize_message(msg)


def subscribe_input(node: Node, msg_type: Any, topic: str, callback: Callable[[Any], None],
                    depth: int = 10) -> list:
    """Live + latched subscriptions of ``topic`` calling ``callback`` once per message."""
    dedup = DuplicateFilter()

    def reader(index: int) -> Callable[[Any], None]:
        def on_message(msg: Any) -> None:
            if dedup.accept(index, message_key(msg), time.monotonic()):
                callback(msg)
        return on_message

    return [node.create_subscription(msg_type, topic, reader(LIVE),
                                     input_qos(DurabilityPolicy.VOLATILE, depth)),
            node.create_subscription(msg_type, topic, reader(LATCHED),
                                     input_qos(DurabilityPolicy.TRANSIENT_LOCAL, depth))]


class PolledInput:
    """Live + latched readers of a polled input (helper node: ``runtime.PolledInputs``).

    :meth:`take` yields each pending ``(msg, info)`` once, oldest reader first.
    """

    def __init__(self, inputs: Any, msg_type: Any, topic: str, depth: int = 10) -> None:
        """Subscribe ``topic`` twice through the helper ``inputs``."""
        self.subscriptions = (
            inputs.subscribe(msg_type, topic, input_qos(DurabilityPolicy.VOLATILE, depth)),
            inputs.subscribe(msg_type, topic,
                             input_qos(DurabilityPolicy.TRANSIENT_LOCAL, depth)))
        self._take = inputs.take
        self.filter = DuplicateFilter()

    def take(self, limit: int) -> Iterator[tuple]:
        """Yield up to ``limit`` new ``(msg, info)`` per reader."""
        for index, sub in ((LATCHED, self.subscriptions[1]), (LIVE, self.subscriptions[0])):
            for msg, info in self._take(sub, limit):
                if self.filter.accept(index, message_key(msg, info), time.monotonic()):
                    yield msg, info
