"""policy_node publishes the compliant reference while its source loads (real rclpy).

The load is held (a gate in front of the real :func:`exo_policy.policy_node.load_source`)
until the test has seen references, so the order is the test's subject, not the machine's
speed: the first reference comes before the status 'loaded' on /diagnostics, it is the
compliant fallback that follows the arm, and the node reads /task_text only once loaded.
Nothing here asserts timing.
"""

import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_PUB_QOS,
    STATE_QOS,
    TASK_TEXT_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.task_text_relay import TaskTextRelay  # noqa: E402
from exo_interfaces.msg import ImpedanceReference  # noqa: E402
from exo_policy import policy_node as policy_module  # noqa: E402

DEADLINE = 30.0  # s, generous; not a timing requirement


def test_compliant_reference_comes_before_the_source_is_loaded(ros_context, monkeypatch):
    gate = threading.Event()
    real_load = policy_module.load_source

    def held_load(params):
        gate.wait(DEADLINE)
        return real_load(params)

    monkeypatch.setattr(policy_module, 'load_source', held_load)
    events = []  # ('ref', msg) and ('status', message), in order of arrival
    peer = rclpy.create_node('operator_gui', context=ros_context)
    js_pub = peer.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
    text_pub = peer.create_publisher(String, TASK_TEXT_TOPIC, TASK_TEXT_QOS)
    peer.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                             lambda m: events.append(('ref', m)), COMMAND_QOS)

    def on_diag(msg):
        for status in msg.status:
            if status.name == policy_module.SOURCE_STATUS:
                events.append(('status', status.message))

    peer.create_subscription(DiagnosticArray, policy_module.DIAGNOSTICS_TOPIC, on_diag,
                             STATE_QOS)
    node = policy_module.PolicyNode(context=ros_context, parameter_overrides=[
        Parameter('mode', value='oracle'), Parameter('language_encoder', value='lexical')])
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    executor.add_node(peer)
    executor.add_node(TaskTextRelay(context=ros_context))  # the graph's reader of /task_text

    def spin_until(predicate, what):
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and not predicate():
            js_pub.publish(JointState(name=['exo_elbow_joint'], position=[0.4],
                                      velocity=[0.0]))
            executor.spin_once(timeout_sec=0.005)
        assert predicate(), f'not reached within {DEADLINE} s: {what}'

    def refs():
        return [m for kind, m in events if kind == 'ref']

    try:
        spin_until(lambda: len(refs()) >= 5, 'references while the source loads')
        assert ('status', policy_module.LOADED) not in events
        assert node._text_reader is None  # not reading instructions yet
        for ref in refs():
            assert ref.source == ImpedanceReference.SOURCE_FALLBACK
            assert ref.stiffness[0] == node.params.compliant_stiffness
            assert ref.reference_angle[0] == 0.4  # follows the arm
        gate.set()
        spin_until(lambda: ('status', policy_module.LOADED) in events, "the status 'loaded'")
        first_ref = next(i for i, (kind, _) in enumerate(events) if kind == 'ref')
        assert first_ref < events.index(('status', policy_module.LOADED))
        assert events.index(('status', policy_module.LOADING)) < events.index(
            ('status', policy_module.LOADED))
        text_pub.publish(String(data='lift a heavy box'))
        spin_until(lambda: refs()[-1].task_id == 'lift_heavy', 'the task once loaded')
    finally:
        gate.set()
        executor.shutdown()
        node.destroy_node()
        peer.destroy_node()
