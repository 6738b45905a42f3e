"""Lifecycle node of the variable impedance controller: messages <-> ImpedanceControllerCore.

Subscribes /joint_states (sensor_msgs/JointState), /interaction_torque
(geometry_msgs/WrenchStamped, torque.z) and /exo/impedance_reference
(exo_interfaces/ImpedanceReference); publishes the effort command
(std_msgs/Float64MultiArray, one element) and exo_interfaces/ControllerState. Each joint
state triggers one control tick; a watchdog timer publishes zero torque when joint
states stop. All physics, math and safety logic live in the core (core.py).

The interaction torque and the reference are not executor callbacks: each tick first takes
what has arrived on them (polled subscriptions of the helper node, below), so a tick always
sees the interaction torque published with its joint state, in the order the samples came,
and the executor dispatches one event per tick instead of up to three.

Under ``use_sim_time`` (the lockstep simulation) a tick is a function of its inputs only:
it runs on the joint state's stamp (not the /clock it happened to have seen), waits (at
most LOCKSTEP_INPUT_WAIT_S wall) for the interaction torque of the same stamp and for the
reference due before it, and a reference stamped t is used from the first joint state
stamped after t (sim_node steps on only once that reference has arrived), never by the
tick of the state it was computed from. An idle and a loaded machine then compute the same
commands. A stream that did not come within one such wait (its node died or stalls) is not
waited for again until a sample of it arrives: a dead node costs the lockstep graph one wait,
not one per tick, and the simulation keeps stepping at full speed through the fault (the
core's staleness rules take over). Only a stamp within LOCKSTEP_CLOCK_WINDOW_S of the
node's /clock is used so: a sample stamped elsewhere (another clock, a hostile publisher)
runs on /clock, since a stamp far ahead would let the torque-rate limit allow that much
time's worth of change in one tick.

Safety inputs: the e-stop topic /exo/estop (std_msgs/Bool, latched; true = stop), the service
``~/estop`` (std_srvs/SetBool; data true = stop, false = resume) and stop words on
/task_text (:mod:`exo_contract.stop_words`) drive the core's
:class:`~exo_impedance_controller.safety.StopLatch`: zero assistance torque and compliant
stiffness until an explicit resume (never a new task text). A graph check every
``publisher_check_period`` s, and at every tick whose DDS-matched publisher counts changed,
refuses /joint_states and /interaction_torque while either has more than one publisher (zero
torque through the input-fault path) and /exo/impedance_reference unless its one publisher
is its owner, the node named by the ``reference_owner`` parameter (policy_node): a second
publisher, a sole publisher that is another node, or one that the ROS graph does not name
yet, refuses every reference (compliant, following the arm; the core's
``set_reference_conflict``). It names the publishing nodes in the log and on /diagnostics
(diagnostic_msgs/DiagnosticArray, with the e-stop state). Either input is taken again
``fault_recovery_samples`` valid ticks after one publisher (for the reference: the owner)
remains. A node that takes the owner's name while the owner is down passes this check:
names are not authenticated without SROS2 (docs/safety.md).
"""

from dataclasses import fields
import math
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import WrenchStamped
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, String
from std_srvs.srv import SetBool

