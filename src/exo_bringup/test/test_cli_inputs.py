"""What the ROS CLI does, with rclpy: default-QoS publishers, integer overrides, describe.

``ros2 topic pub`` publishes RELIABLE + VOLATILE by default; ``ros2 param describe`` calls
the node's ``describe_parameters`` service; ``--ros-args -p name:=80`` gives an INTEGER.
"""

import time

import pytest

rclpy = pytest.importorskip('rclpy')

from rcl_interfaces.srv import DescribeParameters, SetParameters  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from exo_contract.inputs import DuplicateFilter, LATCHED, LIVE, subscribe_input  # noqa: E402
from exo_contract.qos import TASK_TEXT_QOS  # noqa: E402


def test_duplicate_filter_pairs_copies_one_to_one():
    f = DuplicateFilter(window=1.0)
    assert f.accept(LIVE, 'a', 0.0)
    assert not f.accept(LATCHED, 'a', 0.01)  # the latched reader's copy
    assert f.accept(LIVE, 'a', 0.02)  # the same text sent again: passed
    assert f.accept(LATCHED, 'b', 0.03)  # history of a latched publisher (live never gets it)
    assert f.accept(LIVE, 'a', 5.0) and f.accept(LATCHED, 'a', 7.0)  # outside the window
    assert f.duplicates == 1


def _spin_until(nodes, predicate, timeout=5.0):
    executor = rclpy.executors.SingleThreadedExecutor(context=nodes[0].context)
    for n in nodes:
        executor.add_node(n)
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.01)
    executor.shutdown()
    return predicate()


def test_input_reaches_a_node_from_a_default_and_a_latched_publisher(ros_context):
    """A default-QoS (volatile) publisher and a latched one that published first: once each."""
    peer = rclpy.create_node('peer', context=ros_context)
    latched = peer.create_publisher(String, '/task_text', TASK_TEXT_QOS)
    latched.publish(String(data='before the node'))
    node = rclpy.create_node('reader', context=ros_context)
    got = []
    subscribe_input(node, String, '/task_text', lambda m: got.append(m.data))
    cli = peer.create_publisher(String, '/task_text', 10)  # ros2 topic pub's default QoS
    assert _spin_until([node, peer], lambda: cli.get_subscription_count() >= 1 and got)
    cli.publish(String(data='lift a heavy box'))
    latched.publish(String(data='hold it'))
    assert _spin_until([node, peer], lambda: len(got) >= 3)
    _spin_until([node, peer], lambda: False, timeout=0.3)
    assert sorted(got) == ['before the node', 'hold it', 'lift a heavy box']
    # The volatile CLI publisher is incompatible with a latched-only subscription.
    assert cli.get_subscription_count() == 1
    node.destroy_node()
    peer.destroy_node()


def _call(peer, srv_type, name, request):
    """Call a service as ros2param does: a client, wait for the service, one request."""
    client = peer.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=5.0)
    future = client.call_async(request)
    executor = rclpy.executors.SingleThreadedExecutor(context=peer.context)
    executor.add_node(peer)
    executor.spin_until_future_complete(future, timeout_sec=5.0)
    executor.shutdown()
    return future.result()


def _describe(peer, node_name, names):
    return _call(peer, DescribeParameters, f'/{node_name}/describe_parameters',
                 DescribeParameters.Request(names=names)).descriptors


def _set(peer, node_name, name, value):
    return _call(peer, SetParameters, f'/{node_name}/set_parameters', SetParameters.Request(
        parameters=[Parameter(name, value=value).to_parameter_msg()])).results[0]


def test_integer_override_and_describe_like_the_cli(ros_context):
    """-p body_mass_kg:=80 is 80.0; describe shows description and range; set is refused."""
    from exo_sim.sim_node import SimNode

    node = SimNode(context=ros_context, parameter_overrides=[Parameter('body_mass_kg', value=80),
                                                         Parameter('rate_hz', value=500)])
    peer = rclpy.create_node('cli', context=ros_context)
    executor = rclpy.executors.SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    import threading
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        value = node.get_parameter('body_mass_kg')
        assert value.type_ == Parameter.Type.DOUBLE and value.value == 80.0
        (d,) = _describe(peer, 'sim_node', ['body_mass_kg'])
        assert 'Body mass' in d.description and '[kg]' in d.description
        assert d.floating_point_range[0].from_value == 40.0
        assert d.floating_point_range[0].to_value == 150.0
        assert d.read_only
        result = _set(peer, 'sim_node', 'body_mass_kg', 90.0)
        assert not result.successful and 'read-only' in result.reason
        assert node.get_parameter('body_mass_kg').value == 80.0
    finally:
        executor.shutdown()
        thread.join(timeout=10.0)  # no callback may run once the node is destroyed
        assert not thread.is_alive()
        node.destroy_node()
        peer.destroy_node()


def test_out_of_range_override_is_a_clear_error(ros_context):
    from exo_sim.sim_node import SimNode

    with pytest.raises(ValueError, match=r'torque_limit must be in \(0, 30\] N\*m, got 1000'):
        SimNode(context=ros_context, parameter_overrides=[Parameter('torque_limit', value=1000)])


def test_controller_refuses_a_change_while_configured(ros_context):
    from exo_impedance_controller.controller_node import ControllerNode

    node = ControllerNode(context=ros_context,
                          parameter_overrides=[Parameter('torque_limit', value=20)])
    try:
        assert node.get_parameter('torque_limit').value == 20.0
        result = node.set_parameters([Parameter('torque_limit', value=10)])[0]
        assert result.successful  # unconfigured: applied at configure
        assert node.get_parameter('torque_limit').type_ == Parameter.Type.DOUBLE
        node.trigger_configure()
        result = node.set_parameters([Parameter('torque_limit', value=12.0)])[0]
        assert not result.successful and 'takes effect at configure' in result.reason
        assert node.get_parameter('torque_limit').value == 10.0  # the value in effect
        node.trigger_cleanup()
        result = node.set_parameters([Parameter('torque_limit', value=1000.0)])[0]
        assert not result.successful and '1000' in result.reason
    finally:
        node.destroy_node()


def test_volatile_only_subscription_misses_nothing_the_qos_rule_needs():
    """The exo's own publishers stay latched: they match the live and the latched reader."""
    assert TASK_TEXT_QOS.durability == DurabilityPolicy.TRANSIENT_LOCAL
    assert QoSProfile(depth=10).durability == DurabilityPolicy.VOLATILE
