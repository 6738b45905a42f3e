"""policy_node: task text + exo proprioception -> reference angle and stiffness.

Subscribes to /task_text (latched) and /joint_states, publishes
exo_interfaces/ImpedanceReference on /exo/impedance_reference at ``rate_hz``. The
reference generator is selected by the ``mode`` parameter; the controller's stiffness
bound applies to everything published here. Thin ROS glue: all logic is in
:mod:`exo_policy.oracle`.
"""

from __future__ import annotations

import math
import time

from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import String

from exo_contract.language import TaskResolver
from exo_contract.qos import (
    COMMAND_QOS,
    IMPEDANCE_REFERENCE_TOPIC,
    JOINT_STATES_TOPIC,
    SENSOR_SUB_QOS,
    TASK_TEXT_QOS,
    TASK_TEXT_TOPIC,
)
from exo_contract.runtime import run_node
from exo_interfaces.msg import ImpedanceReference
from exo_policy.params import PolicyNodeParams
from exo_policy.sources import make_source

MAX_LOGGED_TEXT = 200


class PolicyNode(Node):
    """Publishes the impedance reference for the task named on /task_text."""

    def __init__(self, **kwargs) -> None:
        super().__init__('policy_node', **kwargs)
        for name, default in PolicyNodeParams.defaults().items():
            self.declare_parameter(name, default)
        values = {name: self.get_parameter(name).value for name in PolicyNodeParams.defaults()}
        try:
            self.params = p = PolicyNodeParams(**values)
            # One resolver, built once (the sentence encoder takes seconds to load).
            self._resolver = TaskResolver(p.language_encoder)
            self._source = make_source(
                p.mode, resolver=self._resolver, compliant_stiffness=p.compliant_stiffness,
                checkpoint=p.checkpoint, promp_model=p.promp_model,
                stiffness_table=p.stiffness_table)
        except (ValueError, OSError) as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise
        self._angle = math.nan
        self._velocity = 0.0
        self._angle_time = -math.inf
        self._msg = ImpedanceReference()
        self._msg.joint_names = [self.params.joint_name]
        self._pub = self.create_publisher(
            ImpedanceReference, IMPEDANCE_REFERENCE_TOPIC, COMMAND_QOS)
        self.create_subscription(String, TASK_TEXT_TOPIC, self._on_text, TASK_TEXT_QOS)
        self.create_subscription(
            JointState, JOINT_STATES_TOPIC, self._on_joint_state, SENSOR_SUB_QOS)
        self.create_timer(1.0 / self.params.rate_hz, self._on_timer)
        self.get_logger().info(
            f'policy_node ready: mode={self.params.mode} rate={self.params.rate_hz} Hz, '
            f'task resolver {self._resolver.method!r}')

    def _on_text(self, msg: String) -> None:
        text = msg.data
        shown = text[:MAX_LOGGED_TEXT] + ('...' if len(text) > MAX_LOGGED_TEXT else '')
        task = self._source.set_task_text(text, time.monotonic())
        if task is None:
            self.get_logger().warning(
                f'task text {shown!r} names no known task: publishing a compliant reference '
                f'(stiffness {self.params.compliant_stiffness} N*m/rad, no assistance)')
        else:
            self.get_logger().info(f'task text {shown!r} -> task {task.task_id!r}')
        # The text is encoded once here; reference() runs at rate_hz on the history.

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            index = msg.name.index(self.params.joint_name)
            angle = float(msg.position[index])
            velocity = float(msg.velocity[index]) if index < len(msg.velocity) else 0.0
        except (ValueError, IndexError):
            return
        if math.isfinite(angle) and math.isfinite(velocity):
            self._angle = angle
            self._velocity = velocity
            self._angle_time = time.monotonic()

    def _on_timer(self) -> None:
        now = time.monotonic()
        measured = self._angle if now - self._angle_time <= self.params.joint_state_timeout \
            else math.nan
        target = self._source.reference(now, measured, self._velocity)
        if not (math.isfinite(target.reference_angle) and math.isfinite(target.stiffness)):
            return  # nothing trustworthy to publish; the controller's watchdog takes over
        msg = self._msg
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.reference_angle = [target.reference_angle]
        msg.reference_velocity = [target.reference_velocity]
        msg.stiffness = [target.stiffness]
        msg.task_id = target.task_id
        msg.confidence = float(target.confidence)
        msg.source = target.source
        self._pub.publish(msg)


def main(args=None) -> None:
    """Run PolicyNode until shutdown."""
    run_node(PolicyNode, args)

if __name__ == '__main__':
    main()
