"""`ros2 topic pub --once /task_text ...` reaches every node that acts on the text.

What ``ros2 topic pub --once`` does (ros2topic, rolling): create a RELIABLE + VOLATILE
publisher (depth 10), poll ``get_subscription_count()`` every 0.1 s until one subscription
matches (``-w 1``, the default with ``--once``), publish once, sleep 0.1 s, exit. A volatile
message reaches only the readers matched at that instant. :data:`PUB_ONCE` does exactly that
in its own process. The nodes that act on the text (task_text_relay, sim_node,
policy_node, controller_node) run in this process on a private ROS domain.
"""

import os
import subprocess
import sys
import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')

from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from exo_contract.task_text_relay import TaskTextRelay  # noqa: E402
from exo_contract.topics import GRAPH_TASK_TEXT_TOPIC, TASK_TEXT_TOPIC  # noqa: E402

pytestmark = pytest.mark.integration

DEADLINE_S = 60.0  # generous: the machine is shared; only a hang makes a test fail

#: ros2topic's publisher() with --once and its defaults, as a script: argv[1] = the text.
PUB_ONCE = """
import sys, time
import rclpy
from std_msgs.msg import String
rclpy.init()
node = rclpy.create_node('_ros2cli_pub_once')
pub = node.create_publisher(String, '/task_text', 10)  # RELIABLE, VOLATILE, depth 10
waited = 0
while pub.get_subscription_count() < 1:
    time.sleep(0.1)
    waited += 1
    if waited > 600:
        sys.exit('no subscription matched')
print('matched', pub.get_subscription_count(), flush=True)
pub.publish(String(data=sys.argv[1]))
time.sleep(0.1)  # ros2topic: let the message reach the wire before exiting
node.destroy_node()
rclpy.shutdown()
"""


def _pub_once(domain: int, text: str) -> str:
    """Run the one-shot publisher in its own process; return its output."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain))
    out = subprocess.run([sys.executable, '-c', PUB_ONCE, text], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture
def graph(ros_domain):
    """Relay, sim_node, policy_node (oracle) and an active controller_node, spinning."""
    from exo_impedance_controller.controller_node import ControllerNode
    from exo_policy.policy_node import LOADED, PolicyNode
    from exo_sim.sim_node import SimNode

    domain = ros_domain
    context = Context()
    rclpy.init(context=context, domain_id=domain)
    lexical = Parameter('language_encoder', value='lexical')
    nodes = {
        'sim': SimNode(context=context, parameter_overrides=[lexical]),
        'policy': PolicyNode(context=context, parameter_overrides=[
            Parameter('mode', value='oracle'), lexical]),
        'controller': ControllerNode(context=context),
        'relay': TaskTextRelay(context=context),
    }
    nodes['controller'].trigger_configure()
    nodes['controller'].trigger_activate()
    executor = SingleThreadedExecutor(context=context)
    for node in nodes.values():
        executor.add_node(node)
    stop = threading.Event()

    def spin():
        while not stop.is_set() and context.ok():
            executor.spin_once(timeout_sec=0.01)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    probe = nodes['relay']
    deadline = time.monotonic() + DEADLINE_S
    while not (nodes['policy']._load_state == LOADED
               and probe.count_subscribers(GRAPH_TASK_TEXT_TOPIC) >= 6):  # 3 nodes x 2 readers
        assert time.monotonic() < deadline, 'the nodes did not come up'
        time.sleep(0.1)
    try:
        yield domain, nodes
    finally:
        stop.set()
        thread.join(timeout=10.0)
        executor.shutdown()
        for node in nodes.values():
            node.destroy_node()
        context.try_shutdown()


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        assert time.monotonic() < deadline, f'not reached within {DEADLINE_S} s: {what}'
        time.sleep(0.05)


def test_a_one_shot_default_publisher_reaches_every_node(graph):
    """Each text, published once right after the first match, reaches sim, policy, controller."""
    domain, nodes = graph
    sim, policy, controller = nodes['sim'], nodes['policy'], nodes['controller']
    # The invariant that makes the race impossible: a volatile publisher of /task_text
    # matches exactly one reader in the graph (the relay's live reader), so the first match
    # is the only one there is.
    assert nodes['relay'].count_subscribers(TASK_TEXT_TOPIC) == 2  # relay: live + latched
    for text, task_id in (('lift a heavy box', 'lift_heavy'), ('wave hello', 'wave')):
        relayed = nodes['relay'].relayed
        assert 'matched 1' in _pub_once(domain, text)
        _wait(lambda t=task_id: sim.session.task is not None and sim.session.task.task_id == t,
              f'sim_node started {task_id}')
        _wait(lambda t=task_id: policy._source.task is not None
              and policy._source.task.task_id == t, f'policy_node follows {task_id}')
        assert nodes['relay'].relayed == relayed + 1  # once, not once per reader
    assert not controller._stop.stopped
    assert 'matched 1' in _pub_once(domain, 'stop')
    _wait(lambda: controller._stop.stopped, 'the stop word stopped controller_node')


def test_the_relay_is_the_only_reader_of_task_text(graph):
    """Nobody but the relay reads /task_text, so `-w 1` (the default) waits for the relay."""
    _, nodes = graph
    readers = {info.node_name for info in
               nodes['relay'].get_subscriptions_info_by_topic(TASK_TEXT_TOPIC)}
    assert readers == {'task_text_relay'}
    publishers = {info.node_name for info in
                  nodes['relay'].get_publishers_info_by_topic(GRAPH_TASK_TEXT_TOPIC)}
    assert publishers == {'task_text_relay'}
