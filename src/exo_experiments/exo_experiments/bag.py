"""rosbag2 bag folders with MCAP storage, written and found without rosbag2.

A recording is what ``ros2 bag record -s mcap -o <name>`` leaves: a folder ``<name>/`` with
``<name>_0.mcap`` (profile ``ros2``, one ``cdr`` channel per topic) and ``metadata.yaml``
(``rosbag2_bagfile_information``, version 9, storage identifier ``mcap``). Each topic's
offered QoS profiles (the QoS of its publishers) are stored as rosbag2 stores them: in
``metadata.yaml`` as a list of profiles, and in the MCAP channel's metadata under
``offered_qos_profiles`` as the same list serialised to a YAML string, so that
``ros2 bag play`` offers a latched topic as latched (TRANSIENT_LOCAL) again.

Durations in the profiles are ``{sec, nsec}``; "infinite" (rmw's default deadline,
lifespan and lease) is written as rosbag2 writes it, ``sec: 2147483647, nsec: 4294967295``.
Pure Python apart from reading rclpy QoS objects duck-typed.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

import yaml

from exo_experiments.mcap_io import McapRos2Writer

#: rosbag2 metadata version written (Jazzy and later read it).
METADATA_VERSION = 9
METADATA_FILE = 'metadata.yaml'
STORAGE_IDENTIFIER = 'mcap'
#: rosbag2's spelling of an infinite QoS duration.
INFINITE = {'sec': 2147483647, 'nsec': 4294967295}
# rmw's infinite duration in nanoseconds (RMW_DURATION_INFINITE), and above.
_RMW_INFINITE_NS = 9223372036854775807

PathLike = Union[str, 'os.PathLike[str]']


def _duration(value: Any) -> Dict[str, int]:
    ns = getattr(value, 'nanoseconds', value)
    ns = int(ns or 0)
    if ns >= _RMW_INFINITE_NS or ns < 0:
        return dict(INFINITE)
    sec, nsec = divmod(ns, 1_000_000_000)
    if sec > INFINITE['sec']:
        return dict(INFINITE)
    return {'sec': sec, 'nsec': nsec}


def _policy(value: Any) -> str:
    name = getattr(value, 'name', str(value))
    return name.lower()


def qos_dict(qos: Any) -> Dict[str, Any]:
    """One QoS profile (an rclpy ``QoSProfile`` or alike) as rosbag2 writes it."""
    return {
        'history': _policy(qos.history),
        'depth': int(qos.depth),
        'reliability': _policy(qos.reliability),
        'durability': _policy(qos.durability),
        'deadline': _duration(qos.deadline),
        'lifespan': _duration(qos.lifespan),
        'liveliness': _policy(qos.liveliness),
        'liveliness_lease_duration': _duration(qos.liveliness_lease_duration),
        'avoid_ros_namespace_conventions': bool(qos.avoid_ros_namespace_conventions),
    }


def qos_yaml(profiles: Iterable[Mapping[str, Any]]) -> str:
    """The ``offered_qos_profiles`` string of an MCAP channel (a YAML list of profiles)."""
    items = [dict(p) for p in profiles]
    return yaml.safe_dump(items, default_flow_style=False, sort_keys=False).strip() \
        if items else ''


@dataclass
class _Topic:
    name: str
    type_name: str
    offered: List[Dict[str, Any]]
    type_hash: str
    count: int = 0


class BagWriter:
    """Write a rosbag2 bag folder (MCAP storage): ``<folder>/<name>_0.mcap`` + metadata.

    The folder must not exist or be empty (as ``ros2 bag record`` requires). A topic is
    added with :meth:`add_topic` (its offered QoS profiles) before its first
    :meth:`write`; ``metadata.yaml`` is written by :meth:`close`.
    """

    def __init__(self, folder: PathLike, *, compression: str = 'zstd',
                 ros_distro: str = '') -> None:
        """Create ``folder`` and open its MCAP file."""
        self.folder = Path(folder)
        if self.folder.suffix == '.mcap':
            raise ValueError(f"'{folder}': a recording is a bag folder (rosbag2 layout: "
                             "<name>/<name>_0.mcap + metadata.yaml); give the folder, "
                             f"e.g. '{self.folder.with_suffix('')}'")
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise ValueError(f"bag folder '{folder}' already exists and is not empty; "
                             'remove it or choose another name')
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file_name = f'{self.folder.name}_0.mcap'
        self.ros_distro = ros_distro or os.environ.get('ROS_DISTRO', '')
        self._mcap = McapRos2Writer(self.folder / self.file_name, compression=compression)
        self._topics: Dict[str, _Topic] = {}
        self._first_ns: Optional[int] = None
        self._last_ns: Optional[int] = None
        self.closed = False

    @property
    def storage_path(self) -> Path:
        """The MCAP file of the bag."""
        return self.folder / self.file_name

    def register_schema(self, type_name: str) -> None:
        """Look up (once) the message definition of ``type_name``; raises when unknown."""
        self._mcap.register_schema(type_name)

    def add_topic(self, topic: str, type_name: str, offered: Iterable[Any] = (),
                  type_hash: str = '') -> None:
        """Register ``topic`` with its publishers' QoS profiles (rclpy QoS or dicts)."""
        if topic in self._topics:
            return
        profiles = [p if isinstance(p, Mapping) else qos_dict(p) for p in offered]
        self._topics[topic] = _Topic(topic, type_name, profiles, type_hash)
        self._mcap.register_channel(topic, type_name, metadata={
            'offered_qos_profiles': qos_yaml(profiles), 'topic_type_hash': type_hash})

    def write(self, topic: str, type_name: str, data: bytes, log_time_ns: int,
              publish_time_ns: Optional[int] = None) -> None:
        """Append one CDR message of a topic added before (else added with no QoS)."""
        if topic not in self._topics:
            self.add_topic(topic, type_name)
        self._mcap.write(topic, type_name, data, log_time_ns, publish_time_ns)
        self._topics[topic].count += 1
        self._first_ns = log_time_ns if self._first_ns is None else min(self._first_ns,
                                                                         log_time_ns)
        self._last_ns = log_time_ns if self._last_ns is None else max(self._last_ns,
                                                                      log_time_ns)

    @property
    def message_counts(self) -> Dict[str, int]:
        """Messages written per topic."""
        return {t.name: t.count for t in self._topics.values()}

    def metadata(self) -> Dict[str, Any]:
        """The content of ``metadata.yaml``."""
        start = self._first_ns or 0
        duration = (self._last_ns - self._first_ns) if self._first_ns is not None else 0
        count = sum(t.count for t in self._topics.values())
        return {'rosbag2_bagfile_information': {
            'version': METADATA_VERSION,
            'storage_identifier': STORAGE_IDENTIFIER,
            'duration': {'nanoseconds': duration},
            'starting_time': {'nanoseconds_since_epoch': start},
            'message_count': count,
            'topics_with_message_count': [
                {'topic_metadata': {'name': t.name, 'type': t.type_name,
                                    'serialization_format': 'cdr',
                                    'offered_qos_profiles': t.offered,
                                    'type_description_hash': t.type_hash},
                 'message_count': t.count}
                for t in self._topics.values()],
            'compression_format': '',
            'compression_mode': '',
            'relative_file_paths': [self.file_name],
            'files': [{'path': self.file_name,
                       'starting_time': {'nanoseconds_since_epoch': start},
                       'duration': {'nanoseconds': duration},
                       'message_count': count}],
            'custom_data': None,
            'ros_distro': self.ros_distro,
        }}

    def close(self) -> None:
        """Finish the MCAP file and write ``metadata.yaml`` (idempotent)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._mcap.close()
        finally:
            (self.folder / METADATA_FILE).write_text(
                yaml.safe_dump(self.metadata(), default_flow_style=False, sort_keys=False))

    def __enter__(self) -> 'BagWriter':
        """Return the writer."""
        return self

    def __exit__(self, *exc_info: Any) -> None:
        """Close the bag."""
        self.close()


def storage_file(path: PathLike) -> Path:
    """The MCAP file of a recording: ``path`` itself, or the one of bag folder ``path``."""
    path = Path(path)
    if not path.is_dir():
        return path
    meta = path / METADATA_FILE
    if meta.exists():
        info = yaml.safe_load(meta.read_text())['rosbag2_bagfile_information']
        files = [path / name for name in info.get('relative_file_paths', [])]
        if files:
            return files[0]
    found = sorted(path.glob('*.mcap'))
    if not found:
        raise FileNotFoundError(f"'{path}' is not a bag folder: no {METADATA_FILE}, no .mcap")
    return found[0]
