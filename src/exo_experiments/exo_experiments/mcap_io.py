"""MCAP input and output for ROS 2 messages, without rclpy.

The recorder of exo-vic writes what rosbag2 (MCAP storage) would write: a ``ros2`` profile
file with one ``ros2msg`` schema per message type, one ``cdr`` channel per topic and the raw
CDR bytes of every message as it came off the wire. The schema text is the full ROS 2
message definition, the ``.msg`` text followed by one block per dependency::

    <text of pkg/msg/Type.msg>
    ================================================================================
    MSG: std_msgs/Header
    <text of std_msgs/msg/Header.msg>
    ================================================================================
    MSG: builtin_interfaces/Time
    ...

so that Foxglove, ``ros2 bag``, ``mcap_ros2`` and any other reader can decode the file.

The ``.msg`` files are located through the ament index. The pip-installed ROS wheels ship
their ``.msg`` files under ``<sys.prefix>/share/<pkg>/msg``, a prefix that is not always on
``AMENT_PREFIX_PATH`` (sourcing a colcon ``install/setup.bash`` replaces it), so that prefix
and the prefix of the package's Python module are searched as well.
"""

from __future__ import annotations

import collections
import importlib
import os
from pathlib import Path
import re
import sys
import time
from typing import Any, Dict, IO, Iterable, Iterator, List, Optional, Tuple, Union

from mcap.reader import make_reader
from mcap.writer import CompressionType, Writer

__all__ = [
    'DEFINITION_SEPARATOR',
    'McapRos2Writer',
    'MessageDefinitionError',
    'channel_message_counts',
    'find_msg_file',
    'iter_decoded',
    'message_definition',
    'normalize_type_name',
]

#: Line between the blocks of a full message definition (80 '=', as rosbag2 writes it).
DEFINITION_SEPARATOR = '=' * 80

_PRIMITIVE_TYPES = frozenset({
    'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16',
    'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring',
})
_TYPE_RE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)(?:/msg)?/([A-Za-z_][A-Za-z0-9_]*)$')

PathLike = Union[str, 'os.PathLike[str]']


class MessageDefinitionError(LookupError):
    """A message type name is malformed or its ``.msg`` file cannot be found."""


def normalize_type_name(type_name: str) -> str:
    """Return the canonical ``pkg/msg/Type`` form of ``pkg/Type`` or ``pkg/msg/Type``."""
    match = _TYPE_RE.match(type_name.strip())
    if match is None:
        raise MessageDefinitionError(
            f"malformed message type name '{type_name}' (expected 'pkg/msg/Type')")
    return f'{match.group(1)}/msg/{match.group(2)}'


