"""Benchmark of the hardware bridge with the offline actuator (console script exo_bench_bridge).

Starts ``bridge_node`` (actuator ``offline``) and ``controller_node`` as separate processes
on a private ROS domain and measures, from the outside and from the bridge's own
diagnostics:

* the closed-loop rate: effort commands the bridge applies per second (each one answers a
  joint state it published), and its loop rate;
* the command-timeout-to-zero latency: the controller is frozen (SIGSTOP, a hung
  controller) and the time from its last command (the stamp of its last
  ``/exo/controller_state``, published with each command) to the stamp of the first
  ``/joint_states`` whose effort (the torque written to the actuator) is exactly 0 is
  measured, and the bridge's own figure (last command receipt to zero written) is read
  from its diagnostics; repeated
  ``--runs`` times (SIGCONT in between), then once more with SIGKILL (a crashed
  controller; reported apart).

Prints numbers (median over the runs) and writes ``bench_bridge.json`` and
``bench_bridge.png`` to ``--out``. Nothing is asserted: targets are >= 500 Hz closed loop
and zero <= 20 ms after the last command.

    exo_bench_bridge --runs 3 --window 5 --out out/bench_bridge
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import random
import signal
import statistics
import subprocess
import sys
import time

MODULE_BRIDGE = 'exo_hardware.bridge_node'
MODULE_CONTROLLER = 'exo_impedance_controller.controller_node'
TARGET_RATE_HZ = 500.0
TARGET_ZERO_MS = 20.0


def _share(package: str, relative: str) -> str:
    from ament_index_python.packages import get_package_share_directory
    return str(Path(get_package_share_directory(package)) / relative)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, s (Linux /proc)."""
    try:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return math.nan


class _Observer:
    """Subscribes the bridge's topics; all times are system time (the stamps' clock)."""

    def __init__(self, domain: int) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState

        from exo_contract.qos import CONTROLLER_STATE_TOPIC, JOINT_STATES_TOPIC
        from exo_hardware.bridge_node import DIAGNOSTIC_NAME
        from exo_interfaces.msg import ControllerState

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node('bench_bridge_observer', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.joint_states: list[tuple[float, float, float]] = []  # (stamp, q, effort)
        self.commands: list[float] = []  # stamps of the controller's ticks (one command each)
        self.diagnostics: list[tuple[float, dict]] = []  # (stamp, values)

        def on_js(msg):
            s = msg.header.stamp
            self.joint_states.append((s.sec + 1e-9 * s.nanosec, msg.position[0],
                                      msg.effort[0]))

        def on_diag(msg):
            s = msg.header.stamp
            for status in msg.status:
                if status.name == DIAGNOSTIC_NAME:
                    self.diagnostics.append((s.sec + 1e-9 * s.nanosec,
                                             {kv.key: kv.value for kv in status.values}))

        def on_state(msg):
            s = msg.header.stamp
            self.commands.append(s.sec + 1e-9 * s.nanosec)

        # Sender stamps, not receipt times (the observer may lag), and deep queues so that
        # a lagging observer loses nothing.
        deep = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2000,
                          reliability=ReliabilityPolicy.BEST_EFFORT)
        self.node.create_subscription(JointState, JOINT_STATES_TOPIC, on_js, deep)
        self.node.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, on_state,
                                      QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2000,
                                                 reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_subscription(DiagnosticArray, '/diagnostics', on_diag, 50)

    def spin(self, seconds: float, until=None) -> bool:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=0.002)
            if until is not None and until():
                return True
        return until is None

    def last_diag(self) -> dict:
        return self.diagnostics[-1][1] if self.diagnostics else {}

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


def _healthy(obs: _Observer) -> bool:
    from exo_hardware.core import ZEROING_FLAGS
    d = obs.last_diag()
    return bool(d) and not int(d.get('flags', '1')) & ZEROING_FLAGS \
        and d.get('command_publishers') == '/controller_node'


