"""The exo-vic node graph, defined once.

``launch/sim.launch.py`` and ``launch/real.launch.py`` build launch_ros ``Node`` actions
from these specifications, and :mod:`exo_bringup.launcher` starts the very same graph as
plain processes on machines without the ``launch`` package (pip-only ROS 2). Each
argument maps onto one node parameter, so the launch files, the launcher's command line
and the README all describe the same knobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class GraphArgument:
    """A launch argument of the graph.

    Attributes:
        name: launch argument name (``name:=value`` / ``--name value``).
        default: default value, as a string (launch arguments are strings).
        description: what it does, shown by ``ros2 launch ... --show-args``.
        targets: (node name, parameter name) pairs the value is written to.

    """

    name: str
    default: str
    description: str
    targets: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph.

    Attributes:
        package: ROS package that installs the executable.
        executable: console script (``lib/<package>/<executable>``).
        module: Python module with ``main()`` (what the pip-only launcher runs).
        name: node name.
        param_files: (package, relative path) of parameter YAML files in share/.
        remappings: (from, to) topic remappings.

    """

    package: str
    executable: str
    module: str
    name: str
    param_files: tuple[tuple[str, str], ...] = ()
    remappings: tuple[tuple[str, str], ...] = field(default_factory=tuple)


SIM_NODE = NodeSpec('exo_sim', 'sim_node', 'exo_sim.sim_node', 'sim_node',
                    (('exo_bringup', 'config/sim.yaml'),))
POLICY_NODE = NodeSpec('exo_policy', 'policy_node', 'exo_policy.policy_node', 'policy_node',
                       (('exo_bringup', 'config/policy.yaml'),))
CONTROLLER_NODE = NodeSpec(
    'exo_impedance_controller', 'controller_node', 'exo_impedance_controller.controller_node',
    'controller_node', (('exo_impedance_controller', 'config/params.yaml'),))

COMMON_ARGUMENTS: tuple[GraphArgument, ...] = (
    GraphArgument('policy_mode', 'learned',
                  "Reference source of policy_node: 'learned' (bimodal policy), 'assist' "
                  "(bimodal policy, assisting virtual-equilibrium reference), 'promp' "
                  "(ProMP baseline) or 'oracle' (task library + fitted stiffness).",
                  (('policy_node', 'mode'),)),
    GraphArgument('policy_rate_hz', '100.0', 'Rate of /exo/impedance_reference, Hz.',
                  (('policy_node', 'rate_hz'),)),
    GraphArgument('torque_limit', '25.0',
                  'Controller torque saturation, N*m (never above the actuator limit).',
                  (('controller_node', 'torque_limit'),)),
)

SIM_ARGUMENTS: tuple[GraphArgument, ...] = COMMON_ARGUMENTS + (
    GraphArgument('body_mass_kg', '70.0',
                  'Body mass of the simulated human, kg (any value in [40, 150]).',
                  (('sim_node', 'body_mass_kg'),)),
    GraphArgument('cuff_stiffness', '150.0', 'Stiffness of the simulated cuff, N*m/rad.',
                  (('sim_node', 'cuff_stiffness'),)),
)

SIM_GRAPH: tuple[NodeSpec, ...] = (SIM_NODE, POLICY_NODE, CONTROLLER_NODE)
# On the real exoskeleton ros2_control's controller_manager serves the hardware topics.
REAL_GRAPH: tuple[NodeSpec, ...] = (POLICY_NODE, CONTROLLER_NODE)
REAL_ARGUMENTS: tuple[GraphArgument, ...] = COMMON_ARGUMENTS


def share_path(package: str, relative: str) -> Path:
    """Absolute path of an installed package resource (share/<package>/<relative>)."""
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory(package)) / relative


def node_arguments(arguments: tuple[GraphArgument, ...],
                   node_name: str) -> dict[str, GraphArgument]:
    """Parameters of ``node_name`` set by launch arguments: parameter -> argument."""
    return {parameter: arg for arg in arguments for target_node, parameter in arg.targets
            if target_node == node_name}


def node_overrides(arguments: tuple[GraphArgument, ...], values: dict[str, str],
                   node_name: str) -> dict[str, str]:
    """Parameter overrides (parameter -> value string) of ``node_name`` from ``values``."""
    return {parameter: values.get(arg.name, arg.default)
            for parameter, arg in node_arguments(arguments, node_name).items()}
