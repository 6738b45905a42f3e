"""sim_node: the MyoSim arm wearing the exoskeleton, in real time or in lockstep.

Serves the ros2_control topic contract of the real exoskeleton so the controller cannot
tell them apart: publishes /joint_states (sensor_msgs/JointState) and /interaction_torque
(geometry_msgs/WrenchStamped, torque.z) every physics step, and applies the effort in
/exo_effort_controller/commands. The simulated human starts the task named on /task_text;
text it cannot map leaves the human at rest with a logged warning. Ground truth goes to
/exo/human_state and /exo/metabolic_power; timing and command health to /diagnostics.
All physics lives in :class:`exo_sim.session.SimSession`.

The hardware side of the contract, as an actuator driver should hold it:

* the command is a std_msgs/Float64MultiArray, as ros2_control's
  forward_command_controller takes it: it carries no stamp, so its age is its receipt
  time. It must hold exactly one finite number (N*m); anything else is invalid and gives
  0 N*m (counted on /diagnostics);
* every command is clamped to +-``torque_limit`` (counted), and a command older than
  ``command_timeout`` gives 0 N*m;
* while more than one node publishes on the command topic, nothing it receives is applied
  (0 N*m): sim_node logs the nodes and names them on /diagnostics, and accepts commands
  again (the first one received afterwards) once one publisher remains. Every command
  first checks the subscription's DDS-matched publisher count, which counts a new writer
  before its first sample arrives (the ROS graph that names it may lag by milliseconds).

Clock modes (``clock_mode``):

* ``realtime``: one timer tick per physics step on the wall clock, catching up if late
  (``make bench``; what a real device does).
* ``lockstep``: sim_node publishes /clock (rosgraph_msgs/Clock) and stamps everything with
  the simulated time; the other nodes run with ``use_sim_time``. After publishing the
  state of step k it steps again only when a command has arrived since (the controller
  answers every joint state with one command) and, once the simulated time has reached
  the time of policy_node's next reference (the next multiple of 1 /
  ``lockstep_reference_rate_hz``: rclpy timers made before the first /clock tick on that
  grid), that reference has arrived too. A new /task_text starts the simulated human at
  the instant policy_node took it (the reference's ``task_start``: the next policy tick
  after the text reached it), so the human and the policy start the task at the same
  simulated time however the messages were delayed; while no policy references come, or
  when none takes it within ``lockstep_timeout`` wall seconds (counted as
  ``text_start_timeouts``), the text starts at the next step. No wait lasts longer than
  ``lockstep_timeout``: a loaded machine runs slower, not differently, and a dead node
  only slows the simulation. A step taken on the timeout applies the usual rule with the
  age in simulated time: the last
  valid command while it is younger than ``command_timeout``, else 0 N*m (the hardware
  contract of the real-time mode; a controller that stops answering gives 0 N*m after
  ``command_timeout`` of simulated time).
"""

from __future__ import annotations

import math
import time

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import WrenchStamped
import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from exo_contract.graph import topic_publishers
from exo_contract.inputs import subscribe_input
from exo_contract.qos import (
    COMMAND_QOS,
    EFFORT_COMMAND_TOPIC,
    GRAPH_TASK_TEXT_TOPIC,
    HUMAN_STATE_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    METABOLIC_POWER_TOPIC,
    SENSOR_PUB_QOS,
    STATE_QOS,
)
from exo_contract.ros_parameters import declare_or_raise
from exo_contract.runtime import HARDWARE_PRIORITY, run_node, scheduling
from exo_interfaces.msg import HumanState, ImpedanceReference, MetabolicPower
from exo_language.resolver import TaskResolver
from exo_sim.human import load_memory
from exo_sim.model import ExoArmConfig, MUSCLES
from exo_sim.params import NO_MEMORY, SimNodeParams
from exo_sim.session import SimSample, SimSession

