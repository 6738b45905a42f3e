"""policy_node: task text + exo proprioception -> reference angle and stiffness.

Subscribes to /task_text (latched) and /joint_states, publishes
exo_interfaces/ImpedanceReference on /exo/impedance_reference at ``rate_hz``. The
reference generator is selected by the ``mode`` parameter; the controller's stiffness
bound applies to everything published here. Thin ROS glue: all logic is in
:mod:`exo_policy.oracle`.

Start and restart: the node starts in the compliant fallback (the measured angle, stiffness
``compliant_stiffness``, ``source='fallback'``) and follows only task texts published after
its process started. A latched text published while it was loading is followed (a late
joiner gets the instruction); a text that its publisher still holds from before the start
(the task that was running when a previous policy_node died) is logged and not acted on: the
task's reference would restart from its beginning while the arm is somewhere else in the
motion, an assistance the wearer does not expect. Re-sending the instruction resumes the
assistance. The publication time is the DDS source timestamp (the publisher's clock; hosts
of one graph need synchronised clocks, as for any ROS 2 stamp); a sample without one is
followed. To read it, /task_text is taken by polling at ``rate_hz`` from a subscriber-only
helper node ``<name>_inputs`` that no executor spins (rclpy's EventsExecutor cannot pass
MessageInfo to a callback).

Real time: a wall timer at ``rate_hz`` takes the newest joint state from the same helper node
(its receipt time from MessageInfo times its age) instead of a callback for each of the
1 kHz samples: the reference uses only the newest, and the callbacks cost a 2-core machine
about a tenth of a core that the 1 kHz controller and simulator need.

Simulated time (``use_sim_time``, the lockstep simulation): no timer; the joint state
stamped at (or first after) each multiple of 1 / ``rate_hz`` triggers the reference, which
is computed from that very state, at its stamp, and carries that stamp, and /task_text is
taken at those instants only. ``task_start`` on the reference is the instant the current text
was taken; sim_node starts its simulated human then (exo_sim.sim_node), so the human and the
policy start a task at the same simulated time whatever the machine's load.
"""

from __future__ import annotations

import math
import time

