"""sim_node: the MyoSim arm wearing the exoskeleton, stepped in real time.

Serves the ros2_control topic contract of the real exoskeleton so the controller cannot
tell them apart: publishes /joint_states (sensor_msgs/JointState) and /interaction_torque
(geometry_msgs/WrenchStamped, torque.z) every physics step at ``rate_hz``, and applies the
effort in /exo_effort_controller/commands (std_msgs/Float64MultiArray; stale or invalid
commands give 0 N*m). The simulated human starts the task named on /task_text; text it
cannot map leaves the human at rest with a logged warning. Ground truth goes to
/exo/human_state and /exo/metabolic_power; timing health to /diagnostics.
All physics lives in :class:`exo_sim.session.SimSession`.
"""

from __future__ import annotations

import math
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import WrenchStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from exo_contract.language import TaskResolver
from exo_contract.qos import (
    COMMAND_QOS,
    EFFORT_COMMAND_TOPIC,
    HUMAN_STATE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    METABOLIC_POWER_TOPIC,
    SENSOR_PUB_QOS,
    STATE_QOS,
    TASK_TEXT_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.runtime import run_node
from exo_interfaces.msg import HumanState, MetabolicPower
from exo_sim.model import ExoArmConfig, MUSCLES
from exo_sim.params import SimNodeParams
from exo_sim.session import SimSession

MAX_LOGGED_TEXT = 200
DIAGNOSTICS_PERIOD_S = 1.0


class SimNode(Node):
    """Real-time simulation node (one physics step per 1 kHz tick, catching up if late)."""

    def __init__(self, **kwargs) -> None:
        super().__init__('sim_node', **kwargs)
        for name, default in SimNodeParams.defaults().items():
            self.declare_parameter(name, default)
        values = {name: self.get_parameter(name).value for name in SimNodeParams.defaults()}
        try:
            self.params = p = SimNodeParams(**values)
        except ValueError as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise
        config = ExoArmConfig(body_mass_kg=float(p.body_mass_kg),
                              cuff_stiffness=float(p.cuff_stiffness),
                              cuff_damping=float(p.cuff_damping), timestep=1.0 / p.rate_hz)
        # The human understands the same texts as the policy: one resolver for both.
        resolver = TaskResolver(p.language_encoder)
        self.get_logger().info(f'task resolver: {resolver.method}')
        self.session = SimSession(config, rest_angle=float(p.rest_angle), resolver=resolver)
        self._dt = 1.0 / p.rate_hz
        self._command = 0.0
        self._command_time = -math.inf
        self._pending_text: str | None = None
        self._steps = 0
        self._start = time.monotonic()
        self._human_every = max(int(round(p.rate_hz / p.human_state_rate_hz)), 1)
        self._metabolic_every = max(int(round(p.rate_hz / p.metabolic_rate_hz)), 1)
        self._ticks = 0
        self._overruns = 0
        self._dropped_steps = 0
        self._diag_wall = self._start
        self._diag_sim = 0.0

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

        self._joint_pub = self.create_publisher(JointState, JOINT_STATES_TOPIC, SENSOR_PUB_QOS)
        self._wrench_pub = self.create_publisher(
            WrenchStamped, INTERACTION_TORQUE_TOPIC, SENSOR_PUB_QOS)
        self._human_pub = self.create_publisher(HumanState, HUMAN_STATE_TOPIC, STATE_QOS)
        self._metabolic_pub = self.create_publisher(
            MetabolicPower, METABOLIC_POWER_TOPIC, STATE_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(String, TASK_TEXT_TOPIC, self._on_text, TASK_TEXT_QOS)
        self.create_subscription(
            Float64MultiArray, EFFORT_COMMAND_TOPIC, self._on_command, COMMAND_QOS)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._on_diagnostics)
        # Each timer tick steps the physics by as many steps as real time requires.
        self.create_timer(self._dt, self._on_tick)
        self.get_logger().info(
            f'sim_node ready: body mass {p.body_mass_kg} kg, {p.rate_hz} Hz real time')

    # ------------------------------------------------------------------ inputs
    def _on_text(self, msg: String) -> None:
        # Applied at the next tick so the physics thread of control stays single.
        self._pending_text = msg.data

    def _on_command(self, msg: Float64MultiArray) -> None:
        data = msg.data
        if len(data) < 1 or not math.isfinite(data[0]):
            self.get_logger().warning(
                f'ignoring invalid effort command {list(data)[:4]!r}', throttle_duration_sec=1.0)
            return
        self._command = float(data[0])
        self._command_time = time.monotonic()

    # ------------------------------------------------------------------ tick
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
        if self._pending_text is not None:
            self._start_task(self._pending_text)
            self._pending_text = None
        command = self._command if now - self._command_time <= self.params.command_timeout \
            else 0.0
        sample = self.session.tick(command, due)
        self._steps += due
        self._ticks += 1

        stamp = self.get_clock().now().to_msg()
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
        task = self.session.start_task_text(text)
        if task is None:
            self.get_logger().warning(
                f'task text {shown!r} names no known task: the human stays at rest')
        else:
            self.get_logger().info(
                f'human starts task {task.task_id!r} (payload {task.payload_per_arm_kg} kg)')

    def _publish_human(self, stamp, sample, power: float) -> None:
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

    def _on_diagnostics(self) -> None:
        now = time.monotonic()
        sim_time = self._steps * self._dt
        rtf = (sim_time - self._diag_sim) / max(now - self._diag_wall, 1e-9)
        self._diag_wall, self._diag_sim = now, sim_time
        status = DiagnosticStatus(name='exo_sim: physics', hardware_id='sim_node')
        status.level = DiagnosticStatus.OK if rtf > 0.9 else DiagnosticStatus.WARN
        status.message = f'real-time factor {rtf:.3f}'
        status.values = [
            KeyValue(key='real_time_factor', value=f'{rtf:.4f}'),
            KeyValue(key='sim_time_s', value=f'{sim_time:.3f}'),
            KeyValue(key='ticks', value=str(self._ticks)),
            KeyValue(key='late_ticks', value=str(self._overruns)),
            KeyValue(key='dropped_steps', value=str(self._dropped_steps)),
        ]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)


def main(args=None) -> None:
    """Run SimNode until shutdown."""
    run_node(SimNode, args)

if __name__ == '__main__':
    main()
