"""The exo-vic node graph, defined once.

``launch/sim.launch.py`` and ``launch/real.launch.py`` build launch_ros ``Node`` actions
from these specifications, and :mod:`exo_bringup.launcher` starts the very same graph as
plain processes on machines without the ``launch`` package (pip-only ROS 2). Each
argument maps onto one node parameter, so the launch files, the launcher's command line
and the reference (docs/reference.md) all describe the same knobs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
        respawn_delay: seconds after which a node that exited is started again; None: it
            is never restarted, and its exit stops the whole graph (docs/safety.md, "Supervision").
        parameters: (name, value) parameters this graph sets on the node on top of its
            parameter files (e.g. ``autostart`` false on the real device).

    """

    package: str
    executable: str
    module: str
    name: str
    param_files: tuple[tuple[str, str], ...] = ()
    remappings: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # (argument, value): start the node only when that launch argument has that value.
    only_if: tuple[str, str] | None = None
    # The node makes the simulated time (publishes /clock in lockstep) instead of following it.
    clock_source: bool = False
    respawn_delay: float | None = None
    parameters: tuple[tuple[str, bool | int | float | str], ...] = ()


SIM_NODE = NodeSpec('exo_sim', 'sim_node', 'exo_sim.sim_node', 'sim_node',
                    (('exo_bringup', 'config/sim.yaml'),), clock_source=True)
#: policy_node is the one node restarted when it exits: while it is gone the controller
#: falls back to a compliant target that follows the arm, and it comes back compliant,
#: acting only on instructions published after its start. The plant (sim_node,
#: bridge_node) and controller_node are never restarted behind the wearer's back (a
#: restarted controller would lose a stop set by its service): their exit stops the graph.
POLICY_RESPAWN_DELAY_S = 1.0
POLICY_NODE = NodeSpec('exo_policy', 'policy_node', 'exo_policy.policy_node', 'policy_node',
                       (('exo_bringup', 'config/policy.yaml'),),
                       respawn_delay=POLICY_RESPAWN_DELAY_S)
CONTROLLER_NODE = NodeSpec(
    'exo_impedance_controller', 'controller_node', 'exo_impedance_controller.controller_node',
    'controller_node', (('exo_impedance_controller', 'config/params.yaml'),))

#: The one reader of /task_text: re-publishes each text latched on /exo/task_text, which the
#: other nodes read, so a `ros2 topic pub --once` reaches them all (docs/ros_cli.md). Never
#: restarted: stop words reach controller_node and bridge_node through it.
TASK_TEXT_RELAY = NodeSpec('exo_contract', 'task_text_relay', 'exo_contract.task_text_relay',
                           'task_text_relay')

COMMON_ARGUMENTS: tuple[GraphArgument, ...] = (
    GraphArgument('policy_mode', 'gravity_share',
                  "Reference source of policy_node: 'gravity_share' (the default: a share of "
                  "the arm + payload gravity torque), 'learned' (the simulation-trained "
                  "text + proprioception policy), 'promp' (ProMP baseline), 'oracle' (task "
                  "library + fitted stiffness) or 'constant_assist'.",
                  (('policy_node', 'mode'),)),
    GraphArgument('policy_rate_hz', '100.0', 'Rate of /exo/impedance_reference, Hz.',
                  (('policy_node', 'rate_hz'), ('sim_node', 'lockstep_reference_rate_hz'))),
    GraphArgument('torque_limit', '25.0',
                  'Controller torque saturation, N*m (never above the actuator limit).',
                  (('controller_node', 'torque_limit'),)),
)

#: Lockstep simulation: not one parameter but a mode of the whole graph (lockstep_overrides).
LOCKSTEP_ARGUMENT = GraphArgument(
    'lockstep', 'false',
    "Lockstep simulation (true/false): sim_node runs clock_mode 'lockstep' (publishes /clock, "
    'steps only once the controller has answered, waiting at most its lockstep_timeout) '
    'and every other node runs with use_sim_time, so a loaded machine runs slower, not '
    'differently. false: real time (make bench).', ())