def _measure_stop(obs: _Observer, pid: int, sig: int, deadline: float = 5.0) -> dict:
    """Stop the controller with ``sig``; time from its last command to zero at the actuator."""
    timeouts_before = int(obs.last_diag().get('command_timeouts', '0'))
    t_signal = time.time()
    os.kill(pid, sig)
    obs.joint_states.clear()

    def zeroed():
        return any(e == 0.0 and t > t_signal for t, _, e in obs.joint_states)

    obs.spin(deadline, zeroed)
    obs.spin(0.2)  # the last controller ticks still in flight
    before = [t for t in obs.commands if t <= t_signal + 0.5]
    t_last = max(before) if before else math.nan
    zero = next((t for t, _, e in obs.joint_states if e == 0.0 and t > t_signal), math.nan)
    obs.spin(2.0, lambda: int(obs.last_diag().get('command_timeouts', '0')) > timeouts_before)
    window = [(t - t_last, e) for t, _, e in obs.joint_states]
    d = obs.last_diag()
    return {
        'signal': signal.Signals(sig).name,
        'external_latency_ms': 1e3 * (zero - t_last),
        'bridge_latency_ms': float(d.get('last_timeout_latency_ms', 'nan')),
        'stays_zero': all(e == 0.0 for t, e in window if t > zero - t_last),
        'trace': window[:400],
    }


def run(runs: int, window: float, out: Path, startup_timeout: float) -> dict:
    """Run the benchmark; returns the results written to bench_bridge.json."""
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    logs = out / 'logs'
    logs.mkdir(exist_ok=True)
    domain = random.randint(100, 230)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_LOG_DIR=str(logs),
               PYTHONUNBUFFERED='1', RCUTILS_LOGGING_BUFFERED_STREAM='1')
    procs: dict[str, subprocess.Popen] = {}
    files = []

    def start(name, module, params):
        log = open(logs / f'{name}.log', 'a')  # noqa: SIM115 (closed below)
        files.append(log)
        procs[name] = subprocess.Popen(
            [sys.executable, '-m', module, '--ros-args', '--params-file', _share(*params)]
            + (['-p', f'sdk_log_dir:={logs}', '-p', 'actuator:=offline', '-p',
                'autostart:=true']  # a dry run on the offline actuator
               if name == 'bridge_node' else []),
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    obs = _Observer(domain)
    results: dict = {'domain': domain, 'cpu_count': os.cpu_count(),
                     'load_average_start': os.getloadavg(), 'runs': []}
    try:
        start('bridge_node', MODULE_BRIDGE, ('exo_hardware', 'config/bridge.yaml'))
        start('controller_node', MODULE_CONTROLLER,
              ('exo_impedance_controller', 'config/params.yaml'))
        for i in tqdm(range(runs + 1), desc='bridge bench', unit='run'):
            crash = i == runs
            pid = procs['controller_node'].pid
            if not obs.spin(startup_timeout, lambda: _healthy(obs)):
                raise RuntimeError(f'closed loop did not come up: {obs.last_diag()}')
            obs.spin(0.5)
            d0, c0 = obs.diagnostics[-1], len(obs.commands)
            cpu0 = {n: _cpu_seconds(p.pid) for n, p in procs.items()}
            t0 = time.monotonic()
            obs.spin(window)
            elapsed = time.monotonic() - t0
            cpu = {n: 100.0 * (_cpu_seconds(p.pid) - cpu0[n]) / elapsed
                   for n, p in procs.items()}
            d1, c1 = obs.diagnostics[-1], len(obs.commands)
            dt = d1[0] - d0[0]
            loop = {
                'closed_loop_rate_hz': (int(d1[1]['commands_received'])
                                        - int(d0[1]['commands_received'])) / dt,
                'bridge_loop_rate_hz': (int(d1[1]['ticks']) - int(d0[1]['ticks'])) / dt,
                'observed_command_rate_hz': (c1 - c0) / elapsed,
                'late_ticks': int(d1[1]['late_ticks']) - int(d0[1]['late_ticks']),
                'cpu_percent': cpu,
            }
            stop = _measure_stop(obs, pid, signal.SIGKILL if crash else signal.SIGSTOP)
            if crash:
                results['crash'] = {**loop, **stop}
            else:
                results['runs'].append({**loop, **stop})
                os.kill(pid, signal.SIGCONT)
    finally:
        for p in procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGCONT)
                os.killpg(p.pid, signal.SIGINT)
        for p in procs.values():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for f in files:
            f.close()
        obs.close()
    results['load_average_end'] = os.getloadavg()
    keys = ('closed_loop_rate_hz', 'bridge_loop_rate_hz', 'external_latency_ms',
            'bridge_latency_ms')
    results['median'] = {k: statistics.median(r[k] for r in results['runs']) for k in keys}
    return results


