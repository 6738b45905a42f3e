"""Fault injection into the running simulated graph (``python -m exo_experiments.faults``).

Starts sim_node, policy_node and controller_node as separate processes in lockstep (the
graph of ``make demo``, :class:`exo_bringup.launcher.GraphProcesses`, every node on the
simulated time of sim_node) on a private ROS domain, and, with 'lift a heavy box' under way,
injects the faults below one after the other, each into a freshly started task:

====  =====================================================================================
key   fault
====  =====================================================================================
a     1e9 rad on /joint_states for 0.5 s (1 kHz), from an outside node
b     1e9 N*m on /interaction_torque for 0.5 s (1 kHz)
c     NaN on /joint_states for 0.5 s (1 kHz)
d     a second /joint_states publisher: 2.0 rad, 500 Hz, 1 s
e     an outside node publishing 1000 N*m on /exo_effort_controller/commands, 0.5 s (1 kHz)
g     e-stop: /exo/estop data true for 0.5 s, then false (resume)
h     a second /exo/impedance_reference publisher: 1.6 rad, 300 N*m/rad, 100 Hz, 1.5 s
i     the same at 1 kHz
j     ``ros2 param set`` of controller_node's torque_limit to 100 N*m (beyond the 25 N*m
      actuator) while active, through the SetParameters service as ros2param does
f     policy_node killed (SIGKILL); it does not come back
k     then an outside /exo/impedance_reference publisher, the only one (the gap while
      policy_node restarts): 1.6 rad, 300 N*m/rad, 100 Hz, 1.5 s
l     the same at 1 kHz
m     policy_node started again in mode ``fault_injection_pull`` (a wrong policy: K = 300
      N*m/rad, q_d = q + 1 rad for a task), its instruction sent to it alone, 1.5 s
====  =====================================================================================

The reference faults (h, i, k, l, m) and the parameter fault (j) are injected with the arm at
rest (no task: the graph idle, as a wearer standing by) and judged also by the arm: the
controller's command stays within ``ASSIST_TORQUE_BOUND_NM`` and the exo's angle moves less
than ``MAX_DISPLACEMENT_RAD`` over the fault and the second after it.

A run without a fault comes first (``none``): the same task, the same windows, the
reference for the torques. Durations and rates are in simulated time: the injector
publishes as the simulated clock advances, so a loaded machine runs the experiment slower,
not differently.

For each fault it records, from /exo/controller_state (the controller's command, stiffness
and flags, every tick), sim_node's /joint_states (``effort``: the torque the actuator
applied) and sim_node's /diagnostics (refused and clamped commands):

* the largest |commanded torque| and |applied torque| during the fault and in the second
  after it;
* the flags raised (ControllerState ``FLAG_*``; ``sim:refusing``/``sim:clamped`` from
  sim_node);
* the **reaction**: from the first injected message (the kill, the e-stop) to the first
  tick that is safe -- zero torque, compliant stiffness or the fault's flag (for the
  command fault: zero torque applied by sim_node) -- in simulated time and in wall time
  (wall: receipt by this process, an upper bound), and the time to zero torque or
  compliant stiffness alone;
* whether the fault is held safe at its end (every tick of the last 0.1 s of the fault,
  or of the window after a kill, is safe), whether the controller runs normally again
  at the end of the window after it, and whether every node (but a killed one) is alive.

Outcome SAFE: no command and no applied torque beyond the controller's torque limit, a
safe tick after the injection, the fault held safe, no node lost. Output under ``--out``:
``faults.json`` (results, schema in :func:`report_dict`), ``faults.png`` (torques and
stiffness around each fault) and the node logs; the table goes to stdout.
"""

from __future__ import annotations

import argparse
from bisect import bisect_left
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
import math
import os
from pathlib import Path
import signal
import sys
import time
from typing import Callable, Iterator

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import WrenchStamped
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import GetParameters, SetParameters
import rclpy
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, Header, String

