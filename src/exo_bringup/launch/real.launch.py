"""Real exoskeleton: ros2_control serves the hardware topics; policy + controller on top.

    ros2 launch exo_bringup real.launch.py hardware_plugin:=my_exo_driver/ExoSystem

controller_manager loads the URDF's <ros2_control> system (default: the
``mock_components/GenericSystem`` plugin, for a dry run without hardware) and spawns
joint_state_broadcaster (/joint_states), force_torque_sensor_broadcaster (its wrench is
remapped to /interaction_torque) and exo_effort_controller, a
forward_command_controller on the effort interface (/exo_effort_controller/commands).
policy_node and controller_node are the same nodes as in simulation
(exo_bringup.graph.REAL_GRAPH); they cannot tell the difference.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from exo_bringup.graph import REAL_ARGUMENTS, REAL_GRAPH, share_path
from exo_bringup.ros_launch import declare_arguments, graph_nodes

HARDWARE_ARGUMENTS = (
    ('hardware_plugin', 'mock_components/GenericSystem',
     'ros2_control hardware plugin of the exoskeleton (mock_components/GenericSystem = '
     'dry run without hardware).'),
    ('cuff_sensor_name', 'cuff_ft', 'Name of the cuff force/torque sensor in the URDF.'),
)


def _robot_nodes(context):
    urdf = share_path('exo_bringup', 'urdf/exo_elbow.urdf').read_text()
    urdf = urdf.replace('${hardware_plugin}', LaunchConfiguration('hardware_plugin')
                        .perform(context))
    urdf = urdf.replace('${cuff_sensor_name}', LaunchConfiguration('cuff_sensor_name')
                        .perform(context))
    description = {'robot_description': urdf}
    # controller_manager reads the URDF from /robot_description (robot_state_publisher).
    controllers = str(share_path('exo_bringup', 'config/controllers.yaml'))
    spawn = ['joint_state_broadcaster', 'force_torque_sensor_broadcaster',
             'exo_effort_controller']
    return [
        Node(package='robot_state_publisher', executable='robot_state_publisher',
             parameters=[description], output='screen'),
        Node(package='controller_manager', executable='ros2_control_node',
             parameters=[controllers], output='screen',
             remappings=[('/force_torque_sensor_broadcaster/wrench', '/interaction_torque')]),
        Node(package='controller_manager', executable='spawner',
             arguments=spawn + ['--param-file', controllers], output='screen'),
    ]


def generate_launch_description():
    """Declare the arguments, ros2_control and the exo-vic nodes."""
    actions = [DeclareLaunchArgument(name, default_value=default, description=desc)
               for name, default, desc in HARDWARE_ARGUMENTS]
    actions += declare_arguments(REAL_ARGUMENTS)
    actions.append(OpaqueFunction(function=_robot_nodes))
    actions += graph_nodes(REAL_GRAPH, REAL_ARGUMENTS)
    return LaunchDescription(actions)
