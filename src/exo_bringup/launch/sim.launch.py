"""Simulated exoskeleton: sim_node + policy_node + controller_node + task_text_relay.

    ros2 launch exo_bringup sim.launch.py body_mass_kg:=80
    ros2 launch exo_bringup sim.launch.py lockstep:=true      # simulated time (/clock)
    ros2 topic pub --once /task_text std_msgs/msg/String "data: 'lift a heavy box'"

Every node runs on ROS_DOMAIN_ID 42 with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST unless
the environment sets them or ``ros_domain_id:=`` / ``discovery_range:=`` are given (a lab
network: ``discovery_range:=SUBNET``); a shell that talks to the graph (``ros2 topic``)
needs the same two variables (``source tools/env.sh`` sets them).

The node graph and the arguments are defined once in exo_bringup.graph (shared with the
pip-only launcher ``exo_launch sim``); ``ros2 launch exo_bringup sim.launch.py -s`` lists
the arguments with their descriptions.
"""

from launch import LaunchDescription

from exo_bringup.graph import SIM_ARGUMENTS, SIM_GRAPH
from exo_bringup.ros_launch import declare_arguments, graph_nodes, network_actions


def generate_launch_description():
    """Declare the arguments, the private network and the nodes."""
    return LaunchDescription(network_actions() + declare_arguments(SIM_ARGUMENTS)
                             + graph_nodes(SIM_GRAPH, SIM_ARGUMENTS))
