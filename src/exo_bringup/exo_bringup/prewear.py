"""Verdicts, table and report of the pre-wear check (pure, no rclpy).

:mod:`exo_bringup.prewear_check` runs the checks against the connected device and hands
what it measured to the functions here, which decide PASS/FAIL, print the table and
write the JSON report. Each item is what a person must see before wearing the device:

* **a**: the command stream stops (as when controller_node dies) -> the actuator's effort
  reads 0 within bridge_node's command timeout plus one loop tick, and stays 0;
* **b**: the e-stop (topic and controller service) gives zero torque, and the release
  follows the documented rule (topic: a release where it was pressed; service: refused
  while a topic publisher still holds the stop);
* **c**: a second publisher of /exo/impedance_reference asking for a far angle at high
  stiffness gets at most the assistance bound at the actuator.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import datetime
import json
import math
from pathlib import Path
from typing import Any, Sequence

#: The bound a rogue reference must respect at the actuator, N*m: policy_node's assistance
#: bound (5 N*m, exo_policy.params.MAX_ASSIST_TORQUE_NM) plus 1 N*m of the exo's own
#: compensation terms (its gravity and inertia, which no reference can change).
ROGUE_TORQUE_BOUND = 6.0
#: The rogue reference: angle, rad, and stiffness, N*m/rad.
ROGUE_ANGLE = 1.6
ROGUE_STIFFNESS = 300.0


@dataclass
class ItemResult:
    """One line of the pre-wear check.

    Attributes:
        key: 'a', 'b' or 'c'.
        name: what is checked.
        passed: True / False; None when it could not run.
        measured: what was measured, as printed.
        limit: the pass criterion, as printed.
        detail: why it failed or what else was seen.
        data: the numbers, for the JSON report.

    """

    key: str
    name: str
    passed: bool | None
    measured: str = ''
    limit: str = ''
    detail: str = ''
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """PASS, FAIL or NOT RUN."""
        return {True: 'PASS', False: 'FAIL', None: 'NOT RUN'}[self.passed]


def _ms(seconds: float | None) -> str:
    return 'n/a' if seconds is None or not math.isfinite(seconds) else f'{1e3 * seconds:.1f} ms'


def timeout_item(probe_effort: float | None, bridge_latency: float | None,
                 observed_latency: float | None, late_efforts: Sequence[float],
                 samples_checked: int, deadline: float, margin: float = 0.0) -> ItemResult:
    """Item a from what was measured after the command stream stopped.

    Args:
        probe_effort: largest |effort| the actuator read while the probe command ran (the
            stream must have reached the actuator, else a zero proves nothing).
        bridge_latency: bridge_node's own time from the last command to the zero it wrote
            (``last_timeout_latency_ms`` on /diagnostics), s.
        observed_latency: from the last command sent (the check's clock) to the stamp of
            the first zero-effort joint state after the last non-zero one (bridge_node's
            clock; the same clock on one machine), s: includes the command's delivery.
        late_efforts: the non-zero efforts of joint states stamped later than the last
            command plus ``deadline + margin``.
        samples_checked: how many joint states were stamped later than that.
        deadline: command_timeout + 1 / rate_hz of the bridge, s.
        margin: tolerance added to ``deadline`` (0 on the device; CI on a loaded machine).

    """
    limit = deadline + margin
    name = 'command stream stops -> effort 0 within the command timeout'
    data = {'probe_effort': probe_effort, 'bridge_latency_s': bridge_latency,
            'observed_latency_s': observed_latency, 'deadline_s': deadline,
            'margin_s': margin, 'samples_checked': samples_checked,
            'late_nonzero': len(late_efforts)}
    measured = f'{_ms(bridge_latency)} (bridge), {_ms(observed_latency)} (from send)'
    limit_text = f'<= {_ms(limit)}' + (f' (incl. margin {_ms(margin)})' if margin else '')
    if probe_effort is None or not probe_effort > 0.0:
        return ItemResult('a', name, False, measured, limit_text,
                          'the probe command never reached the actuator (effort stayed 0): '
                          'the check proves nothing', data)
    problems = []
    if bridge_latency is None or not math.isfinite(bridge_latency):
        problems.append('bridge_node reported no command timeout')
    elif bridge_latency > limit:
        problems.append(f'bridge zeroed {_ms(bridge_latency)} after the last command')
    if observed_latency is None:
        problems.append('no zero effort seen after the stream stopped')
    if not samples_checked:
        problems.append('no joint states after the deadline')
    elif late_efforts:
        problems.append(f'{len(late_efforts)} non-zero efforts later than {_ms(limit)} after '
                        f'the last command, e.g. {late_efforts[0]:.3f} N*m')
    return ItemResult('a', name, not problems, measured, limit_text, '; '.join(problems),
                      data)


def estop_item(steps: Sequence[tuple[str, bool, str]]) -> ItemResult:
    """Item b from its steps: (what, held, what was seen)."""
    failed = [f'{what}: {seen}' for what, ok, seen in steps if not ok]
    return ItemResult(
        'b', 'e-stop set -> zero torque; released by the documented rule', not failed,
        f'{sum(ok for _, ok, _ in steps)}/{len(steps)} steps', 'all steps',
        '; '.join(failed), {'steps': [{'step': w, 'passed': ok, 'seen': s}
                                      for w, ok, s in steps]})


def rogue_item(max_effort: float | None, max_command: float | None, aborted: bool,
               rate_hz: float, duration: float, q_range: tuple[float, float] | None,
               bound: float = ROGUE_TORQUE_BOUND) -> ItemResult:
    """Item c: the torque the actuator got while a rogue reference was published.

    Args:
        max_effort: largest |effort| at the actuator (/joint_states) during the rogue, N*m.
        max_command: largest |commanded torque| of controller_node meanwhile, N*m.
        aborted: the rogue was stopped early because the bound was exceeded.
        rate_hz: publication rate of the rogue, Hz.
        duration: how long it was published, s.
        q_range: (min, max) joint angle meanwhile, rad.
        bound: the assistance bound plus compensation, N*m.

    """
    name = (f'rogue reference ({ROGUE_ANGLE} rad, K {ROGUE_STIFFNESS:.0f}) -> torque within '
            'the assistance bound')
    data = {'max_effort': max_effort, 'max_commanded_torque': max_command,
            'aborted_early': aborted, 'rate_hz': rate_hz, 'duration_s': duration,
            'q_range': list(q_range) if q_range else None, 'bound': bound}
    if max_effort is None:
        return ItemResult('c', name, False, 'no joint states', f'<= {bound} N*m',
                          'no /joint_states during the rogue publication', data)
    peak = max(max_effort, max_command or 0.0)
    measured = f'{max_effort:.2f} N*m (actuator), {max_command or 0.0:.2f} (commanded)'
    detail = ''
    if peak > bound:
        detail = (f'{peak:.2f} N*m > {bound} N*m'
                  + (' (rogue stopped early)' if aborted else ''))
    if q_range is not None:
        detail = (detail + '; ' if detail else '') + (
            f'angle {q_range[0]:.2f}..{q_range[1]:.2f} rad')
    return ItemResult('c', name, peak <= bound, measured, f'<= {bound} N*m', detail, data)


def format_table(items: Sequence[ItemResult]) -> str:
    """The result table printed for the operator."""
    rows = [('item', 'check', 'measured', 'limit', 'result')]
    rows += [(i.key, i.name, i.measured, i.limit, i.verdict) for i in items]
    widths = [max(len(r[c]) for r in rows) for c in range(5)]
    lines = []
    for n, row in enumerate(rows):
        cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        lines.append('  '.join(cells).rstrip())
        if n == 0:
            lines.append('  '.join('-' * w for w in widths))
    details = [f'  {i.key}: {i.detail}' for i in items if i.detail]
    return '\n'.join(lines + (['details:'] + details if details else []))


def build_report(items: Sequence[ItemResult], device: dict[str, Any],
                 final_state: str) -> dict[str, Any]:
    """The JSON report: every item, the device's parameters and the state it was left in."""
    return {
        'time': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'passed': bool(items) and all(i.passed for i in items),
        'device': device,
        'final_state': final_state,
        'items': [{**asdict(i), 'verdict': i.verdict} for i in items],
    }


def write_report(path: Path, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + '\n')