from exo_bringup.launcher import GraphProcesses, stop_on_sigterm
from exo_bringup.readiness import PolicyLoadWait
from exo_bringup.send_task import publish_task_text
from exo_contract.checks import MAX_DEVICE_TORQUE_NM
from exo_contract.qos import (
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    ESTOP_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_PUB_QOS,
    SENSOR_SUB_QOS,
    STATE_QOS,
    TASK_TEXT_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.runtime import restore_normal_scheduling
from exo_contract.topics import ESTOP_TOPIC, GRAPH_TASK_TEXT_TOPIC
from exo_experiments.analysis import write_summary
from exo_experiments.observer import GraphObserver
from exo_experiments.results_page import fmt, markdown_table, write_results_page
from exo_impedance_controller.params import ControllerParams
from exo_impedance_controller.safety import SafetyFlags
from exo_interfaces.msg import ControllerState, ImpedanceReference
from exo_policy.fault_injection import SOURCE_FAULT_INJECTION
from exo_policy.params import DEFAULT_MODE, POLICY_MODES

#: ROS domain of ``python -m exo_experiments.faults`` (private: no other graph on it).
DEFAULT_DOMAIN_ID = 77
TASK_TEXT = 'lift a heavy box'
#: Simulated seconds of the task before the fault (it is under way and assisting by then).
LEAD_S = 1.0
#: Simulated seconds observed after the fault.
AFTER_S = 1.0
#: Last part of the fault (of the window after it, for a kill) in which every tick is safe.
HOLD_WINDOW_S = 0.1
#: A torque at most this large is zero, N*m.
ZERO_TORQUE_NM = 1e-6
#: Flags of normal operation (shaping, not a safety reaction): left out of the results.
ROUTINE_FLAGS = int(SafetyFlags.STIFFNESS_RATE_LIMITED | SafetyFlags.TORQUE_RATE_LIMITED
                    | SafetyFlags.REFERENCE_RATE_LIMITED)
#: The end of the window after the fault without these flags: the controller runs again.
BLOCKING_FLAGS = int(SafetyFlags.INPUT_FAULT | SafetyFlags.ESTOP
                     | SafetyFlags.MULTIPLE_PUBLISHERS | SafetyFlags.REFERENCE_REFUSED)
INJECTOR_NODE = 'exo_fault_injector'
DIAGNOSTICS_TOPIC = '/diagnostics'
SIM_COMMAND_STATUS = 'exo_sim: effort command'
#: Wall seconds to wait for an injector's publisher to reach the graph's subscribers.
MATCH_TIMEOUT_S = 5.0
#: Injected messages sent at most in one go when this process lagged behind the clock.
MAX_BURST = 5
#: Wall seconds of one spin of this process's executor.
SPIN_PERIOD_S = 0.002
#: Idle faults: simulated seconds of rest before the injection (the last task has ended
#: and the arm has settled: after 4 s it still drifted by up to 0.1 rad over the next
#: 2.5 s with the exo compliant, less at each later idle fault).
IDLE_LEAD_S = 8.0
#: Idle faults: the largest |commanded torque| that is safe, N*m (the controller's
#: 5 N*m assistance bound times M/Mt, plus the exo's gravity and damping terms, with margin).
ASSIST_TORQUE_BOUND_NM = 6.0
#: Idle faults: the largest displacement of the arm (exo angle) that is safe, rad.
MAX_DISPLACEMENT_RAD = 0.1
#: policy_node's /task_text in the wrong-policy fault (only it hears the instruction).
PULL_TEXT_TOPIC = '/exo/fault_injection/task_text'
#: Wall seconds for a started policy_node to say it is loading (it then may take longer).
POLICY_START_TIMEOUT_S = 120.0
#: A text that names no task.
NO_TASK_TEXT = 'do a backflip'
#: Wall seconds to wait for controller_node's parameter service.
SERVICE_TIMEOUT_S = 10.0


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def _header(t: float) -> Header:
    """A header stamped ``t`` simulated seconds (the graph's clock, as sim_node stamps)."""
    ns = int(round(t * 1e9))
    return Header(stamp=Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000))


def flag_names(flags: int) -> list[str]:
    """Names of the ControllerState ``FLAG_*`` bits set in ``flags``, lowest first."""
    return [f.name for f in SafetyFlags if f and flags & f]


# ------------------------------------------------------------------------- recording
@dataclass
class Trace:
    """What the observer received: controller ticks, applied torques, sim_node diagnostics.

    Times: ``*_sim`` simulated seconds (message stamps), ``*_wall`` monotonic seconds of
    receipt by this process.
    """

    tick_sim: list[float] = field(default_factory=list)
    tick_wall: list[float] = field(default_factory=list)
    torque: list[float] = field(default_factory=list)
    stiffness: list[float] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)
    applied_sim: list[float] = field(default_factory=list)
    applied_wall: list[float] = field(default_factory=list)
    applied: list[float] = field(default_factory=list)
    position: list[float] = field(default_factory=list)  # sim_node's exo angle, rad
    # (wall, simulated time then, refusing, clamped_commands, refused_commands)
    sim_status: list[tuple[float, float, bool, int, int]] = field(default_factory=list)

    def ticks(self, start: float, end: float) -> range:
        """Indices of the controller ticks with ``start <= t_sim < end`` (ticks are in order)."""
        return _window(self.tick_sim, start, end)

    def applied_samples(self, start: float, end: float) -> range:
        """Indices of the applied-torque samples with ``start <= t_sim < end``."""
        return _window(self.applied_sim, start, end)


def _window(times: list[float], start: float, end: float) -> range:
    return range(bisect_left(times, start), bisect_left(times, end))


# ------------------------------------------------------------------------- injections
class Injection:
    """A fault, in the order of its calls (the base class injects nothing: no fault).

    ``prepare`` before the task starts, ``start`` at simulated time t, ``step`` as the clock
    advances, ``stop`` at the end of the fault, ``close`` after the window after it.
    """

    def prepare(self, observer: 'FaultObserver') -> None:
        """Before the task starts: what exists long before the fault (a lab device)."""

    def start(self, observer: 'FaultObserver', t: float) -> None:
        """Inject the fault (the reaction is timed from the return of this call)."""

    def step(self, t: float) -> None:
        """The simulated clock reached ``t``: publish what is due."""

    def stop(self, observer: 'FaultObserver') -> None:
        """End the fault (the rogue publisher leaves, the e-stop is released)."""

    def close(self, observer: 'FaultObserver') -> None:
        """Release what the fault still holds, after its observation window."""


class TopicFlood(Injection):
    """An outside publisher: ``make(t)`` on ``topic`` at ``rate_hz`` of simulated time."""

    def __init__(self, msg_type, topic: str, qos: QoSProfile,
                 make: Callable[[float], object], rate_hz: float) -> None:
        self.msg_type, self.topic, self.qos, self.make = msg_type, topic, qos, make
        self.period = 1.0 / rate_hz
        self._pub = None
        self._next = math.inf
        self.sent = 0

    def start(self, observer: 'FaultObserver', t: float) -> None:
        """Create the publisher, wait until the graph's readers have matched it, send one."""
        self._pub = observer.injector.create_publisher(self.msg_type, self.topic, self.qos)
        observer.wait_matched(self._pub, self.topic)
        self._next = observer.graph_time
        self.step(self._next)

    def step(self, t: float) -> None:
        """Publish every message due by ``t`` (at most MAX_BURST; the rest are skipped)."""
        if self._pub is None or t < self._next - 1e-9:
            return
        due = int((t - self._next) / self.period + 1e-6) + 1
        for _ in range(min(due, MAX_BURST)):
            self._pub.publish(self.make(t))
            self.sent += 1
        self._next += due * self.period

    def stop(self, observer: 'FaultObserver') -> None:
        """Destroy the publisher: the outside node leaves the topic."""
        if self._pub is not None:
            observer.injector.destroy_publisher(self._pub)
            self._pub = None


