"""Start the exo-vic graph as separate processes without the ``launch`` package.

The ROS 2 wheels on PyPI carry rclpy but not ``launch``/``ros2cli``; this launcher starts
the same nodes as ``ros2 launch exo_bringup sim.launch.py`` (the definition is shared, see
:mod:`exo_bringup.graph`), one OS process each, forwards Ctrl-C and stops them cleanly.

    exo_launch sim --body_mass_kg 80 --policy_mode oracle
    exo_launch sim --lockstep true              # simulated time, steps wait for the controller
    exo_launch sim --discovery_range SUBNET     # a lab network instead of this machine only

Every node runs on a private network by default: ROS_DOMAIN_ID 42 and
ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST unless the environment sets them (export them, or
pass ``--ros_domain_id`` / ``--discovery_range``); see
:func:`exo_bringup.graph.network_environment`.
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
    enclave,
    GraphArgument,
    LOCKSTEP_ARGUMENT,
    lockstep_environment,
    lockstep_overrides,
    NETWORK_ARGUMENTS,
    network_environment,
    node_overrides,
    node_transport_environment,
    NodeSpec,
    parameter_text,
    parse_bool,
    REAL_ARGUMENTS,
    REAL_GRAPH,
    select_nodes,
    share_path,
    SIM_ARGUMENTS,
    SIM_GRAPH,
)

GRAPHS = {'sim': (SIM_GRAPH, SIM_ARGUMENTS), 'real': (REAL_GRAPH, REAL_ARGUMENTS)}


def node_command(spec: NodeSpec, arguments: tuple[GraphArgument, ...],
                 values: dict[str, str]) -> list[str]:
    """Command line that runs ``spec`` with its parameter files and argument overrides."""
    cmd = [sys.executable, '-m', spec.module, '--ros-args', '-r', f'__node:={spec.name}',
           '--enclave', enclave(spec)]
    for package, relative in spec.param_files:
        cmd += ['--params-file', str(share_path(package, relative))]
    for parameter, value in spec.parameters:
        cmd += ['-p', f'{parameter}:={parameter_text(value)}']
    for parameter, value in node_overrides(arguments, values, spec.name).items():
        cmd += ['-p', f'{parameter}:={value}']
    for parameter, value in lockstep_overrides(spec, graph_lockstep(arguments, values)).items():
        cmd += ['-p', f'{parameter}:={value}']
    for source, target in spec.remappings:
        cmd += ['-r', f'{source}:={target}']
    return cmd


def graph_lockstep(arguments: tuple[GraphArgument, ...], values: dict[str, str]) -> bool:
    """Whether ``values`` put a graph with ``arguments`` into lockstep (ValueError quoting)."""
    if LOCKSTEP_ARGUMENT not in arguments:
        return False
    return parse_bool(LOCKSTEP_ARGUMENT.name,
                      values.get(LOCKSTEP_ARGUMENT.name, LOCKSTEP_ARGUMENT.default))


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (Linux: SigCgt of /proc/<pid>/status)."""
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('SigCgt:'):
                return bool(int(line.split()[1], 16) >> (int(sig) - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


class GraphProcesses:
    """The nodes of a graph as child processes (a context manager that stops them).

    Args:
        graph: 'sim' or 'real'.
        values: launch-argument values (missing ones take their defaults).
        log_dir: when given, each node's output goes to ``<log_dir>/<node>.log``.
        extra: additional (name, command) processes started with the graph.
        network: explicit values of :data:`exo_bringup.graph.NETWORK_ARGUMENTS`
            (``ros_domain_id``, ``discovery_range``); missing ones come from the
            environment, else the project defaults (domain 42, LOCALHOST).

    """

    def __init__(self, graph: str = 'sim', values: dict[str, str] | None = None,
                 log_dir: Path | None = None,
                 extra: tuple[tuple[str, list[str]], ...] = (),
                 network: dict[str, str] | None = None) -> None:
        if graph not in GRAPHS:
            raise ValueError(f'graph must be one of {sorted(GRAPHS)}, got {graph!r}')
        specs, arguments = GRAPHS[graph]
        values = dict(values or {})
        unknown = sorted(set(values) - {a.name for a in arguments})
        if unknown:
            raise ValueError(f'unknown launch arguments {unknown} for graph {graph!r}')
        #: Whether the graph runs in lockstep (simulated time).
        self.lockstep = graph_lockstep(arguments, values)
        self.network = dict(network or {})
        network_environment({}, self.network)  # reject bad values before anything starts
        # hardware:=bridge adds bridge_node; ros2_control expects controller_manager from
        # real.launch.py (or the robot's own bringup) and starts policy + controller only.
        selected = select_nodes(specs, arguments, values)
        self.commands = [(s.name, node_command(s, arguments, values)) for s in selected]
        self.commands += list(extra)
        #: name -> seconds before a node that exited is started again (NodeSpec).
        self.respawn = {s.name: s.respawn_delay for s in selected
                        if s.respawn_delay is not None}
        self.restarts: dict[str, int] = {}
        self._exited_at: dict[str, float] = {}
        self._env: dict[str, str] = {}
        # Per-node environment (lockstep: the executor of the nodes on simulated time).
        self._node_env = {s.name: lockstep_environment(s, self.lockstep) for s in selected}
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self._logs: list[IO] = []

    def start(self) -> 'GraphProcesses':
        """Start every process."""
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        env = os.environ.copy()
        # A private network unless the caller chose one (domain 42, this machine only).
        env.update(network_environment(env, self.network))
        # Child nodes only: the caller's own process keeps its transports.
        env.update(node_transport_environment(env))
        self.environment = {name: env.get(name, '') for name in (
            'ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE')}
        # Line-buffered node logs even when redirected to files.
        env.setdefault('RCUTILS_LOGGING_BUFFERED_STREAM', '1')
        env.setdefault('PYTHONUNBUFFERED', '1')
        self._env = env
        for name, cmd in self.commands:
            self._spawn(name, cmd, 'w')
        return self

    def start_process(self, name: str, cmd: list[str]) -> None:
        """Start process ``name`` (again) with ``cmd`` in the graph's environment.

        After :meth:`start`; its log is appended to; :meth:`stop` stops it with the others.
        """
        self._spawn(name, cmd, 'a')

    def _spawn(self, name: str, cmd: list[str], mode: str) -> None:
        """Start one process (its log opened with ``mode``: 'w' new, 'a' a restart)."""
        env = self._env
        out = None
        if self.log_dir is not None:
            out = open(self.log_dir / f'{name}.log', mode)  # noqa: SIM115 (closed in stop)
            self._logs.append(out)
        node_env = {**self._node_env.get(name, {}), **env} if 'EXO_VIC_EXECUTOR' in env \
            else {**env, **self._node_env.get(name, {})}  # the caller's choice wins
        self.processes[name] = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT if out else None,
            env=node_env, start_new_session=True)

    def supervise(self) -> dict[str, int]:
        """Restart exited nodes that may respawn (after their delay); return the others.

        Returns: name -> return code of the exited processes that may not respawn (the
        caller stops the graph when this is not empty).
        """
        ended = {}
        now = time.monotonic()
        for name, code in self.dead().items():
            if name not in self.respawn:
                ended[name] = code
                continue
            exited = self._exited_at.setdefault(name, now)
            if now - exited >= self.respawn[name]:
                del self._exited_at[name]
                self.restarts[name] = self.restarts.get(name, 0) + 1
                print(f'exo_launch: {name} exited ({code}); restart {self.restarts[name]}',
                      file=sys.stderr, flush=True)
                self._spawn(name, dict(self.commands)[name], 'a')
        return ended

    def stacks(self, wait: float = 1.0, lines: int = 60) -> str:
        """Where every running node is: its thread stacks, from the end of its log.

        Sends SIGUSR1 to each running process that catches it (exo_contract.runtime.run_node
        writes every thread's Python stack to the log and the node goes on; a process still
        importing, which SIGUSR1 would end, is left alone), waits ``wait`` seconds and returns
        the last ``lines`` lines of each node's log ('' without a log directory).
        """
        if self.log_dir is None:
            return ''
        running = [name for name, p in self.processes.items() if p.poll() is None]
        for name in running:
            pid = self.processes[name].pid
            if _catches(pid, signal.SIGUSR1):
                try:
                    os.kill(pid, signal.SIGUSR1)
                except ProcessLookupError:
                    pass
        time.sleep(wait)
        parts = []
        for name in running:
            path = self.log_dir / f'{name}.log'
            tail = path.read_text(errors='replace').splitlines()[-lines:] if path.exists() \
                else []
            parts.append(f'--- {name} (end of {path}) ---\n' + '\n'.join(tail))
        return '\n'.join(parts)

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
    for arg in NETWORK_ARGUMENTS:
        parser.add_argument(f'--{arg.name}', default=None, help=arg.description)
    parser.add_argument('--log-dir', type=Path, default=None, help='write node logs here')
    opts = parser.parse_args(argv)
    values = {n: getattr(opts, n) for n in names if getattr(opts, n) is not None}
    network = {a.name: getattr(opts, a.name) for a in NETWORK_ARGUMENTS
               if getattr(opts, a.name) is not None}
    try:
        graph = GraphProcesses(opts.graph, values, opts.log_dir, network=network)
    except ValueError as err:
        parser.error(str(err))
    stop_on_sigterm()
    graph.start()
    env = graph.environment
    print(f'exo_launch: started {", ".join(graph.processes)} on ROS_DOMAIN_ID '
          f'{env["ROS_DOMAIN_ID"]}, discovery {env["ROS_AUTOMATIC_DISCOVERY_RANGE"]}'
          f'{", lockstep" if graph.lockstep else ""}; Ctrl-C to stop', flush=True)
    try:
        # policy_node is restarted when it exits; any other node's exit stops the graph.
        while not (ended := graph.supervise()):
            time.sleep(0.2)
        print(f'exo_launch: node exited: {ended}; stopping the graph', file=sys.stderr)
    except KeyboardInterrupt:
        pass
    codes = graph.stop()
    return 0 if all(c in (0, -signal.SIGINT) for c in codes.values()) else 1


if __name__ == '__main__':
    sys.exit(main())
