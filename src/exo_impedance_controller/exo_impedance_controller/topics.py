"""Topic names of the exo-vic graph (pure Python: usable without rclpy)."""

TASK_TEXT_TOPIC = '/task_text'
JOINT_STATES_TOPIC = '/joint_states'
INTERACTION_TORQUE_TOPIC = '/interaction_torque'
EFFORT_COMMAND_TOPIC = '/exo_effort_controller/commands'
IMPEDANCE_REFERENCE_TOPIC = '/exo/impedance_reference'
CONTROLLER_STATE_TOPIC = '/exo/controller_state'
HUMAN_STATE_TOPIC = '/exo/human_state'
METABOLIC_POWER_TOPIC = '/exo/metabolic_power'
