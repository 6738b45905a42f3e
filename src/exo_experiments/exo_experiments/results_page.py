"""Results pages: the Markdown a measuring command writes beside its JSON.

Every number on a results page comes from the run that wrote it: ``exo_eval``, ``exo_bench``
and ``exo_faults`` each write ``results.md`` into their output folder (and, with
``--results-page PATH``, to a page of the documentation), headed by the command line, the
time, the software version and the machine, so that a page is never typed by hand and
always says where its numbers came from.
"""

from __future__ import annotations

from collections.abc import Sequence
import datetime
import os
from pathlib import Path
import platform
import subprocess
import sys


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; None is written as '-', floats as given by the caller."""
    def cell(value: object) -> str:
        return '-' if value is None else str(value).replace('|', '\\|')

    lines = ['| ' + ' | '.join(cell(h) for h in headers) + ' |',
             '|' + '|'.join('---' for _ in headers) + '|']
    lines += ['| ' + ' | '.join(cell(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines)


def fmt(value: float | None, digits: int = 3, signed: bool = False) -> str | None:
    """``value`` with ``digits`` decimals (a sign with ``signed``); None stays None."""
    if value is None:
        return None
    return f'{value:+.{digits}f}' if signed else f'{value:.{digits}f}'


def interval(values: Sequence[float] | None, digits: int = 3) -> str | None:
    """A 95 % interval ``[lo, hi]`` or None."""
    if not values:
        return None
    return f'[{values[0]:.{digits}f}, {values[1]:.{digits}f}]'


def _git_revision() -> str:
    """The checkout's commit (with '-dirty' when it has changes), or 'unknown'."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=here, text=True,
                             capture_output=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=here, text=True, capture_output=True, timeout=5,
                               check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    return rev + ('-dirty' if dirty else '')


def provenance(argv: Sequence[str] | None = None) -> str:
    """The header line of a results page: command, time, software revision, machine."""
    command = ' '.join([Path(sys.argv[0]).name, *(sys.argv[1:] if argv is None else argv)])
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    load = ', '.join(f'{x:.1f}' for x in os.getloadavg())
    return (f'Written by `{command}` on {now}; software {_git_revision()}; '
            f'{os.cpu_count()} cores ({platform.machine()}), load average {load} at the end.')


def write_results_page(paths: Sequence[Path], title: str, sections: Sequence[tuple[str, str]],
                       argv: Sequence[str] | None = None) -> list[Path]:
    """Write one page (``title``, provenance, then each ``(heading, body)``) to ``paths``."""
    parts = [f'# {title}', '', provenance(argv), '']
    for heading, body in sections:
        parts += [f'## {heading}', '', body.rstrip(), '']
    text = '\n'.join(parts)
    written = []
    for path in paths:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
