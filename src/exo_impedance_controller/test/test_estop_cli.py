"""The e-stop set/release cycle as an operator does it with `ros2 topic pub --once`.

A separate, short-lived process publishes ``true`` on /exo/estop with the CLI's default QoS
(RELIABLE + VOLATILE) once one subscription matches, and exits 0.1 s later. The controller
(real rclpy, this process, the rig of test_controller_node_safety) must hold the stop after
that publisher is gone, and give the torque back only after the operator releases it: with
the controller's service, or with a ``false`` from another short-lived publisher (the
release rule of docs/ros_cli.md).
"""

import os
import subprocess
import sys
import threading

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('exo_interfaces.msg')
pytest.importorskip('std_srvs.srv')

from test_controller_node_safety import rig_factory  # noqa: E402, F401

#: ros2topic's publisher() with --once and its defaults: argv[1] 'true' or 'false'.
PUB_ONCE = """
import sys, time
import rclpy
from std_msgs.msg import Bool
rclpy.init()
node = rclpy.create_node('_ros2cli_estop_once')
pub = node.create_publisher(Bool, '/exo/estop', 10)  # RELIABLE, VOLATILE, depth 10
for _ in range(600):
    if pub.get_subscription_count() >= 1:
        break
    time.sleep(0.1)
else:
    sys.exit('no subscription matched')
pub.publish(Bool(data=sys.argv[1] == 'true'))
time.sleep(0.1)  # ros2topic: let the message reach the wire before exiting
node.destroy_node()
rclpy.shutdown()
"""


def _pub_once(rig, data: str) -> None:
    """Run the one-shot publisher in its own process while the rig keeps ticking."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(rig.node.context.get_domain_id()))
    proc = subprocess.Popen([sys.executable, '-c', PUB_ONCE, data], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    done = threading.Event()
    threading.Thread(target=lambda: (proc.wait(), done.set()), daemon=True).start()
    rig.run_until(done.is_set, f'the one-shot publisher of {data} to exit')
    assert proc.returncode == 0, proc.stdout.read()


@pytest.mark.parametrize('release', ['service', 'topic'])
def test_a_stop_from_an_exited_publisher_holds_until_the_operator_releases(rig_factory,  # noqa: F811
                                                                            release):
    rig = rig_factory()
    rig.run_until(rig.assisting, 'assistance before the stop')
    _pub_once(rig, 'true')
    rig.run_until(rig.stopped_at_zero, 'zero torque after the one-shot true')
    # Its publisher is gone: the stop holds, the torque stays zero.
    held = rig.run_ticks(300)
    assert all(s.commanded_torque[0] == 0.0 for s in held)
    assert rig.commands[-1] == 0.0
    if release == 'service':
        reply = rig.call(False)
        attempts = 1
        while not reply.success and attempts < 20:  # until the graph has seen it leave
            rig.run_ticks(200)
            reply = rig.call(False)
            attempts += 1
        assert reply.success, reply.message
    else:
        _pub_once(rig, 'false')
    rig.run_until(rig.assisting, f'assistance after the release ({release})')