def _candidate_share_dirs(package: str) -> Iterator[Path]:
    try:
        from ament_index_python.packages import (
            get_package_share_directory,
            PackageNotFoundError,
        )
    except ImportError:  # pragma: no cover - ament_index_python comes with every ROS
        pass
    else:
        try:
            yield Path(get_package_share_directory(package))
        except (PackageNotFoundError, ValueError):
            pass
    prefixes = [Path(sys.prefix), Path(sys.base_prefix)]
    prefixes += [Path(p) for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    try:
        module = importlib.import_module(package)
    except ImportError:
        module = None
    module_file = getattr(module, '__file__', None)
    if module_file:
        # <prefix>/lib/pythonX.Y/site-packages/<pkg>/__init__.py -> <prefix>
        prefixes.append(Path(module_file).resolve().parents[4])
    for prefix in prefixes:
        yield prefix / 'share' / package


def find_msg_file(type_name: str) -> Path:
    """Return the path of the ``.msg`` file of ``type_name`` (``pkg/msg/Type`` or ``pkg/Type``).

    Raises :class:`MessageDefinitionError` when no searched prefix holds it.
    """
    package, _, name = normalize_type_name(type_name).split('/')
    searched = []
    for share in _candidate_share_dirs(package):
        path = share / 'msg' / f'{name}.msg'
        if path.is_file():
            return path
        searched.append(str(path))
    raise MessageDefinitionError(
        f"no .msg file for '{type_name}'; searched: {', '.join(dict.fromkeys(searched))}")


def _dependencies(package: str, text: str) -> List[str]:
    """Return the non-primitive field types of a ``.msg`` text, as ``pkg/msg/Type``."""
    deps = []
    for raw_line in text.splitlines():
        line = raw_line.split('#', 1)[0].strip()
        if not line:
            continue
        type_token = line.split()[0]  # constants ('type NAME=value') are always primitive
        base = type_token.split('[', 1)[0]
        base = base.split('<=', 1)[0]
        if base in _PRIMITIVE_TYPES:
            continue
        if '/' in base:
            deps.append(normalize_type_name(base))
        elif base == 'Header':
            deps.append('std_msgs/msg/Header')
        else:
            deps.append(f'{package}/msg/{base}')
    return deps


def message_definition(type_name: str) -> str:
    """Return the full ROS 2 message definition of ``type_name``, the way rosbag2 embeds it.

    The ``.msg`` text of the type comes first, then every (recursive) dependency once, each
    as a ``DEFINITION_SEPARATOR`` line, a ``MSG: pkg/Type`` line and its ``.msg`` text.
    """
    root = normalize_type_name(type_name)
    texts: Dict[str, str] = {}
    order: List[str] = []
    queue = collections.deque([root])
    while queue:
        current = queue.popleft()
        if current in texts:
            continue
        text = find_msg_file(current).read_text(encoding='utf-8')
        texts[current] = text
        order.append(current)
        queue.extend(_dependencies(current.split('/')[0], text))
    blocks = [texts[root].rstrip('\n')]
    for dep in order[1:]:
        package, _, name = dep.split('/')
        blocks.append(f'{DEFINITION_SEPARATOR}\nMSG: {package}/{name}\n'
                      + texts[dep].rstrip('\n'))
    return '\n'.join(blocks) + '\n'


class McapRos2Writer:
    """Write raw CDR-serialized ROS 2 messages to an MCAP file (profile ``ros2``).

    One schema (encoding ``ros2msg``, named ``pkg/msg/Type``) is registered per message type
    and one channel (encoding ``cdr``) per topic, on first use. Times are integer
    nanoseconds. Use as a context manager, or call :meth:`close`; the summary section is
    only written on close.

    ``output`` is a path (the file is created and owned by the writer) or a binary stream
    (left open).
    """

    def __init__(self, output: Union[PathLike, IO[bytes]], *,
                 compression: str = 'zstd', chunk_size: int = 1024 * 1024,
                 definitions: Optional[Dict[str, str]] = None) -> None:
        """Open ``output`` and write the MCAP header.

        ``compression`` is 'zstd', 'lz4' or 'none'. ``definitions`` maps type names to
        message definition texts that replace the ones looked up from ``.msg`` files.
        """
        if isinstance(output, (str, os.PathLike)):
            self.path: Optional[Path] = Path(output)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream: IO[bytes] = open(self.path, 'wb')
            self._owns_stream = True
        else:
            self.path = None
            self._stream = output
            self._owns_stream = False
        try:
            compression_type = CompressionType[compression.upper()]
        except KeyError:
            raise ValueError(f"unknown compression '{compression}' "
                             "(expected 'zstd', 'lz4' or 'none')") from None
        self._writer = Writer(self._stream, chunk_size=chunk_size, compression=compression_type)
        self._writer.start(profile='ros2', library='exo_experiments.mcap_io')
        self._definitions = {normalize_type_name(k): v for k, v in (definitions or {}).items()}
        self._schemas: Dict[str, int] = {}
        self._channels: Dict[str, Tuple[int, str]] = {}
        self._sequence: Dict[str, int] = collections.Counter()
        self.message_counts: Dict[str, int] = collections.Counter()
        self.closed = False

    def __enter__(self) -> 'McapRos2Writer':
        """Return the writer."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Finish the file."""
        self.close()

    def register_schema(self, type_name: str) -> int:
        """Register (once) the schema of ``type_name`` and return its id."""
        type_name = normalize_type_name(type_name)
        schema_id = self._schemas.get(type_name)
        if schema_id is None:
            text = self._definitions.get(type_name)
            if text is None:
                text = message_definition(type_name)
            schema_id = self._writer.register_schema(
                name=type_name, encoding='ros2msg', data=text.encode('utf-8'))
            self._schemas[type_name] = schema_id
        return schema_id

    def register_channel(self, topic: str, type_name: str,
                         metadata: Optional[Dict[str, str]] = None) -> int:
        """Register (once) the channel of ``topic`` with type ``type_name``; return its id.

        ``metadata``: the channel's key-value metadata (rosbag2: ``offered_qos_profiles``).
        """
        type_name = normalize_type_name(type_name)
        known = self._channels.get(topic)
        if known is not None:
            if known[1] != type_name:
                raise ValueError(f"topic '{topic}' already has type '{known[1]}', "
                                 f"not '{type_name}'")
            return known[0]
        schema_id = self.register_schema(type_name)
        channel_id = self._writer.register_channel(
            topic=topic, message_encoding='cdr', schema_id=schema_id,
            metadata=dict(metadata or {}))
        self._channels[topic] = (channel_id, type_name)
        return channel_id

    def write(self, topic: str, type_name: str, data: bytes,
              log_time_ns: Optional[int] = None, publish_time_ns: Optional[int] = None) -> None:
        """Append one CDR-serialized message.

        ``log_time_ns`` defaults to the current wall time and ``publish_time_ns`` to
        ``log_time_ns``.
        """
        if self.closed:
            raise ValueError('write() on a closed McapRos2Writer')
        channel_id = self.register_channel(topic, type_name)
        if log_time_ns is None:
            log_time_ns = time.time_ns()
        if publish_time_ns is None:
            publish_time_ns = log_time_ns
        sequence = self._sequence[topic]
        self._sequence[topic] = sequence + 1
        self._writer.add_message(channel_id=channel_id, log_time=int(log_time_ns),
                                 publish_time=int(publish_time_ns), data=bytes(data),
                                 sequence=sequence & 0xFFFFFFFF)
        self.message_counts[topic] += 1

    def close(self) -> None:
        """Write the summary section and close the file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.finish()
        finally:
            if self._owns_stream:
                self._stream.close()


def iter_decoded(path: PathLike, topics: Optional[Iterable[str]] = None
                 ) -> Iterator[Tuple[str, int, Any]]:
    """Yield ``(topic, log_time_ns, decoded_message)`` of an MCAP file in log time order.

    Decoded messages are the dynamic objects of ``mcap_ros2`` (fields as attributes, arrays
    as lists). ``topics`` restricts the topics read. ``path`` is an MCAP file or a rosbag2
    bag folder.
    """
    from mcap_ros2.decoder import DecoderFactory

    from exo_experiments.bag import storage_file

    path = storage_file(path)

    topic_list = list(topics) if topics is not None else None
    with open(path, 'rb') as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        for _schema, channel, message, decoded in reader.iter_decoded_messages(
                topics=topic_list, log_time_order=True):
            yield channel.topic, message.log_time, decoded


def channel_message_counts(path: PathLike) -> Dict[str, int]:
    """Return the message count per topic from the summary section of an MCAP file."""
    from exo_experiments.bag import storage_file

    path = storage_file(path)
    with open(path, 'rb') as stream:
        summary = make_reader(stream).get_summary()
    if summary is None or summary.statistics is None:
        raise ValueError(f"'{path}' has no summary section (was the file closed?)")
    counts = {channel.topic: 0 for channel in summary.channels.values()}
    for channel_id, count in summary.statistics.channel_message_counts.items():
        counts[summary.channels[channel_id].topic] = count
    return counts