SIM_ARGUMENTS: tuple[GraphArgument, ...] = COMMON_ARGUMENTS + (
    GraphArgument('body_mass_kg', '70.0',
                  'Body mass of the simulated human, kg (any value in [40, 150]); also the '
                  "wearer's mass that policy_node's gravity_share baseline assumes.",
                  (('sim_node', 'body_mass_kg'), ('policy_node', 'wearer_body_mass_kg'))),
    GraphArgument('cuff_stiffness', '150.0', 'Stiffness of the simulated cuff, N*m/rad.',
                  (('sim_node', 'cuff_stiffness'),)),
    GraphArgument('human_memory', 'none',
                  "The simulated human's internal models adapted to the exo (a JSON file of "
                  "exo_sim.human.save_memory, e.g. written by make demo after practice), or "
                  "'none': a human who has never worn it.",
                  (('sim_node', 'human_memory'),)),
    LOCKSTEP_ARGUMENT,
)

SIM_GRAPH: tuple[NodeSpec, ...] = (SIM_NODE, POLICY_NODE, CONTROLLER_NODE, TASK_TEXT_RELAY)

# On the real exoskeleton the hardware topics are served either by bridge_node (a Python
# driver on opensourceleg, with its own command timeout; actuator 'offline' = a simulated
# arm) or by ros2_control's controller_manager (real.launch.py starts it; it needs a full
# ROS install). Default 'bridge': it runs everywhere, its default actuator is the offline
# one (a dry run), and it zeroes the torque 10 ms after the last command, where
# forward_command_controller holds the last command forever (ros2_controllers #95).
HARDWARE_CHOICES = ('bridge', 'ros2_control')
#: On the real device the lifecycle nodes start unconfigured: homing (bridge_node's
#: configure) and torque output (activate) are operator steps (``exo_arm``, or
#: ``ros2 lifecycle set``; docs/real_device.md). The simulation keeps autostart.
OPERATOR_ARMED: tuple[tuple[str, bool], ...] = (('autostart', False),)
BRIDGE_NODE = NodeSpec(
    'exo_hardware', 'bridge_node', 'exo_hardware.bridge_node',
    'bridge_node', (('exo_hardware', 'config/bridge.yaml'),),
    only_if=('hardware', 'bridge'), parameters=OPERATOR_ARMED)
REAL_CONTROLLER_NODE = replace(CONTROLLER_NODE, parameters=OPERATOR_ARMED)
REAL_GRAPH: tuple[NodeSpec, ...] = (BRIDGE_NODE, POLICY_NODE, REAL_CONTROLLER_NODE,
                                    TASK_TEXT_RELAY)
REAL_ARGUMENTS: tuple[GraphArgument, ...] = COMMON_ARGUMENTS + (
    GraphArgument('wearer_body_mass_kg', '70.0',
                  "The wearer's body mass, kg, in [40, 150]: the default policy "
                  "(gravity_share) assists a share of this wearer's forearm + hand gravity "
                  'torque. Set it for every wearer.',
                  (('policy_node', 'wearer_body_mass_kg'),)),
    GraphArgument('hardware', 'bridge',
                  "Who serves the hardware topics: 'bridge' (bridge_node, a Python driver on "
                  "opensourceleg with its own command timeout; config/bridge.yaml selects the "
                  "actuator, 'offline' by default) or 'ros2_control' (controller_manager + "
                  'your hardware plugin; real.launch.py only, needs a full ROS install).',
                  ()),
)


def select_nodes(specs: tuple[NodeSpec, ...], arguments: tuple[GraphArgument, ...],
                 values: dict[str, str]) -> tuple[NodeSpec, ...]:
    """The nodes of ``specs`` whose ``only_if`` condition holds for ``values``.

    Raises ValueError for a ``hardware`` value outside :data:`HARDWARE_CHOICES`.
    """
    defaults = {a.name: a.default for a in arguments}
    hardware = values.get('hardware', defaults.get('hardware'))
    if hardware is not None and hardware not in HARDWARE_CHOICES:
        raise ValueError(f'hardware must be one of {list(HARDWARE_CHOICES)}, got {hardware!r}')
    return tuple(s for s in specs if s.only_if is None
                 or values.get(s.only_if[0], defaults.get(s.only_if[0])) == s.only_if[1])


#: DDS domain of the exo-vic graph when ROS_DOMAIN_ID is not set: a project domain of its
#: own, so that the graph does not meet other ROS graphs on domain 0.
PROJECT_DOMAIN_ID = '42'
#: Discovery range when ROS_AUTOMATIC_DISCOVERY_RANGE is not set: this machine only.
DEFAULT_DISCOVERY_RANGE = 'LOCALHOST'
#: Distributions before Jazzy know only ROS_LOCALHOST_ONLY (Jazzy deprecates it).
LEGACY_LOCALHOST_DISTROS = ('humble', 'iron')


