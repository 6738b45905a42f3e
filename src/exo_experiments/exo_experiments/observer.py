"""The graph observer shared by the graph tools (``exo_demo``, ``exo_faults``).

An rclpy node in the tool's process that joins the graph's network, waits until the graph
can take an instruction (the controller ticks, every /task_text reader is there and
policy_node has loaded its reference source, however long that takes:
:class:`exo_bringup.readiness.PolicyLoadWait`), sends task texts and follows the graph's
time.
"""

from __future__ import annotations

import os
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor

from exo_bringup.graph import network_environment
from exo_bringup.launcher import GraphProcesses
from exo_bringup.readiness import missing_text_readers, PolicyLoadWait
from exo_contract.qos import (
    CONTROLLER_STATE_TOPIC,
    HUMAN_STATE_TOPIC,
    STATE_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.runtime import HARNESS_PRIORITY, request_realtime
from exo_interfaces.msg import ControllerState, HumanState

#: Wall seconds without any progress of the graph's time after which a tool gives up.
STALL_TIMEOUT_S = 60.0


class GraphObserver:
    """An rclpy node in a tool process: sends task texts and watches the controller.

    The graph's time is the stamp of the latest /exo/human_state (100 Hz): simulated time in
    lockstep, the system clock in real time. The node joins the graph's network (the same
    defaults as the launcher's child processes).
    """

    def __init__(self, realtime: bool = False) -> None:
        os.environ.update(network_environment(os.environ))
        if realtime:
            # Before rclpy.init, so that the DDS threads inherit it (exo_contract.runtime).
            _, note = request_realtime(HARNESS_PRIORITY)
            print(f'[demo] harness scheduling: {note}', flush=True)
        rclpy.init(args=[])
        self.node = rclpy.create_node('exo_demo')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.ticks = 0
        self.graph_time = None
        # Only to see the graph come up; destroyed once ready (it costs CPU at 1 kHz).
        self._state_sub = self.node.create_subscription(
            ControllerState, CONTROLLER_STATE_TOPIC, self._on_state, STATE_QOS)
        self.node.create_subscription(HumanState, HUMAN_STATE_TOPIC, self._on_human, STATE_QOS)

    def _on_state(self, _msg: ControllerState) -> None:
        self.ticks += 1

    def _on_human(self, msg: HumanState) -> None:
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.graph_time = t if self.graph_time is None else max(self.graph_time, t)

    def spin_graph_time(self, seconds: float, graph: GraphProcesses) -> None:
        """Spin until the graph's time has advanced by ``seconds``.

        Raises RuntimeError if a node died or the graph's time stood still for
        ``STALL_TIMEOUT_S`` wall seconds.
        """
        while self.graph_time is None:
            self.spin_for(0.05, graph)
        end = self.graph_time + seconds
        last, last_wall = self.graph_time, time.monotonic()
        while self.graph_time < end:
            self.spin_for(0.05, graph)
            if self.graph_time > last:
                last, last_wall = self.graph_time, time.monotonic()
            elif time.monotonic() - last_wall > STALL_TIMEOUT_S:
                raise RuntimeError(f'the graph time stood still for {STALL_TIMEOUT_S} s '
                                   f'at {last:.3f} s; the nodes were at:\n{graph.stacks()}')

    def spin_for(self, seconds: float, graph: GraphProcesses) -> None:
        """Spin for ``seconds``; raise RuntimeError if a node of the graph died."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
            dead = graph.dead()
            if dead:
                raise RuntimeError(f'node(s) exited during the demo: {dead}')

    def wait_ready(self, graph: GraphProcesses, timeout: float, subscribers: int) -> None:
        """Wait until the controller ticks, policy_node is loaded and /task_text is read.

        policy_node reads /task_text once its source is loaded (exo_policy.policy_node);
        while it reports 'loading' on /diagnostics (its compliant reference is already
        published) the wait goes on past ``timeout``, with a progress line every
        ``LOAD_PROGRESS_S``, up to ``LOAD_TIMEOUT_S`` (exo_bringup.readiness). RuntimeError
        when the graph is not ready in time or policy_node's load failed.
        """
        start_ticks = self.ticks
        load = PolicyLoadWait(self.node, time.monotonic,
                              lambda line: print(line, flush=True), '[graph]')
        deadline = time.monotonic() + timeout
        policy = 'policy_node' in graph.processes
        try:
            while load.check(deadline):
                self.spin_for(0.2, graph)
                if (self.ticks - start_ticks > 100 and (load.loaded or not policy)
                        and self.node.count_subscribers(TASK_TEXT_TOPIC) >= subscribers
                        and not missing_text_readers(self.node, graph.processes)):
                    self.node.destroy_subscription(self._state_sub)
                    return
        finally:
            load.close()
        raise RuntimeError(
            f'graph not ready after {time.monotonic() - load.start:.0f} s: '
            f'{self.ticks - start_ticks} controller ticks, policy_node '
            f'{load.message or "not heard"}, '
            f'{self.node.count_subscribers(TASK_TEXT_TOPIC)} /task_text subscribers')

    def close(self) -> None:
        """Destroy the node and shut rclpy down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()

