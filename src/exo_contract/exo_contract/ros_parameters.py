"""ROS side of :mod:`exo_contract.parameters`: descriptors, declaration, set-time rules.

:func:`declare` declares every parameter of a node's params dataclass with its
``ParameterDescriptor`` (description with unit and range, ``FloatingPointRange`` /
``IntegerRange``, ``additional_constraints``, ``read_only``), so ``ros2 param describe``
shows them. What ROS tools produce is accepted: an integer given for a float parameter (a
launch argument ``body_mass_kg:=80``, a YAML ``80``, ``--ros-args -p body_mass_kg:=80``,
``ros2 param set ... 80``) is taken as that float, both at declaration and at every later
set. A rejected start value is reported with the value and the range (never a crash
inside rclpy).

When a parameter takes effect:

* nodes that read their parameters once, at start, declare them ``read_only``: a later
  ``ros2 param set`` is refused, so ``ros2 param get`` always shows the value in effect;
* lifecycle nodes read theirs at configure: :func:`refuse_while_configured` refuses a change
  while the node is configured (inactive or active), with the reason; set them while
  unconfigured (or clean up first), then configure.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.exceptions import ParameterException
from rclpy.node import Node
from rclpy.parameter import Parameter

from exo_contract.parameters import ParamSpec, specs


def descriptor(spec: ParamSpec, read_only: bool = False) -> ParameterDescriptor:
    """The ROS descriptor of ``spec``: description (unit, range), range, read_only."""
    allowed = spec.range_text()
    unit = f' [{spec.unit}]' if spec.unit else ''
    d = ParameterDescriptor(description=f'{spec.description}{unit}',
                            additional_constraints=f'allowed: {allowed}' if allowed else '',
                            read_only=read_only)
    if spec.kind is float:
        d.floating_point_range = [FloatingPointRange(
            from_value=float(spec.low), to_value=float(spec.high), step=0.0)]
    elif spec.kind is int:
        d.integer_range = [IntegerRange(from_value=int(spec.low), to_value=int(spec.high),
                                        step=1)]
    return d


def _overrides(node: Node) -> dict:
    # rclpy keeps the --ros-args / launch / YAML values here until they are declared; there
    # is no public accessor, and they must be coerced (int -> float) before declaration.
    return getattr(node, '_parameter_overrides', {})


def declare(node: Node, cls_or_specs: type | Sequence[ParamSpec],
            read_only: bool = False) -> list[str]:
    """Declare the parameters of ``cls_or_specs``; return the errors of rejected values.

    An integer override of a float parameter is taken as the float. An override of the
    wrong type or out of range is not applied (the parameter keeps its default) and is
    reported in the returned list, quoting the value: the caller logs it and refuses to
    start (or to configure).
    """
    items = specs(cls_or_specs) if isinstance(cls_or_specs, type) else tuple(cls_or_specs)
    overrides = _overrides(node)
    errors = []
    for spec in items:
        ignore = False
        if spec.name in overrides:
            given = overrides[spec.name].value
            try:
                value = spec.check(given)
            except ValueError as err:
                errors.append(str(err))
                ignore = True
            else:
                if spec.kind is float and not isinstance(given, float):
                    overrides[spec.name] = Parameter(spec.name, Parameter.Type.DOUBLE, value)
        default = spec.default if spec.kind is not list else list(spec.default)
        try:
            node.declare_parameter(spec.name, default, descriptor(spec, read_only),
                                   ignore_override=ignore)
        except ParameterException as err:
            errors.append(f'{spec.name}: {err}')
            node.declare_parameter(spec.name, default, descriptor(spec, read_only),
                                   ignore_override=True)
    _install_coercion(node, items)
    return errors


def _install_coercion(node: Node, items: Sequence[ParamSpec]) -> None:
    # One pre-set callback per node: rclpy concatenates the lists that several return.
    floats = getattr(node, '_exo_float_parameters', None)
    if floats is None:
        floats = set()
        node._exo_float_parameters = floats

        def coerce_ints(parameters: list[Parameter]) -> list[Parameter]:
            return [Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
                    if p.name in floats and p.type_ == Parameter.Type.INTEGER else p
                    for p in parameters]

        node.add_pre_set_parameters_callback(coerce_ints)
    floats.update(s.name for s in items if s.kind is float)


def declare_or_raise(node: Node, *classes: type) -> dict[str, Any]:
    """Declare the parameters of ``classes`` read-only (read once, at start); return values.

    A rejected value is logged (fatal) and raised as ``ValueError`` (``run_node`` exits 2).
    """
    errors = []
    for cls in classes:
        errors += declare(node, cls, read_only=True)
    if errors:
        message = 'invalid parameters: ' + '; '.join(errors)
        node.get_logger().fatal(message)
        raise ValueError(message)
    out = {}
    for cls in classes:
        out.update(values(node, cls))
    return out


def values(node: Node, cls: type) -> dict[str, Any]:
    """Parameter name -> current value, for every parameter of ``cls``."""
    return {s.name: node.get_parameter(s.name).value for s in specs(cls)}


def refuse_while_configured(node: Node, names: Sequence[str],
                            configured: Callable[[], bool],
                            validate: Callable[[dict], None] | None = None) -> None:
    """Refuse a change of ``names`` while ``configured()``; else check it with ``validate``.

    ``validate(changes)`` raises ValueError (its message is the reason given to the caller
    of ``ros2 param set``) for a value that configure would reject.
    """
    watched = set(names)

    def on_set(parameters: list[Parameter]) -> SetParametersResult:
        changes = {p.name: p.value for p in parameters if p.name in watched}
        if not changes:
            return SetParametersResult(successful=True)
        if configured():
            shown = ', '.join(sorted(changes))
            return SetParametersResult(successful=False, reason=(
                f'{shown}: takes effect at configure and {node.get_name()} is configured; '
                'deactivate and clean up the node, set it, then configure again'))
        if validate is not None:
            try:
                validate(changes)
            except ValueError as err:
                return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_set)