@dataclass(frozen=True)
class NetworkArgument:
    """A launch argument that sets an environment variable of every node of the graph.

    Attributes:
        name: launch argument name (``name:=value`` / ``--name value``).
        variable: environment variable it sets.
        default: value when neither the argument nor the variable is given.
        description: what it does.

    """

    name: str
    variable: str
    default: str
    description: str


#: Fast DDS transports of the graph's nodes (docs/safety.md: a crashed node and the middleware).
DEFAULT_DDS_TRANSPORTS = 'UDPv4'
#: The values of FASTDDS_BUILTIN_TRANSPORTS that Fast DDS 3 knows (options may follow a '?').
FAST_DDS_TRANSPORTS = ('NONE', 'DEFAULT', 'DEFAULTv6', 'SHM', 'UDPv4', 'UDPv6', 'LARGE_DATA',
                       'LARGE_DATAv6', 'P2P')

NETWORK_ARGUMENTS: tuple[NetworkArgument, ...] = (
    NetworkArgument('ros_domain_id', 'ROS_DOMAIN_ID', PROJECT_DOMAIN_ID,
                    f'DDS domain of every node (default: $ROS_DOMAIN_ID if set, else the '
                    f'project domain {PROJECT_DOMAIN_ID}).'),
    NetworkArgument('discovery_range', 'ROS_AUTOMATIC_DISCOVERY_RANGE',
                    DEFAULT_DISCOVERY_RANGE,
                    'Discovery range of every node: LOCALHOST (this machine), SUBNET (a lab '
                    'network), SYSTEM_DEFAULT or OFF (default: '
                    '$ROS_AUTOMATIC_DISCOVERY_RANGE if set, else LOCALHOST).'),
    NetworkArgument('dds_transports', 'FASTDDS_BUILTIN_TRANSPORTS', DEFAULT_DDS_TRANSPORTS,
                    'Fast DDS transports of every node: UDPv4 (no shared memory) or DEFAULT '
                    '(shared memory + UDP; faster) (default: $FASTDDS_BUILTIN_TRANSPORTS if '
                    'set, else UDPv4). A process killed while it holds the lock of its '
                    'shared-memory port (SIGKILL, a crash) leaves every node that sends to it '
                    'blocked inside Fast DDS, where no watchdog of that node can act; over UDP '
                    'a dead reader only loses datagrams. With a LOCALHOST range, UDPv4 is the '
                    'participant profile config/fastdds_udp_localhost.xml.'),
)


def network_environment(env: Mapping[str, str],
                        overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment variables to add to ``env`` so that the graph stays private and robust.

    ``overrides`` maps :data:`NETWORK_ARGUMENTS` names to explicit values; without one, a
    variable the user has set wins, else the project default applies (domain 42,
    localhost-only discovery, Fast DDS over UDPv4 only). Before Jazzy, localhost-only
    discovery is ``ROS_LOCALHOST_ONLY=1``, set as well when the range is LOCALHOST and the
    user has not set it.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {a.name for a in NETWORK_ARGUMENTS})
    if unknown:
        raise ValueError(f'unknown network arguments {unknown}')
    out = {}
    for arg in NETWORK_ARGUMENTS:
        value = overrides.get(arg.name)
        if value is not None:
            out[arg.variable] = str(value)
        elif not env.get(arg.variable):
            out[arg.variable] = arg.default
    if not out.get('ROS_DOMAIN_ID', '1').isdigit():
        raise ValueError(f"ros_domain_id must be a non-negative integer, got "
                         f"{out['ROS_DOMAIN_ID']!r}")
    transports = out.get('FASTDDS_BUILTIN_TRANSPORTS', env.get('FASTDDS_BUILTIN_TRANSPORTS', ''))
    if transports and transports.split('?')[0] not in FAST_DDS_TRANSPORTS:
        raise ValueError(f'dds_transports (FASTDDS_BUILTIN_TRANSPORTS) must be one of '
                         f'{", ".join(FAST_DDS_TRANSPORTS)}, got {transports!r}')
    scope = out.get('ROS_AUTOMATIC_DISCOVERY_RANGE',
                    env.get('ROS_AUTOMATIC_DISCOVERY_RANGE', ''))
    if (env.get('ROS_DISTRO') in LEGACY_LOCALHOST_DISTROS and scope.upper() == 'LOCALHOST'
            and not env.get('ROS_LOCALHOST_ONLY')):
        out['ROS_LOCALHOST_ONLY'] = '1'
    return out


