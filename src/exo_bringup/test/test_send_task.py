"""Tests of exo_bringup.send_task."""

import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from std_msgs.msg import String

from exo_bringup.send_task import main, parse_args, publish_task_text
from exo_contract.qos import TASK_TEXT_QOS, TASK_TEXT_TOPIC

DEADLINE_S = 30.0  # generous: the machine is shared; only a hang makes a test fail


@pytest.mark.parametrize('text', ['', '   ', '\n\t'])
def test_empty_text_is_rejected(text, ros_context, capsys):
    node = rclpy.create_node('send_task_empty', context=ros_context)
    try:
        with pytest.raises(ValueError, match='task text is empty'):
            publish_task_text(node, text)
        assert node.count_publishers(TASK_TEXT_TOPIC) == 0  # nothing was sent
    finally:
        node.destroy_node()
    with pytest.raises(SystemExit) as exit_info:
        parse_args([text])
    assert exit_info.value.code == 2
    assert 'task text is empty' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([text])


def test_arguments():
    args = parse_args(['-w', '2', '--timeout', '3', '  wave hello '])
    assert (args.text, args.wait_subscribers, args.timeout) == ('wave hello', 2, 3.0)
    with pytest.raises(SystemExit):
        parse_args(['--timeout', '0', 'x'])


def test_late_transient_local_subscriber_gets_the_text(ros_context):
    executor = SingleThreadedExecutor(context=ros_context)
    publisher_node = rclpy.create_node('send_task_pub', context=ros_context)
    subscriber_node = rclpy.create_node('send_task_late_sub', context=ros_context)
    received = []
    try:
        sent = publish_task_text(publisher_node, '  lift the cup to your mouth ')
        assert sent.data == 'lift the cup to your mouth'
        # The subscriber joins after the publication.
        subscriber_node.create_subscription(String, TASK_TEXT_TOPIC, received.append,
                                            TASK_TEXT_QOS)
        executor.add_node(publisher_node)
        executor.add_node(subscriber_node)
        deadline = time.monotonic() + DEADLINE_S
        while not received and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        subscriber_node.destroy_node()
        publisher_node.destroy_node()
    assert [msg.data for msg in received] == ['lift the cup to your mouth']


def test_main_gives_up_without_subscribers(ros_domain):
    assert main(['--wait-subscribers', '1', '--timeout', '0.2', '--linger', '0', 'x']) == 1
