"""exo_live_view: the graph's topics, live, in Foxglove (optional; ``foxglove-sdk``).

    exo_live_view                                   # ws://127.0.0.1:8765, every exo-vic topic
    exo_live_view --ros-args -p port:=8766 -p max_rate_hz:=0.0

Starts the ``foxglove-sdk`` WebSocket server on **127.0.0.1 only** (never another
interface: the stream carries the wearer's data; reach it from another machine through an
SSH tunnel) and forwards ROS 2 topics to it as they come off the wire: each topic is one
Foxglove channel with encoding ``cdr`` and its full ``ros2msg`` definition as the schema
(as in the MCAP recordings), so Foxglove decodes the messages itself and this node never
deserialises them. In Foxglove: *Open connection* -> *Foxglove WebSocket* ->
``ws://localhost:8765``, then *Layouts* -> *Import from file* ->
``share/exo_experiments/config/foxglove_layout.json`` (angle vs reference, stiffness raw vs
bounded, torque, metabolic power).

Parameters
----------
- ``topics`` (string array): topics to serve, ``/name`` or ``/name:pkg/msg/Type`` (default:
  every topic of ``exo_contract.topics.TOPIC_TYPES``); unknown types are looked up in the
  graph until a publisher appears.
- ``port`` (int): TCP port (default 8765; 0 = any free port, logged).
- ``max_rate_hz`` (double >= 0): at most this many messages per second per topic are
  forwarded (default 100; 0 = all). The 1 kHz streams need no more for a display.

Messages are only forwarded while a client is subscribed to the channel. QoS: ``/task_text``
latched (reliable, transient local); every other topic best effort, depth 10 (matches
reliable and best-effort publishers and never holds a publisher back).

"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any

from rclpy.executors import SingleThreadedExecutor
import rclpy.logging
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from exo_contract.parameters import check_fields, param
from exo_contract.qos import TASK_TEXT_QOS, TASK_TEXT_TOPIC
from exo_contract.ros_parameters import declare_or_raise
from exo_contract.runtime import run_node
from exo_experiments.mcap_io import message_definition
from exo_experiments.recorder import DEFAULT_TOPICS, import_message_type, RecorderConfig

#: The only interface the server binds to.
HOST = '127.0.0.1'
DEFAULT_PORT = 8765
DEFAULT_MAX_RATE_HZ = 100.0
STREAM_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                        reliability=ReliabilityPolicy.BEST_EFFORT)


@dataclass(frozen=True)
class LiveViewParams:
    """ROS parameters of :class:`LiveViewNode` (description, unit, range)."""

    topics: list = param(default_factory=lambda: list(DEFAULT_TOPICS),
                         description="Topics to serve: '/name' or '/name:pkg/msg/Type'.")
    port: int = param(DEFAULT_PORT, 'TCP port of the Foxglove WebSocket server on '
                      '127.0.0.1 (0: any free port).', low=0, high=65535)
    max_rate_hz: float = param(DEFAULT_MAX_RATE_HZ, 'Most messages per second forwarded per '
                               'topic (0: all).', 'Hz', low=0.0, high=10000.0)
    discovery_period: float = param(1.0, 'Time between graph look-ups of unknown types.', 's',
                                    low=0.0, high=60.0, low_open=True)

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_fields(self)


class LiveViewNode(Node):
    """Forward ROS 2 topics (raw CDR) to a local Foxglove WebSocket server."""

    def __init__(self, **kwargs: Any) -> None:
        """Validate parameters, start the server on 127.0.0.1 and subscribe."""
        super().__init__('exo_live_view', **kwargs)
        values = declare_or_raise(self, LiveViewParams)
        try:
            import foxglove  # noqa: PLC0415 (optional dependency)
        except ImportError:
            self.get_logger().fatal("the live view needs 'foxglove-sdk' (pip install "
                                    "foxglove-sdk; it is in requirements.txt)")
            raise OSError('foxglove-sdk is not installed') from None
        self._foxglove = foxglove
        try:
            topics = [RecorderConfig.parse_topic(t) for t in values['topics']]
            port = values['port']
            rate = values['max_rate_hz']
            period = values['discovery_period']
            if not topics:
                raise ValueError("parameter 'topics' is empty: nothing to serve")
        except ValueError as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise
        self._min_period_ns = int(1e9 / rate) if rate > 0 else 0
        self._channels: dict[str, Any] = {}
        self._last_ns: dict[str, int] = {}
        self._subs: dict[str, Any] = {}
        self._pending = [name for name, type_name in topics if type_name is None]
        self.server = foxglove.start_server(name='exo-vic', host=HOST, port=port)
        self.port = int(self.server.port)
        for name, type_name in topics:
            if type_name is not None:
                self._serve(name, type_name)
        if self._pending:
            self._discovery = self.create_timer(period, self._discover)
        self.forwarded = 0
        self.get_logger().info(
            f'Foxglove live view on ws://{HOST}:{self.port} ({len(topics)} topics, at most '
            f'{rate:g} msg/s per topic{" (all)" if rate == 0 else ""}); layout: '
            'share/exo_experiments/config/foxglove_layout.json')

    def _serve(self, topic: str, type_name: str) -> None:
        try:
            msg_type = import_message_type(type_name)
            schema = self._foxglove.Schema(name=type_name, encoding='ros2msg',
                                           data=message_definition(type_name).encode())
        except (ImportError, LookupError) as err:
            self.get_logger().error(f"cannot serve '{topic}' ({type_name}): {err}")
            return
        channel = self._foxglove.Channel(topic, schema=schema, message_encoding='cdr')
        self._channels[topic] = channel
        qos = TASK_TEXT_QOS if topic == TASK_TEXT_TOPIC else STREAM_QOS
        self._subs[topic] = self.create_subscription(
            msg_type, topic, self._make_callback(topic, channel), qos, raw=True)

    def _make_callback(self, topic: str, channel: Any) -> Any:
        def callback(data: bytes) -> None:
            if not channel.has_sinks():
                return
            now = time.time_ns()
            if now - self._last_ns.get(topic, 0) < self._min_period_ns:
                return
            self._last_ns[topic] = now
            channel.log(bytes(data), log_time=now)
            self.forwarded += 1
        return callback

    def _discover(self) -> None:
        graph = dict(self.get_topic_names_and_types())
        for topic in list(self._pending):
            types = graph.get(topic)
            if types:
                self._serve(topic, types[0])
                self._pending.remove(topic)
                self.get_logger().info(f"serving '{topic}' ({types[0]})")
        if not self._pending:
            self._discovery.cancel()

    def destroy_node(self) -> None:
        """Stop the server, then destroy the node."""
        try:
            self.server.stop()
        except Exception as err:  # noqa: BLE001 - shutting down anyway
            rclpy.logging.get_logger('exo_live_view').warning(f'stopping the server: {err}')
        for channel in self._channels.values():
            channel.close()
        super().destroy_node()


def main(args=None) -> None:
    """Run LiveViewNode until shutdown (classic executor: raw subscriptions)."""
    run_node(LiveViewNode, args, SingleThreadedExecutor)


if __name__ == '__main__':
    main()
