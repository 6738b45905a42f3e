"""launch_ros actions for the graph of :mod:`exo_bringup.graph` (used by launch/*.py).

Imports ``launch``/``launch_ros``, so only the launch files import this module; the
pip-only launcher works from :mod:`exo_bringup.graph` directly.
"""

import os

from launch.actions import (
    DeclareLaunchArgument,
    OpaqueFunction,
    SetEnvironmentVariable,
    Shutdown,
)
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PythonExpression
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from exo_bringup.graph import (
    enclave,
    GraphArgument,
    LOCKSTEP_ARGUMENT,
    lockstep_environment,
    lockstep_overrides,
    NETWORK_ARGUMENTS,
    network_environment,
    node_arguments,
    node_transport_environment,
    NodeSpec,
    share_path,
)


class EnvVarOr(EnvironmentVariable):
    """An environment variable with a fallback, shown with it by ``ros2 launch -s``."""

    def describe(self) -> str:
        """``$NAME, else 'default'`` (the base class omits the fallback)."""
        default = ''.join(getattr(p, 'text', p.describe()) for p in self.default_value)
        return f"${''.join(p.describe() for p in self.name)}, else '{default}'"

def network_actions() -> list:
    """Domain, discovery range and DDS transports of every node: the user's, else defaults.

    ``ros_domain_id`` / ``discovery_range`` / ``dds_transports`` default to $ROS_DOMAIN_ID /
    $ROS_AUTOMATIC_DISCOVERY_RANGE / $FASTDDS_BUILTIN_TRANSPORTS when those are set, else to
    the project domain 42, LOCALHOST and UDPv4; the chosen values are set in the environment
    of every node, with what they imply (graph.node_transport_environment: the UDPv4
    localhost profile; before Jazzy, ROS_LOCALHOST_ONLY=1 for a LOCALHOST range).
    """
    actions = []
    for arg in NETWORK_ARGUMENTS:
        actions.append(DeclareLaunchArgument(
            arg.name, default_value=EnvVarOr(arg.variable, default_value=arg.default),
            description=arg.description))
        actions.append(SetEnvironmentVariable(arg.variable, LaunchConfiguration(arg.name)))

    def derived_environment(context):
        chosen = {a.variable: LaunchConfiguration(a.name).perform(context)
                  for a in NETWORK_ARGUMENTS}
        extra = network_environment({**os.environ, **chosen})
        extra.update(node_transport_environment({**os.environ, **chosen, **extra}))
        return [SetEnvironmentVariable(name, value) for name, value in extra.items()]

    actions.append(OpaqueFunction(function=derived_environment))
    return actions


def declare_arguments(arguments: tuple[GraphArgument, ...]) -> list[DeclareLaunchArgument]:
    """One described DeclareLaunchArgument per graph argument."""
    return [DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
            for a in arguments]


def graph_nodes(specs: tuple[NodeSpec, ...],
                arguments: tuple[GraphArgument, ...]) -> list[Node]:
    """launch_ros Nodes for ``specs``: parameter files first, then argument overrides.

    With the ``lockstep`` argument among ``arguments``, each node also gets the parameters
    of :func:`exo_bringup.graph.lockstep_overrides` (sim_node: ``clock_mode``; every other
    node: ``use_sim_time``, and the executor of graph.SIM_TIME_EXECUTOR), chosen by
    ``lockstep:=true|false``. A spec's ``parameters`` (the graph's own, e.g. ``autostart``
    false on the real device) come before the argument overrides. Every node runs in its
    SROS2 enclave ``/exo_vic/<node>``
    (security/policy.xml; ignored while ROS security is off). A node with a
    ``respawn_delay`` is restarted after it; the exit of any other node shuts the launch
    down (docs/safety.md, "Supervision").
    """
    nodes = []
    for spec in specs:
        overrides = dict(spec.parameters)  # the graph's own (e.g. autostart false)
        overrides.update({parameter: ParameterValue(LaunchConfiguration(arg.name))
                          for parameter, arg in node_arguments(arguments, spec.name).items()})
        env = {}
        if LOCKSTEP_ARGUMENT in arguments:
            on, off = lockstep_overrides(spec, True), lockstep_overrides(spec, False)
            for name in on:
                overrides[name] = ParameterValue(
                    _if_lockstep(on[name], off[name]),
                    value_type=bool if name == 'use_sim_time' else str)
            # In lockstep the nodes on simulated time take the executor of graph.py (the
            # SingleThreadedExecutor); otherwise the environment's (default: events).
            for name, value in lockstep_environment(spec, True).items():
                env[name] = _if_lockstep(value, EnvironmentVariable(name, default_value=''))
        only_if = getattr(spec, 'only_if', None)
        if spec.respawn_delay is not None:
            supervision = {'respawn': True, 'respawn_delay': spec.respawn_delay}
        else:
            supervision = {'on_exit': [Shutdown(
                reason=f'{spec.name} exited; the graph stops (it is never restarted)')]}
        nodes.append(Node(
            package=spec.package, executable=spec.executable, name=spec.name,
            output='screen', emulate_tty=True,
            parameters=[str(share_path(p, r)) for p, r in spec.param_files] + [overrides],
            remappings=list(spec.remappings), ros_arguments=['--enclave', enclave(spec)],
            additional_env=env or None,
            condition=None if only_if is None else _equals(*only_if), **supervision))
    return nodes


def _if_lockstep(on, off) -> PythonExpression:
    """``on`` if the lockstep argument is true, else ``off`` (strings or substitutions)."""
    return PythonExpression(["'", on, "' if '", LaunchConfiguration(LOCKSTEP_ARGUMENT.name),
                             "'.strip().lower() in ('true', '1') else '", off, "'"])


def _equals(argument: str, value: str) -> IfCondition:
    """Condition: launch argument ``argument`` equals ``value`` (any ROS 2 distribution)."""
    return IfCondition(PythonExpression(["'", LaunchConfiguration(argument), f"' == '{value}'"]))
