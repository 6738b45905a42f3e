"""docs/parameters.md, written from the parameters' own descriptions.

Every node's parameters are the :func:`exo_contract.parameters.param` fields of its
parameter classes plus the node-level :class:`~exo_contract.parameters.ParamSpec` objects
it declares (``autostart``); :data:`NODES` names them per node, and :func:`render` turns
them into one table per node (:func:`exo_contract.parameters.markdown_table`). The same
descriptions are what ``ros2 param describe`` shows on a running graph.

Usage::

    python -m exo_experiments.parameter_reference --write docs/parameters.md
    python -m exo_experiments.parameter_reference --check docs/parameters.md
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import importlib
from pathlib import Path
import sys
import textwrap
from typing import Sequence

from exo_contract.parameters import markdown_table, ParamSpec

#: The command that regenerates the page (quoted by the check).
WRITE_COMMAND = 'python -m exo_experiments.parameter_reference --write docs/parameters.md'

_READ_AT_START = ('Read once, at start (read-only: `ros2 param set` is refused with a reason); '
                  'an invalid value is a fatal error that names it.')
_AT_CONFIGURE = ('Applied at configure: while the node is configured `ros2 param set` is '
                 'refused with a reason (deactivate and clean up, set, configure again); an '
                 'invalid value leaves the node unconfigured with a logged error. `autostart` '
                 'is read once, at start.')


@dataclass(frozen=True)
class NodeParameters:
    """One node's parameters: ``module:attribute`` of its classes and ParamSpecs."""

    node: str
    package: str
    sources: tuple[str, ...]
    files: str
    when: str

    def load(self) -> tuple[list[type], list[ParamSpec]]:
        """The parameter classes and the node-level ParamSpecs, imported."""
        classes, extra = [], []
        for source in self.sources:
            module, name = source.split(':')
            obj = getattr(importlib.import_module(module), name)
            (extra if isinstance(obj, ParamSpec) else classes).append(obj)
        return classes, extra


#: Every node of the suite that declares parameters, in the order of the page.
NODES: tuple[NodeParameters, ...] = (
    NodeParameters('controller_node', 'exo_impedance_controller',
                   ('exo_impedance_controller.params:ControllerParams',
                    'exo_impedance_controller.controller_node:AUTOSTART',
                    'exo_impedance_controller.controller_node:REFERENCE_OWNER'),
                   '`exo_impedance_controller/config/params.yaml`', _AT_CONFIGURE),
    NodeParameters('bridge_node', 'exo_hardware',
                   ('exo_hardware.params:BridgeParams', 'exo_hardware.bridge_node:AUTOSTART'),
                   "`exo_hardware`'s `config/bridge.yaml`", _AT_CONFIGURE),
    NodeParameters('sim_node', 'exo_sim', ('exo_sim.params:SimNodeParams',),
                   "`exo_bringup`'s `config/sim.yaml`", _READ_AT_START),
    NodeParameters('policy_node', 'exo_policy', ('exo_policy.params:PolicyNodeParams',),
                   "`exo_bringup`'s `config/policy.yaml`", _READ_AT_START),
    NodeParameters('metabolic_node', 'exo_metabolic',
                   ('exo_metabolic.gas_exchange:MetabolicParams',),
                   "`exo_metabolic`'s `config/metabolic.yaml`", _READ_AT_START),
    NodeParameters('sim_analyser', 'exo_metabolic',
                   ('exo_metabolic.gas_exchange:AnalyserConfig',
                    'exo_metabolic.sim_analyser:SimAnalyserNodeParams'),
                   "`exo_metabolic`'s `config/metabolic.yaml`", _READ_AT_START),
    NodeParameters('exo_recorder', 'exo_experiments',
                   ('exo_experiments.recorder:RecorderParams',),
                   '`--ros-args -p` (exo_record)', _READ_AT_START),
    NodeParameters('exo_live_view', 'exo_experiments',
                   ('exo_experiments.live_view:LiveViewParams',),
                   '`--ros-args -p` (exo_live_view)', _READ_AT_START),
)

#: Nodes that declare no parameters of their own (named so that the page is complete).
WITHOUT_PARAMETERS = ('task_text_relay',)


def render(nodes: Sequence[NodeParameters] = NODES) -> str:
    """The whole page."""
    parts = [
        '# Parameters',
        '',
        _wrap(f'Written by `{WRITE_COMMAND}` from the parameter classes (description, unit and '
        'range are written once, as dataclass field metadata); `ros2 param describe <node> '
        '<name>` shows the same description and range on a running graph. An integer given '
        'for a double parameter (`-p torque_limit:=20`, a launch argument, a YAML file) is '
        "taken as that double. Every node also has rclpy's own `use_sim_time` and "
        '`start_type_description_service`.'),
        '',
    ]
    for spec in nodes:
        classes, extra = spec.load()
        note = _wrap(f'Package `{spec.package}`; values from {spec.files}. {spec.when}')
        table = markdown_table(spec.node, classes[0], extra=_merged(classes[1:], extra),
                               note=note)
        parts += [table]
    parts += ['## Nodes without parameters', '',
              ', '.join(f'`{n}`' for n in WITHOUT_PARAMETERS)
              + ': no parameters of its own.', '']
    return '\n'.join(parts)


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=99, break_long_words=False, break_on_hyphens=False)


def _merged(classes: Sequence[type], extra: Sequence[ParamSpec]) -> tuple[ParamSpec, ...]:
    from exo_contract.parameters import specs

    out: list[ParamSpec] = []
    for cls in classes:
        out += specs(cls)
    return (*out, *extra)


def main(argv: Sequence[str] | None = None) -> int:
    """Write or check the page; print it with neither option."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--write', type=Path, metavar='PATH', help='write the page to PATH')
    group.add_argument('--check', type=Path, metavar='PATH',
                       help='exit 1 when PATH differs from what --write would write')
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.write.write_text(text)
        print(f'wrote {args.write}')
    elif args.check:
        current = args.check.read_text() if args.check.exists() else ''
        if current != text:
            print(f'{args.check} is out of date; run: {WRITE_COMMAND}', file=sys.stderr)
            return 1
        print(f'{args.check} is up to date')
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
