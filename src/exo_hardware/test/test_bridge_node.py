"""bridge_node in one process with real rclpy and the offline actuator: lifecycle and zeroing.

Bad parameters fail configure without touching the actuator; commands reach the actuator
only while active; deactivate and the stop hook leave zero torque and an idle, closed
actuator. Deadlines are generous; nothing asserts on timing.
"""

import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('opensourceleg')

from opensourceleg.actuators.base import CONTROL_MODES  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64MultiArray  # noqa: E402

from exo_contract.qos import (  # noqa: E402
    COMMAND_QOS,
    EFFORT_COMMAND_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_SUB_QOS,
)
from exo_hardware.bridge_node import BridgeNode  # noqa: E402

DEADLINE = 30.0  # s, generous; not a timing requirement
SPIN_TIMEOUT = 0.002  # s, the same for every spin_once (see test_controller_node.py)


@pytest.fixture
def ros(tmp_path, ros_domain):
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain)
    executor = SingleThreadedExecutor(context=context)
    nodes = []

    def bridge(**params):
        overrides = [Parameter('autostart', value=False),
                     Parameter('sdk_log_dir', value=str(tmp_path / 'osl'))]
        overrides += [Parameter(k, value=v) for k, v in params.items()]
        node = BridgeNode(context=context, parameter_overrides=overrides)
        nodes.append(node)
        executor.add_node(node)
        return node

    peer = rclpy.create_node('bridge_test_peer', context=context)
    nodes.append(peer)
    executor.add_node(peer)
    yield context, executor, bridge, peer
    for node in nodes:
        if isinstance(node, BridgeNode):
            node.stop_hardware()
        executor.remove_node(node)
        node.destroy_node()
    executor.shutdown()
    context.try_shutdown()


def _spin_until(executor, predicate, what):
    end = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < end, f'timed out waiting for {what}'
        executor.spin_once(timeout_sec=SPIN_TIMEOUT)


def _bridge_with_owner(bridge, peer):
    """A bridge (fast resume) and a peer that records its joint states and commands 1.5 N*m."""
    node = bridge(resume_torque_rate=1.0e5)
    states = []
    peer.create_subscription(JointState, JOINT_STATES_TOPIC, states.append, SENSOR_SUB_QOS)
    pub = peer.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
    peer.create_timer(0.002, lambda: pub.publish(Float64MultiArray(data=[1.5])))
    return node, states


def test_invalid_parameter_fails_configure_without_opening_the_actuator(ros):
    _, _, bridge, _ = ros
    node = bridge(command_timeout=-1.0)
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert node._port is None and node.params is None


def test_missing_driver_library_fails_configure(ros):
    _, _, bridge, _ = ros
    node = bridge(actuator='dephy', interaction_sensor='none')
    assert node.trigger_configure() == TransitionCallbackReturn.FAILURE
    assert node._port is None


def test_commands_reach_the_actuator_only_while_active(ros):
    _, executor, bridge, peer = ros
    node, states = _bridge_with_owner(bridge, peer)

    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    actuator = node._port.actuator
    _spin_until(executor, lambda: len(states) > 20, 'joint states while inactive')
    assert all(s.effort[0] == 0.0 for s in states)  # configured, not active: no torque
    assert abs(states[-1].position[0] - node.params.home_angle) < 0.2  # zeroed at home

    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    _spin_until(executor, lambda: states[-1].effort[0] == 1.5, 'the command at the actuator')
    assert actuator.output_torque_applied == pytest.approx(1.5)

    assert node.trigger_deactivate() == TransitionCallbackReturn.SUCCESS
    assert actuator.output_torque_applied == 0.0 and actuator.mode == CONTROL_MODES.IDLE
    states.clear()
    _spin_until(executor, lambda: len(states) > 20, 'joint states after deactivate')
    assert all(s.effort[0] == 0.0 for s in states)

    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    _spin_until(executor, lambda: states[-1].effort[0] == 1.5, 'the command again')
    node.stop_hardware()
    node.stop_hardware()  # idempotent
    assert actuator.output_torque_applied == 0.0 and actuator.mode == CONTROL_MODES.IDLE
    assert not actuator.is_open and node._port is None


def test_an_outside_command_publisher_is_never_applied(ros):
    """A second node commanding 20 N*m: the bridge refuses the topic (zero torque).

    The bridge counts the command topic's DDS-matched writers on every command, so even the
    outside node's first command finds two publishers; no joint state reports its torque.
    """
    context, executor, bridge, peer = ros
    node, states = _bridge_with_owner(bridge, peer)
    assert node.trigger_configure() == TransitionCallbackReturn.SUCCESS
    assert node.trigger_activate() == TransitionCallbackReturn.SUCCESS
    _spin_until(executor, lambda: states and states[-1].effort[0] == 1.5, 'the owner command')

    intruder = rclpy.create_node('bridge_test_intruder', context=context)
    executor.add_node(intruder)
    outside = intruder.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS)
    intruder.create_timer(0.001, lambda: outside.publish(Float64MultiArray(data=[20.0])))
    states.clear()
    _spin_until(executor, lambda: len(states) > 300, 'joint states with the intruder')
    assert all(s.effort[0] != 20.0 for s in states)
    assert states[-1].effort[0] == 0.0  # refused: zero torque while two publishers
    assert len(node._core.command_publishers) == 2
    executor.remove_node(intruder)
    intruder.destroy_node()