class KillNode(Injection):
    """SIGKILL one node of the graph (as a crash would)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def start(self, observer: 'FaultObserver', t: float) -> None:
        """Kill the node's process group and reap it."""
        process = observer.graph.processes[self.name]
        observer.killed.add(self.name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10.0)


class EStop(Injection):
    """A lab device on /exo/estop: data true at the start, false (resume) at the end."""

    def __init__(self) -> None:
        self._pub = None

    def prepare(self, observer: 'FaultObserver') -> None:
        """The device joins the graph (silent: the heartbeat is off by default)."""
        self._pub = observer.injector.create_publisher(Bool, ESTOP_TOPIC, ESTOP_QOS)
        observer.wait_matched(self._pub, ESTOP_TOPIC)

    def start(self, observer: 'FaultObserver', t: float) -> None:
        """Press: a latched ``true``."""
        self._pub.publish(Bool(data=True))

    def stop(self, observer: 'FaultObserver') -> None:
        """Release: ``false`` from the same publisher (an explicit resume)."""
        self._pub.publish(Bool(data=False))

    def close(self, observer: 'FaultObserver') -> None:
        """The device leaves (its last message, false, was delivered long ago)."""
        if self._pub is not None:
            observer.injector.destroy_publisher(self._pub)
            self._pub = None


class SetTorqueLimit(Injection):
    """``ros2 param set /controller_node torque_limit <value>``, then ``ros2 param get``.

    Through the rcl_interfaces SetParameters and GetParameters services, as ros2param does.
    ``details``: whether the set succeeded, its reason, and the value in effect after it.
    """

    def __init__(self, value: float) -> None:
        self.value = value
        self.details: dict = {}

    def _call(self, observer: 'FaultObserver', srv_type, name: str, request):
        client = observer.injector.create_client(srv_type, f'/controller_node/{name}')
        try:
            if not client.wait_for_service(timeout_sec=SERVICE_TIMEOUT_S):
                raise RuntimeError(f'no /controller_node/{name} service')
            future = client.call_async(request)
            deadline = time.monotonic() + SERVICE_TIMEOUT_S
            while not future.done() and time.monotonic() < deadline:
                observer.executor.spin_once(timeout_sec=SPIN_PERIOD_S)
                rclpy.spin_once(observer.injector, timeout_sec=SPIN_PERIOD_S)
            return future.result() if future.done() else None
        finally:
            observer.injector.destroy_client(client)

    def start(self, observer: 'FaultObserver', t: float) -> None:
        """Set (refused beyond the rating, or accepted for the next configure), then get."""
        reply = self._call(observer, SetParameters, 'set_parameters', SetParameters.Request(
            parameters=[ParameterMsg(name='torque_limit', value=ParameterValue(
                type=ParameterType.PARAMETER_DOUBLE, double_value=float(self.value)))]))
        got = self._call(observer, GetParameters, 'get_parameters',
                         GetParameters.Request(names=['torque_limit']))
        self.details = {
            'requested_nm': self.value,
            'set_successful': None if reply is None else bool(reply.results[0].successful),
            'set_reason': None if reply is None else reply.results[0].reason,
            'value_in_effect_nm': None if got is None or not got.values
            else got.values[0].double_value,
        }


class WrongPolicy(Injection):
    """policy_node started again in ``mode`` (a wrong policy), asked for a task.

    ``fault_injection_pull`` (exo_policy.fault_injection) asks, for a known task, for
    K = 300 N*m/rad and q_d = q + 1 rad through policy_node's own publication path. The
    node's task text (``/exo/task_text`` of task_text_relay, and ``/task_text``) is remapped
    to ``PULL_TEXT_TOPIC`` so that the instruction reaches it alone: the simulated human
    stays at rest and the arm's displacement is the exo's doing.
    """

    def __init__(self, mode: str, text: str = TASK_TEXT) -> None:
        self.mode, self.text = mode, text
        self._pub = None

    def prepare(self, observer: 'FaultObserver') -> None:
        """Start policy_node in ``mode`` (its crash is one again) and wait until it loaded."""
        graph = observer.graph
        cmd = [f'mode:={self.mode}' if c.startswith('mode:=') else c
               for c in dict(graph.commands)['policy_node']]
        # Its reader of the graph's task text (task_text_relay's /exo/task_text) and of
        # /task_text, remapped: the instruction reaches it alone.
        graph.start_process('policy_node', cmd + [
            '-r', f'{GRAPH_TASK_TEXT_TOPIC}:={PULL_TEXT_TOPIC}',
            '-r', f'{TASK_TEXT_TOPIC}:={PULL_TEXT_TOPIC}'])
        observer.killed.discard('policy_node')
        load = PolicyLoadWait(observer.node, time.monotonic, print, '[faults]')
        deadline = time.monotonic() + POLICY_START_TIMEOUT_S
        try:
            while not load.loaded:
                if not load.check(deadline):
                    raise RuntimeError('policy_node did not load its reference source')
                observer.spin_for(0.2, graph)
        finally:
            load.close()
        self._pub = observer.injector.create_publisher(String, PULL_TEXT_TOPIC, TASK_TEXT_QOS)
        observer.wait_matched(self._pub, PULL_TEXT_TOPIC)

    def start(self, observer: 'FaultObserver', t: float) -> None:
        """The instruction, to policy_node only."""
        self._pub.publish(String(data=self.text))

    def stop(self, observer: 'FaultObserver') -> None:
        """A text that names no task: the policy's compliant fallback."""
        self._pub.publish(String(data=NO_TASK_TEXT))

    def close(self, observer: 'FaultObserver') -> None:
        """The instruction's publisher leaves."""
        if self._pub is not None:
            observer.injector.destroy_publisher(self._pub)
            self._pub = None