from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.time import Time as RosTime
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from exo_contract.checks import plausible_joint_state
from exo_contract.inputs import PolledInput
from exo_contract.qos import (
    COMMAND_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_SUB_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.ros_parameters import declare_or_raise
from exo_contract.runtime import PolledInputs, run_node
from exo_interfaces.msg import ImpedanceReference
from exo_language.resolver import TaskResolver
from exo_policy.params import PolicyNodeParams
from exo_policy.sources import make_source

MAX_LOGGED_TEXT = 200
# Stamps closer than this are the same simulated instant (k * h rounding), s.
STAMP_EPS = 1e-6
# Simulated time: a joint state times a reference only within this distance of /clock, s.
LOCKSTEP_CLOCK_WINDOW_S = 0.05
# Helper node that holds the polled /task_text subscription (module docstring).
INPUTS_SUFFIX = '_inputs'
# Joint states taken per real-time tick at most (the reader keeps the newest one).
JOINT_STATE_TAKE_LIMIT = 5
# /task_text: a live (volatile) and a latched reader, reader history 10 each, so texts
# arriving between two polls are all seen (exo_contract.inputs).
TEXT_READER_DEPTH = 10


class PolicyNode(Node):
    """Publishes the impedance reference for the task named on /task_text."""

    def __init__(self, **kwargs) -> None:
        super().__init__('policy_node', **kwargs)
        self._sim_time = bool(self.get_parameter('use_sim_time').value)
        # Texts published before this instant belong to an earlier run (module docstring).
        self._started_ns = time.time_ns()
        values = declare_or_raise(self, PolicyNodeParams)
        try:
            self.params = p = PolicyNodeParams(**values)
            # One resolver, built once (the sentence encoder takes seconds to load).
            self._resolver = TaskResolver(p.language_encoder)
            self._source = make_source(
                p.mode, resolver=self._resolver, compliant_stiffness=p.compliant_stiffness,
                checkpoint=p.checkpoint, promp_model=p.promp_model,
                stiffness_table=p.stiffness_table, max_assist_torque=p.max_assist_torque)
        except (ValueError, OSError) as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise
        self._angle = math.nan
        self._velocity = 0.0
        self._task_start = Time()  # when the current text was taken (zero: none yet)
        self._angle_time = -math.inf
        self._msg = ImpedanceReference()
        self._msg.joint_names = [self.params.joint_name]
        self._pub = self.create_publisher(
            ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS)
        self._inputs = PolledInputs(self, INPUTS_SUFFIX)
        self._text_reader = PolledInput(self._inputs, String, TASK_TEXT_TOPIC, TEXT_READER_DEPTH)
        # Real time: a wall timer takes the newest joint state (polled). Simulated time
        # (lockstep): the joint state stamped at each multiple of the period triggers the
        # reference (module docstring).
        self._period = 1.0 / self.params.rate_hz
        self._next_due = -math.inf
        self._joint_sub = None
        if self._sim_time:
            self.create_subscription(
                JointState, JOINT_STATES_TOPIC, self._on_joint_state, SENSOR_SUB_QOS)
        else:
            self._joint_sub = self._inputs.subscribe(JointState, JOINT_STATES_TOPIC,
                                                     SENSOR_SUB_QOS)
            # (a lambda: rclpy passes a TimerInfo to a callback that takes an argument)
            self.create_timer(self._period, lambda: self._on_timer())
        self.get_logger().info(
            f'policy_node ready: mode={self.params.mode} rate={self.params.rate_hz} Hz, '
            f'task resolver {self._resolver.method!r}; compliant until a /task_text '
            'published after this start (an older latched text is not replayed)')

    def destroy_node(self) -> None:
        """Destroy the input helper node too, then this node."""
        inputs = getattr(self, '_inputs', None)
        if inputs is not None:
            self._inputs = None
            inputs.destroy()
        super().destroy_node()

    def _poll_texts(self, now: float | None = None) -> None:
        """Take every pending /task_text sample (at most 20 per call) at ``now`` (s)."""
        for msg, info in self._text_reader.take(20):
            published_ns = info.get('source_timestamp') if isinstance(info, dict) else None
            if isinstance(published_ns, int) and 0 < published_ns < self._started_ns:
                text = msg.data
                shown = text[:MAX_LOGGED_TEXT] + ('...' if len(text) > MAX_LOGGED_TEXT else '')
                age = (time.time_ns() - published_ns) * 1e-9
                self.get_logger().warning(
                    f'not resuming task text {shown!r}: it was published {age:.1f} s ago, '
                    'before this policy_node started (a restart), and replaying it would '
                    'restart the task from its beginning. Staying compliant (fallback) until '
                    'a new /task_text; re-send the instruction to resume.')
                continue
            self._on_text(msg, now)

    def _now(self) -> float:
        """Time of the reference source, s: monotonic, or the node clock under use_sim_time.

        Under use_sim_time (the lockstep simulation) the task phase, the reference velocity
        and the staleness of the measured angle follow simulated time, so a slow machine
        only runs the graph slower.
        """
        if self._sim_time:
            return self.get_clock().now().nanoseconds * 1e-9
        return time.monotonic()

    def _stamp(self, now: float) -> Time:
        """Header stamp of ``now``: that simulated instant, or the node clock (real time)."""
        if self._sim_time:
            return RosTime(nanoseconds=int(round(now * 1e9))).to_msg()
        return self.get_clock().now().to_msg()

    def _on_text(self, msg: String, now: float | None = None) -> None:
        text = msg.data
        shown = text[:MAX_LOGGED_TEXT] + ('...' if len(text) > MAX_LOGGED_TEXT else '')
        now = self._now() if now is None else now
        task = self._source.set_task_text(text, now)
        self._task_start = self._stamp(now)
        if task is None:
            self.get_logger().warning(
                f'task text {shown!r} names no known task: publishing a compliant reference '
                f'(stiffness {self.params.compliant_stiffness} N*m/rad, no assistance)')
        else:
            self.get_logger().info(f'task text {shown!r} -> task {task.task_id!r}')
        # The text is encoded once here; reference() runs at rate_hz on the history.

    def _poll_joint_states(self) -> None:
        """Take the pending joint states (real time), each at its receipt time."""
        for msg, info in PolledInputs.take(self._joint_sub, JOINT_STATE_TAKE_LIMIT):
            self._on_joint_state(msg, _receipt_time(info))

    def _on_joint_state(self, msg: JointState, receipt: float | None = None) -> None:
        """Record one joint state (``receipt``: its monotonic receipt time, None: now)."""
        try:
            index = msg.name.index(self.params.joint_name)
            angle = float(msg.position[index])
            velocity = float(msg.velocity[index]) if index < len(msg.velocity) else 0.0
        except (ValueError, IndexError):
            return
        # The controller's plausibility (angle beyond the hard stops, velocity no arm
        # reaches): an implausible sample never enters the policy's history.
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        # A stamp far from /clock (another clock, a hostile publisher) never times a tick:
        # one far ahead would hold back every reference until the simulation got there.
        lockstep = self._sim_time and stamp > 0.0 \
            and abs(stamp - self._now()) <= LOCKSTEP_CLOCK_WINDOW_S
        if plausible_joint_state(angle, velocity):
            self._angle = angle
            self._velocity = velocity
            self._angle_time = stamp if lockstep else (
                self._now() if receipt is None else receipt)
        if lockstep and stamp >= self._next_due - STAMP_EPS:
            # The next multiple of the period after this stamp (a late state keeps the grid).
            self._next_due = (math.floor(stamp / self._period + 1e-6) + 1) * self._period
            self._on_timer(stamp)

    def _on_timer(self, now: float | None = None) -> None:
        """Publish the reference at ``now`` (s; None: this node's clock)."""
        self._poll_texts(now)
        if self._joint_sub is not None:
            self._poll_joint_states()
        now = self._now() if now is None else now
        measured = self._angle if now - self._angle_time <= self.params.joint_state_timeout \
            else math.nan
        target = self._source.reference(now, measured, self._velocity)
        if not (math.isfinite(target.reference_angle) and math.isfinite(target.stiffness)):
            return  # nothing trustworthy to publish; the controller's watchdog takes over
        msg = self._msg
        msg.header.stamp = self._stamp(now)
        msg.task_start = self._task_start
        msg.reference_angle = [target.reference_angle]
        msg.reference_velocity = [target.reference_velocity]
        msg.stiffness = [target.stiffness]
        msg.task_id = target.task_id
        msg.confidence = float(target.confidence)
        msg.source = target.source
        self._pub.publish(msg)


def _receipt_time(info) -> float:
    """Monotonic receipt time of a polled sample from its MessageInfo (now if absent).

    The reader holds at most the samples since the previous poll, so without a receipt
    stamp the sample is at most one period old.
    """
    received_ns = info.get('received_timestamp') if isinstance(info, dict) else None
    now = time.monotonic()
    if isinstance(received_ns, int) and received_ns > 0:
        return now - max(time.time_ns() - received_ns, 0) * 1e-9
    return now


def main(args=None) -> None:
    """Run PolicyNode until shutdown."""
    run_node(PolicyNode, args)

if __name__ == '__main__':
    main()