#: Fast DDS profile of the nodes for UDPv4 with localhost discovery (share/exo_bringup/...).
UDP_LOCALHOST_PROFILE = 'config/fastdds_udp_localhost.xml'


def node_transport_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Variables that keep a node process of the graph off Fast DDS's shared memory.

    ``env`` is the node's environment after :func:`network_environment`. With
    ``FASTDDS_BUILTIN_TRANSPORTS=UDPv4`` and a LOCALHOST range, rmw_fastrtps would still add
    its shared-memory transport (it configures localhost discovery itself), so the node gets
    the participant profile :data:`UDP_LOCALHOST_PROFILE` (the same localhost-only discovery,
    over UDPv4) with ``ROS_AUTOMATIC_DISCOVERY_RANGE=SYSTEM_DEFAULT``, which leaves that
    profile in force. Nothing is changed when the user chose another transport, another
    range, static peers or a Fast DDS profile of their own, nor before Jazzy.
    """
    if env.get('FASTDDS_BUILTIN_TRANSPORTS', DEFAULT_DDS_TRANSPORTS) != 'UDPv4':
        return {}
    if env.get('ROS_AUTOMATIC_DISCOVERY_RANGE', DEFAULT_DISCOVERY_RANGE).upper() != 'LOCALHOST':
        return {}
    if env.get('FASTDDS_DEFAULT_PROFILES_FILE') or env.get('ROS_STATIC_PEERS') \
            or env.get('ROS_DISTRO') in LEGACY_LOCALHOST_DISTROS:
        return {}
    return {'FASTDDS_DEFAULT_PROFILES_FILE': str(share_path('exo_bringup', UDP_LOCALHOST_PROFILE)),
            'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SYSTEM_DEFAULT'}


def parse_bool(name: str, value: str) -> bool:
    """A launch argument's boolean ('true'/'false', '1'/'0', any case); ValueError quoting it."""
    text = str(value).strip().lower()
    if text in ('true', '1'):
        return True
    if text in ('false', '0'):
        return False
    raise ValueError(f'{name} must be true or false, got {value!r}')


def lockstep_overrides(spec: NodeSpec, lockstep: bool) -> dict[str, str]:
    """Clock parameters of ``spec``: ``clock_mode`` (clock source) or ``use_sim_time``.

    In lockstep the clock source (sim_node) steps on its own and publishes /clock; every
    other node follows it (use_sim_time).
    """
    if spec.clock_source:
        return {'clock_mode': 'lockstep' if lockstep else 'realtime'}
    return {'use_sim_time': 'true' if lockstep else 'false'}


#: Executor of the nodes that follow the simulated time (exo_contract.runtime reads it).
#: rclpy 9.1.2's EventsExecutor fires a simulated-time timer early when /clock holds still
#: (measured in lockstep: policy_node's 10 ms timer ran twice at one simulated time on
#: about 1-2 % of its ticks and skipped the next, so the simulation waited for a reference
#: that never came); the SingleThreadedExecutor checks the timer against the clock.
SIM_TIME_EXECUTOR = 'single'


def lockstep_environment(spec: NodeSpec, lockstep: bool) -> dict[str, str]:
    """Environment of ``spec`` in lockstep: nodes on simulated time use SIM_TIME_EXECUTOR."""
    if lockstep and not spec.clock_source:
        return {'EXO_VIC_EXECUTOR': SIM_TIME_EXECUTOR}
    return {}


#: SROS2 enclaves of the graph's nodes live under this path (security/policy.xml).
ENCLAVE_ROOT = '/exo_vic'


def enclave(spec: NodeSpec) -> str:
    """SROS2 enclave of ``spec`` ('/exo_vic/<node>'; ignored while ROS security is off)."""
    return f'{ENCLAVE_ROOT}/{spec.name}'


def share_path(package: str, relative: str) -> Path:
    """Absolute path of an installed package resource (share/<package>/<relative>)."""
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory(package)) / relative


def parameter_text(value: bool | int | float | str) -> str:
    """A parameter value as ``-p name:=<text>`` needs it (YAML: true/false, numbers)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return repr(value) if isinstance(value, float) else str(value)


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
