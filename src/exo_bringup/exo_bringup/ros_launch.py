"""launch_ros actions for the graph of :mod:`exo_bringup.graph` (used by launch/*.py).

Imports ``launch``/``launch_ros``, so only the launch files import this module; the
pip-only launcher works from :mod:`exo_bringup.graph` directly.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from exo_bringup.graph import GraphArgument, node_arguments, NodeSpec, share_path


def declare_arguments(arguments: tuple[GraphArgument, ...]) -> list[DeclareLaunchArgument]:
    """One described DeclareLaunchArgument per graph argument."""
    return [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
            for a in arguments]


def graph_nodes(specs: tuple[NodeSpec, ...],
                arguments: tuple[GraphArgument, ...]) -> list[Node]:
    """launch_ros Nodes for ``specs``: parameter files first, then argument overrides."""
    nodes = []
    for spec in specs:
        overrides = {parameter: ParameterValue(LaunchConfiguration(arg.name))
                     for parameter, arg in node_arguments(arguments, spec.name).items()}
        nodes.append(Node(
            package=spec.package, executable=spec.executable, name=spec.name,
            output='screen', emulate_tty=True,
            parameters=[str(share_path(p, r)) for p, r in spec.param_files] + [overrides],
            remappings=list(spec.remappings)))
    return nodes
