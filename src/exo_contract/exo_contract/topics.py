"""Topic names of the exo-vic graph (pure Python: usable without rclpy)."""

TASK_TEXT_TOPIC = '/task_text'
# The graph's copy of /task_text, latched, published by task_text_relay alone (the one
# reader of /task_text, so that a `ros2 topic pub --once` reaches every node that acts on
# the text: exo_contract.task_text_relay).
GRAPH_TASK_TEXT_TOPIC = '/exo/task_text'
JOINT_STATES_TOPIC = '/joint_states'
INTERACTION_TORQUE_TOPIC = '/interaction_torque'
EFFORT_COMMAND_TOPIC = '/exo_effort_controller/commands'
IMPEDANCE_REFERENCE_TOPIC = '/exo/impedance_reference'
CONTROLLER_STATE_TOPIC = '/exo/controller_state'
HUMAN_STATE_TOPIC = '/exo/human_state'
METABOLIC_POWER_TOPIC = '/exo/metabolic_power'
# Breath-by-breath VO2/VCO2 of a metabolic analyser (exo_interfaces/GasExchange), and the
# eq. 15 energy expenditure metabolic_node computes from it (MetabolicPower).
GAS_EXCHANGE_TOPIC = '/exo/gas_exchange'
ENERGY_EXPENDITURE_TOPIC = '/exo/energy_expenditure'
# Emergency stop any lab device can drive: std_msgs/Bool, latched; true = stop (zero
# assistance, compliant) until an explicit resume (false, or controller_node's service).
ESTOP_TOPIC = '/exo/estop'

#: Message type of every topic of the exo-vic graph (what a recorder or bridge subscribes with).
TOPIC_TYPES = {
    TASK_TEXT_TOPIC: 'std_msgs/msg/String',
    GRAPH_TASK_TEXT_TOPIC: 'std_msgs/msg/String',
    JOINT_STATES_TOPIC: 'sensor_msgs/msg/JointState',
    INTERACTION_TORQUE_TOPIC: 'geometry_msgs/msg/WrenchStamped',
    EFFORT_COMMAND_TOPIC: 'std_msgs/msg/Float64MultiArray',
    IMPEDANCE_REFERENCE_TOPIC: 'exo_interfaces/msg/ImpedanceReference',
    CONTROLLER_STATE_TOPIC: 'exo_interfaces/msg/ControllerState',
    HUMAN_STATE_TOPIC: 'exo_interfaces/msg/HumanState',
    METABOLIC_POWER_TOPIC: 'exo_interfaces/msg/MetabolicPower',
    GAS_EXCHANGE_TOPIC: 'exo_interfaces/msg/GasExchange',
    ENERGY_EXPENDITURE_TOPIC: 'exo_interfaces/msg/MetabolicPower',
    ESTOP_TOPIC: 'std_msgs/msg/Bool',
}
