"""policy_node: task text + exo proprioception -> reference angle and stiffness.

Subscribes to /task_text (latched) and /joint_states, publishes
exo_interfaces/ImpedanceReference on /exo/impedance_reference at ``rate_hz``. The
reference generator is selected by the ``mode`` parameter; the controller's stiffness
bound applies to everything published here. Thin ROS glue: all logic is in
:mod:`exo_policy.oracle`.

Start: the language model and the checkpoint take seconds to minutes to load on a busy
machine, so they load in a background thread (:func:`load_source`) while the node already
publishes the compliant fallback reference (the measured angle, stiffness
``compliant_stiffness``, ``source='fallback'``) from its first tick: the exo is compliant,
never unowned, while policy_node starts or restarts. /diagnostics carries the status
``policy_node: reference source`` (``loading``, then ``loaded``, or ``load failed``, once a
second and at each change), and /task_text is read (its subscription created) only once the
source is loaded, so the graph tools (:mod:`exo_bringup.readiness`) see policy_node as a
reader of instructions exactly when it can follow them. A load failure is logged and the
node stays compliant.

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
import threading
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.time import Time as RosTime
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from exo_contract.checks import plausible_joint_state
from exo_contract.inputs import PolledInput
from exo_contract.qos import (
    COMMAND_QOS,
    GRAPH_TASK_TEXT_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_SUB_QOS,
    STATE_QOS,
)
from exo_contract.ros_parameters import declare_or_raise
from exo_contract.runtime import PolledInputs, run_node
from exo_interfaces.msg import ImpedanceReference
from exo_language.resolver import TaskResolver
from exo_policy.params import PolicyNodeParams
from exo_policy.reference_source import ImpedanceTarget, SOURCE_FALLBACK
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
DIAGNOSTICS_TOPIC = '/diagnostics'
#: Name of policy_node's status on /diagnostics (its message: LOADING, LOADED or LOAD_FAILED).
SOURCE_STATUS = 'policy_node: reference source'
LOADING, LOADED, LOAD_FAILED = 'loading', 'loaded', 'load failed'
#: Period of the status on /diagnostics, s (steady clock).
STATUS_PERIOD_S = 1.0


def load_source(params: PolicyNodeParams):
    """The task resolver and the reference source of ``params`` (slow: runs in a thread)."""
    # One resolver, built once (the sentence encoder takes seconds to load).
    resolver = TaskResolver(params.language_encoder)
    source = make_source(
        params.mode, resolver=resolver, compliant_stiffness=params.compliant_stiffness,
        checkpoint=params.checkpoint, promp_model=params.promp_model,
        stiffness_table=params.stiffness_table, max_assist_torque=params.max_assist_torque,
        body_mass_kg=params.wearer_body_mass_kg, gravity_share=params.gravity_share)
    return resolver, source


class PolicyNode(Node):
    """Publishes the impedance reference for the task named on /task_text."""

    def __init__(self, **kwargs) -> None:
        super().__init__('policy_node', **kwargs)
        self._sim_time = bool(self.get_parameter('use_sim_time').value)
        # Texts published before this instant belong to an earlier run (module docstring).
        self._started_ns = time.time_ns()
        values = declare_or_raise(self, PolicyNodeParams)
        try:
            self.params = PolicyNodeParams(**values)
        except (ValueError, OSError) as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise
        # Loaded in a background thread (module docstring); until then: compliant fallback.
        self._resolver = None
        self._source = None
        self._load_state = LOADING
        self._load_detail = ''
        self._load_started = time.monotonic()
        self._text_reader = None
        self._angle = math.nan
        self._velocity = 0.0
        self._task_start = Time()  # when the current text was taken (zero: none yet)
        self._angle_time = -math.inf
        self._msg = ImpedanceReference()
        self._msg.joint_names = [self.params.joint_name]
        self._pub = self.create_publisher(
            ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS)
        self._inputs = PolledInputs(self, INPUTS_SUFFIX)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, STATE_QOS)
        self._status_timer = self.create_timer(
            STATUS_PERIOD_S, lambda: self._publish_status(),
            clock=Clock(clock_type=ClockType.STEADY_TIME))
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
            f'policy_node started: publishing the compliant reference while mode='
            f'{self.params.mode} loads')
        self._publish_status()
        self._loader = threading.Thread(target=self._load, name='policy_node_load',
                                        daemon=True)
        self._loader.start()

    def _load(self) -> None:
        """Load the resolver and the source (background thread), then read /task_text."""
        try:
            resolver, source = load_source(self.params)
        except Exception as err:  # noqa: BLE001 -- the node stays up, compliant, and says so
            self._load_detail = str(err)
            self._load_state = LOAD_FAILED
            self.get_logger().fatal(
                f'could not load the reference source (mode={self.params.mode}): {err}; '
                'publishing the compliant reference only')
            self._publish_status()
            return
        inputs = self._inputs
        if inputs is None:
            return  # destroyed meanwhile
        self._resolver, self._source = resolver, source
        self._text_reader = PolledInput(inputs, String, GRAPH_TASK_TEXT_TOPIC,
                                        TEXT_READER_DEPTH)
        self._load_state = LOADED
        self._load_detail = f'{time.monotonic() - self._load_started:.1f} s'
        wearer = (f' (share {self.params.gravity_share:g} of the gravity torque of a '
                  f'{self.params.wearer_body_mass_kg:g} kg wearer)'
                  if self.params.mode == 'gravity_share' else '')
        self.get_logger().info(
            f'policy_node ready: mode={self.params.mode}{wearer} rate={self.params.rate_hz} Hz, '
            f'task resolver {resolver.method!r} (loaded in {self._load_detail}); compliant '
            'until a /task_text published after this start (an older latched text is not '
            'replayed)')
        self._publish_status()

    def _publish_status(self) -> None:
        """Publish the source's load state on /diagnostics."""
        state = self._load_state
        level = {LOADED: DiagnosticStatus.OK, LOADING: DiagnosticStatus.WARN}.get(
            state, DiagnosticStatus.ERROR)
        elapsed = time.monotonic() - self._load_started
        status = DiagnosticStatus(
            level=level, name=SOURCE_STATUS, hardware_id=self.params.joint_name,
            message=state, values=[KeyValue(key='mode', value=self.params.mode),
                                   KeyValue(key='since_start_s', value=f'{elapsed:.1f}'),
                                   KeyValue(key='detail', value=self._load_detail)])
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        try:
            self._diag_pub.publish(msg)
        except Exception:  # noqa: BLE001 -- the context may be shutting down (thread)
            pass

    def destroy_node(self) -> None:
        """Destroy the input helper node too, then this node."""
        inputs = getattr(self, '_inputs', None)
        if inputs is not None:
            self._inputs = None
            inputs.destroy()
        super().destroy_node()

    def _poll_texts(self, now: float | None = None) -> None:
        """Take every pending /task_text sample (at most 20 per call) at ``now`` (s)."""
        if self._text_reader is None:
            return  # still loading: the texts wait in the reader (created once loaded)
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
        source = self._source
        if source is None:  # loading: the compliant fallback (follows the arm)
            target = ImpedanceTarget(measured, 0.0, self.params.compliant_stiffness, '', 0.0,
                                     SOURCE_FALLBACK)
        else:
            target = source.reference(now, measured, self._velocity)
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
