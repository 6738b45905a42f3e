"""Node parameters described once: description, unit and range as dataclass field metadata.

Every node's parameters are the fields of one frozen dataclass (its params module). Each
field is written with :func:`param`, which carries the description, the unit and the
allowed range or choices. From that one description come:

* the validation (:func:`check_fields`, called by the dataclass's ``__post_init__``): an
  integer given for a float field is taken as that float, a wrong type or an out-of-range
  value raises a ``ValueError`` that quotes the value, the unit and the range;
* the ROS parameter descriptors (:mod:`exo_contract.ros_parameters`: description,
  ``FloatingPointRange`` / ``IntegerRange``, ``additional_constraints``, ``read_only``);
* the parameter reference (:func:`markdown_table`, docs/parameters.md).

Cross-field rules (``stiffness_max > stiffness_min``) stay in the dataclass's
``__post_init__``, after :func:`check_fields`. Pure Python: no rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, MISSING
import math
from typing import Any, Mapping, Sequence

_KEY = 'exo_param'
#: Types a parameter may have (the ROS parameter types the nodes use).
KINDS = (bool, int, float, str, list)


@dataclass(frozen=True)
class ParamSpec:
    """What one parameter is: name, type, default, description, unit, range or choices.

    ``low``/``high``: the closed range ``[low, high]`` unless ``low_open``/``high_open``
    (then ``(low, ...`` / ``..., high)``); both are given for every number. ``choices``:
    the allowed strings (``pattern_note`` explains any other accepted form).
    """

    name: str
    kind: type
    default: Any
    description: str
    unit: str = ''
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    pattern_note: str = ''
    may_be_empty: bool = True

    def range_text(self) -> str:
        """The allowed values in words: '(0, 25] N*m', "one of 'a', 'b'", ''."""
        if self.kind in (int, float):
            left = '(' if self.low_open else '['
            right = ')' if self.high_open else ']'
            unit = f' {self.unit}' if self.unit else ''
            return f'{left}{_number(self.low)}, {_number(self.high)}{right}{unit}'
        if self.choices:
            text = 'one of ' + ', '.join(repr(c) for c in self.choices)
            return text + (f' or {self.pattern_note}' if self.pattern_note else '')
        if self.kind is str and not self.may_be_empty:
            return 'non-empty'
        return ''

    def check(self, value: Any) -> Any:
        """``value`` as this parameter's type (int -> float), else ValueError quoting it."""
        value = coerce(self, value)
        if self.kind in (int, float):
            ok = (math.isfinite(value)
                  and (value > self.low if self.low_open else value >= self.low)
                  and (value < self.high if self.high_open else value <= self.high))
            if not ok:
                raise ValueError(f'{self.name} must be in {self.range_text()}, got {value!r}')
        elif self.kind is str:
            if self.choices and value not in self.choices and not self.pattern_note:
                raise ValueError(f'{self.name} must be {self.range_text()}, got {value!r}')
            if not self.may_be_empty and not value.strip():
                raise ValueError(f'{self.name} must be a non-empty string, got {value!r}')
        return value


def _number(x: float | None) -> str:
    if x is None:
        return '?'
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def param(default: Any = MISSING, description: str = '', unit: str = '', *,
          low: float | None = None, high: float | None = None, low_open: bool = False,
          high_open: bool = False, choices: Sequence[str] = (), pattern_note: str = '',
          may_be_empty: bool = True, default_factory: Any = MISSING) -> Any:
    """A dataclass field that is a node parameter (the arguments are :class:`ParamSpec`'s).

    Numbers need both ``low`` and ``high`` (a physical range; ROS shows it).
    """
    value = default_factory() if default_factory is not MISSING else default
    kind = type(value)
    if kind not in KINDS:
        raise TypeError(f'parameter default {value!r}: type {kind.__name__} is not one of '
                        f'{[k.__name__ for k in KINDS]}')
    if kind in (int, float) and (low is None or high is None):
        raise TypeError(f'numeric parameter with default {value!r} needs low and high')
    if not description:
        raise TypeError(f'parameter with default {value!r} needs a description')
    meta = {_KEY: dict(kind=kind, description=description, unit=unit, low=low, high=high,
                       low_open=low_open, high_open=high_open, choices=tuple(choices),
                       pattern_note=pattern_note, may_be_empty=may_be_empty)}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


def specs(cls: type) -> tuple[ParamSpec, ...]:
    """The :class:`ParamSpec` of every :func:`param` field of dataclass ``cls``, in order."""
    out = []
    for f in fields(cls):
        meta = f.metadata.get(_KEY)
        if meta is None:
            continue
        default = f.default_factory() if f.default is MISSING else f.default
        out.append(ParamSpec(name=f.name, default=default, **meta))
    return tuple(out)


def defaults(cls: type) -> dict[str, Any]:
    """Parameter name -> default value, in declaration order."""
    return {s.name: s.default for s in specs(cls)}


def coerce(spec: ParamSpec, value: Any) -> Any:
    """``value`` as ``spec.kind``: an integer is taken as a float; else ValueError quoting it."""
    kind = spec.kind
    unit = f' ({spec.unit})' if spec.unit else ''
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f'{spec.name} must be true or false, got {value!r}')
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f'{spec.name} must be an integer{unit}, got {value!r}')
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'{spec.name} must be a number{unit}, got {value!r}')
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f'{spec.name} must be a string, got {value!r}')
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f'{spec.name} must be a list of strings, got {value!r}')


def check_fields(obj: Any) -> None:
    """Coerce and check every parameter field of dataclass instance ``obj`` (in place).

    For ``__post_init__`` of a frozen dataclass; raises ValueError quoting the first bad
    value.
    """
    for spec in specs(type(obj)):
        object.__setattr__(obj, spec.name, spec.check(getattr(obj, spec.name)))


def build(cls: type, values: Mapping[str, Any]) -> Any:
    """An instance of ``cls`` from ``values``; unknown names raise ValueError."""
    known = {s.name for s in specs(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f'unknown parameter(s) {unknown}; allowed: {sorted(known)}')
    return cls(**dict(values))


def one_line(spec: ParamSpec) -> str:
    """Description, unit and range in one line (the ROS descriptor's description)."""
    allowed = spec.range_text()
    unit = f' [{spec.unit}]' if spec.unit and not allowed else ''
    return f'{spec.description}{unit}' + (f' Allowed: {allowed}.' if allowed else '')


def _cell(text: str) -> str:
    return text.replace('|', '\\|').replace('\n', ' ')


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float):
        return _number(value)
    return repr(value)


def markdown_table(node: str, cls: type, extra: Sequence[ParamSpec] = (),
                   note: str = '') -> str:
    """A markdown section with one row per parameter of ``node`` (``cls`` + ``extra``)."""
    lines = [f'## {node}', '']
    if note:
        lines += [note, '']
    lines += ['| Parameter | Type | Default | Unit | Allowed | Description |',
              '|---|---|---|---|---|---|']
    for s in (*specs(cls), *extra):
        kind = 'string[]' if s.kind is list else ('double' if s.kind is float
                                                  else s.kind.__name__)
        allowed = s.range_text()
        if s.unit and allowed.endswith(' ' + s.unit):
            allowed = allowed[:-len(s.unit) - 1]
        lines.append(f'| `{s.name}` | {kind} | `{_cell(_default_text(s.default))}` | '
                     f'{_cell(s.unit)} | {_cell(allowed)} | {_cell(s.description)} |')
    return '\n'.join(lines) + '\n'
