"""Topic names and QoS profiles of the exo-vic graph, named once for every node.

DESIGN.md, "Quality of service": the task text is latched (a late joiner gets the last
instruction), sensor subscriptions are best effort so that they accept both sim_node and
ros2_control publishers, commands are reliable with depth 1.
"""

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

from exo_impedance_controller.topics import (  # noqa: F401 (re-exported)
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    HUMAN_STATE_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    METABOLIC_POWER_TOPIC,
    TASK_TEXT_TOPIC,
)

# /task_text: reliable, latched, depth 1.
TASK_TEXT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# Subscriptions to /joint_states and /interaction_torque: best effort, depth 1.
SENSOR_SUB_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)

# Publishers of /joint_states and /interaction_torque (sim_node): reliable publishers
# match both reliable and best-effort subscribers (recorders use either).
SENSOR_PUB_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

# Effort commands and the impedance reference: reliable, depth 1.
COMMAND_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

# Diagnostic streams (controller state, human state, metabolic power): reliable with a
# short queue so that a recorder sees every tick.
STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
