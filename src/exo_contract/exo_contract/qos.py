"""Topic names and QoS profiles of the exo-vic graph, named once for every node.

docs/design.md, "Quality of service": the suite's own task-text publishers are latched (a
late joiner gets the last instruction) and every node reads the inputs a person or a lab
device sends with a live and a latched reader (exo_contract.inputs, docs/ros_cli.md); sensor
subscriptions are best effort so that they accept both sim_node and ros2_control
publishers; commands are reliable with depth 1.
"""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from exo_contract.topics import (  # noqa: F401 (re-exported)
    CONTROLLER_STATE_TOPIC,
    EFFORT_COMMAND_TOPIC,
    GRAPH_TASK_TEXT_TOPIC,
    HUMAN_STATE_TOPIC,
    IMPEDANCE_REFERENCE_TOPIC,
    INTERACTION_TORQUE_TOPIC,
    JOINT_STATES_TOPIC,
    METABOLIC_POWER_TOPIC,
    TASK_TEXT_TOPIC,
)


def _keep_last(depth: int, reliability: ReliabilityPolicy,
               durability: DurabilityPolicy = DurabilityPolicy.VOLATILE) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=durability)


# /task_text: reliable, latched, depth 1.
TASK_TEXT_QOS = _keep_last(1, ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL)

# /exo/task_text (task_text_relay's copy of /task_text): reliable, latched, depth 10 (two
# texts sent in quick succession, e.g. a stop word and the next instruction, both arrive).
GRAPH_TASK_TEXT_QOS = _keep_last(10, ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL)

# /exo/estop: reliable, latched, depth 1 (a node that starts late still sees a stop).
ESTOP_QOS = _keep_last(1, ReliabilityPolicy.RELIABLE, DurabilityPolicy.TRANSIENT_LOCAL)

# Subscriptions to /joint_states and /interaction_torque: best effort, depth 1.
SENSOR_SUB_QOS = _keep_last(1, ReliabilityPolicy.BEST_EFFORT)

# Publishers of /joint_states and /interaction_torque (sim_node): reliable publishers
# match both reliable and best-effort subscribers (recorders use either).
SENSOR_PUB_QOS = _keep_last(1, ReliabilityPolicy.RELIABLE)

# Effort commands and the impedance reference: reliable, depth 1.
COMMAND_QOS = _keep_last(1, ReliabilityPolicy.RELIABLE)

# Diagnostic streams (controller state, human state, metabolic power): reliable with a
# short queue so that a recorder sees every tick.
STATE_QOS = _keep_last(50, ReliabilityPolicy.RELIABLE)
