"""Tests of exo_experiments.mcap_io and exo_experiments.recorder."""


from mcap.reader import make_reader
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64, String

from conftest import spin_until  # noqa: E402  (src/conftest.py, the shared helper)
from exo_contract.qos import TASK_TEXT_QOS
from exo_experiments.mcap_io import (
    channel_message_counts,
    iter_decoded,
    McapRos2Writer,
    message_definition,
    MessageDefinitionError,
)
from exo_experiments.recorder import RecorderConfig, RecorderNode
from exo_interfaces.msg import ControllerState

DEADLINE_S = 30.0  # generous: the machine is shared; only a hang makes a test fail


def test_roundtrip_of_serialized_messages(tmp_path):
    path = tmp_path / 'roundtrip.mcap'
    joints = JointState(name=['exo_elbow_joint'], position=[0.25], velocity=[-1.5])
    joints.header.stamp.sec, joints.header.stamp.nanosec = 12, 345
    state = ControllerState(tick_period=0.001, joint_names=['exo_elbow_joint'],
                            stiffness_bounded=[42.0], safety_flags=5)
    state.joint_state_stamp.sec = 7
    state.header.frame_id = 'exo'
    with McapRos2Writer(path) as writer:
        writer.write('/joint_states', 'sensor_msgs/msg/JointState',
                     serialize_message(joints), 1000, 990)
        writer.write('/exo/controller_state', 'exo_interfaces/ControllerState',
                     serialize_message(state), 2000)
        writer.write('/task_text', 'std_msgs/msg/String',
                     serialize_message(String(data='lift the cup')), 3000)
        writer.write('/task_text', 'std_msgs/msg/String',
                     serialize_message(String(data='wave')), 4000)
    decoded = list(iter_decoded(path))
    assert [(topic, t) for topic, t, _ in decoded] == [
        ('/joint_states', 1000), ('/exo/controller_state', 2000),
        ('/task_text', 3000), ('/task_text', 4000)]
    js, cs, text, _ = (msg for _, _, msg in decoded)
    assert list(js.name) == ['exo_elbow_joint']
    assert list(js.position) == [0.25] and list(js.velocity) == [-1.5]
    assert (js.header.stamp.sec, js.header.stamp.nanosec) == (12, 345)
    assert cs.tick_period == 0.001 and list(cs.stiffness_bounded) == [42.0]
    assert cs.safety_flags == 5 and cs.joint_state_stamp.sec == 7
    assert cs.header.frame_id == 'exo'
    assert text.data == 'lift the cup'
    assert [m.data for _, _, m in iter_decoded(path, topics=['/task_text'])] == [
        'lift the cup', 'wave']
    assert channel_message_counts(path) == {
        '/joint_states': 1, '/exo/controller_state': 1, '/task_text': 2}

    with open(path, 'rb') as stream:
        reader = make_reader(stream)
        header = reader.get_header()
        summary = reader.get_summary()
    assert header.profile == 'ros2'
    schemas = {s.name: s for s in summary.schemas.values()}
    assert set(schemas) == {'sensor_msgs/msg/JointState',
                            'exo_interfaces/msg/ControllerState', 'std_msgs/msg/String'}
    text = schemas['exo_interfaces/msg/ControllerState'].data.decode()
    assert schemas['exo_interfaces/msg/ControllerState'].encoding == 'ros2msg'
    assert text.startswith('# State of exo_impedance_controller/controller_node')
    assert '\n' + '=' * 80 + '\nMSG: std_msgs/Header\n' in text
    assert '\n' + '=' * 80 + '\nMSG: builtin_interfaces/Time\n' in text
    assert text.count('MSG: builtin_interfaces/Time') == 1
    assert all(c.message_encoding == 'cdr' for c in summary.channels.values())


def test_message_definition_errors():
    with pytest.raises(MessageDefinitionError, match='malformed'):
        message_definition('not a type')
    with pytest.raises(MessageDefinitionError, match='no .msg file'):
        message_definition('exo_interfaces/msg/DoesNotExist')
    assert 'MSG:' not in message_definition('std_msgs/msg/String')


def test_recorder_config_validation():
    with pytest.raises(ValueError, match="'joint_states'"):
        RecorderConfig.parse_topic('joint_states')
    assert RecorderConfig.parse_topic('/x:std_msgs/Float64') == ('/x', 'std_msgs/msg/Float64')
    assert RecorderConfig.parse_topic('/joint_states') == (
        '/joint_states', 'sensor_msgs/msg/JointState')
    with pytest.raises(ValueError, match='queue_depth'):
        RecorderConfig.from_values(['/a'], 'out.mcap', 0, 'zstd', 0.5)


def _spin_until(executor, predicate):
    spin_until(executor, predicate, DEADLINE_S, spin_timeout=0.05)


def test_recorder_node_writes_messages(tmp_path, ros_domain):
    output = tmp_path / 'sub' / 'recording'
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain)
    executor = SingleThreadedExecutor(context=context)
    try:
        source = rclpy.create_node('recorder_test_source', context=context)
        executor.add_node(source)
        # Latched instruction published before the recorder exists.
        text_pub = source.create_publisher(String, '/task_text', TASK_TEXT_QOS)
        text_pub.publish(String(data='lift the cup to your mouth'))
        joints_pub = source.create_publisher(
            JointState, '/joint_states',
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        extra_pub = source.create_publisher(Float64, '/recorder_test/extra', 10)

        recorder = RecorderNode(context=context, parameter_overrides=[
            Parameter('output', value=str(output)),
            Parameter('topics', value=['/task_text', '/joint_states', '/recorder_test/extra']),
            Parameter('discovery_period', value=0.1),
        ])
        executor.add_node(recorder)
        _spin_until(executor, lambda: joints_pub.get_subscription_count() >= 1
                    and extra_pub.get_subscription_count() >= 1)
        n = 50
        for i in range(n):
            msg = JointState(name=['exo_elbow_joint'], position=[i * 0.01])
            joints_pub.publish(msg)
            executor.spin_once(timeout_sec=0.001)
        extra_pub.publish(Float64(data=3.5))
        _spin_until(executor, lambda: recorder.message_counts['/joint_states'] == n
                    and recorder.message_counts['/task_text'] == 1
                    and recorder.message_counts['/recorder_test/extra'] == 1)
        counts = recorder.close()
        executor.remove_node(recorder)
        recorder.destroy_node()
        source.destroy_node()
    finally:
        executor.shutdown()
        rclpy.try_shutdown(context=context)

    assert counts == {'/task_text': 1, '/joint_states': n, '/recorder_test/extra': 1}
    assert channel_message_counts(output) == counts
    decoded = list(iter_decoded(output))
    positions = [msg.position[0] for topic, _, msg in decoded if topic == '/joint_states']
    assert positions == pytest.approx([i * 0.01 for i in range(n)])
    assert [msg.data for topic, _, msg in decoded if topic == '/task_text'] == [
        'lift the cup to your mouth']
    assert [msg.data for topic, _, msg in decoded if topic == '/recorder_test/extra'] == [3.5]
