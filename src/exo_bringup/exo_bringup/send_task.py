"""Send one task instruction on ``/task_text`` (console script ``exo_send_task``).

Equivalent of ``ros2 topic pub --once /task_text std_msgs/msg/String "data: '...'"`` for
machines without the ``ros2`` CLI::

    exo_send_task 'lift the cup to your mouth'
    exo_send_task --wait-subscribers 2 --timeout 10 'wave hello'

The publisher uses ``TASK_TEXT_QOS`` (RELIABLE, TRANSIENT_LOCAL, depth 1), so subscribers
that join while it is alive still get the instruction; it therefore lingers ``--linger``
seconds after publishing before it exits. Exit status: 0 when sent, 1 when the requested
subscribers did not appear within ``--timeout``, 2 on invalid arguments (e.g. empty text).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.utilities import remove_ros_args
from std_msgs.msg import String

from exo_contract.qos import TASK_TEXT_QOS, TASK_TEXT_TOPIC

_PUBLISHER_ATTRIBUTE = '_exo_task_text_publisher'


def validate_task_text(text: str) -> str:
    """Return ``text`` stripped of surrounding white space; ValueError when nothing is left."""
    if not isinstance(text, str):
        raise TypeError(f'task text must be a str, got {type(text).__name__}')
    stripped = text.strip()
    if not stripped:
        raise ValueError(f'task text is empty ({text!r}); give an instruction such as '
                         "'lift the cup to your mouth'")
    return stripped


def task_text_publisher(node: Node) -> Publisher:
    """Return the ``/task_text`` publisher of ``node`` (created once, with TASK_TEXT_QOS)."""
    publisher = getattr(node, _PUBLISHER_ATTRIBUTE, None)
    if publisher is None:
        publisher = node.create_publisher(String, TASK_TEXT_TOPIC, TASK_TEXT_QOS)
        setattr(node, _PUBLISHER_ATTRIBUTE, publisher)
    return publisher


def publish_task_text(node: Node, text: str) -> String:
    """Publish ``text`` on ``/task_text`` from ``node``; return the message sent.

    The publisher is created on first use and kept on the node: as it is TRANSIENT_LOCAL,
    subscribers that join later receive the last instruction for as long as the node lives.
    Raises ValueError for empty or blank text.
    """
    msg = String(data=validate_task_text(text))
    task_text_publisher(node).publish(msg)
    return msg


def wait_for_subscribers(node: Node, count: int, timeout: Optional[float]) -> bool:
    """Spin ``node`` until ``/task_text`` has ``count`` subscribers; False on timeout."""
    publisher = task_text_publisher(node)
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while publisher.get_subscription_count() < count:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            executor.spin_once(timeout_sec=0.05)
        return True
    finally:
        executor.remove_node(node)
        executor.shutdown()


def linger(node: Node, seconds: float) -> None:
    """Keep ``node`` alive and serviced for ``seconds`` (late joiners get latched data)."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + max(0.0, seconds)
    try:
        while time.monotonic() < deadline:
            executor.spin_once(timeout_sec=min(0.1, max(0.0, deadline - time.monotonic())))
    finally:
        executor.remove_node(node)
        executor.shutdown()


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser of ``exo_send_task``."""
    parser = argparse.ArgumentParser(
        prog='exo_send_task',
        description=f'Publish one task instruction (std_msgs/String) on {TASK_TEXT_TOPIC}.')
    parser.add_argument('text', help="instruction, e.g. 'lift the cup to your mouth'")
    parser.add_argument('-w', '--wait-subscribers', type=int, default=0, metavar='N',
                        help='wait until N subscribers are matched before publishing '
                             '(default: 0, publish at once)')
    parser.add_argument('--timeout', type=float, default=None, metavar='SECONDS',
                        help='give up waiting for subscribers after this many seconds '
                             '(default: wait forever)')
    parser.add_argument('--linger', type=float, default=1.0, metavar='SECONDS',
                        help='stay alive this long after publishing so that late-joining '
                             'transient-local subscribers get the text (default: 1.0)')
    return parser


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and validate ``argv`` (ROS arguments removed); exit 2 on invalid values."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.text = validate_task_text(args.text)
    except ValueError as error:
        parser.error(str(error))
    if args.wait_subscribers < 0:
        parser.error(f'--wait-subscribers must be >= 0, got {args.wait_subscribers}')
    if args.timeout is not None and not args.timeout > 0:
        parser.error(f'--timeout must be > 0, got {args.timeout}')
    if not args.linger >= 0:
        parser.error(f'--linger must be >= 0, got {args.linger}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``exo_send_task``; returns the exit status."""
    full_argv = sys.argv if argv is None else ['exo_send_task', *argv]
    args = parse_args(remove_ros_args(full_argv)[1:])
    status = 0
    node = None
    try:
        rclpy.init(args=full_argv)
        node = rclpy.create_node('exo_send_task')
        if args.wait_subscribers > 0:
            node.get_logger().info(
                f'waiting for {args.wait_subscribers} subscriber(s) on {TASK_TEXT_TOPIC}')
            if not wait_for_subscribers(node, args.wait_subscribers, args.timeout):
                node.get_logger().error(
                    f'{args.wait_subscribers} subscriber(s) on {TASK_TEXT_TOPIC} did not '
                    f'appear within {args.timeout} s; nothing published')
                return 1
        msg = publish_task_text(node, args.text)
        node.get_logger().info(f"published on {TASK_TEXT_TOPIC}: data: '{msg.data}'")
        linger(node, args.linger)
    except (KeyboardInterrupt, ExternalShutdownException):
        status = 130
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())