from exo_contract.graph import (
    endpoint_node_name,
    qualified_node_name,
    topic_publishers,
    UNDISCOVERED_PUBLISHER,
)
from exo_contract.inputs import PolledInput
from exo_contract.parameters import ParamSpec, specs
from exo_contract.qos import (
    COMMAND_QOS,
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    GRAPH_TASK_TEXT_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_SUB_QOS,
    STATE_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.ros_parameters import declare, refuse_while_configured
from exo_contract.runtime import CONTROL_PRIORITY, PolledInputs, run_node, scheduling
from exo_contract.stop_words import stop_word
from exo_contract.topics import ESTOP_TOPIC
from exo_impedance_controller.core import ControlOutput, ImpedanceControllerCore
from exo_impedance_controller.params import ControllerParams
from exo_impedance_controller.safety import (
    reference_owner_conflict,
    StopLatch,
    topic_owner_conflicts,
)
from exo_interfaces.msg import ControllerState, ImpedanceReference

WATCHDOG_PERIOD = 0.005  # s (200 Hz)
# Service that stops (data: true) and resumes (data: false) the assistance.
ESTOP_SERVICE = '~/estop'
# The e-stop topic and /task_text (stop words) are taken by polling on the wall clock, from
# a subscriber-only helper node '<name>_safety_inputs' that no executor spins: the stop
# needs each message's publisher and source time (MessageInfo), which rclpy's
# EventsExecutor cannot pass to a callback, and it must keep working when /clock stops.
SAFETY_INPUT_PERIOD = 0.005  # s (200 Hz, steady clock)
SAFETY_INPUT_SUFFIX = '_safety_inputs'
# Reader history of those two subscriptions: messages arriving between two polls (or from
# several latched publishers at start) are all seen, so no stop is overwritten.
SAFETY_INPUT_DEPTH = 10
# ROS convention for diagnostic_msgs/DiagnosticArray (rqt_robot_monitor, diagnostic_aggregator).
DIAGNOSTICS_TOPIC = '/diagnostics'
MAX_LOGGED_TEXT = 80
# Interaction torques and references taken per tick at most (a flood cannot starve the loop).
SENSOR_TAKE_LIMIT = 20
# Lockstep (use_sim_time): longest wall wait of one tick for the interaction torque of its
# stamp and the reference due before it, then the tick runs on what it has (counted). At
# 20 ms a loaded machine (policy_node at normal priority behind two busy processes) had 5-7
# such ticks inside tasks per `make demo`; at 100 ms none. Below sim_node's lockstep_timeout
# (0.5 s), so sim_node never steps on without this tick's command.
LOCKSTEP_INPUT_WAIT_S = 0.1
LOCKSTEP_POLL_S = 5e-5
# Stamps closer than this are the same simulated instant (k * h rounding).
STAMP_EPS = 1e-6
# Under use_sim_time, joint states without any /clock after which the node warns.
NO_CLOCK_WARNING_TICKS = 1000
# Lockstep: a joint state runs its tick on its own stamp only within this distance of the
# node's /clock (else on the clock), and a reference stamped further ahead is dropped, s.
LOCKSTEP_CLOCK_WINDOW_S = 0.05

# Not ControllerParams fields (the core knows no node names): read once, at start.
AUTOSTART = ParamSpec('autostart', bool, True, 'Configure and activate on start (no '
                      'lifecycle manager needed).')
REFERENCE_OWNER = ParamSpec(
    'reference_owner', str, 'policy_node', 'The one node whose /exo/impedance_reference is '
    "taken (a name without a leading '/' is in controller_node's namespace); a reference "
    'whose publishers are not exactly this node is refused (compliant, following the arm).',
    may_be_empty=False)
# While the reference topic has a publisher the ROS graph does not name yet, the graph check
# runs again at a tick this long after the previous one (steady clock, s), so the owner's
# references are taken soon after it appears, not one publisher_check_period later.
UNDISCOVERED_RECHECK_S = 0.02



def _stamp_seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class ControllerNode(LifecycleNode):
    """Stability-bounded variable impedance controller of the elbow exoskeleton."""

    def __init__(self, **kwargs):
        """Declare the parameters; resources are created in on_configure."""
        super().__init__('controller_node', **kwargs)
        # Values refused at start: configure fails with them (the node stays unconfigured).
        self._declare_errors = declare(self, ControllerParams)
        self._declare_errors += declare(self, [AUTOSTART, REFERENCE_OWNER], read_only=True)
        for error in self._declare_errors:
            self.get_logger().error(f'invalid parameter: {error}')
        # Parameters take effect at configure: refused while configured (never shown by
        # `ros2 param get` without being in effect).
        refuse_while_configured(self, [s.name for s in specs(ControllerParams)],
                                lambda: self._core is not None, self._read_params)
        self._core = None
        self._params = None
        self._cmd_pub = None
        self._state_pub = None
        self._subs = []
        self._watchdog = None
        self._cmd_msg = Float64MultiArray(data=[0.0])
        self._state_msg = None
        self._joint_index = 0
        self._last_js_stamp = Time()
        self._warned_missing_joint = False
        self._sim_time = False  # use_sim_time, read at configure (see _now)
        # Kept across reconfigurations: only an explicit resume ends a stop.
        self._stop = StopLatch()
        self._sensor_subs = []  # subscriptions whose topics must have one publisher (the
        # sensors, then the reference)
        self._graph_timer = None
        self._input_timer = None
        self._inputs = None  # the '<name>_safety_inputs' helper node (see SAFETY_INPUT_PERIOD)
        self._input_subs = ()  # (subscription, handler(msg, info))
        self._wrench_sub = None  # polled (helper node), taken at each tick
        self._reference_sub = None  # polled (helper node), taken at each tick
        self._publisher_counts = []  # per sensor subscription, checked at each tick
        # Lockstep: references taken but stamped at or after the tick's state (used later),
        # the last interaction torque's stamp, the last two reference stamps (their period).
        self._pending_refs = []
        self._wrench_stamp = -math.inf
        self._ref_stamps = (-math.inf, -math.inf)
        # Lockstep: streams ('interaction', 'reference') that a wait ended without; not
        # waited for until their next sample.
        self._lockstep_given_up = set()
        self.lockstep_input_timeouts = 0
        self.ticks = 0  # control ticks run on a joint state (reported on /diagnostics)
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._estop_srv = None
        self._diag_pub = None
        self._conflicts = ()
        self._reference_owner = ''  # qualified name of reference_owner, set at configure
        self._recheck_at = None  # steady time of the next graph check (undiscovered publisher)
        self._estop_names = {}  # e-stop publisher id (gid hex) -> node name, for logs

    def _now(self) -> float:
        """Receipt time of the core, s: monotonic, or the node clock under use_sim_time.

        Under use_sim_time (lockstep simulation) the core's staleness checks and torque-rate
        limit run on the simulated /clock, so a slow machine does not make references look
        stale or ticks look longer.
        """
        if self._sim_time:
            return self.get_clock().now().nanoseconds * 1e-9
        return time.monotonic()

    # ------------------------------------------------------------- parameters
    def _read_params(self, overrides=None) -> ControllerParams:
        values = {f.name: self.get_parameter(f.name).value for f in fields(ControllerParams)}
        if overrides:
            values.update(overrides)
        return ControllerParams.from_mapping(values)

    # -------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Validate parameters into ControllerParams and create publishers/subscriptions."""
        if self._declare_errors:
            self.get_logger().error('configure failed: ' + '; '.join(self._declare_errors))
            return TransitionCallbackReturn.FAILURE
        try:
            params = self._read_params()
        except ValueError as exc:
            self.get_logger().error(f'configure failed: invalid parameter: {exc}')
            return TransitionCallbackReturn.FAILURE
        self._params = params
        owner = str(self.get_parameter(REFERENCE_OWNER.name).value).strip()
        self._reference_owner = (owner if owner.startswith('/')
                                 else qualified_node_name(owner, self.get_namespace()))
        self._stop.heartbeat_timeout = params.estop_heartbeat_timeout
        self._core = ImpedanceControllerCore(params, self._stop)
        self._core.active = False
        # The core's receipt clock (staleness, torque-rate limit): see _now.
        self._sim_time = bool(self.get_parameter('use_sim_time').value)
        self._core.reset(self._now(), None)

        msg = ControllerState()
        msg.joint_names = [params.joint_name]
        for name in ('position', 'velocity', 'reference_angle', 'error', 'error_rate',
                     'stiffness_raw', 'stiffness_bounded', 'damping', 'inertia',
                     'commanded_torque', 'interaction_torque'):
            setattr(msg, name, [0.0])
        self._state_msg = msg

        self._cmd_pub = self.create_publisher(Float64MultiArray, EFFORT_COMMAND_TOPIC,
                                              COMMAND_QOS)
        self._state_pub = self.create_publisher(ControllerState, CONTROLLER_STATE_TOPIC,
                                                STATE_QOS)
        joint_sub = self.create_subscription(JointState, JOINT_STATES_TOPIC,
                                             self._on_joint_state, SENSOR_SUB_QOS)
        self._subs = [joint_sub]
        self._create_safety_inputs()
        self._wrench_sub = self._inputs.subscribe(WrenchStamped, INTERACTION_TORQUE_TOPIC,
                                                  SENSOR_SUB_QOS)
        self._reference_sub = self._inputs.subscribe(
            ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS)
        self._sensor_subs = [joint_sub, self._wrench_sub, self._reference_sub]
        self._publisher_counts = [-1] * len(self._sensor_subs)
        self._diag_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, STATE_QOS)
        self._estop_srv = self.create_service(SetBool, ESTOP_SERVICE, self._on_estop_service)
        self._watchdog = self.create_timer(WATCHDOG_PERIOD, self._on_watchdog)
        self._graph_timer = self.create_timer(params.publisher_check_period,
                                              self._on_graph_check, clock=self._steady)
        self._input_timer = self.create_timer(SAFETY_INPUT_PERIOD, self._on_safety_inputs,
                                              clock=self._steady)
        self.get_logger().info(f'configured: {params}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Enable torque output (the stiffness restarts at stiffness_compliant)."""
        self._core.active = True
        self.get_logger().info('active: torque output enabled')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish a zero torque, then disable output."""
        self._core.active = False
        self.publish_zero_torque()
        self.get_logger().info('inactive: zero torque published, output disabled')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release publishers, subscriptions and the watchdog timer."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish a zero torque (if configured) and release everything."""
        if self._core is not None:
            self._core.active = False
        self.publish_zero_torque()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Publish a zero torque and release everything."""
        self.publish_zero_torque()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self):
        for timer in (self._watchdog, self._graph_timer, self._input_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self._watchdog = None
        self._graph_timer = None
        self._input_timer = None
        self._input_subs = ()
        self._wrench_sub = None
        self._reference_sub = None
        self._pending_refs = []
        if self._inputs is not None:
            self._inputs.destroy()
            self._inputs = None
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        self._sensor_subs = []
        if self._estop_srv is not None:
            self.destroy_service(self._estop_srv)
            self._estop_srv = None
        for pub in (self._cmd_pub, self._state_pub, self._diag_pub):
            if pub is not None:
                self.destroy_publisher(pub)
        self._cmd_pub = None
        self._state_pub = None
        self._diag_pub = None
        self._conflicts = ()
        self._core = None

    def destroy_node(self):
        """Destroy the safety-input helper node too, then this node."""
        if self._inputs is not None:
            self._input_subs = ()
            self._wrench_sub = None
            self._reference_sub = None
            self._inputs.destroy()
            self._inputs = None
        super().destroy_node()

    def publish_zero_torque(self):
        """Publish one zero effort command, if the command publisher exists."""
        if self._cmd_pub is None:
            return
        self._cmd_msg.data[0] = 0.0
        try:
            self._cmd_pub.publish(self._cmd_msg)
        except Exception as exc:  # noqa: BLE001 - context may already be shut down
            self.get_logger().warning(f'could not publish zero torque: {exc}')

    # -------------------------------------------------------------- callbacks
    def _on_joint_state(self, msg: JointState):
        core = self._core
        if core is None:
            return
        now = self._now()
        name = self._params.joint_name
        names = msg.name
        i = self._joint_index
        if i >= len(names) or names[i] != name:
            try:
                i = names.index(name)
            except ValueError:
                if not self._warned_missing_joint:
                    self._warned_missing_joint = True
                    self.get_logger().warning(
                        f'joint {name!r} not in /joint_states names {list(names)!r}; '
                        'ignoring (zero torque once stale)')
                return
            self._joint_index = i
        q = msg.position[i] if i < len(msg.position) else math.nan
        qd = msg.velocity[i] if i < len(msg.velocity) else math.nan
        stamp = msg.header.stamp
        t = _stamp_seconds(stamp)
        if t == 0.0:  # unstamped publisher: fall back to the receipt time
            t = now
        self._check_publisher_counts()
        if self._sim_time and abs(t - now) <= LOCKSTEP_CLOCK_WINDOW_S:
            # Lockstep: the tick runs on its stamp, with the inputs of that stamp. A stamp
            # far from /clock (another clock, or a hostile publisher) never becomes the
            # receipt time: it would stretch the torque-rate limit's allowance.
            now = t
            self._take_lockstep_inputs(t)
        else:
            if self._sim_time and now == 0.0 and self.ticks >= NO_CLOCK_WARNING_TICKS:
                self.get_logger().warning(
                    f'use_sim_time is set but no /clock has arrived after {self.ticks} joint '
                    'states: the controller runs on a clock that stands still (no torque '
                    'change, watchdog idle). Check that the clock source publishes /clock.',
                    throttle_duration_sec=10.0)
            self._take_inputs(now)
        self._last_js_stamp = stamp
        self.ticks += 1
        self._publish(core.update(t, q, qd, now), stamp)

    def _check_publisher_counts(self):
        """A change in an input topic's publisher count runs the full graph check at once.

        The count is the subscription's matched publishers (DDS endpoint matching, 0.6 us):
        a reader matches a writer before it can receive anything from it, so a second
        publisher is refused from its first sample on, before the ROS graph cache (which
        names the nodes, in ``_on_graph_check``) has caught up.
        """
        changed = False
        for i, sub in enumerate(self._sensor_subs):
            n = sub.get_publisher_count()
            if n != self._publisher_counts[i]:
                self._publisher_counts[i] = n
                changed = True
        if not changed and self._recheck_at is not None:
            changed = time.monotonic() >= self._recheck_at
        if changed:
            self._on_graph_check()

    def _take_inputs(self, now: float):
        """Take every pending interaction torque and reference, oldest first (real time)."""
        for msg, _ in PolledInputs.take(self._wrench_sub, SENSOR_TAKE_LIMIT):
            self._on_interaction(msg, now)
        for msg, _ in PolledInputs.take(self._reference_sub, SENSOR_TAKE_LIMIT):
            self._on_reference(msg, now)

    def _take_lockstep_inputs(self, t: float):
        """Inputs of the tick stamped ``t`` in lockstep (module docstring).

        Interaction torques are used with their stamps as receipt times; references stamped
        before ``t`` are applied (their stamp is their receipt time), later ones wait in
        ``_pending_refs``. The tick waits at most LOCKSTEP_INPUT_WAIT_S (wall) for a live
        stream's sample: the interaction torque stamped ``t``, and the reference one period
        after the last one when that instant is before ``t``.
        """
        deadline = time.monotonic() + LOCKSTEP_INPUT_WAIT_S
        while True:
            for msg, _ in PolledInputs.take(self._wrench_sub, SENSOR_TAKE_LIMIT):
                self._lockstep_given_up.discard('interaction')
                stamp = _stamp_seconds(msg.header.stamp)
                if stamp <= t + STAMP_EPS:
                    self._wrench_stamp = max(self._wrench_stamp, stamp)
                # Received now at the latest: a future stamp never makes a sample fresher.
                self._on_interaction(msg, min(stamp, t) if stamp > 0.0 else t)
            for msg, _ in PolledInputs.take(self._reference_sub, SENSOR_TAKE_LIMIT):
                stamp = _stamp_seconds(msg.header.stamp)
                if stamp > t + LOCKSTEP_CLOCK_WINDOW_S:
                    self.get_logger().warning(
                        f'lockstep: dropped a reference stamped {stamp:.3f} s at {t:.3f} s '
                        '(ahead of the simulated time)', throttle_duration_sec=1.0)
                    continue
                last = self._ref_stamps[0]
                if stamp > last:
                    self._ref_stamps = (stamp, last)
                    self._lockstep_given_up.discard('reference')
                self._pending_refs.append((stamp, msg))
            del self._pending_refs[:-SENSOR_TAKE_LIMIT]  # bounded, the newest kept
            missing = self._lockstep_input_missing(t) - self._lockstep_given_up
            if not missing:
                break
            if time.monotonic() > deadline:
                self.lockstep_input_timeouts += 1
                self._lockstep_given_up |= missing
                self.get_logger().warning(
                    f'lockstep: tick at {t:.3f} s ran without its {" and ".join(sorted(missing))} '
                    f'after {LOCKSTEP_INPUT_WAIT_S * 1e3:.0f} ms '
                    f'({self.lockstep_input_timeouts} such ticks); not waiting for it again '
                    'until it comes back', throttle_duration_sec=1.0)
                break
            time.sleep(LOCKSTEP_POLL_S)
        keep = []
        for stamp, msg in self._pending_refs:
            if stamp <= 0.0:  # unstamped publisher: received now
                self._on_reference(msg, t)
            elif stamp < t - STAMP_EPS:
                self._on_reference(msg, stamp)
            else:
                keep.append((stamp, msg))
        self._pending_refs = keep

    def _lockstep_input_missing(self, t: float) -> set:
        """Live streams whose sample for the tick stamped ``t`` has not arrived yet."""
        missing = set()
        wrench = self._wrench_stamp
        timeout = self._params.interaction_timeout
        if t - timeout <= wrench < t - STAMP_EPS:
            missing.add('interaction')  # live (a sample within interaction_timeout), not at t
        last, before = self._ref_stamps
        period = last - before
        if 0.0 < period <= self._params.reference_timeout:
            due = last + period
            if due < t - STAMP_EPS and t - last <= 2.0 * period + STAMP_EPS:
                missing.add('reference')
        return missing

    def _on_interaction(self, msg: WrenchStamped, now: float):
        # The header stamp times the rate-plausibility check (receipt times bunch up in
        # the executor); an unstamped publisher falls back to the receipt time.
        stamp = _stamp_seconds(msg.header.stamp)
        self._core.set_interaction(now, msg.wrench.torque.z, stamp if stamp != 0.0 else None)

    def _on_reference(self, msg: ImpedanceReference, now: float):
        try:
            i = msg.joint_names.index(self._params.joint_name)
        except ValueError:
            return
        q_d = msg.reference_angle[i] if i < len(msg.reference_angle) else math.nan
        k = msg.stiffness[i] if i < len(msg.stiffness) else math.nan
        qd_d = msg.reference_velocity[i] if i < len(msg.reference_velocity) else 0.0
        self._core.set_reference(now, q_d, qd_d, k)

    # ----------------------------------------------------------------- e-stop
    def _create_safety_inputs(self):
        """Subscriber-only helper node for the e-stop topic and /task_text (polled)."""
        self._inputs = PolledInputs(self, SAFETY_INPUT_SUFFIX)
        # Live (volatile) + latched readers: any publisher's stop reaches the controller,
        # also one latched before it started (exo_contract.inputs).
        self._input_subs = (
            (PolledInput(self._inputs, Bool, ESTOP_TOPIC, SAFETY_INPUT_DEPTH), self._on_estop),
            (PolledInput(self._inputs, String, GRAPH_TASK_TEXT_TOPIC, SAFETY_INPUT_DEPTH),
             self._on_task_text),
        )

    def _on_safety_inputs(self):
        """Take every pending e-stop and task-text message; check the e-stop heartbeat.

        Wall clock (time.monotonic), also under simulated time: the heartbeat watches a
        physical device. At most 2 * SAFETY_INPUT_DEPTH messages per topic and poll, so a
        flood cannot starve the control loop.
        """
        for reader, handler in self._input_subs:
            for msg, info in reader.take(2 * SAFETY_INPUT_DEPTH):
                handler(msg, info)
        if self._stop.check_heartbeat(time.monotonic()):
            self._report_stop_change(False, f'lost {ESTOP_TOPIC} heartbeat (no message for '
                                            f'> {self._stop.heartbeat_timeout} s)')

    def _on_estop(self, msg: Bool, info):
        source, stamp = _message_origin(info)
        before = self._stop.stopped
        command = self._stop.on_message(source, bool(msg.data), time.monotonic(), stamp)
        self._report_stop_change(
            before, f'{ESTOP_TOPIC} data: {str(bool(msg.data)).lower()} from '
            f'{self._estop_name(source)}', command)

    def _on_task_text(self, msg: String, info):
        word = stop_word(msg.data)
        if word is None:
            return  # instructions are policy_node's business; they never resume a stop
        _, stamp = _message_origin(info)
        text = msg.data[:MAX_LOGGED_TEXT] + ('...' if len(msg.data) > MAX_LOGGED_TEXT else '')
        before = self._stop.stopped
        self._stop.request_stop(StopLatch.TASK_TEXT, stamp, repr(text))
        self._report_stop_change(before, f'stop word {word!r} in {TASK_TEXT_TOPIC} {text!r}')

    def _on_estop_service(self, request, response):
        before = self._stop.stopped
        if request.data:
            self._stop.request_stop(StopLatch.SERVICE, time.time(), 'service')
            response.success = True
            response.message = ('stopped: zero assistance torque, compliant stiffness, until '
                                'resumed (this service with data: false)')
            self._report_stop_change(before, f'service {self._service_name()} data: true')
            return response
        ok, message = self._stop.resume(time.monotonic())
        if not ok:
            holders = [self._estop_name(s) for s, gone in self._stop.holders() if not gone]
            if holders:
                message += f' (held by {", ".join(holders)})'
            self.get_logger().warning(f'resume via {self._service_name()} {message}')
        else:
            self._report_stop_change(before, f'service {self._service_name()} data: false')
        response.success = ok
        response.message = message
        return response

    def _service_name(self) -> str:
        return self.resolve_service_name(ESTOP_SERVICE)

    def _estop_name(self, source: str) -> str:
        """Node name of an e-stop publisher id (from the graph), for logs."""
        if source not in self._estop_names:
            self._refresh_estop_publishers()
        return self._estop_names.get(source, f'publisher {source[:12]}')

    def _refresh_estop_publishers(self) -> set:
        live = set()
        for info in self.get_publishers_info_by_topic(self.resolve_topic_name(ESTOP_TOPIC)):
            gid = bytes(info.endpoint_gid).hex()
            live.add(gid)
            self._estop_names[gid] = endpoint_node_name(info)
        return live

    def _report_stop_change(self, before: bool, cause: str, resume_command: bool = False):
        after = self._stop.stopped
        log = self.get_logger()
        if after and not before:
            release = (f'a release on {ESTOP_TOPIC} (data: true, then false)'
                       if self._stop.heartbeat_timeout > 0.0 else f'{ESTOP_TOPIC} data: false')
            log.warning(f'E-STOP by {cause}: zero assistance torque, compliant stiffness, '
                        f'until an explicit resume ({release}, or {self._service_name()} '
                        'data: false); a new task text does not resume')
        elif before and not after:
            log.warning(f'resumed by {cause}: torque rises from zero, stiffness from compliant')
        elif after and resume_command:
            log.warning(f'{cause} did not end the stop: still held by '
                        f'{self._stop_reasons()}', throttle_duration_sec=1.0)

    def _stop_reasons(self) -> str:
        reasons = [f'{ESTOP_TOPIC} data: true from {self._estop_name(s)}'
                   + (' (publisher gone)' if gone else '') for s, gone in self._stop.holders()]
        for reason, detail in self._stop.latched().items():
            if reason == StopLatch.TASK_TEXT:
                reasons.append(f'stop word on {TASK_TEXT_TOPIC} ({detail})')
            elif reason == StopLatch.HEARTBEAT:
                reasons.append(f'lost {ESTOP_TOPIC} heartbeat '
                               f'(> {self._stop.heartbeat_timeout} s)')
            else:
                reasons.append(f'{reason} stop')
        return '; '.join(reasons) or 'nothing'

    # ------------------------------------------------------------ graph check
    def _on_graph_check(self):
        """One owner per input topic; e-stop publishers alive; publish /diagnostics."""
        core = self._core
        if core is None:
            return
        publishers = {sub.topic_name: topic_publishers(self, sub.topic_name,
                                                       sub.get_publisher_count())
                      for sub in self._sensor_subs}
        reference = self._reference_sub.topic_name
        conflicts = tuple(c for c in topic_owner_conflicts(publishers) if c.topic != reference)
        core.set_owner_conflict(bool(conflicts))
        owner = reference_owner_conflict(reference, publishers[reference],
                                         self._reference_owner)
        core.set_reference_conflict(owner is not None)
        if owner is not None:
            conflicts += (owner,)
        self._recheck_at = (time.monotonic() + UNDISCOVERED_RECHECK_S
                            if UNDISCOVERED_PUBLISHER in publishers[reference] else None)
        if conflicts != self._conflicts:
            if conflicts:
                self.get_logger().error(
                    'refusing input while a topic has more than one publisher: '
                    + '; '.join(c.describe() for c in conflicts)
                    + f' (a sensor: zero torque; {reference}: compliant, following the arm). '
                    f'Stop the extra node(s); {reference} is taken only from '
                    f'{self._reference_owner}; the controller resumes '
                    f'{self._params.fault_recovery_samples} valid samples after one remains.')
            else:
                self.get_logger().warning(
                    'one publisher per input topic again (the reference: its owner): resuming '
                    'after '
                    f'{self._params.fault_recovery_samples} valid samples')
        self._conflicts = conflicts
        self._stop.update_live(self._refresh_estop_publishers(), time.monotonic())
        self._publish_diagnostics(publishers)

    def _publish_diagnostics(self, publishers: dict):
        if self._diag_pub is None:
            return
        name = self.get_fully_qualified_name()
        hw = self._params.joint_name
        owners = DiagnosticStatus(
            level=DiagnosticStatus.ERROR if self._conflicts else DiagnosticStatus.OK,
            name=f'{name}: input topic owners', hardware_id=hw,
            message=('; '.join(c.describe() for c in self._conflicts)
                     + ' -> input refused (a sensor: zero torque; the reference: compliant)')
            if self._conflicts else 'at most one publisher per input topic',
            values=[KeyValue(key=topic, value=', '.join(sorted(nodes)))
                    for topic, nodes in sorted(publishers.items())])
        stopped = self._stop.stopped
        estop = DiagnosticStatus(
            level=DiagnosticStatus.ERROR if stopped else DiagnosticStatus.OK,
            name=f'{name}: e-stop', hardware_id=hw,
            message=f'STOPPED: {self._stop_reasons()}' if stopped else 'running',
            values=[KeyValue(key='estop_heartbeat_timeout',
                             value=str(self._stop.heartbeat_timeout))])
        loop = DiagnosticStatus(
            level=DiagnosticStatus.OK, name=f'{name}: control loop', hardware_id=hw,
            message=f'{self.ticks} ticks',
            values=[KeyValue(key='ticks', value=str(self.ticks)),
                    KeyValue(key='lockstep_input_timeouts',
                             value=str(self.lockstep_input_timeouts)),
                    KeyValue(key='scheduling', value=scheduling())])
        msg = DiagnosticArray(status=[owners, estop, loop])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)

    def _on_watchdog(self):
        core = self._core
        if core is None:
            return
        out = core.check_timeouts(self._now())
        if out is not None:
            self._publish(out, self._last_js_stamp)

    def _publish(self, out: ControlOutput, js_stamp):
        if self._core.active:
            self._cmd_msg.data[0] = out.torque
            self._cmd_pub.publish(self._cmd_msg)
        m = self._state_msg
        m.header.stamp = self.get_clock().now().to_msg()
        m.joint_state_stamp = js_stamp
        m.tick_period = out.tick_period
        m.position[0] = out.q
        m.velocity[0] = out.qd
        m.reference_angle[0] = out.q_ref
        m.error[0] = out.e
        m.error_rate[0] = out.ed
        m.stiffness_raw[0] = out.k_raw
        m.stiffness_bounded[0] = out.k_bounded
        m.damping[0] = out.damping
        m.inertia[0] = out.inertia
        m.commanded_torque[0] = out.torque
        m.interaction_torque[0] = out.tau_ext
        m.lyapunov_value = out.lyapunov_value
        m.lyapunov_stiffness_term = out.lyapunov_stiffness_term
        m.safety_flags = out.flags
        self._state_pub.publish(m)


def _message_origin(info) -> tuple:
    """``(publisher id, source stamp in s or None)`` from rclpy's MessageInfo."""
    source, stamp = 'unknown', None
    if isinstance(info, dict):
        gid = info.get('publisher_gid')
        if isinstance(gid, dict) and gid.get('data') is not None:
            source = bytes(gid['data']).hex()
        ns = info.get('source_timestamp')
        if isinstance(ns, int) and ns > 0:
            stamp = ns * 1e-9
    return source, stamp


def _autostart(node: ControllerNode) -> None:
    if node.get_parameter('autostart').value:
        if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
        else:
            node.get_logger().error('autostart: configure failed; staying unconfigured')


def main(args=None):
    """Run the node; with autostart it configures and activates itself.

    On SIGINT/SIGTERM the spin loop ends, a last zero torque is published while the
    context is still up, then the node is destroyed (:func:`runtime.run_node`).
    """
    run_node(ControllerNode, args, on_start=_autostart,
             on_stop=ControllerNode.publish_zero_torque, realtime_priority=CONTROL_PRIORITY)

if __name__ == '__main__':
    main()