def _reference(angle: float, stiffness: float) -> Callable[[float], ImpedanceReference]:
    def make(t: float) -> ImpedanceReference:
        return ImpedanceReference(header=_header(t), joint_names=[_JOINT],
                                  reference_angle=[angle], reference_velocity=[0.0],
                                  stiffness=[stiffness], source='rogue')
    return make


def _joint_state(position: float, joint: str) -> Callable[[float], JointState]:
    # No effort: this is how the observer tells the outside messages from sim_node's.
    return lambda t: JointState(header=_header(t), name=[joint], position=[position],
                                velocity=[0.0])


def _wrench(torque: float) -> Callable[[float], WrenchStamped]:
    def make(t: float) -> WrenchStamped:
        msg = WrenchStamped(header=_header(t))
        msg.wrench.torque.z = torque
        return msg
    return make


def _command(torque: float) -> Callable[[float], Float64MultiArray]:
    return lambda t: Float64MultiArray(data=[torque])


@dataclass(frozen=True)
class Fault:
    """One fault of the suite.

    Attributes:
        key: short id ('a'..'g', 'none' for the reference run).
        name: identifier (JSON, plot).
        description: what is injected.
        duration_s: simulated seconds from the injection to its end (0: instantaneous).
        flags: ControllerState bits that mark it (any of them is a reaction).
        actuator: judged at the actuator (sim_node's applied torque), not the controller.
        make: builds the Injection (None: no fault).
        idle: injected with the arm at rest (no task) and judged by the arm too: command
            within ASSIST_TORQUE_BOUND_NM, displacement below MAX_DISPLACEMENT_RAD.

    """

    key: str
    name: str
    description: str
    duration_s: float
    flags: int = 0
    actuator: bool = False
    make: Callable[[], Injection] | None = None
    idle: bool = False


_JOINT = ControllerParams().joint_name
_INPUT = int(SafetyFlags.INPUT_FAULT | SafetyFlags.NONFINITE_INPUT
             | SafetyFlags.MULTIPLE_PUBLISHERS)
_REFERENCE = int(SafetyFlags.MULTIPLE_PUBLISHERS | SafetyFlags.ASSISTANCE_BOUNDED
                 | SafetyFlags.REFERENCE_STALE | SafetyFlags.REFERENCE_REFUSED)


def _rogue_reference(rate_hz: float) -> Callable[[], Injection]:
    return lambda: TopicFlood(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS,
                              _reference(1.6, 300.0), rate_hz)

#: The reference run and the faults, in the order they are injected (the kill last).
FAULTS: tuple[Fault, ...] = (
    Fault('none', 'no_fault', 'no fault (reference)', 0.5),
    Fault('a', 'joint_states_1e9', '1e9 rad on /joint_states, 1 kHz, 0.5 s', 0.5, _INPUT,
          make=lambda: TopicFlood(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS,
                                  _joint_state(1e9, _JOINT), 1000.0)),
    Fault('b', 'interaction_1e9', '1e9 N*m on /interaction_torque, 1 kHz, 0.5 s', 0.5,
          _INPUT, make=lambda: TopicFlood(WrenchStamped, INTERACTION_TORQUE_TOPIC,
                                          SENSOR_PUB_QOS, _wrench(1e9), 1000.0)),
    Fault('c', 'joint_states_nan', 'NaN on /joint_states, 1 kHz, 0.5 s', 0.5, _INPUT,
          make=lambda: TopicFlood(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS,
                                  _joint_state(math.nan, _JOINT), 1000.0)),
    Fault('d', 'second_joint_states', 'second /joint_states publisher: 2.0 rad, 500 Hz, 1 s',
          1.0, _INPUT, make=lambda: TopicFlood(JointState, JOINT_STATES_TOPIC,
                                               SENSOR_PUB_QOS, _joint_state(2.0, _JOINT),
                                               500.0)),
    Fault('e', 'outside_command', f'outside node: 1000 N*m on {EFFORT_COMMAND_TOPIC}, 1 kHz, '
          '0.5 s', 0.5, actuator=True,
          make=lambda: TopicFlood(Float64MultiArray, EFFORT_COMMAND_TOPIC, COMMAND_QOS,
                                  _command(1000.0), 1000.0)),
    Fault('g', 'estop', f'{ESTOP_TOPIC} true for 0.5 s, then false (resume)', 0.5,
          int(SafetyFlags.ESTOP), make=EStop),
    Fault('h', 'second_reference_100hz', 'second reference publisher: 1.6 rad, 300 N*m/rad, '
          '100 Hz, 1.5 s', 1.5, _REFERENCE, make=_rogue_reference(100.0), idle=True),
    Fault('i', 'second_reference_1khz', 'second reference publisher: 1.6 rad, 300 N*m/rad, '
          '1 kHz, 1.5 s', 1.5, _REFERENCE, make=_rogue_reference(1000.0), idle=True),
    Fault('j', 'torque_limit_param', 'ros2 param set torque_limit 100 N*m while active', 0.5,
          0, make=lambda: SetTorqueLimit(100.0), idle=True),
    Fault('f', 'policy_killed', 'policy_node killed (SIGKILL)', 0.0,
          int(SafetyFlags.REFERENCE_STALE), make=lambda: KillNode('policy_node')),
    Fault('k', 'sole_reference_100hz', 'policy_node dead, outside reference: 1.6 rad, '
          '300 N*m/rad, 100 Hz, 1.5 s', 1.5, _REFERENCE, make=_rogue_reference(100.0),
          idle=True),
    Fault('l', 'sole_reference_1khz', 'policy_node dead, outside reference: 1.6 rad, '
          '300 N*m/rad, 1 kHz, 1.5 s', 1.5, _REFERENCE, make=_rogue_reference(1000.0),
          idle=True),
    Fault('m', 'wrong_policy_pull', 'policy_node restarted in mode fault_injection_pull: '
          'K = 300 N*m/rad, q_d = q + 1 rad, 1.5 s', 1.5, _REFERENCE,
          make=lambda: WrongPolicy(SOURCE_FAULT_INJECTION), idle=True),
)
FAULTS_BY_KEY = {f.key: f for f in FAULTS}