def _plot(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for i, r in enumerate(results['runs'] + [results['crash']]):
        t = [1e3 * x for x, _ in r['trace']]
        name = 'crash' if r is results['crash'] else f'run {i + 1}'
        label = f"{name} ({r['signal']}): zero after {r['external_latency_ms']:.1f} ms"
        ax.step(t, [e for _, e in r['trace']], where='post', label=label)
    ax.axvline(TARGET_ZERO_MS, color='k', ls='--', lw=1, label=f'target {TARGET_ZERO_MS:.0f} ms')
    ax.set_xlim(-5, 60)
    ax.set_xlabel('time since the last command, ms')
    ax.set_ylabel('torque at the actuator, N*m')
    ax.set_title('bridge_node: controller stopped -> zero torque')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_bench_bridge``."""
    parser = argparse.ArgumentParser(prog='exo_bench_bridge', description=__doc__.split('\n')[0])
    parser.add_argument('--runs', type=int, default=3, help='SIGSTOP runs (median over them)')
    parser.add_argument('--window', type=float, default=5.0,
                        help='closed-loop measurement window per run, s')
    parser.add_argument('--startup-timeout', type=float, default=120.0,
                        help='longest wait for the closed loop to come up, s')
    parser.add_argument('--out', type=Path, default=Path('out/bench_bridge'))
    opts = parser.parse_args(argv)
    if opts.runs < 1 or opts.window <= 0:
        parser.error(f'--runs must be >= 1 and --window > 0, got {opts.runs}, {opts.window}')
    results = run(opts.runs, opts.window, opts.out, opts.startup_timeout)
    _plot(results, opts.out / 'bench_bridge.png')
    for r in results['runs'] + [results['crash']]:
        r.pop('trace', None)
    (opts.out / 'bench_bridge.json').write_text(json.dumps(results, indent=2))
    print(f'{"run":>5} {"signal":>8} {"loop Hz":>9} {"closed Hz":>10} {"zero ms (ext)":>14} '
          f'{"zero ms (bridge)":>17} {"cpu bridge %":>13} {"cpu ctrl %":>11}')
    for i, r in enumerate(results['runs'] + [results['crash']]):
        print(f'{i + 1:>5} {r["signal"]:>8} {r["bridge_loop_rate_hz"]:9.1f} '
              f'{r["closed_loop_rate_hz"]:10.1f} {r["external_latency_ms"]:14.2f} '
              f'{r["bridge_latency_ms"]:17.2f} {r["cpu_percent"]["bridge_node"]:13.1f} '
              f'{r["cpu_percent"]["controller_node"]:11.1f}')
    m = results['median']
    print(f'median of {len(results["runs"])} runs: closed loop {m["closed_loop_rate_hz"]:.1f} Hz '
          f'(target >= {TARGET_RATE_HZ:.0f}), bridge loop {m["bridge_loop_rate_hz"]:.1f} Hz, '
          f'zero {m["external_latency_ms"]:.2f} ms after the last command (bridge: '
          f'{m["bridge_latency_ms"]:.2f} ms; target <= {TARGET_ZERO_MS:.0f}); '
          f'{os.cpu_count()} cores, 1-min load average {results["load_average_start"][0]:.1f}'
          f' -> {results["load_average_end"][0]:.1f} (other processes slow both)')
    print(f'wrote {opts.out / "bench_bridge.json"} and {opts.out / "bench_bridge.png"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
