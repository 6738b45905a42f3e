"""The nodes' configuration, read from the parameter YAML files the launch files pass.

The launch files give ``controller_node`` ``share/exo_impedance_controller/config/
params.yaml`` and ``policy_node`` ``share/exo_bringup/config/policy.yaml``
(:data:`exo_bringup.graph.CONTROLLER_NODE` / :data:`~exo_bringup.graph.POLICY_NODE`
``param_files``), then the launch arguments' values on top
(:func:`exo_bringup.graph.node_overrides`). The in-process evaluation reads the same
files here, so it runs the configuration the nodes run.

The files are ROS 2 parameter files::

    controller_node:            # the node name, '/controller_node', or the '/**' wildcard
      ros__parameters:
        target_damping: 5.0

Wildcard sections apply first, the node's own section on top. Unknown keys are refused
with a ``ValueError`` that quotes the key and the file (a typo must not silently fall
back to a default). Keys absent from the file keep the dataclass defaults, as the node's
declared defaults. No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import math
import os
from pathlib import Path
from typing import Any, Mapping

import yaml

from exo_bringup.graph import (
    CONTROLLER_NODE,
    node_overrides,
    NodeSpec,
    POLICY_NODE,
    share_path,
    SIM_ARGUMENTS,
)
from exo_impedance_controller.params import ControllerParams
from exo_policy.params import PolicyNodeParams

PathLike = str | os.PathLike
#: Wildcard node names of ROS 2 parameter files.
WILDCARDS = ('/**', '**')
#: Parameters every rclpy node declares itself (accepted, not used here).
NODE_BUILTIN_PARAMETERS = ('use_sim_time',)
#: Parameters of controller_node that are not ControllerParams fields.
CONTROLLER_NODE_ONLY = ('autostart', 'reference_owner')


def default_file(spec: NodeSpec) -> Path:
    """The installed parameter file the launch files pass to ``spec`` (its first one)."""
    package, relative = spec.param_files[0]
    try:
        return share_path(package, relative)
    except Exception as exc:  # noqa: BLE001 -- ament index missing: say what to do
        raise ValueError(f'cannot find {relative!r} of package {package!r} (is the colcon '
                         f'overlay sourced?): {type(exc).__name__}: {exc}; pass the file '
                         'explicitly') from exc


def read_node_parameters(path: PathLike, node_name: str) -> dict[str, Any]:
    """``ros__parameters`` of ``node_name`` in the ROS 2 parameter file ``path``.

    Wildcard sections (``/**``) first, then ``node_name`` / ``/node_name`` on top.

    Raises:
        ValueError: unreadable file, not a parameter file, or no section for the node.

    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f'cannot read parameter file {str(path)!r}: {exc}') from exc
    if not isinstance(data, dict):
        raise ValueError(f'{str(path)!r} is not a ROS 2 parameter file (expected a mapping '
                         f"'{node_name}: {{ros__parameters: {{...}}}}')")
    values: dict[str, Any] = {}
    found = False
    for key in (*WILDCARDS, node_name, '/' + node_name):
        section = data.get(key)
        if section is None:
            continue
        params = section.get('ros__parameters') if isinstance(section, dict) else None
        if not isinstance(params, dict):
            raise ValueError(f'section {key!r} of {str(path)!r} has no ros__parameters '
                             'mapping')
        values.update(params)
        found = True
    if not found:
        raise ValueError(f'{str(path)!r} has no parameters for {node_name!r} (sections: '
                         f'{sorted(map(str, data))!r})')
    return values


def _reject_unknown(values: Mapping[str, Any], allowed: set[str], node_name: str,
                    source: str) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f'unknown {node_name} parameter(s) {unknown!r} in {source}; allowed: '
                         f'{sorted(allowed)!r}')


def launch_overrides(spec: NodeSpec) -> dict[str, Any]:
    """The launch arguments' default values for ``spec`` (as launch_ros parses them: YAML)."""
    return {name: yaml.safe_load(value)
            for name, value in node_overrides(SIM_ARGUMENTS, {}, spec.name).items()}


def _node_values(spec: NodeSpec, path: PathLike | None, overrides: Mapping[str, Any] | None,
                 allowed: set[str]) -> tuple[dict[str, Any], str]:
    """Parameters of ``spec`` from ``path`` (default: its launch file) + overrides, checked.

    Returns the values that are fields of the node's dataclass and the quoted file name.
    """
    path = default_file(spec) if path is None else Path(path)
    values = read_node_parameters(path, spec.name)
    values.update(overrides or {})
    source = repr(str(path))
    node_only = CONTROLLER_NODE_ONLY if spec is CONTROLLER_NODE else ()
    _reject_unknown(values, allowed | set(node_only) | set(NODE_BUILTIN_PARAMETERS),
                    spec.name, source)
    return {k: v for k, v in values.items() if k in allowed}, source


def controller_params(path: PathLike | None = None,
                      overrides: Mapping[str, Any] | None = None) -> ControllerParams:
    """``ControllerParams`` of ``controller_node`` from its parameter file.

    Args:
        path: parameter file (None: the installed ``config/params.yaml`` of
            exo_impedance_controller, the launch files' one).
        overrides: values applied on top of the file (as launch arguments are).

    Raises:
        ValueError: unknown key (quoted), wrong type or invalid value.

    """
    values, source = _node_values(CONTROLLER_NODE, path, overrides,
                                  {f.name for f in fields(ControllerParams)})
    try:
        return ControllerParams.from_mapping(values)
    except ValueError as exc:
        raise ValueError(f'{source}: {exc}') from exc


def _policy_value(name: str, value: Any, default: Any, source: str) -> Any:
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ValueError(f'{name} must be a string, got {value!r} in {source}')
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value):
        raise ValueError(f'{name} must be a finite number, got {value!r} in {source}')
    return float(value)


def policy_params(path: PathLike | None = None,
                  overrides: Mapping[str, Any] | None = None) -> PolicyNodeParams:
    """``PolicyNodeParams`` of ``policy_node`` from its parameter file.

    Args:
        path: parameter file (None: the installed ``config/policy.yaml`` of exo_bringup).
        overrides: values applied on top of the file (as launch arguments are).

    Raises:
        ValueError: unknown key (quoted), wrong type or invalid value.

    """
    defaults = PolicyNodeParams.defaults()
    values, source = _node_values(POLICY_NODE, path, overrides, set(defaults))
    kwargs = {name: _policy_value(name, value, defaults[name], source)
              for name, value in values.items()}
    try:
        return PolicyNodeParams(**kwargs)
    except ValueError as exc:
        raise ValueError(f'{source}: {exc}') from exc


@dataclass(frozen=True)
class NodeConfig:
    """What the in-process evaluation takes from the nodes' configuration.

    Attributes:
        controller: controller_node's parameters.
        policy: policy_node's parameters (its ``mode`` is replaced by each evaluation
            condition; ``rate_hz`` sets the reference period).

    """

    controller: ControllerParams
    policy: PolicyNodeParams

    @property
    def policy_period(self) -> float:
        """Period of /exo/impedance_reference, s (``1 / rate_hz``)."""
        return 1.0 / self.policy.rate_hz


def load_node_config(controller_path: PathLike | None = None,
                     policy_path: PathLike | None = None) -> NodeConfig:
    """The nodes' configuration as the launch files set it up.

    A None path reads the installed file the launch files pass and applies the launch
    arguments' default values on top (what ``ros2 launch exo_bringup sim.launch.py``
    gives the nodes); an explicit file is taken as the whole configuration (no launch
    argument overrides, so every value in it counts).
    """
    controller = controller_params(
        controller_path, None if controller_path is not None else launch_overrides(
            CONTROLLER_NODE))
    policy = policy_params(
        policy_path, None if policy_path is not None else launch_overrides(POLICY_NODE))
    return NodeConfig(controller, policy)