# ------------------------------------------------------------------------- observer
class FaultObserver(GraphObserver):
    """The demo's observer, recording every tick and driving the injections.

    The graph's time is the latest simulated time seen (controller ticks, 1 kHz, and
    /exo/human_state). Nodes in ``killed`` may be dead; any other dead node raises
    RuntimeError (a crash).
    """

    def __init__(self, graph: GraphProcesses, realtime: bool = False) -> None:
        super().__init__(realtime)
        self.graph = graph
        self.killed: set[str] = set()
        self.injection: Injection | None = None
        self.trace = Trace()
        self.injector = rclpy.create_node(INJECTOR_NODE)

    def record(self) -> None:
        """Subscribe what the experiment measures (once the graph is ready)."""
        node = self.node
        node.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, self._on_tick,
                                 STATE_QOS)
        node.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint_state,
                                 SENSOR_SUB_QOS)
        node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics,
                                 STATE_QOS)

    def _on_tick(self, msg: ControllerState) -> None:
        t = _seconds(msg.header.stamp)
        tr = self.trace
        if tr.tick_sim and t < tr.tick_sim[-1]:
            return  # out of order (never in lockstep): keep the trace sorted
        tr.tick_sim.append(t)
        tr.tick_wall.append(time.monotonic())
        tr.torque.append(msg.commanded_torque[0])
        tr.stiffness.append(msg.stiffness_bounded[0])
        tr.flags.append(msg.safety_flags)
        self.graph_time = t if self.graph_time is None else max(self.graph_time, t)

    def _on_joint_state(self, msg: JointState) -> None:
        if len(msg.effort) != 1:
            return  # an injected message (they carry no effort), not sim_node's
        t = _seconds(msg.header.stamp)
        tr = self.trace
        if tr.applied_sim and t < tr.applied_sim[-1]:
            return
        tr.applied_sim.append(t)
        tr.applied_wall.append(time.monotonic())
        tr.applied.append(msg.effort[0])
        tr.position.append(msg.position[0] if msg.position else math.nan)

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == SIM_COMMAND_STATUS:
                values = {kv.key: kv.value for kv in status.values}
                self.trace.sim_status.append((
                    time.monotonic(), self.graph_time or 0.0, values.get('refusing') == 'true',
                    int(values.get('clamped_commands', 0)),
                    int(values.get('refused_commands', 0))))

    def spin_for(self, seconds: float, graph: GraphProcesses) -> None:
        """Spin for ``seconds``, stepping the injection; RuntimeError if a node crashed."""
        deadline = time.monotonic() + seconds
        while True:
            self.executor.spin_once(timeout_sec=SPIN_PERIOD_S)
            if self.injection is not None and self.graph_time is not None:
                self.injection.step(self.graph_time)
            if time.monotonic() >= deadline:
                break
        dead = self.crashed()
        if dead:
            raise RuntimeError(f'node(s) exited: {dead}')

    def crashed(self) -> dict[str, int]:
        """Nodes that exited without being killed on purpose: name -> return code."""
        return {n: c for n, c in self.graph.dead().items() if n not in self.killed}

    def wait_matched(self, publisher, topic: str) -> None:
        """Spin until ``publisher`` reaches every other reader of ``topic`` (bounded)."""
        deadline = time.monotonic() + MATCH_TIMEOUT_S
        while time.monotonic() < deadline:
            # count_subscribers includes this observer's reader, which the publisher matches.
            if publisher.get_subscription_count() >= max(self.node.count_subscribers(topic), 1):
                return
            self.executor.spin_once(timeout_sec=SPIN_PERIOD_S)

    def close(self) -> None:
        """Destroy the injector node, then what the demo's observer holds."""
        self.injector.destroy_node()
        super().close()


# ------------------------------------------------------------------------- results
@dataclass
class FaultResult:
    """What one fault did (times in ms; None: never within the observation window)."""

    key: str
    name: str
    description: str
    injected_at_s: float = math.nan  # simulated time of the injection
    ended_at_s: float = math.nan
    reaction_ms_sim: float | None = None
    reaction_ms_wall: float | None = None
    zero_torque_ms_sim: float | None = None  # to zero torque (applied, for the command fault)
    compliant_ms_sim: float | None = None  # to compliant stiffness
    max_abs_torque_during_nm: float = math.nan  # controller's command
    max_abs_torque_after_nm: float = math.nan
    max_abs_applied_during_nm: float = math.nan  # what sim_node applied
    max_abs_applied_after_nm: float = math.nan
    displacement_rad: float = math.nan  # largest |exo angle - angle at injection|, to the end
    flags: list[str] = field(default_factory=list)  # raised, but ROUTINE_FLAGS
    held_safe: bool = False
    recovered: bool = False
    alive: bool = True
    ticks: int = 0
    outcome: str = 'UNSAFE'
    notes: str = ''
    details: dict = field(default_factory=dict)  # what the injection reported (a reply)


def _max_abs(values: list[float], idx: range) -> float:
    """Largest |values[i]| over ``idx``: NaN for no sample, inf if a sample is not finite."""
    return max((abs(values[i]) if math.isfinite(values[i]) else math.inf for i in idx),
               default=math.nan)


def peak(*values: float) -> float:
    """The largest of ``values`` that are not NaN (an empty window); NaN if all are."""
    present = [v for v in values if not math.isnan(v)]
    return max(present) if present else math.nan


def _first(idx: range, ok: Callable[[int], bool]) -> int | None:
    return next((i for i in idx if ok(i)), None)


