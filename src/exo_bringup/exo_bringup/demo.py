"""``make demo``: the simulated graph, headless, through all nine tasks, recorded.

Starts sim_node, policy_node and controller_node as separate processes (the graph of
``sim.launch.py``) plus the MCAP recorder, sends every task's canonical text on
/task_text in turn (and finally a text that names no task, which must leave the human at
rest and the exo compliant), then stops the graph and writes into ``--out``:
``recording.mcap`` (every topic, ROS 2 MCAP with schemas), ``summary.json`` (schema in
the README) and plots (``overview.png``, ``task_NN_<task>.png``), plus node logs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time

import rclpy
from rclpy.executors import SingleThreadedExecutor
from tqdm import tqdm

from exo_bringup.analysis import summarize, write_summary
from exo_bringup.launcher import GraphProcesses, stop_on_sigterm
from exo_bringup.plots import write_plots
from exo_bringup.send_task import publish_task_text
from exo_contract.qos import CONTROLLER_STATE_TOPIC, STATE_QOS, TASK_TEXT_TOPIC
from exo_contract.tasks import TASKS
from exo_impedance_controller.params import ControllerParams
from exo_interfaces.msg import ControllerState

UNKNOWN_TEXT = 'do a backflip'
RMSE_TARGET_RAD = 0.05


class GraphObserver:
    """An rclpy node in the demo process: sends task texts and watches the controller."""

    def __init__(self) -> None:
        rclpy.init(args=[])
        self.node = rclpy.create_node('exo_demo')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.ticks = 0
        # Only to see the graph come up; destroyed once ready (it costs CPU at 1 kHz).
        self._state_sub = self.node.create_subscription(
            ControllerState, CONTROLLER_STATE_TOPIC, self._on_state, STATE_QOS)

    def _on_state(self, _msg: ControllerState) -> None:
        self.ticks += 1

    def spin_for(self, seconds: float, graph: GraphProcesses) -> None:
        """Spin for ``seconds``; raise RuntimeError if a node of the graph died."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)
            dead = graph.dead()
            if dead:
                raise RuntimeError(f'node(s) exited during the demo: {dead}')

    def wait_ready(self, graph: GraphProcesses, timeout: float, subscribers: int) -> None:
        """Wait until the controller ticks and every /task_text subscriber is there."""
        deadline = time.monotonic() + timeout
        start_ticks = self.ticks
        while time.monotonic() < deadline:
            self.spin_for(0.2, graph)
            if (self.ticks - start_ticks > 100
                    and self.node.count_subscribers(TASK_TEXT_TOPIC) >= subscribers):
                self.node.destroy_subscription(self._state_sub)
                return
        raise RuntimeError(
            f'graph not ready after {timeout} s: {self.ticks - start_ticks} controller ticks, '
            f'{self.node.count_subscribers(TASK_TEXT_TOPIC)} /task_text subscribers')

    def close(self) -> None:
        """Destroy the node and shut rclpy down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def run_demo(out: Path, body_mass_kg: float, settle_s: float, ready_timeout: float,
             texts: list[tuple[str, float]]) -> dict:
    """Run the graph through ``texts`` [(text, seconds)], record, and summarise."""
    out.mkdir(parents=True, exist_ok=True)
    recording = out / 'recording.mcap'
    recording.unlink(missing_ok=True)
    recorder = ('recorder', [sys.executable, '-m', 'exo_bringup.recorder', '--ros-args',
                             '-p', f'output:={recording}'])
    graph = GraphProcesses('sim', {'body_mass_kg': str(body_mass_kg)}, out / 'logs',
                           extra=(recorder,))
    observer = GraphObserver()
    try:
        graph.start()
        print(f'[demo] started {", ".join(graph.processes)}; logs in {out / "logs"}',
              flush=True)
        observer.wait_ready(graph, ready_timeout, subscribers=3)
        observer.spin_for(settle_s, graph)
        for text, seconds in tqdm(texts, desc='[demo] tasks', unit='task'):
            tqdm.write(f'[demo] /task_text: {text!r} ({seconds:.1f} s)')
            publish_task_text(observer.node, text)
            observer.spin_for(seconds, graph)
    finally:
        codes = graph.stop()
        observer.close()
    print(f'[demo] graph stopped: {codes}', flush=True)
    if not recording.exists():
        raise RuntimeError(f'the recorder wrote no {recording}; see {out / "logs"}')
    limit = ControllerParams().torque_limit
    summary = summarize(recording, torque_limit=limit)
    summary['body_mass_kg'] = body_mass_kg
    write_summary(summary, out / 'summary.json')
    plots = write_plots(recording, out, summary)
    print(f'[demo] wrote {out / "summary.json"} and {len(plots)} plots', flush=True)
    return summary


def print_summary(summary: dict) -> bool:
    """Print the per-task table; True when every task meets the targets."""
    ok = True
    print(f'{"task":<16} {"rmse_rad":>9} {"max|tau|":>9} {"K-rate":>7} {"tau-lim":>8} '
          f'{"nonfinite":>9}')
    for task in summary['tasks']:
        rmse = task.get('rmse_rad')
        violations = (task['stiffness_rate_violations'] + task['torque_limit_violations']
                      + task['nonfinite_commands'])
        known = bool(task.get('name'))
        task_ok = violations == 0 and (not known or (rmse is not None
                                                      and rmse <= RMSE_TARGET_RAD))
        ok &= task_ok
        rmse_s = f'{rmse:9.4f}' if rmse is not None else f'{"-":>9}'
        torque = task.get('max_abs_torque_nm')
        torque_s = f'{torque:9.3f}' if torque is not None else f'{"-":>9}'
        print(f'{task.get("name") or "(none)":<16} {rmse_s} {torque_s} '
              f'{task["stiffness_rate_violations"]:>7} {task["torque_limit_violations"]:>8} '
              f'{task["nonfinite_commands"]:>9}{"" if task_ok else "  <-- target missed"}')
    rate = summary.get('controller_rate_hz')
    print(f'controller rate {rate if rate is None else round(rate, 1)} Hz, command latency '
          f'p50 {summary.get("command_latency_ms_p50")} ms, '
          f'p99 {summary.get("command_latency_ms_p99")} ms')
    return ok


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_demo``."""
    parser = argparse.ArgumentParser(prog='exo_demo', description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=Path('out/demo'),
                        help='output directory (default out/demo)')
    parser.add_argument('--body-mass-kg', type=float, default=70.0)
    parser.add_argument('--settle', type=float, default=1.0,
                        help='seconds at rest before the first task')
    parser.add_argument('--gap', type=float, default=1.0,
                        help='extra seconds after each task before the next text')
    parser.add_argument('--ready-timeout', type=float, default=120.0)
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 when a task misses the RMSE target or has violations')
    opts = parser.parse_args(argv)
    stop_on_sigterm()
    texts = [(task.text, task.duration_s + opts.gap) for task in TASKS]
    texts.append((UNKNOWN_TEXT, 2.0))
    try:
        summary = run_demo(opts.out, opts.body_mass_kg, opts.settle, opts.ready_timeout,
                           texts)
    except RuntimeError as err:
        print(f'[demo] failed: {err}', file=sys.stderr)
        return 1
    ok = print_summary(summary)
    print(json.dumps({'all_targets_met': ok}))
    return 1 if opts.strict and not ok else 0


if __name__ == '__main__':
    sys.exit(main())
