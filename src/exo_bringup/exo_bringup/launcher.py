"""Start the exo-vic graph as separate processes without the ``launch`` package.

The ROS 2 wheels on PyPI carry rclpy but not ``launch``/``ros2cli``; this launcher starts
the same nodes as ``ros2 launch exo_bringup sim.launch.py`` (the definition is shared, see
:mod:`exo_bringup.graph`), one OS process each, forwards Ctrl-C and stops them cleanly.

    exo_launch sim --body_mass_kg 80 --policy_mode oracle
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import IO

from exo_bringup.graph import (
    GraphArgument,
    node_overrides,
    NodeSpec,
    REAL_ARGUMENTS,
    REAL_GRAPH,
    share_path,
    SIM_ARGUMENTS,
    SIM_GRAPH,
)

GRAPHS = {'sim': (SIM_GRAPH, SIM_ARGUMENTS), 'real': (REAL_GRAPH, REAL_ARGUMENTS)}


def node_command(spec: NodeSpec, arguments: tuple[GraphArgument, ...],
                 values: dict[str, str]) -> list[str]:
    """Command line that runs ``spec`` with its parameter files and argument overrides."""
    cmd = [sys.executable, '-m', spec.module, '--ros-args', '-r', f'__node:={spec.name}']
    for package, relative in spec.param_files:
        cmd += ['--params-file', str(share_path(package, relative))]
    for parameter, value in node_overrides(arguments, values, spec.name).items():
        cmd += ['-p', f'{parameter}:={value}']
    for source, target in spec.remappings:
        cmd += ['-r', f'{source}:={target}']
    return cmd


class GraphProcesses:
    """The nodes of a graph as child processes (a context manager that stops them).

    Args:
        graph: 'sim' or 'real'.
        values: launch-argument values (missing ones take their defaults).
        log_dir: when given, each node's output goes to ``<log_dir>/<node>.log``.
        extra: additional (name, command) processes started with the graph.

    """

    def __init__(self, graph: str = 'sim', values: dict[str, str] | None = None,
                 log_dir: Path | None = None,
                 extra: tuple[tuple[str, list[str]], ...] = ()) -> None:
        if graph not in GRAPHS:
            raise ValueError(f'graph must be one of {sorted(GRAPHS)}, got {graph!r}')
        specs, arguments = GRAPHS[graph]
        values = dict(values or {})
        unknown = sorted(set(values) - {a.name for a in arguments})
        if unknown:
            raise ValueError(f'unknown launch arguments {unknown} for graph {graph!r}')
        self.commands = [(s.name, node_command(s, arguments, values)) for s in specs]
        self.commands += list(extra)
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list[IO] = []

    def start(self) -> 'GraphProcesses':
        """Start every process."""
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        env = os.environ.copy()
        # Line-buffered node logs even when redirected to files.
        env.setdefault('RCUTILS_LOGGING_BUFFERED_STREAM', '1')
        env.setdefault('PYTHONUNBUFFERED', '1')
        for name, cmd in self.commands:
            out = None
            if self.log_dir is not None:
                out = open(self.log_dir / f'{name}.log', 'w')  # noqa: SIM115 (closed in stop)
                self._logs.append(out)
            self.processes[name] = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT if out else None,
                env=env, start_new_session=True)
        return self

    def dead(self) -> dict[str, int]:
        """Processes that have exited: name -> return code."""
        return {name: p.returncode for name, p in self.processes.items()
                if p.poll() is not None}

    def stop(self, timeout: float = 10.0) -> dict[str, int]:
        """SIGINT every process, escalate to SIGTERM/SIGKILL; returns name -> return code."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            alive = [p for p in self.processes.values() if p.poll() is None]
            for p in alive:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + timeout
            while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
                time.sleep(0.05)
        for log in self._logs:
            log.close()
        self._logs.clear()
        return {name: p.returncode for name, p in self.processes.items()}

    def __enter__(self) -> 'GraphProcesses':
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Make SIGTERM (``timeout``, service managers) unwind like Ctrl-C, so nodes get stopped."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_launch``: run a graph until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog='exo_launch', description='Start the exo-vic graph without the launch package.')
    parser.add_argument('graph', choices=sorted(GRAPHS), help="'sim' or 'real'")
    names = sorted({a.name for _, args in GRAPHS.values() for a in args})
    for name in names:
        arg = next(a for _, args in GRAPHS.values() for a in args if a.name == name)
        parser.add_argument(f'--{name}', default=None, help=f'{arg.description} '
                            f'(default {arg.default})')
    parser.add_argument('--log-dir', type=Path, default=None, help='write node logs here')
    opts = parser.parse_args(argv)
    values = {n: getattr(opts, n) for n in names if getattr(opts, n) is not None}
    try:
        graph = GraphProcesses(opts.graph, values, opts.log_dir)
    except ValueError as err:
        parser.error(str(err))
    stop_on_sigterm()
    graph.start()
    print(f'exo_launch: started {", ".join(graph.processes)}; Ctrl-C to stop', flush=True)
    try:
        while not graph.dead():
            time.sleep(0.2)
        print(f'exo_launch: node exited: {graph.dead()}', file=sys.stderr)
    except KeyboardInterrupt:
        pass
    codes = graph.stop()
    return 0 if all(c in (0, -signal.SIGINT) for c in codes.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