def evaluate(fault: Fault, trace: Trace, t0: float, wall0: float, t_end: float,
             t_after: float, params: ControllerParams, alive: bool) -> FaultResult:
    """Judge one fault from the trace.

    ``t0``: simulated time of the injection, ``wall0`` its monotonic wall time, ``t_end``
    the end of the fault, ``t_after`` the end of the window after it (simulated s).
    """
    r = FaultResult(fault.key, fault.name, fault.description, t0, t_end, alive=alive)
    limit = params.torque_limit
    during, after = trace.ticks(t0, t_end), trace.ticks(t_end, t_after)
    a_during = trace.applied_samples(t0, t_end)
    a_after = trace.applied_samples(t_end, t_after)
    window = trace.ticks(t0, t_after)
    r.ticks = len(window)
    r.max_abs_torque_during_nm = _max_abs(trace.torque, during)
    r.max_abs_torque_after_nm = _max_abs(trace.torque, after)
    r.max_abs_applied_during_nm = _max_abs(trace.applied, a_during)
    r.max_abs_applied_after_nm = _max_abs(trace.applied, a_after)
    seen = 0
    for i in window:
        seen |= trace.flags[i]
    r.flags = flag_names(seen & ~ROUTINE_FLAGS)
    status = [s for s in trace.sim_status if t0 <= s[1] < t_after]
    before = [s for s in trace.sim_status if s[1] < t0]
    if any(s[2] for s in status):
        r.flags.append('sim:refusing')
    if status and before and status[-1][3] > before[-1][3]:
        r.flags.append('sim:clamped')

    compliant = params.stiffness_compliant + 1e-9

    def safe_tick(i: int) -> bool:
        return (abs(trace.torque[i]) <= ZERO_TORQUE_NM or trace.stiffness[i] <= compliant
                or bool(trace.flags[i] & fault.flags))

    if fault.actuator:
        idx = trace.applied_samples(t0, t_after)
        first = _first(idx, lambda i: abs(trace.applied[i]) <= ZERO_TORQUE_NM)
        if first is not None:
            r.reaction_ms_sim = (trace.applied_sim[first] - t0) * 1e3
            r.reaction_ms_wall = (trace.applied_wall[first] - wall0) * 1e3
            r.zero_torque_ms_sim = r.reaction_ms_sim
        hold = trace.applied_samples(t_end - HOLD_WINDOW_S, t_end)
        r.held_safe = len(hold) > 0 and all(abs(trace.applied[i]) <= ZERO_TORQUE_NM
                                            for i in hold)
    elif fault.make is not None:
        first = _first(window, safe_tick)
        if first is not None:
            r.reaction_ms_sim = (trace.tick_sim[first] - t0) * 1e3
            r.reaction_ms_wall = (trace.tick_wall[first] - wall0) * 1e3
        zero = _first(window, lambda i: abs(trace.torque[i]) <= ZERO_TORQUE_NM)
        if zero is not None:
            r.zero_torque_ms_sim = (trace.tick_sim[zero] - t0) * 1e3
        soft = _first(window, lambda i: trace.stiffness[i] <= compliant)
        if soft is not None:
            r.compliant_ms_sim = (trace.tick_sim[soft] - t0) * 1e3
        hold_end = t_end if fault.duration_s > 0 else t_after
        hold = trace.ticks(hold_end - HOLD_WINDOW_S, hold_end)
        r.held_safe = len(hold) > 0 and all(safe_tick(i) for i in hold)
    tail = trace.ticks(t_after - HOLD_WINDOW_S, t_after)
    r.recovered = len(tail) > 0 and not any(trace.flags[i] & BLOCKING_FLAGS for i in tail)

    # Finite and within the limit (NaN: a window without samples, e.g. during a kill).
    within = not peak(r.max_abs_torque_during_nm, r.max_abs_torque_after_nm,
                      r.max_abs_applied_during_nm, r.max_abs_applied_after_nm) > limit + 1e-9
    reacted = fault.make is None or (r.reaction_ms_sim is not None and r.held_safe)
    a_all = trace.applied_samples(t0, t_after)
    if len(a_all) and trace.position:
        q0 = trace.position[a_all[0]]
        r.displacement_rad = max(abs(trace.position[i] - q0) if math.isfinite(
            trace.position[i]) else math.inf for i in a_all)
    if fault.idle:
        within = within and not peak(r.max_abs_torque_during_nm, r.max_abs_torque_after_nm) \
            > ASSIST_TORQUE_BOUND_NM and r.displacement_rad < MAX_DISPLACEMENT_RAD
    r.outcome = 'SAFE' if within and alive and r.ticks and reacted else 'UNSAFE'
    return r


# ------------------------------------------------------------------------- experiment
@contextmanager
def private_domain(domain_id: int) -> Iterator[None]:
    """ROS_DOMAIN_ID ``domain_id`` and localhost discovery for this process and its children."""
    names = ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE')
    saved = {n: os.environ.get(n) for n in names}
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class FaultRun:
    """The whole experiment: per-fault results, the trace, and how it ran."""

    results: list[FaultResult]
    trace: Trace
    windows: dict[str, tuple[float, float, float]]  # key -> (t0, t_end, t_after), sim s
    policy_mode: str
    domain_id: int
    wall_s: float
    sim_s: float
    exit_codes: dict[str, int] = field(default_factory=dict)
    load_average: tuple[float, float, float] = (math.nan, math.nan, math.nan)

    @property
    def all_safe(self) -> bool:
        """Every fault ran and ended SAFE."""
        return bool(self.results) and all(r.outcome == 'SAFE' for r in self.results)


