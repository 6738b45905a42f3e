"""Executor choice and spin loop shared by the exo-vic nodes (rclpy glue only).

The 1 kHz nodes spend most of their CPU in the executor, not in their callbacks. rclpy's
``EventsExecutor`` (rclpy.experimental, Jazzy and later) dispatches events from a C++
queue. Measured here (Kilted wheels, 2 cores, 1 kHz joint states): controller_node 22 %
of a core with it against 61 % with the ``SingleThreadedExecutor``; sim_node 38 % against
68 %, policy_node 10 % against 32 % -- but only when driven by ``spin_once(timeout)``:
its ``spin()`` busy-loops (86-92 %). Hence :func:`spin`. ``EXO_VIC_EXECUTOR=single``
forces the classic executor.
"""

import os
import sys
from typing import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def make_executor() -> Executor:
    """Return the fastest available single-threaded executor."""
    if os.environ.get('EXO_VIC_EXECUTOR', 'events') != 'single':
        try:
            from rclpy.experimental import EventsExecutor
        except ImportError:  # older rclpy
            pass
        else:
            return EventsExecutor()
    return SingleThreadedExecutor()


def spin(node, executor: Executor | None = None) -> None:
    """Spin ``node`` until the context shuts down (spin_once loop: see module docstring)."""
    executor = executor if executor is not None else make_executor()
    executor.add_node(node)
    try:
        while node.context.ok():
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()


def run_node(factory: Callable[[], Node], args: list[str] | None = None,
             executor: Callable[[], Executor] = make_executor) -> None:
    """``main()`` of a node (ros2/demos style): init, spin, clean shutdown.

    ``executor`` makes the executor (default :func:`make_executor`).

    Ctrl-C and external shutdown end quietly; a ``ValueError``/``OSError`` from the
    constructor (invalid parameters, already logged with the rejected value) exits with
    status 2.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = factory()
        spin(node, executor())
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, OSError):
        sys.exit(2)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