MAX_LOGGED_TEXT = 200
DIAGNOSTICS_PERIOD_S = 1.0
#: Wall seconds between full look-ups of the command topic's publishers (a change in their
#: number is also noticed on every command received).
PUBLISHER_CHECK_PERIOD_S = 0.1
CLOCK_TOPIC = '/clock'
#: Entropy of the per-instruction noise seeds (_start_task).
TASK_NOISE_ENTROPY = 20261201
DIAGNOSTICS_TOPIC = '/diagnostics'
#: /clock: reliable, depth 1 (rclpy's time source subscribes best effort, depth 1).
CLOCK_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                       reliability=ReliabilityPolicy.RELIABLE)
#: Wall seconds between repetitions of the current /clock while a lockstep step waits: a
#: best-effort reader that lost the last one still reaches the time it is awaited at.
CLOCK_REPEAT_PERIOD_S = 0.02
DIAGNOSTICS_QOS = 10


def command_value(data) -> float | None:
    """The command of a Float64MultiArray's ``data``: its one finite number, else None."""
    if len(data) != 1:
        return None
    value = float(data[0])
    return value if math.isfinite(value) else None


class SimNode(Node):
    """Simulation node: the ros2_control contract of the exo, in real time or in lockstep."""

    def __init__(self, **kwargs) -> None:
        super().__init__('sim_node', **kwargs)
        values = declare_or_raise(self, SimNodeParams)
        try:
            self.params = p = SimNodeParams(**values)
            config = ExoArmConfig(body_mass_kg=float(p.body_mass_kg),
                                  cuff_stiffness=float(p.cuff_stiffness),
                                  cuff_damping=float(p.cuff_damping), timestep=1.0 / p.rate_hz)
            if p.torque_limit > config.exo_torque_limit:
                raise ValueError(
                    f'torque_limit must not exceed the motor clip of the model '
                    f'({config.exo_torque_limit} N*m), got {p.torque_limit!r}')
        except ValueError as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise
        # The human understands the same texts as the policy: one resolver for both.
        resolver = TaskResolver(p.language_encoder)
        self.get_logger().info(f'task resolver: {resolver.method}')
        try:
            memory = None if p.human_memory == NO_MEMORY else load_memory(p.human_memory)
        except ValueError as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise
        if memory is not None:
            self.get_logger().info(
                f'the human has practised with the exo: internal models for '
                f'{sorted(k for k in memory if k)} from {p.human_memory!r}')
        self.session = SimSession(config, rest_angle=float(p.rest_angle), resolver=resolver,
                                  memory=memory)
        self.lockstep = p.clock_mode == 'lockstep'
        self._dt = 1.0 / p.rate_hz
        self._pending_text: str | None = None
        self._texts_started = 0
        self._steps = 0
        self._start = time.monotonic()
        self._human_every = max(int(round(p.rate_hz / p.human_state_rate_hz)), 1)
        self._metabolic_every = max(int(round(p.rate_hz / p.metabolic_rate_hz)), 1)
        self._ticks = 0
        self._overruns = 0
        self._dropped_steps = 0
        self._diag_wall = self._start
        self._diag_sim = 0.0

        # Effort command: value and receipt time (wall s in realtime, simulated s in lockstep).
        self._command = 0.0
        self._command_time = -math.inf
        self.commands_received = 0
        self.invalid_commands = 0
        self.clamped_commands = 0
        self.refused_commands = 0
        self._reported = (0, 0, 0)
        # Publishers of the command topic; more than one: every command is refused.
        self._publisher_count = 0
        self.command_publishers: list[str] = []
        self.refusing = False
        # Lockstep: commands counted when the last state went out, steps taken on timeout.
        self._answered_at = 0
        self.lockstep_timeouts = 0
        # Lockstep: the next policy reference's time (s, None: not waiting for one), the
        # latest reference's stamp, references waited for in vain, the text hold (wall s).
        rate = p.lockstep_reference_rate_hz
        self._reference_period = 1.0 / rate if self.lockstep and rate > 0 else 0.0
        self._reference_due: float | None = None
        self._reference_stamp = -math.inf
        self.reference_timeouts = 0
        # Lockstep: wall time the pending text arrived, the latest task_start seen (s),
        # policy task starts whose text has not reached sim_node yet, whether the pending
        # text starts at the next step, texts started without the policy's task_start.
        self._text_wall = 0.0
        self._task_start = 0.0
        self._unmatched_starts = 0
        self._text_go = False
        self.text_start_timeouts = 0

        self._joint_msg = JointState()
        self._joint_msg.name = [p.joint_name]
        self._wrench_msg = WrenchStamped()
        self._wrench_msg.header.frame_id = 'exo_cuff'
        self._human_msg = HumanState()
        self._human_msg.muscle_names = list(MUSCLES)
        self._metabolic_msg = MetabolicPower()
        self._metabolic_msg.source = 'sim_muscle_model'
        self._metabolic_msg.body_mass = float(p.body_mass_kg)
        self._metabolic_msg.vo2 = math.nan
        self._metabolic_msg.vco2 = math.nan
        self._clock_msg = ClockMsg()

        self._joint_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
        self._wrench_pub = self.create_publisher(
            WrenchStamped, INTERACTION_TORQUE_TOPIC, SENSOR_PUB_QOS)
        self._human_pub = self.create_publisher(HumanState, HUMAN_STATE_TOPIC, STATE_QOS)
        self._metabolic_pub = self.create_publisher(
            MetabolicPower, METABOLIC_POWER_TOPIC, STATE_QOS)
        self._diag_pub = self.create_publisher(
            DiagnosticArray, DIAGNOSTICS_TOPIC, DIAGNOSTICS_QOS)
        self._clock_pub = (self.create_publisher(ClockMsg, CLOCK_TOPIC, CLOCK_QOS)
                           if self.lockstep else None)
        # /task_text through task_text_relay's latched copy (exo_contract.task_text_relay).
        subscribe_input(self, String, GRAPH_TASK_TEXT_TOPIC, self._on_text)
        self._command_sub = self.create_subscription(
            Float64MultiArray, EFFORT_COMMAND_TOPIC, self._on_command, COMMAND_QOS)
        if self._reference_period:
            self.create_subscription(ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC,
                                     self._on_reference, COMMAND_QOS)
        # Every timer of sim_node runs on the steady clock: sim_node makes the simulated time,
        # it never waits on it (even if use_sim_time is set on it by mistake).
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._publish_diagnostics, clock=steady)
        self.create_timer(PUBLISHER_CHECK_PERIOD_S, self._check_command_publishers,
                          clock=steady)
        if self.lockstep:
            # Fires only when a step waited lockstep_timeout (reset at every step and at a
            # new text); its first expiry takes the first step.
            self._lockstep_timer = self.create_timer(
                p.lockstep_timeout, self._on_lockstep_timer, clock=steady)
            self._steps_at_repeat = -1
            self.create_timer(CLOCK_REPEAT_PERIOD_S, self._repeat_clock, clock=steady)
        else:
            # Each timer tick steps the physics by as many steps as real time requires.
            self.create_timer(self._dt, self._on_tick, clock=steady)
        self.get_logger().info(
            f'sim_node ready: body mass {p.body_mass_kg} kg, {p.rate_hz} Hz, '
            f'clock_mode {p.clock_mode!r}, torque limit {p.torque_limit} N*m')

    # ------------------------------------------------------------------ inputs
    def _on_text(self, msg: String) -> None:
        # Applied at a later step so the physics thread of control stays single.
        self._pending_text = msg.data
        self._text_wall = time.monotonic()
        # Lockstep: at the policy's task_start (module docstring), or at once when no
        # policy references are coming (none yet, or they stopped) or the policy already
        # took this text.
        self._text_go = self._reference_due is None or self._unmatched_starts > 0
        self._unmatched_starts = max(self._unmatched_starts - 1, 0)

    def _on_reference(self, msg: ImpedanceReference) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        task_start = msg.task_start.sec + msg.task_start.nanosec * 1e-9
        if task_start > self._task_start:
            # policy_node took a new text at task_start: the human starts at the next step
            # (this reference arrives before the step from task_start, see the docstring).
            self._task_start = task_start
            if self._pending_text is None:
                self._unmatched_starts += 1  # its text has not reached sim_node yet
            else:
                self._text_go = True
        if stamp > self._reference_stamp:
            self._reference_stamp = stamp
            # The next tick of the policy's timer: the next multiple of its period (a late
            # stamp, from a tick that saw the clock late, keeps the grid).
            period = self._reference_period
            self._reference_due = (math.floor(stamp / period + 1e-6) + 1) * period
        self._lockstep_maybe_step()

    def _command_clock(self) -> float:
        """Clock of command ages: wall (realtime) or simulated time of the last state."""
        return self._steps * self._dt if self.lockstep else time.monotonic()

    def _on_command(self, msg: Float64MultiArray) -> None:
        self.commands_received += 1
        # DDS matching (0.6 us): a reader matches a writer before it receives its first
        # sample, so an outside publisher's first command already finds two publishers.
        if self._command_sub.get_publisher_count() != self._publisher_count:
            self._check_command_publishers()
        value = command_value(msg.data)
        if value is None:
            self.invalid_commands += 1
            self.get_logger().warning(
                f'invalid effort command {list(msg.data)[:4]!r} ({len(msg.data)} values; '
                'exactly one finite number expected): applying 0 N*m',
                throttle_duration_sec=1.0)
            value = 0.0
        limit = self.params.torque_limit
        if self.refusing:
            # Never applied (applied_command gives 0 while refusing): counted as refused,
            # not as clamped.
            self.refused_commands += 1
        elif abs(value) > limit:
            self.clamped_commands += 1
            self.get_logger().warning(
                f'effort command {value!r} N*m beyond the torque limit: clamped to '
                f'+-{limit} N*m', throttle_duration_sec=1.0)
        value = max(-limit, min(limit, value))
        self._command = value
        self._command_time = self._command_clock()
        if self.lockstep:
            self._lockstep_maybe_step()

    def applied_command(self, now: float) -> float:
        """Torque to apply now (N*m): 0 while refusing or once the command is too old.

        ``now`` is on the clock of :meth:`_command_clock`; 1 ns of slack absorbs the
        rounding of simulated times (k * h).
        """
        if self.refusing or now - self._command_time > self.params.command_timeout + 1e-9:
            return 0.0
        return self._command

    def _check_command_publishers(self) -> None:
        """Look up the command topic's publishers; refuse commands while there are several."""
        matched = self._command_sub.get_publisher_count()
        names = sorted(topic_publishers(self, EFFORT_COMMAND_TOPIC, matched))
        self._publisher_count = matched
        if len(names) > 1:
            if not self.refusing or names != self.command_publishers:
                self.refusing = True
                self.command_publishers = names
                self.get_logger().error(
                    f'{len(names)} publishers on {EFFORT_COMMAND_TOPIC}: {", ".join(names)}; '
                    'refusing every command (0 N*m) until one remains')
                self._publish_diagnostics()
            return
        self.command_publishers = names
        if self.refusing:
            self.refusing = False
            # What arrived meanwhile may be the other node's: wait for a new command.
            self._command = 0.0
            self._command_time = -math.inf
            self.get_logger().warning(
                f'{len(names)} publisher on {EFFORT_COMMAND_TOPIC} '
                f'({", ".join(names) or "none"}): accepting commands again')
            self._publish_diagnostics()

    # ------------------------------------------------------------------ steps
    def _on_tick(self) -> None:
        now = time.monotonic()
        due = int((now - self._start) / self._dt) - self._steps
        if due <= 0:
            return
        if due > self.params.max_catchup_steps:
            # Too far behind real time: skip the backlog instead of a burst of steps.
            self._dropped_steps += due - self.params.max_catchup_steps
            self._steps += due - self.params.max_catchup_steps
            due = self.params.max_catchup_steps
        if due > 1:
            self._overruns += 1
        self._take_pending_text()
        sample = self.session.tick(self.applied_command(now), due)
        self._steps += due
        self._ticks += 1
        self._publish_state(sample, self.get_clock().now().to_msg())

    def _waiting_for_reference(self) -> bool:
        """Whether the simulated time reached the next reference's, which has not arrived."""
        due = self._reference_due
        return due is not None and self._steps * self._dt >= due - 1e-9 \
            and self._reference_stamp < due - 1e-9

    def _lockstep_maybe_step(self) -> None:
        """Step once the controller has answered and the reference due (if any) is here."""
        if self.commands_received > self._answered_at and not self._waiting_for_reference():
            self._lockstep_step()

    def _repeat_clock(self) -> None:
        """Publish the current /clock again when no step was taken since the last call."""
        if self._steps and self._steps == self._steps_at_repeat:
            self._clock_pub.publish(self._clock_msg)
        self._steps_at_repeat = self._steps

    def _on_lockstep_timer(self) -> None:
        # Waited lockstep_timeout in vain: step anyway (safe command rule, module docstring).
        if self.commands_received <= self._answered_at:
            self.lockstep_timeouts += 1
        if self._waiting_for_reference():
            self.reference_timeouts += 1
            self._reference_due = None  # wait again once policy_node publishes again
        self._lockstep_step()

    def _lockstep_step(self) -> None:
        """One physics step in lockstep, then /clock and the state of the new step."""
        if self._pending_text is not None and not self._text_go \
                and time.monotonic() - self._text_wall > self.params.lockstep_timeout:
            self.text_start_timeouts += 1
            self.get_logger().warning(
                f'lockstep: no policy reference took the task text within '
                f'{self.params.lockstep_timeout} s; the simulated human starts it now')
            self._text_go = True
        if self._text_go:
            self._take_pending_text()
        sample = self.session.tick(self.applied_command(self._steps * self._dt), 1)
        self._steps += 1
        self._ticks += 1
        ns = int(round(self._steps * 1e9 / self.params.rate_hz))
        stamp = Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
        self._clock_msg.clock = stamp
        self._clock_pub.publish(self._clock_msg)
        self._answered_at = self.commands_received
        self._publish_state(sample, stamp)
        self._lockstep_timer.reset()

    def _take_pending_text(self) -> None:
        self._text_go = False
        if self._pending_text is not None:
            self._start_task(self._pending_text)
            self._pending_text = None

    def _publish_state(self, sample: SimSample, stamp: Time) -> None:
        wrench = self._wrench_msg
        wrench.header.stamp = stamp
        wrench.wrench.torque.z = sample.interaction_torque
        self._wrench_pub.publish(wrench)
        joint = self._joint_msg
        joint.header.stamp = stamp
        joint.position = [sample.exo_angle]
        joint.velocity = [sample.exo_velocity]
        joint.effort = [sample.exo_torque]
        self._joint_pub.publish(joint)

        human_due = self._ticks % self._human_every == 0
        metabolic_due = self._ticks % self._metabolic_every == 0
        if not (human_due or metabolic_due):
            return
        power = self.session.metabolic_power()  # once per tick, for both messages
        if human_due:
            self._publish_human(stamp, sample, power)
        if metabolic_due:
            m = self._metabolic_msg
            m.header.stamp = stamp
            m.power = power
            m.power_per_kg = power / self.params.body_mass_kg
            self._metabolic_pub.publish(m)

    def _start_task(self, text: str) -> None:
        shown = text[:MAX_LOGGED_TEXT] + ('...' if len(text) > MAX_LOGGED_TEXT else '')
        # The n-th instruction's motor noise: the same in every run of the same sequence of
        # instructions, whatever the (wall-timed) rest between them lasted.
        self._texts_started += 1
        seed = int(np.random.SeedSequence((TASK_NOISE_ENTROPY, self._texts_started))
                   .generate_state(1)[0])
        task = self.session.start_task_text(text, noise_seed=seed)
        if task is None:
            self.get_logger().warning(
                f'task text {shown!r} names no known task: the human stays at rest')
        else:
            self.get_logger().info(
                f'human starts task {task.task_id!r} (payload {task.payload_per_arm_kg} kg)')

    def _publish_human(self, stamp: Time, sample: SimSample, power: float) -> None:
        arm = self.session.arm
        m = self._human_msg
        m.header.stamp = stamp
        m.task_id = sample.task_id
        m.task_phase = sample.task_phase
        m.elbow_angle = sample.human_angle
        m.elbow_velocity = sample.human_velocity
        m.reference_angle = sample.reference_angle
        m.biological_torque = arm.biological_torque()
        m.muscle_activations = arm.muscle_activations().tolist()
        m.metabolic_power = power
        self._human_pub.publish(m)

    # ------------------------------------------------------------------ diagnostics
    def _physics_status(self) -> DiagnosticStatus:
        now = time.monotonic()
        sim_time = self._steps * self._dt
        rtf = (sim_time - self._diag_sim) / max(now - self._diag_wall, 1e-9)
        self._diag_wall, self._diag_sim = now, sim_time
        status = DiagnosticStatus(name='exo_sim: physics', hardware_id='sim_node')
        # In lockstep a slow machine only slows the simulation down.
        status.level = DiagnosticStatus.OK if rtf > 0.9 or self.lockstep \
            else DiagnosticStatus.WARN
        status.message = f'{self.params.clock_mode}, real-time factor {rtf:.3f}'
        status.values = [
            KeyValue(key='clock_mode', value=self.params.clock_mode),
            KeyValue(key='real_time_factor', value=f'{rtf:.4f}'),
            KeyValue(key='sim_time_s', value=f'{sim_time:.3f}'),
            KeyValue(key='ticks', value=str(self._ticks)),
            KeyValue(key='late_ticks', value=str(self._overruns)),
            KeyValue(key='dropped_steps', value=str(self._dropped_steps)),
            KeyValue(key='lockstep_timeouts', value=str(self.lockstep_timeouts)),
            KeyValue(key='reference_timeouts', value=str(self.reference_timeouts)),
            KeyValue(key='text_start_timeouts', value=str(self.text_start_timeouts)),
            KeyValue(key='scheduling', value=scheduling()),
        ]
        return status

    def _command_status(self) -> DiagnosticStatus:
        status = DiagnosticStatus(name='exo_sim: effort command', hardware_id='sim_node')
        counts = (self.invalid_commands, self.clamped_commands, self.refused_commands)
        names = ', '.join(self.command_publishers)
        if self.refusing:
            status.level = DiagnosticStatus.ERROR
            status.message = (f'{len(self.command_publishers)} publishers on '
                              f'{EFFORT_COMMAND_TOPIC} ({names}): applying 0 N*m')
        elif counts != self._reported:
            status.level = DiagnosticStatus.WARN
            status.message = 'invalid, clamped or refused commands since the last report'
        else:
            status.level = DiagnosticStatus.OK
            status.message = f'publisher: {names or "none"}'
        self._reported = counts
        status.values = [
            KeyValue(key='publishers', value=names),
            KeyValue(key='publisher_count', value=str(len(self.command_publishers))),
            KeyValue(key='refusing', value=str(self.refusing).lower()),
            KeyValue(key='commands_received', value=str(self.commands_received)),
            KeyValue(key='invalid_commands', value=str(self.invalid_commands)),
            KeyValue(key='clamped_commands', value=str(self.clamped_commands)),
            KeyValue(key='refused_commands', value=str(self.refused_commands)),
            KeyValue(key='torque_limit', value=str(self.params.torque_limit)),
            KeyValue(key='command_timeout', value=str(self.params.command_timeout)),
        ]
        return status

    def _publish_diagnostics(self) -> None:
        msg = DiagnosticArray(status=[self._physics_status(), self._command_status()])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)


def main(args=None) -> None:
    """Run SimNode until shutdown."""
    run_node(SimNode, args, realtime_priority=HARDWARE_PRIORITY)

if __name__ == '__main__':
    main()