def run_faults(faults: tuple[Fault, ...] = FAULTS, policy_mode: str = DEFAULT_MODE,
               domain_id: int = DEFAULT_DOMAIN_ID, log_dir: Path | None = None,
               ready_timeout: float = 120.0, progress: Callable[[str], None] = print
               ) -> FaultRun:
    """Start the lockstep graph, inject ``faults`` in order, stop it; return the results.

    A fault after which a node crashed ends the experiment (the rest are not run).
    """
    params = ControllerParams()
    wall_start = time.monotonic()
    load = os.getloadavg()
    results, windows = [], {}
    with private_domain(domain_id):
        graph = GraphProcesses('sim', {'policy_mode': policy_mode, 'lockstep': 'true'},
                               log_dir=log_dir)
        observer = None
        sim_start = math.nan
        try:
            graph.start()
            # The harness times the injections by the simulated time the real-time nodes
            # advance: real-time priority too (after graph.start(), so that the nodes do not
            # inherit it), as make demo's.
            observer = FaultObserver(graph, realtime=True)
            progress(f'[faults] started {", ".join(graph.processes)} on ROS_DOMAIN_ID '
                     f'{domain_id} (lockstep, policy {policy_mode})')
            observer.wait_ready(graph, ready_timeout, subscribers=1)  # the relay reads it
            observer.record()
            sim_start = observer.graph_time
            for fault in faults:
                result = _run_one(observer, fault, params, windows)
                results.append(result)
                progress(f'[faults] {fault.key}: {fault.description}: {result.outcome}')
                if not result.alive:
                    break
            sim_end = observer.graph_time
        finally:
            codes = graph.stop()
            if observer is not None:
                observer.close()
            restore_normal_scheduling()
    return FaultRun(results, observer.trace, windows, policy_mode, domain_id,
                    time.monotonic() - wall_start, sim_end - sim_start, codes, load)


def _run_one(observer: FaultObserver, fault: Fault, params: ControllerParams,
             windows: dict) -> FaultResult:
    graph = observer.graph
    injection = fault.make() if fault.make is not None else Injection()
    note = ''
    t0, wall0 = observer.graph_time, time.monotonic()
    t_end = t_after = t0
    try:
        injection.prepare(observer)
        if fault.idle:  # the arm at rest: the last task ended, the policy compliant
            publish_task_text(observer.node, NO_TASK_TEXT)
            observer.spin_graph_time(IDLE_LEAD_S, graph)
        else:
            publish_task_text(observer.node, TASK_TEXT)
            observer.spin_graph_time(LEAD_S, graph)
        t0, wall0 = observer.graph_time, time.monotonic()
        injection.start(observer, t0)
        t0, wall0 = observer.graph_time, time.monotonic()
        observer.injection = injection
        observer.spin_graph_time(fault.duration_s, graph)
        observer.injection = None
        injection.stop(observer)
        t_end = observer.graph_time
        observer.spin_graph_time(AFTER_S, graph)
    except RuntimeError as err:  # a node crashed (or the clock stood still)
        note = str(err)
    finally:
        observer.injection = None
        injection.close(observer)
    t_after = observer.graph_time
    t_end = max(t_end, t0)
    windows[fault.key] = (t0, t_end, t_after)
    result = evaluate(fault, observer.trace, t0, wall0, t_end, t_after, params,
                      alive=not note)
    result.notes = note
    result.details = dict(getattr(injection, 'details', {}))
    if result.details.get('set_successful') and \
            result.details.get('requested_nm', 0.0) > MAX_DEVICE_TORQUE_NM:
        result.outcome = 'UNSAFE'  # a torque limit beyond the device's rating was accepted
    return result


# ------------------------------------------------------------------------- output
def report_dict(run: FaultRun) -> dict:
    """The JSON document of a run.

    ``faults``: one entry per fault (:class:`FaultResult` fields: reaction times in ms,
    simulated and wall; max |torque| in N*m during and after, commanded and applied;
    flags; held_safe, recovered, alive, outcome); ``all_safe``; how it ran (policy mode,
    ROS domain, wall and simulated seconds, load average before the start, exit codes).
    """
    return {
        'task_text': TASK_TEXT,
        'torque_limit_nm': ControllerParams().torque_limit,
        'lead_s': LEAD_S, 'after_s': AFTER_S,
        'faults': [asdict(r) for r in run.results],
        'all_safe': run.all_safe,
        'policy_mode': run.policy_mode,
        'ros_domain_id': run.domain_id,
        'wall_s': run.wall_s,
        'sim_s': run.sim_s,
        'load_average_1_5_15': list(run.load_average),
        'exit_codes': run.exit_codes,
    }


def _ms(value: float | None) -> str:
    return f'{value:.0f}' if value is not None else '-'


def format_table(results: list[FaultResult]) -> str:
    """The fault -> reaction table (ms in simulated and wall time, max |torque|, flags)."""
    lines = [f'{"fault":<20} {"react sim":>9} {"wall":>6} {"zero":>5} {"soft":>5} '
             f'{"max|cmd|":>8} {"max|app|":>8} {"move":>6} {"outcome":<7} flags',
             f'{"":<20} {"ms":>9} {"ms":>6} {"ms":>5} {"ms":>5} {"N*m":>8} {"N*m":>8} '
             f'{"rad":>6}']
    for r in results:
        cmd = peak(r.max_abs_torque_during_nm, r.max_abs_torque_after_nm)
        app = peak(r.max_abs_applied_during_nm, r.max_abs_applied_after_nm)
        lines.append(
            f'{r.key + " " + r.name:<20} {_ms(r.reaction_ms_sim):>9} '
            f'{_ms(r.reaction_ms_wall):>6} {_ms(r.zero_torque_ms_sim):>5} '
            f'{_ms(r.compliant_ms_sim):>5} '
            f'{cmd:8.2f} {app:8.2f} {r.displacement_rad:6.3f} {r.outcome:<7} '
            f'{",".join(r.flags) or "-"}')
    return '\n'.join(lines)


