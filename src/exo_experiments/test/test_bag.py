"""The recorder's bag is one a ROS user's tools read, and its /task_text replays into a graph.

The recorder (a real rclpy node over Fast DDS) records a latched /task_text, a volatile
/joint_states stream and a topic that never publishes. The bag folder is opened with
``rosbags``' AnyReader (an independent implementation of rosbag2): topics, message counts,
the offered QoS of each topic (latched -> transient_local) and the message contents. Then the
recorded /task_text is replayed as ``ros2 bag play`` does (raw CDR, with the recorded offered
QoS) into a running task_text_relay + policy_node, which takes the task (its log on
/rosout, where ``ros2 run``'s console shows it).
"""

from __future__ import annotations

import time

import pytest
import yaml

rclpy = pytest.importorskip('rclpy')
rosbags_highlevel = pytest.importorskip('rosbags.highlevel')

from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rosbags.interfaces import QosDurability, QosReliability  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from exo_contract.qos import TASK_TEXT_QOS  # noqa: E402
from exo_experiments.bag import BagWriter, qos_yaml  # noqa: E402
from exo_experiments.recorder import RecorderNode  # noqa: E402

TEXT = 'lift a heavy box'
N_JOINT_STATES = 40


def _record(context, folder, spin_until):
    source = rclpy.create_node('bag_test_source', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(source)
    text_pub = source.create_publisher(String, '/task_text', TASK_TEXT_QOS)
    text_pub.publish(String(data=TEXT))  # latched: before the recorder exists
    joints_pub = source.create_publisher(JointState, '/joint_states', QoSProfile(
        depth=100, reliability=ReliabilityPolicy.RELIABLE))
    recorder = RecorderNode(context=context, parameter_overrides=[
        Parameter('output', value=str(folder)),
        Parameter('topics', value=['/task_text', '/joint_states', '/exo/estop'])])
    executor.add_node(recorder)
    try:
        spin_until(executor, lambda: joints_pub.get_subscription_count() >= 1
                   and recorder.message_counts['/task_text'] >= 1, 20.0, 'recorder matched')
        for i in range(N_JOINT_STATES):
            joints_pub.publish(JointState(name=['exo_elbow_joint'], position=[0.01 * i]))
            executor.spin_once(timeout_sec=0.001)
        spin_until(executor, lambda: recorder.message_counts['/joint_states']
                   >= N_JOINT_STATES, 20.0, 'joint states recorded')
    finally:
        recorder.destroy_node()
        source.destroy_node()
        executor.shutdown()


def test_bag_opens_with_rosbags_and_task_text_replays_into_policy_node(
        ros_context, tmp_path, spin_until):
    folder = tmp_path / 'recording'
    _record(ros_context, folder, spin_until)

    assert sorted(p.name for p in folder.iterdir()) == ['metadata.yaml', 'recording_0.mcap']
    info = yaml.safe_load((folder / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['storage_identifier'] == 'mcap'
    assert info['relative_file_paths'] == ['recording_0.mcap']

    with rosbags_highlevel.AnyReader([folder]) as reader:
        by_topic = {c.topic: c for c in reader.connections}
        assert set(by_topic) == {'/task_text', '/joint_states'}  # /exo/estop: no message
        assert by_topic['/task_text'].msgcount == 1
        assert by_topic['/joint_states'].msgcount == N_JOINT_STATES
        assert reader.message_count == N_JOINT_STATES + 1
        text_qos = by_topic['/task_text'].ext.offered_qos_profiles
        assert [q.durability for q in text_qos] == [QosDurability.TRANSIENT_LOCAL]
        assert [q.reliability for q in text_qos] == [QosReliability.RELIABLE]
        joint_qos = by_topic['/joint_states'].ext.offered_qos_profiles
        assert [q.durability for q in joint_qos] == [QosDurability.VOLATILE]
        recorded = [(c.topic, reader.deserialize(raw, c.msgtype), raw)
                    for c, _t, raw in reader.messages()]
    texts = [(msg.data, raw) for topic, msg, raw in recorded if topic == '/task_text']
    assert [t for t, _ in texts] == [TEXT]
    positions = [msg.position[0] for topic, msg, _ in recorded if topic == '/joint_states']
    assert positions == pytest.approx([0.01 * i for i in range(N_JOINT_STATES)])

    # Replay /task_text as ros2 bag play does: the raw CDR, with the recorded offered QoS.
    (offered,) = text_qos
    replay_qos = QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=max(1, offered.depth),
        reliability=ReliabilityPolicy.RELIABLE,
        durability=(DurabilityPolicy.TRANSIENT_LOCAL
                    if offered.durability == QosDurability.TRANSIENT_LOCAL
                    else DurabilityPolicy.VOLATILE))
    from exo_contract.task_text_relay import TaskTextRelay
    from exo_policy.policy_node import PolicyNode

    relay = TaskTextRelay(context=ros_context)
    policy = PolicyNode(context=ros_context, parameter_overrides=[
        Parameter('language_encoder', value='lexical')])
    player = rclpy.create_node('bag_test_player', context=ros_context)
    logs: list[str] = []
    player.create_subscription(Log, '/rosout', lambda m: logs.append(f'{m.name}: {m.msg}'),
                               QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (relay, policy, player):
        executor.add_node(node)
    try:
        spin_until(executor, lambda: any('policy_node ready' in line for line in logs), 60.0,
                   'policy_node loaded')
        pub = player.create_publisher(String, '/task_text', replay_qos)
        spin_until(executor, lambda: pub.get_subscription_count() >= 1, 20.0,
                   'relay matched the replayed /task_text')
        for _text, raw in texts:
            pub.publish(raw)
        deadline = time.monotonic() + 30.0
        taken = [line for line in logs if TEXT in line and '-> task' in line]
        while not taken:
            assert time.monotonic() < deadline, f'policy_node did not take the text: {logs}'
            executor.spin_once(timeout_sec=0.05)
            taken = [line for line in logs if TEXT in line and '-> task' in line]
        assert taken[0].startswith('policy_node: ')
    finally:
        executor.shutdown()
        for node in (relay, policy, player):
            node.destroy_node()


def test_qos_profiles_are_written_as_rosbag2_writes_them(tmp_path):
    """metadata.yaml holds the profiles as a list; the MCAP channel as a YAML string."""
    from mcap.reader import make_reader

    profile = {'history': 'keep_last', 'depth': 1, 'reliability': 'reliable',
               'durability': 'transient_local', 'deadline': {'sec': 0, 'nsec': 0},
               'lifespan': {'sec': 2147483647, 'nsec': 4294967295}, 'liveliness': 'automatic',
               'liveliness_lease_duration': {'sec': 0, 'nsec': 0},
               'avoid_ros_namespace_conventions': False}
    with BagWriter(tmp_path / 'b', compression='none') as bag:
        bag.add_topic('/exo/estop', 'std_msgs/msg/Bool', [profile])
        bag.write('/exo/estop', 'std_msgs/msg/Bool', b'\x00\x01\x00\x00\x01', 5)
    meta = yaml.safe_load((tmp_path / 'b' / 'metadata.yaml').read_text())
    (entry,) = meta['rosbag2_bagfile_information']['topics_with_message_count']
    assert entry['topic_metadata']['offered_qos_profiles'] == [profile]
    assert entry['message_count'] == 1
    with open(tmp_path / 'b' / 'b_0.mcap', 'rb') as stream:
        (channel,) = make_reader(stream).get_summary().channels.values()
    assert yaml.safe_load(channel.metadata['offered_qos_profiles']) == [profile]
    assert channel.metadata['offered_qos_profiles'] == qos_yaml([profile])


def test_an_mcap_path_or_a_non_empty_folder_is_refused(tmp_path):
    with pytest.raises(ValueError, match='bag folder'):
        BagWriter(tmp_path / 'recording.mcap')
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'x').write_text('')
    with pytest.raises(ValueError, match='not empty'):
        BagWriter(tmp_path / 'full')
