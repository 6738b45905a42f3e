"""Real exoskeleton: bridge_node or ros2_control serves the hardware topics; policy + controller.

    ros2 launch exo_bringup real.launch.py                      # hardware:=bridge (default)
    ros2 launch exo_bringup real.launch.py hardware:=ros2_control hardware_plugin:=my/ExoSystem

bridge_node and controller_node start unconfigured (``autostart`` false, graph.py
OPERATOR_ARMED): nothing is homed or enabled until an operator arms the device with
``exo_arm`` (or ``ros2 lifecycle set /bridge_node configure`` ...; docs/real_device.md),
then runs ``exo_prewear_check`` before anyone wears it.

One argument, ``hardware``, selects who serves the topic contract the controller uses
(/joint_states, /interaction_torque, /exo_effort_controller/commands); policy_node and
controller_node are the same nodes as in simulation (exo_bringup.graph.REAL_GRAPH) and
cannot tell the difference.

``hardware:=bridge`` (default): exo_impedance_controller's ``bridge_node`` drives the
actuator from Python on opensourceleg (config/bridge.yaml: ``actuator`` offline | dephy |
tmotor | moteus | a factory). It owns the last line of defence: zero torque 10 ms after the
last command, clamp, joint limits, thermal derating, e-stop and stop words, one owner per
topic, zero + disable on exit. The default actuator is ``offline`` (a simulated arm), so
the default launch is a dry run; the same graph runs on pip-only machines as
``exo_launch real``. It is the default because it runs everywhere and because of the
hazard below.

``hardware:=ros2_control``: controller_manager loads the URDF's <ros2_control> system
(``hardware_plugin``; ``mock_components/GenericSystem`` = dry run) and spawns
joint_state_broadcaster (/joint_states), force_torque_sensor_broadcaster (its wrench is
remapped to /interaction_torque) and exo_effort_controller, a forward_command_controller on
the effort interface (/exo_effort_controller/commands).

HAZARD (ros2_controllers issue #95, open): forward_command_controller has no command
timeout -- its Float64MultiArray carries no stamp, and it writes the last command it
received into the effort interface on every update, forever. If controller_node dies or
hangs, the last torque stays on the wearer's arm. Your hardware plugin must therefore
enforce the timeout itself, in ``write()``:

* keep the receipt time of the last message on /exo_effort_controller/commands (the
  plugin's own subscription; the command interface value alone cannot show staleness)
  and write zero torque when it is older than the timeout (10 ms, as bridge_node's
  ``command_timeout``) or when the value is not finite; ramp back from zero when commands
  return;
* clamp to the drive's torque limit, remove torque pushing past a joint limit, derate on
  temperature, and write zero then disable the drive in ``on_deactivate()`` /
  ``on_error()`` / ``on_shutdown()``;
* arm the drive's own firmware watchdog, for when controller_manager itself dies.
With the default mock plugin nothing moves; with a real plugin, do not wear the device
before that timeout is in place and tested (kill controller_node -> zero torque).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from exo_bringup.graph import HARDWARE_CHOICES, REAL_ARGUMENTS, REAL_GRAPH, share_path
from exo_bringup.ros_launch import declare_arguments, graph_nodes, network_actions

HARDWARE_ARGUMENTS = (
    ('hardware_plugin', 'mock_components/GenericSystem',
     'hardware:=ros2_control only: ros2_control hardware plugin of the exoskeleton '
     '(mock_components/GenericSystem = dry run without hardware). It must zero the effort '
     'when commands stop (ros2_controllers #95; see real.launch.py).'),
    ('cuff_sensor_name', 'cuff_ft',
     'hardware:=ros2_control only: name of the cuff force/torque sensor in the URDF.'),
)


def _robot_nodes(context):
    hardware = LaunchConfiguration('hardware').perform(context)
    if hardware not in HARDWARE_CHOICES:
        raise ValueError(f'hardware must be one of {list(HARDWARE_CHOICES)}, got {hardware!r}')
    if hardware != 'ros2_control':
        return []  # bridge_node (graph_nodes below) serves the hardware topics
    warning = LogInfo(msg='hardware:=ros2_control: forward_command_controller keeps the last '
                          'torque if controller_node dies (ros2_controllers #95); your '
                          'hardware plugin must zero the effort in write() when commands '
                          'stop (see real.launch.py).')
    urdf = share_path('exo_description', 'urdf/exo_elbow.urdf').read_text()
    urdf = urdf.replace('${hardware_plugin}', LaunchConfiguration('hardware_plugin')
                        .perform(context))
    urdf = urdf.replace('${cuff_sensor_name}', LaunchConfiguration('cuff_sensor_name')
                        .perform(context))
    description = {'robot_description': urdf}
    # controller_manager reads the URDF from /robot_description (robot_state_publisher).
    controllers = str(share_path('exo_description', 'config/controllers.yaml'))
    spawn = ['joint_state_broadcaster', 'force_torque_sensor_broadcaster',
             'exo_effort_controller']
    return [
        warning,
        Node(package='robot_state_publisher', executable='robot_state_publisher',
             parameters=[description], output='screen'),
        Node(package='controller_manager', executable='ros2_control_node',
             parameters=[controllers], output='screen',
             remappings=[('/force_torque_sensor_broadcaster/wrench', '/interaction_torque')]),
        Node(package='controller_manager', executable='spawner',
             arguments=spawn + ['--param-file', controllers], output='screen'),
    ]


def generate_launch_description():
    """Declare the arguments, the hardware side (bridge or ros2_control) and the nodes."""
    # The private network first (domain 42, LOCALHOST unless set): every process below
    # inherits it, controller_manager included.
    actions = network_actions()
    actions += [DeclareLaunchArgument(name, default_value=default, description=desc)
                for name, default, desc in HARDWARE_ARGUMENTS]
    actions += declare_arguments(REAL_ARGUMENTS)
    actions.append(OpaqueFunction(function=_robot_nodes))
    actions += graph_nodes(REAL_GRAPH, REAL_ARGUMENTS)
    return LaunchDescription(actions)
