"""Executor choice and spin loop shared by the exo-vic nodes (rclpy glue only).

The 1 kHz nodes spend most of their CPU in the executor, not in their callbacks. rclpy's
``EventsExecutor`` (rclpy.experimental, Jazzy and later) dispatches events from a C++
queue. Measured here (Kilted wheels, 2 cores, 1 kHz joint states): controller_node 22 %
of a core with it against 61 % with the ``SingleThreadedExecutor``; sim_node 38 % against
68 %, policy_node 10 % against 32 % -- but only when driven by ``spin_once(timeout)``:
its ``spin()`` busy-loops (86-92 %). Hence :func:`spin`. ``EXO_VIC_EXECUTOR=single``
forces the classic executor.

Real-time scheduling: the nodes of the 1 kHz loop (controller_node; sim_node and
bridge_node, the hardware side) ask for ``SCHED_FIFO`` before ``rclpy.init``, so the DDS
threads they create inherit it, as ros2_control's controller_manager does for its update
thread (``thread_priority`` 50). On 2 cores shared with policy_node and a recorder, the
normal scheduler let a busy neighbour delay the controller by more than a tick (``make
bench``, docs/testing.md). Where the process may not (no root, no ``CAP_SYS_NICE``, no ``rtprio``
limit) it logs a warning and runs at normal priority; ``EXO_VIC_REALTIME=0`` turns the
request off. Nothing these nodes run spins: every wait sleeps or blocks, and Linux keeps
5 % of each second for normal tasks (``sched_rt_runtime_us``).

A node that seems stuck can be asked where it is: ``kill -USR1 <pid>`` writes the Python
stack of every thread to its standard error (its log), and it goes on running.
"""

import faulthandler
import os
import signal
import sys
import threading
from typing import Callable

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions


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


def spin(node: Node, executor: Executor | None = None,
         stop: threading.Event | None = None) -> None:
    """Spin ``node`` until the context shuts down or ``stop`` is set (spin_once loop)."""
    executor = executor if executor is not None else make_executor()
    executor.add_node(node)
    try:
        while node.context.ok() and not (stop is not None and stop.is_set()):
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()


#: Environment switch of the real-time request ('0': off).
REALTIME_ENV = 'EXO_VIC_REALTIME'
#: SCHED_FIFO priority of controller_node (ros2_control's controller_manager default).
CONTROL_PRIORITY = 50
#: SCHED_FIFO priority of the hardware side (sim_node, bridge_node): below the controller,
#: which answers each of its joint states.
HARDWARE_PRIORITY = 49
#: SCHED_FIFO priority of a harness that drives the lockstep simulation (``make demo``): it
#: times the instructions by the simulated time, which the graph above it makes.
HARNESS_PRIORITY = 48


def request_realtime(priority: int) -> tuple[bool, str]:
    """Put this process under ``SCHED_FIFO`` at ``priority`` (threads created later inherit it).

    Returns ``(granted, message to log)``; never raises. ``priority`` 0, or
    ``EXO_VIC_REALTIME=0``, leaves the scheduling as it is.
    """
    if priority <= 0 or os.environ.get(REALTIME_ENV, '1') == '0':
        return False, (f'normal scheduling (real-time request off: {REALTIME_ENV}=0)'
                       if priority > 0 else 'normal scheduling')
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (OSError, AttributeError) as err:
        return False, (f'could not get SCHED_FIFO priority {priority} ({err}): running at '
                       'normal priority, so a busy machine can delay ticks. Allow it with '
                       'CAP_SYS_NICE or an rtprio limit (docs/testing.md, "Timing: what '
                       f'limits the loop"), or set {REALTIME_ENV}=0 to silence this.')
    return True, f'SCHED_FIFO priority {priority}'


