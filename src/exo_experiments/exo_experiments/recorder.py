"""Recorder of the exo-vic graph (``exo_record``), for machines without rosbag2.

Subscribes to a list of topics with ``raw=True`` (the CDR bytes are written as they came
off the wire, no deserialization) and writes a rosbag2 bag folder with MCAP storage
(``<output>/<name>_0.mcap`` + ``metadata.yaml``, :mod:`exo_experiments.bag`) that
``ros2 bag info/play``, ``rosbags``, Foxglove and :mod:`exo_experiments.mcap_io` read. Each
topic's offered QoS profiles are those of its publishers when its first message arrives
(the recorder's own profile when they are already gone): ``ros2 bag play`` offers a
latched topic latched again. Callbacks only time-stamp and enqueue; a writer
thread appends to the file, so a 1 kHz stream is not held up by chunk compression.

Parameters: :class:`RecorderParams` (docs/parameters.md).

QoS: ``/task_text``, ``/exo/task_text`` (task_text_relay's copy: every text the graph
acted on, also those of volatile publishers, which the latched-only reader of /task_text
does not match) and ``/exo/estop`` are subscribed RELIABLE + TRANSIENT_LOCAL, depth 10
(a latched message arrives even when it was published before the recorder started); every
other topic RELIABLE with ``queue_depth`` so that no message of a reliable publisher is
dropped, unless all of its publishers present at subscription time offer BEST_EFFORT, in
which case the subscription is BEST_EFFORT (a reliable subscription would not match them).

Log times are the wall-clock receive times (as rosbag2 records by default); publish times
are the publishers' source timestamps. On shutdown (Ctrl-C, SIGTERM, node destruction) the
queue is drained and the file is finished with its summary section; the number of messages
written per topic is logged.

"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
from pathlib import Path
import queue
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import rclpy
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.executors import SingleThreadedExecutor
import rclpy.logging
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

from exo_contract.parameters import check_fields, param
from exo_contract.ros_parameters import declare_or_raise
from exo_contract.runtime import run_node
from exo_contract.topics import ESTOP_TOPIC, GRAPH_TASK_TEXT_TOPIC, TASK_TEXT_TOPIC, TOPIC_TYPES
from exo_experiments.bag import BagWriter
from exo_experiments.mcap_io import normalize_type_name

#: Message type of every topic of the exo-vic graph.
KNOWN_TOPIC_TYPES: Dict[str, str] = dict(TOPIC_TYPES)

#: Topics recorded by default.
DEFAULT_TOPICS: Tuple[str, ...] = tuple(KNOWN_TOPIC_TYPES)

#: Topics whose publishers are latched (TRANSIENT_LOCAL); the recorder asks for the history.
LATCHED_TOPICS = frozenset({TASK_TEXT_TOPIC, GRAPH_TASK_TEXT_TOPIC, ESTOP_TOPIC})

_COMPRESSIONS = ('zstd', 'lz4', 'none')
_STOP = object()


@dataclass(frozen=True)
class RecorderParams:
    """ROS parameters of :class:`RecorderNode` (description, unit, range)."""

    topics: list = param(
        default_factory=lambda: list(DEFAULT_TOPICS),
        description="Topics to record: '/name' or '/name:pkg/msg/Type' (the types of the "
        'exo-vic topics are known; others are looked up in the graph).')
    output: str = param('recording', 'Bag folder of the recording (rosbag2 layout: '
                        '<name>/<name>_0.mcap + metadata.yaml); created, and must not exist '
                        'or be empty.', may_be_empty=False)
    queue_depth: int = param(200, 'Subscription history depth of the streams.', 'messages',
                             low=1, high=100000)
    compression: str = param('zstd', 'Chunk compression of the MCAP file.',
                             choices=_COMPRESSIONS)
    discovery_period: float = param(0.5, 'Time between graph look-ups of unknown types.', 's',
                                    low=0.0, high=60.0, low_open=True)

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_fields(self)


@dataclass(frozen=True)
class RecorderConfig:
    """Validated parameters of :class:`RecorderNode`."""

    topics: Tuple[Tuple[str, Optional[str]], ...]
    output: Path
    queue_depth: int = 200
    compression: str = 'zstd'
    discovery_period: float = 0.5

    @staticmethod
    def parse_topic(entry: str) -> Tuple[str, Optional[str]]:
        """Split ``/name`` or ``/name:pkg/msg/Type`` into (topic, type or None)."""
        name, _, type_name = entry.strip().partition(':')
        if not name.startswith('/') or len(name) < 2 or any(c.isspace() for c in name):
            raise ValueError(f"invalid topic entry '{entry}': expected '/name' or "
                             "'/name:pkg/msg/Type'")
        if type_name:
            return name, normalize_type_name(type_name)
        return name, KNOWN_TOPIC_TYPES.get(name)

    @classmethod
    def from_values(cls, topics: List[str], output: str, queue_depth: int,
                    compression: str, discovery_period: float) -> 'RecorderConfig':
        """Validate raw parameter values; raise ValueError quoting the offending one."""
        if not topics:
            raise ValueError("parameter 'topics' is empty: nothing to record")
        parsed = tuple(cls.parse_topic(t) for t in topics)
        names = [name for name, _ in parsed]
        if len(set(names)) != len(names):
            raise ValueError(f"parameter 'topics' lists a topic twice: {list(topics)}")
        checked = RecorderParams(topics=list(topics), output=output, queue_depth=queue_depth,
                                 compression=compression, discovery_period=discovery_period)
        queue_depth, discovery_period = checked.queue_depth, checked.discovery_period
        return cls(topics=parsed, output=Path(output).expanduser(), queue_depth=queue_depth,
                   compression=compression, discovery_period=discovery_period)


def import_message_type(type_name: str) -> Any:
    """Return the Python class of a ``pkg/msg/Type`` message type."""
    package, _, name = normalize_type_name(type_name).split('/')
    module = importlib.import_module(f'{package}.msg')
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"message type '{type_name}' not found in {package}.msg") from None


class RecorderNode(Node):
    """Record topics of the graph into an MCAP file (see the module docstring)."""

    def __init__(self, node_name: str = 'exo_recorder', **kwargs: Any) -> None:
        """Declare and validate parameters, open the output file and subscribe."""
        super().__init__(node_name, **kwargs)
        values = declare_or_raise(self, RecorderParams)
        self.config = RecorderConfig.from_values(**values)
        self._writer = BagWriter(self.config.output, compression=self.config.compression)
        self._queue: 'queue.SimpleQueue[Any]' = queue.SimpleQueue()
        self._write_error: Optional[BaseException] = None
        self._closed = False
        self._close_lock = threading.Lock()
        self._thread = threading.Thread(target=self._write_loop, name='exo_recorder_writer',
                                        daemon=True)
        self._thread.start()
        self._subscriptions_by_topic: Dict[str, Any] = {}
        self._pending: Dict[str, None] = {}
        for topic, type_name in self.config.topics:
            if type_name is None:
                self._pending[topic] = None
            else:
                self._subscribe(topic, type_name)
        self._discovery_timer = None
        if self._pending:
            self.get_logger().info(
                f'waiting for publishers to learn the types of {list(self._pending)}')
            self._discovery_timer = self.create_timer(self.config.discovery_period,
                                                      self._discover)
            self._discover()
        self.get_logger().info(
            f"recording {len(self.config.topics)} topics to '{self.config.output}'")

    @property
    def output(self) -> Path:
        """The bag folder being written."""
        return self.config.output

    @property
    def message_counts(self) -> Dict[str, int]:
        """Messages written so far per recorded topic (0 for silent topics)."""
        counts = {topic: 0 for topic, _ in self.config.topics}
        counts.update(self._writer.message_counts)
        return counts

    def _qos_for(self, topic: str) -> QoSProfile:
        if topic in LATCHED_TOPICS:
            return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                              reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL)
        reliability = ReliabilityPolicy.RELIABLE
        publishers = self.get_publishers_info_by_topic(topic)
        if publishers and all(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
                              for p in publishers):
            reliability = ReliabilityPolicy.BEST_EFFORT
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.config.queue_depth,
                          reliability=reliability, durability=DurabilityPolicy.VOLATILE)

    def _subscribe(self, topic: str, type_name: str) -> None:
        msg_type = import_message_type(type_name)
        self._writer.register_schema(type_name)  # schema errors surface now
        qos = self._qos_for(topic)
        events = SubscriptionEventCallbacks(
            incompatible_qos=lambda event, t=topic: self.get_logger().warning(
                f"QoS of a publisher of '{t}' is incompatible with the recorder's "
                f'(policy {event.last_policy_kind}); its messages are not recorded'))

        self._subscriptions_by_topic[topic] = self.create_subscription(
            msg_type, topic, self._make_callback(topic, type_name, qos), qos, raw=True,
            event_callbacks=events)
        self.get_logger().debug(
            f"subscribed to '{topic}' ({type_name}, {qos.reliability.name.lower()})")

    def _offered_qos(self, topic: str, own: QoSProfile) -> List[Any]:
        """QoS profiles of the publishers of ``topic`` now; ``[own]`` when there are none."""
        profiles = [info.qos_profile for info in self.get_publishers_info_by_topic(topic)]
        return profiles or [own]

    def _make_callback(self, topic: str, type_name: str, qos: QoSProfile) -> Any:
        put = self._queue.put
        first = [True]

        def callback(data: bytes, info: Any) -> None:
            # Time-stamp and enqueue only; the writer thread does the file work.
            log_ns = time.time_ns()
            source_ns = info.get('source_timestamp') if isinstance(info, dict) else None
            offered = None
            if first[0]:
                first[0] = False
                offered = self._offered_qos(topic, qos)
            put((topic, type_name, data, log_ns, source_ns or log_ns, offered))

        return callback

    def _discover(self) -> None:
        if not self._pending:
            return
        graph = dict(self.get_topic_names_and_types())
        for topic in list(self._pending):
            types = graph.get(topic)
            if not types:
                continue
            if len(types) > 1:
                self.get_logger().warning(
                    f"topic '{topic}' has several types {types}; recording '{types[0]}'")
            try:
                self._subscribe(topic, types[0])
            except Exception as error:  # noqa: BLE001 - keep recording the other topics
                self.get_logger().error(f"cannot record '{topic}' ({types[0]}): {error}")
            del self._pending[topic]
            self.get_logger().info(f"discovered '{topic}' ({types[0]})")
        if not self._pending and self._discovery_timer is not None:
            self._discovery_timer.cancel()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._write_error is not None:
                continue
            topic, type_name, data, log_ns, publish_ns, offered = item
            try:
                if offered is not None:
                    self._writer.add_topic(topic, type_name, offered)
                self._writer.write(topic, type_name, data, log_ns, publish_ns)
            except Exception as error:  # noqa: BLE001 - reported by close()
                self._write_error = error

    def close(self) -> Dict[str, int]:
        """Stop recording, drain the queue, finish the bag; return counts per topic.

        Idempotent; called by :meth:`destroy_node`.
        """
        with self._close_lock:
            if self._closed:
                return self.message_counts
            self._closed = True
        for subscription in list(self._subscriptions_by_topic.values()):
            self.destroy_subscription(subscription)
        self._subscriptions_by_topic.clear()
        self._queue.put(_STOP)
        self._thread.join()
        self._writer.close()
        counts = self.message_counts
        summary = ', '.join(f'{topic}: {count}' for topic, count in counts.items())
        message = (f"wrote {sum(counts.values())} messages to '{self.config.output}' "
                   f'({summary})')
        # After Ctrl-C/SIGTERM the context is already shut down and the node's logger could
        # not reach /rosout; a logger that is not a node's logs to the console only.
        logger = self.get_logger() if self.context.ok() else rclpy.logging.get_logger(
            'exo_record')
        logger.info(message)
        if self._write_error is not None:
            logger.error(f'writing failed: {self._write_error}')
        return counts

    def destroy_node(self) -> None:
        """Close the recording, then destroy the node."""
        self.close()
        super().destroy_node()


def main(args=None) -> None:
    """Run RecorderNode until shutdown."""
    # The EventsExecutor of rclpy 9.1 fails on raw subscriptions ("SystemError: null
    # argument to internal routine"); the recorder keeps the classic executor.
    run_node(RecorderNode, args, SingleThreadedExecutor)

if __name__ == '__main__':
    main()