def results_sections(run: FaultRun) -> list[tuple[str, str]]:
    """(heading, Markdown) sections of the results page of ``run``: the fault table."""
    rows = []
    for r in run.results:
        rows.append([r.key, r.description, fmt(r.reaction_ms_sim, 0), fmt(r.reaction_ms_wall, 0),
                     fmt(r.zero_torque_ms_sim, 0), fmt(r.compliant_ms_sim, 0),
                     f'{peak(r.max_abs_torque_during_nm, r.max_abs_torque_after_nm):.2f}',
                     f'{peak(r.max_abs_applied_during_nm, r.max_abs_applied_after_nm):.2f}',
                     f'{r.displacement_rad:.3f}', r.outcome, ', '.join(r.flags) or '-'])
    table = markdown_table(
        ['fault', 'injected', 'reaction sim ms', 'wall ms', 'zero torque ms', 'compliant ms',
         'max abs command N*m', 'max abs applied N*m', 'arm moved rad', 'outcome', 'flags'],
        rows)
    how = (f'Task {TASK_TEXT!r} before each fault but the idle ones (arm at rest: judged '
           f'also by |command| <= {ASSIST_TORQUE_BOUND_NM} N*m and a displacement below '
           f'{MAX_DISPLACEMENT_RAD} rad); policy {run.policy_mode}; {run.sim_s:.1f} s '
           f'simulated in {run.wall_s:.1f} s wall (load average before the start '
           f'{run.load_average[0]:.2f}); every fault SAFE: {run.all_safe}.')
    return [('Faults', how + '\n\n' + table)]


def write_plot(run: FaultRun, path: Path) -> Path:
    """Commanded and applied torque and stiffness around each fault, one panel a fault."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    tr = run.trace
    fig, axes = plt.subplots(len(run.results), 1, figsize=(10, 2.2 * len(run.results)),
                             squeeze=False)
    for ax, r in zip(axes[:, 0], run.results, strict=True):
        t0, t_end, t_after = run.windows[r.key]
        ticks = tr.ticks(t0 - 0.5, t_after)
        applied = tr.applied_samples(t0 - 0.5, t_after)
        ax.plot([tr.tick_sim[i] - t0 for i in ticks], [tr.torque[i] for i in ticks],
                label='commanded', linewidth=1.0)
        ax.plot([tr.applied_sim[i] - t0 for i in applied], [tr.applied[i] for i in applied],
                label='applied (sim)', linewidth=0.8, alpha=0.8)
        ax.axvspan(0.0, max(t_end - t0, 0.002), color='red', alpha=0.15, label='fault')
        if r.reaction_ms_sim is not None:
            ax.axvline(r.reaction_ms_sim * 1e-3, color='k', linestyle=':', label='reaction')
        ax.set_ylabel('N*m')
        ax.set_title(f'{r.key}: {r.description} -> {r.outcome}', fontsize='small')
        ax.grid(True, alpha=0.3)
        k = ax.twinx()
        k.plot([tr.tick_sim[i] - t0 for i in ticks], [tr.stiffness[i] for i in ticks],
               color='tab:green', linewidth=0.8, linestyle='--')
        k.set_ylabel('K (N*m/rad)', color='tab:green')
        ax.legend(loc='upper right', fontsize='x-small')
    axes[-1, 0].set_xlabel('simulated time since injection (s)')
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m exo_experiments.faults``: run the suite, print the table, write JSON + plot."""
    parser = argparse.ArgumentParser(prog='exo_faults', description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=Path('out/faults'),
                        help='output directory (default out/faults)')
    parser.add_argument('--policy-mode', default=DEFAULT_MODE, choices=POLICY_MODES,
                        help=f"policy_node's reference source (default {DEFAULT_MODE})")
    parser.add_argument('--domain-id', type=int, default=DEFAULT_DOMAIN_ID,
                        help=f'private ROS_DOMAIN_ID of the experiment (default '
                             f'{DEFAULT_DOMAIN_ID})')
    parser.add_argument('--only', default='',
                        help="comma-separated fault keys to run (e.g. 'a,g'); the reference "
                             "run 'none' always comes first")
    parser.add_argument('--ready-timeout', type=float, default=120.0,
                        help='wall seconds for the graph to come up, extended while '
                             'policy_node reports that it is loading')
    parser.add_argument('--results-page', type=Path, action='append', default=[],
                        metavar='PATH', help='also write the results page (results.md) to '
                        'PATH, e.g. docs/results/faults.md')
    opts = parser.parse_args(argv)
    keys = [k.strip() for k in opts.only.split(',') if k.strip()]
    unknown = sorted(set(keys) - set(FAULTS_BY_KEY))
    if unknown:
        parser.error(f'unknown fault keys {unknown}; choose from {sorted(FAULTS_BY_KEY)}')
    faults = tuple(f for f in FAULTS if not keys or f.key in keys or f.key == 'none')
    stop_on_sigterm()
    opts.out.mkdir(parents=True, exist_ok=True)
    try:
        run = run_faults(faults, opts.policy_mode, opts.domain_id, opts.out / 'logs',
                         opts.ready_timeout)
    except RuntimeError as err:
        print(f'[faults] failed: {err}', file=sys.stderr)
        return 1
    print(format_table(run.results))
    pages = write_results_page([opts.out / 'results.md', *opts.results_page], 'Faults',
                               results_sections(run), argv)
    print(f'[faults] {run.sim_s:.1f} s simulated in {run.wall_s:.1f} s wall '
          f'(load average before start {run.load_average[0]:.2f}); policy {run.policy_mode}')
    write_summary(report_dict(run), opts.out / 'faults.json')
    write_plot(run, opts.out / 'faults.png')
    print(f'[faults] wrote {opts.out / "faults.json"}, {opts.out / "faults.png"} and '
          f'{", ".join(str(p) for p in pages)}')
    return 0 if run.all_safe else 1


if __name__ == '__main__':
    sys.exit(main())