def restore_normal_scheduling() -> None:
    """Put the calling thread back under SCHED_OTHER (after :func:`request_realtime`)."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError):
        pass


def scheduling() -> str:
    """Scheduling of the calling process, for diagnostics ('SCHED_FIFO 50', 'SCHED_OTHER')."""
    try:
        policy = os.sched_getscheduler(0)
        priority = os.sched_getparam(0).sched_priority
    except (OSError, AttributeError):
        return 'unknown'
    names = {os.SCHED_FIFO: 'SCHED_FIFO', os.SCHED_RR: 'SCHED_RR',
             os.SCHED_OTHER: 'SCHED_OTHER'}
    name = names.get(policy, str(policy))
    return f'{name} {priority}' if priority else name


def run_node(factory: Callable[[], Node], args: list[str] | None = None,
             executor: Callable[[], Executor] = make_executor,
             on_start: Callable[[Node], None] | None = None,
             on_stop: Callable[[Node], None] | None = None,
             realtime_priority: int = 0, exit_process: bool = True) -> None:
    """``main()`` of a node (ros2/demos style): init, spin, clean shutdown.

    SIGINT/SIGTERM only set a flag once the node spins (before, while the factory loads,
    they abort it: a Ctrl-C during policy_node's model loading exits at once, status 0);
    the spin loop then ends within 0.1 s, ``on_stop`` runs
    while the node can still publish (e.g. a last zero torque), and the node and rclpy
    shut down. (rclpy's own handlers shut the context down first, and an exception raised
    from a handler can surface inside a callback of the C++ EventsExecutor and make the
    process exit with an error.) A ``ValueError``/``OSError`` from the constructor
    (invalid parameters, already logged with the rejected value) exits with status 2.
    ``realtime_priority`` > 0 asks for SCHED_FIFO first (:func:`request_realtime`).
    ``exit_process``: end the process (status 0) once shut down, skipping the interpreter's
    slow teardown of the loaded libraries.
    """
    granted, scheduling_note = request_realtime(realtime_priority)
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
    stop = threading.Event()

    spinning = threading.Event()

    def request_stop(signum, frame) -> None:
        stop.set()
        if not spinning.is_set():
            # Still constructing (policy_node loads models for seconds): abort it now.
            raise KeyboardInterrupt

    # Explicit handlers: a process started in the background may inherit SIGINT ignored.
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = None
    try:
        node = factory()
        if realtime_priority > 0:
            log = node.get_logger()
            (log.info if granted else log.warning)(f'scheduling: {scheduling_note}')
        if on_start is not None:
            on_start(node)
        spinning.set()
        if stop.is_set():
            return
        spin(node, executor(), stop)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, OSError):
        sys.exit(2)
    finally:
        if node is not None:
            if on_stop is not None:
                on_stop(node)
            node.destroy_node()
        rclpy.try_shutdown()
    if exit_process:
        # The zero torque is written and the node is gone: leave without the interpreter's
        # teardown of torch/MuJoCo (seconds), so a launch's SIGINT ends within 2 s.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _never_called(msg) -> None:
    """Callback of a polled subscription: its helper node is never spun."""


class PolledInputs:
    """Subscriptions read by polling, held by a subscriber-only helper node no executor spins.

    rclpy 9.1.2's EventsExecutor crashes (``SystemError: null argument to internal
    routine``) on a subscription callback that takes the message info (publisher id, source
    stamp). Nodes that need the info (controller_node's e-stop and stop words, policy_node's
    restart check) take the samples themselves from their own timer instead.

    Args:
        owner: the node the inputs belong to; the helper is ``<owner name><suffix>`` in the
            owner's namespace and context, and topics resolve like the owner's own.
        suffix: helper node name suffix.

    """

    def __init__(self, owner: Node, suffix: str) -> None:
        self._owner = owner
        self.node = rclpy.create_node(
            owner.get_name() + suffix, namespace=owner.get_namespace(), context=owner.context,
            use_global_arguments=False, enable_rosout=False, start_parameter_services=False)

    def subscribe(self, msg_type, topic: str, qos):
        """A polled subscription to ``topic`` (read it with :meth:`take`)."""
        return self.node.create_subscription(
            msg_type, self._owner.resolve_topic_name(topic), _never_called, qos)

    @staticmethod
    def take(subscription, limit: int):
        """Yield up to ``limit`` pending ``(msg, info)`` samples, oldest first."""
        for _ in range(limit):
            with subscription.handle:
                taken = subscription.handle.take_message(subscription.msg_type,
                                                         subscription.raw)
            if taken is None:
                return
            yield taken

    def destroy(self) -> None:
        """Destroy the helper node (and its subscriptions)."""
        self.node.destroy_node()
