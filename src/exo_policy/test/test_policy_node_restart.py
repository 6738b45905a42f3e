"""policy_node (real rclpy, one process) after a restart: a latched old text is not replayed.

A long-lived publisher still holds the text of the task that was running when an earlier
policy_node died. The new policy_node must stay in the compliant fallback (replaying the
text would restart the task's reference from its beginning while the arm is elsewhere) and
follow the next text that is published after it started. Deadlines only bound a broken test.
"""

import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')

from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_PUB_QOS,
    TASK_TEXT_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.task_text_relay import TaskTextRelay  # noqa: E402
from exo_interfaces.msg import ImpedanceReference  # noqa: E402
from exo_policy.policy_node import PolicyNode  # noqa: E402

DEADLINE = 30.0  # s, generous; not a timing requirement


def test_restarted_policy_node_stays_compliant_until_a_new_text(ros_context, spin_until):
    peer = rclpy.create_node('operator_gui', context=ros_context)
    text_pub = peer.create_publisher(String, TASK_TEXT_TOPIC, TASK_TEXT_QOS)
    js_pub = peer.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
    refs = []
    peer.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, refs.append,
                             COMMAND_QOS)
    # The task that was running when the previous policy_node died, still latched (by the
    # graph's relay, which outlives policy_node).
    relay = TaskTextRelay(context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(relay)
    executor.add_node(peer)
    text_pub.publish(String(data='lift a heavy box'))
    deadline = time.monotonic() + DEADLINE
    while relay.relayed < 1 and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.01)
    assert relay.relayed == 1
    time.sleep(0.01)
    node = PolicyNode(context=ros_context, parameter_overrides=[
        Parameter('mode', value='oracle'), Parameter('language_encoder', value='lexical')])
    warnings = []
    real_logger = node.get_logger()

    class _Spy:
        def __getattr__(self, attr):
            return getattr(real_logger, attr)

        def warning(self, text, *a, **k):
            warnings.append(text)
            return real_logger.warning(text, *a, **k)

    node.get_logger = lambda: _Spy()
    executor.add_node(node)

    def publish_arm():
        js_pub.publish(JointState(name=['exo_elbow_joint'], position=[0.4], velocity=[0.0]))

    def wait(predicate, what):
        spin_until(executor, predicate, DEADLINE, what, spin_timeout=0.005, each=publish_arm)

    try:
        wait(lambda: any('not resuming' in w for w in warnings) and len(refs) > 20,
                   'the latched old text was seen and references are published')
        assert any("'lift a heavy box'" in w for w in warnings)
        assert node._source.task is None
        assert all(r.source == ImpedanceReference.SOURCE_FALLBACK and r.task_id == ''
                   for r in refs)
        assert all(r.stiffness[0] == node.params.compliant_stiffness for r in refs)
        assert all(r.reference_angle[0] == 0.4 for r in refs)  # holds the measured angle
        # A text published now (the operator re-sends it) is followed.
        text_pub.publish(String(data='lift a heavy box'))
        wait(lambda: refs and refs[-1].task_id == 'lift_heavy', 'the re-sent task')
        assert refs[-1].source == 'oracle'
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()


def test_text_published_while_policy_node_loads_is_followed(ros_context):
    """A late joiner within its own lifetime still gets the latched instruction."""
    node = PolicyNode(context=ros_context, parameter_overrides=[
        Parameter('mode', value='oracle'), Parameter('language_encoder', value='lexical')])
    peer = rclpy.create_node('operator_gui', context=ros_context)
    text_pub = peer.create_publisher(String, TASK_TEXT_TOPIC, TASK_TEXT_QOS)
    text_pub.publish(String(data='wave hello'))  # before discovery has matched anything
    js_pub = peer.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
    refs = []
    peer.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, refs.append,
                             COMMAND_QOS)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(peer)
    executor.add_node(TaskTextRelay(context=ros_context))  # the graph's reader of /task_text
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and not (refs and refs[-1].task_id == 'wave'):
            js_pub.publish(JointState(name=['exo_elbow_joint'], position=[0.4],
                                      velocity=[0.0]))
            executor.spin_once(timeout_sec=0.005)
        assert refs and refs[-1].task_id == 'wave' and refs[-1].source == 'oracle'
    finally:
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()
