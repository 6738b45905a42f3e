"""``make bench``: timing of the full simulated graph and of the in-process rollout.

Runs sim_node + policy_node + controller_node as separate processes for ``--duration``
seconds (20 s by default) while the tasks cycle, ``--runs`` times (3 by default, each on a
freshly started graph; the numbers reported are the median over the runs, with every run's
value and the range in ``bench.json``; the latency plot is the first run's), and measures
from /exo/controller_state and /diagnostics: controller rate, state-to-command latency
p50/p99 (command publication stamp minus the stamp of the joint state that triggered it),
the fraction of ticks later than 2 ms (latency) and of tick intervals (between the
publication stamps of consecutive joint-state ticks) longer than 2 ms, and
the simulator's real-time factor. Then times the in-process closed loop (sim + human +
metabolics + oracle + controller cores): its setup apart, and its steady-state speed in
simulated seconds per wall second per core, one episode at a time and a batch of ``--batch``
episodes in lock step (``rollout_real_time_multiple_per_core``; ``--rollout-only`` measures
only this), the learned policy's
inference latency per call on one core (ONNX Runtime, one intra-op thread), and reports the
wall times of the last data generation (``data/exo_vic_v2/manifest.json``) and of the
shipped policy's training (its ``policy_metrics.json``), when present. Prints a table,
writes ``bench.json`` and a plot. These are measurements, not pass/fail tests.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
import matplotlib
import numpy as np
import rclpy
from tqdm import tqdm

from exo_bringup.launcher import GraphProcesses, stop_on_sigterm
from exo_bringup.send_task import publish_task_text
from exo_contract.qos import CONTROLLER_STATE_TOPIC, STATE_QOS
from exo_contract.runtime import make_executor
from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_experiments.harness import rollout_with_oracle, rollouts_with_oracle
from exo_experiments.results_page import markdown_table, write_results_page
from exo_interfaces.msg import ControllerState

LATE_MS = 2.0


def _stamp_s(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class _Probe:
    """Collects controller ticks and simulator diagnostics."""

    def __init__(self, node) -> None:
        self.recording = False
        self.receipt: list[float] = []
        self.latency_ms: list[float] = []
        # Publication stamps of the joint-state ticks: the controller's own tick intervals
        # (receipt times here would add this probe's scheduling delays).
        self.tick_stamps: list[float] = []
        self.rtf: list[float] = []
        # sim_node's cumulative joint-state count (its 'ticks'), with the receipt time.
        self.sim_ticks: list[tuple[float, int]] = []
        self.controller_ticks: list[tuple[float, int]] = []  # the controller's own count
        node.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC, self._on_state,
                                 STATE_QOS)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)

    def _on_state(self, msg: ControllerState) -> None:
        if self.recording:
            self.receipt.append(time.monotonic())
            # Latency only over ticks triggered by a joint state: watchdog ticks carry a
            # zero joint-state stamp (their 'latency' would be the epoch, ~1e12 ms).
            joint_stamp = _stamp_s(msg.joint_state_stamp)
            if joint_stamp > 0.0:
                published = _stamp_s(msg.header.stamp)
                self.latency_ms.append((published - joint_stamp) * 1e3)
                self.tick_stamps.append(published)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        if not self.recording:
            return
        for status in msg.status:
            for kv in status.values:
                if kv.key == 'real_time_factor':
                    self.rtf.append(float(kv.value))
                elif kv.key == 'ticks' and status.name == 'exo_sim: physics':
                    self.sim_ticks.append((time.monotonic(), int(kv.value)))
                elif kv.key == 'ticks' and status.name.endswith(': control loop'):
                    self.controller_ticks.append((time.monotonic(), int(kv.value)))


def _count_rate(samples: list[tuple[float, int]]) -> float | None:
    """Rate of a cumulative counter sampled as ``(receipt time, count)``, 1/s (None: < 2)."""
    if len(samples) < 2:
        return None
    (t0, n0), (t1, n1) = samples[0], samples[-1]
    return (n1 - n0) / (t1 - t0) if t1 > t0 else None


def measure_graph(duration: float, ready_timeout: float, log_dir: Path) -> dict:
    """Run the graph for ``duration`` s with cycling tasks; return the timing numbers."""
    rclpy.init(args=[])
    node = rclpy.create_node('exo_bench')
    # The graph's own executor (EventsExecutor): the probe takes ~1 kHz ControllerState and
    # shares the 2 cores with the graph it measures (SingleThreadedExecutor: ~34 % of a core).
    executor = make_executor()
    executor.add_node(node)
    probe = _Probe(node)
    graph = GraphProcesses('sim', log_dir=log_dir)

    def spin(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
            if graph.dead():
                raise RuntimeError(f'node(s) exited during the benchmark: {graph.dead()}')

    try:
        graph.start()
        deadline = time.monotonic() + ready_timeout
        probe.recording = True
        # Ready once the controller answers joint states (latency samples): its watchdog
        # publishes ControllerState at 200 Hz before sim_node's first state, and counting
        # those seconds would report the start-up as a slow loop.
        while len(probe.latency_ms) < 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f'graph not ready after {ready_timeout} s')
            spin(0.2)
        probe.receipt.clear()
        probe.latency_ms.clear()
        probe.tick_stamps.clear()
        probe.rtf.clear()
        probe.sim_ticks.clear()
        probe.controller_ticks.clear()
        start = time.monotonic()
        texts = [task.text for task in TASKS]
        with tqdm(total=duration, desc='[bench] graph', unit='s',
                  bar_format='{l_bar}{bar}| {n:.0f}/{total:.0f} s') as bar:
            i = 0
            while (elapsed := time.monotonic() - start) < duration:
                publish_task_text(node, texts[i % len(texts)])
                task_s = TASKS_BY_ID[TASKS[i % len(TASKS)].task_id].duration_s
                spin(min(task_s, duration - elapsed))
                bar.update(min(time.monotonic() - start, duration) - bar.n)
                i += 1
        probe.recording = False
        span = time.monotonic() - start
    finally:
        graph.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    receipt = np.asarray(probe.receipt)
    latency = np.asarray(probe.latency_ms)
    # Joint states sim_node published per second (one per timer tick; a late tick steps
    # the physics several times and publishes once): the most the controller can answer.
    sim_rate = _count_rate(probe.sim_ticks)
    # The controller's own tick count (/diagnostics): the rate of ControllerState received
    # here is lower when this probe (or DDS) drops some.
    own_rate = _count_rate(probe.controller_ticks)
    stamps = np.sort(np.asarray(probe.tick_stamps))
    gaps_ms = np.diff(stamps) * 1e3 if stamps.size > 1 else np.zeros(0)
    return {
        'duration_s': span,
        'controller_ticks': int(receipt.size),
        'controller_rate_hz': receipt.size / span,
        'sim_state_rate_hz': sim_rate,
        'controller_own_rate_hz': own_rate,
        'command_latency_ms_p50': float(np.percentile(latency, 50)) if latency.size else None,
        'command_latency_ms_p99': float(np.percentile(latency, 99)) if latency.size else None,
        'late_tick_fraction': float(np.mean(latency > LATE_MS)) if latency.size else None,
        'long_interval_fraction': float(np.mean(gaps_ms > LATE_MS)) if gaps_ms.size else None,
        'sim_real_time_factor': float(np.mean(probe.rtf)) if probe.rtf else None,
        '_latency_ms': latency,
        '_gaps_ms': gaps_ms,
    }


GRAPH_KEYS = ('controller_rate_hz', 'controller_own_rate_hz', 'sim_state_rate_hz',
              'command_latency_ms_p50', 'command_latency_ms_p99', 'late_tick_fraction',
              'long_interval_fraction', 'sim_real_time_factor', 'duration_s',
              'controller_ticks')


def median_of_runs(runs: list[dict]) -> dict:
    """The median of each graph number over ``runs``, plus ``<key>_runs`` and ``_range``.

    Values that are None in a run are left out of that key's median (None if all are).
    """
    out: dict = {'runs': len(runs)}
    for key in GRAPH_KEYS:
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = float(np.median(values)) if values else None
        out[f'{key}_runs'] = [r.get(key) for r in runs]
        out[f'{key}_range'] = [float(min(values)), float(max(values))] if values else None
    return out


def measure_rollout(task_id: str = 'lift_heavy', batch: int = 16, repeats: int = 3) -> dict:
    """Speed of the in-process closed loop (sim + human + metabolics + oracle + controller).

    Setup (building the arm, the human, the controller, the first rollout's one-time work)
    is timed apart from the steady-state stepping. Steady state, as simulated seconds per
    wall second on one core (this process is single-threaded), the median of ``repeats``:
    ``rollout_real_time_multiple_single`` for one episode at a time and
    ``rollout_real_time_multiple_per_core`` for ``batch`` episodes (seeds 0..batch-1) in
    lock step (:func:`exo_experiments.harness.rollouts_with_oracle`). The ``_per_cpu_s``
    figures divide by this process's CPU time instead of the wall time (on a shared,
    loaded machine the wall time also counts the time other processes held the core).
    """
    task = TASKS_BY_ID[task_id]
    start = time.perf_counter()
    result, _ = rollout_with_oracle(task)
    wall = time.perf_counter() - start
    n = len(result.t)
    h = float(result.config.timestep)
    stepping = n / result.steps_per_second
    single = [result.steps_per_second * h]
    single_cpu = [n * h / result.stepping_cpu_s]
    for _ in range(repeats - 1):
        res = rollout_with_oracle(task)[0]
        single.append(res.steps_per_second * h)
        single_cpu.append(n * h / res.stepping_cpu_s)
    batched = []
    batched_cpu = []
    for _ in range(repeats):
        out = rollouts_with_oracle([task] * batch, list(range(batch)))
        stepping_s = len(out[0][0].t) / out[0][0].steps_per_second
        sim_s = sum(len(r.t) for r, _ in out) * h
        batched.append(sim_s / stepping_s)
        batched_cpu.append(sim_s / out[0][0].stepping_cpu_s)
    return {'rollout_task': task_id, 'rollout_sim_s': n * h,
            'rollout_setup_s': wall - stepping,
            'rollout_real_time_multiple_single': float(np.median(single)),
            'rollout_real_time_multiple_single_runs': single,
            'rollout_batch_size': batch,
            'rollout_real_time_multiple_per_core': float(np.median(batched)),
            'rollout_real_time_multiple_per_core_runs': batched,
            'rollout_real_time_multiple_single_per_cpu_s': float(np.median(single_cpu)),
            'rollout_real_time_multiple_per_cpu_s': float(np.median(batched_cpu)),
            'rollout_load_average': list(os.getloadavg())}


def measure_policy(calls: int = 5000, batch: int = 16) -> dict:
    """Learned-policy inference (ONNX Runtime, 1 thread), microseconds.

    The latency per call of the reference source, and the time per window of ``batch``
    windows in one call against one call each, with the largest difference of their outputs
    (:func:`exo_policy.runtime.measure_batched_inference`).
    """
    from exo_language.resolver import TaskResolver
    from exo_policy.runtime import (
        LearnedReferenceSource,
        measure_batched_inference,
        measure_latency,
    )
    source = LearnedReferenceSource(resolver=TaskResolver('lexical'))
    source.set_task_text('lift a heavy box', 0.0)
    measure_latency(source, 200)  # warm-up
    result = measure_latency(source, calls)
    batched = measure_batched_inference(source.policy, batch)
    return {'policy_inference_us_p50': result['p50_us'],
            'policy_inference_us_p99': result['p99_us'],
            'policy_batch_size': batch,
            'policy_inference_us_per_window_single': batched['single_us_per_row'],
            'policy_inference_us_per_window_batched': batched['batch_us_per_row'],
            'policy_batched_max_abs_diff': batched['max_abs_diff']}


def recorded_wall_times(data_dir: Path) -> dict:
    """Wall times of the last `make data` run and of the shipped checkpoint's training."""
    from importlib import resources
    out = {'datagen_wall_s': None, 'datagen_workers': None, 'train_wall_s': None}
    manifest = data_dir / 'manifest.json'
    if manifest.exists():
        data = json.loads(manifest.read_text())
        out['datagen_wall_s'] = data.get('wall_time_s')
        out['datagen_workers'] = data.get('config', {}).get('workers')
    metrics = resources.files('exo_policy') / 'data' / 'policy_metrics.json'
    if metrics.is_file():
        out['train_wall_s'] = json.loads(metrics.read_text()).get('train_wall_s')
    return out


def write_plot(graph: dict, path: Path) -> None:
    """Histogram of the state-to-command latency and of the tick intervals."""
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, values, title in ((axes[0], graph['_latency_ms'], 'state-to-command latency'),
                              (axes[1], graph['_gaps_ms'], 'controller tick interval')):
        if values.size:
            ax.hist(np.clip(values, 0, 10), bins=100)
        ax.axvline(LATE_MS, color='r', ls='--', label=f'{LATE_MS} ms')
        ax.set_xlabel('ms (clipped at 10)')
        ax.set_title(title)
        ax.set_yscale('log')
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_bench``."""
    parser = argparse.ArgumentParser(prog='exo_bench', description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=Path('out/bench'))
    parser.add_argument('--duration', type=float, default=20.0)
    parser.add_argument('--ready-timeout', type=float, default=120.0)
    parser.add_argument('--runs', type=int, default=3,
                        help='closed-loop runs on a fresh graph each; the median is reported')
    parser.add_argument('--data', type=Path, default=Path('data/exo_vic_v2'),
                        help='dataset whose manifest holds the data-generation wall time')
    parser.add_argument('--results-page', type=Path, action='append', default=[],
                        metavar='PATH', help='also write the results page (results.md) to '
                        'PATH, e.g. docs/results/bench.md (repeatable)')
    parser.add_argument('--batch', type=int, default=16,
                        help='episodes of the batched in-process rollout (default: 16)')
    parser.add_argument('--rollout-only', action='store_true',
                        help='only the in-process rollout speed (no ROS graph, no policy)')
    opts = parser.parse_args(argv)
    if not 1 <= opts.runs <= 20:
        parser.error(f'--runs must be in [1, 20], got {opts.runs!r}')
    if not 1 <= opts.batch <= 1024:
        parser.error(f'--batch must be in [1, 1024], got {opts.batch!r}')
    stop_on_sigterm()
    opts.out.mkdir(parents=True, exist_ok=True)
    if opts.rollout_only:
        return _rollout_only(opts, argv)
    runs = []
    for i in range(opts.runs):
        print(f'[bench] closed-loop run {i + 1}/{opts.runs}', flush=True)
        try:
            runs.append(measure_graph(opts.duration, opts.ready_timeout,
                                      opts.out / 'logs' / f'run_{i + 1}'))
        except RuntimeError as err:
            print(f'[bench] failed: {err}', file=sys.stderr)
            return 1
    write_plot(runs[0], opts.out / 'latency.png')
    graph = median_of_runs(runs)
    print('[bench] in-process rollout ...', flush=True)
    rollout = measure_rollout(batch=opts.batch, repeats=opts.runs)
    print('[bench] policy inference ...', flush=True)
    policy = measure_policy()
    results = ({k: v for k, v in graph.items() if not k.startswith('_')} | rollout | policy
               | recorded_wall_times(opts.data))

    def seconds(value) -> str:
        return 'not run here' if value is None else f'{value:.0f} s'

    rows = [
        ('controller rate', f'{results["controller_rate_hz"]:.1f} Hz'),
        ('controller ticks (its own count)',
         'not reported' if results.get('controller_own_rate_hz') is None
         else f'{results["controller_own_rate_hz"]:.1f} Hz'),
        ('joint states published (sim_node)',
         'not reported' if results.get('sim_state_rate_hz') is None
         else f'{results["sim_state_rate_hz"]:.1f} Hz'),
        ('state-to-command latency p50', f'{results["command_latency_ms_p50"]:.3f} ms'),
        ('state-to-command latency p99', f'{results["command_latency_ms_p99"]:.3f} ms'),
        (f'ticks with latency > {LATE_MS} ms', f'{100 * results["late_tick_fraction"]:.2f} %'),
        (f'tick intervals > {LATE_MS} ms', f'{100 * results["long_interval_fraction"]:.2f} %'),
        ('sim real-time factor', f'{results["sim_real_time_factor"]:.3f}'),
        *_rollout_rows(results),
        ('policy inference p50 (1 core)', f'{results["policy_inference_us_p50"]:.0f} us'),
        ('policy inference p99 (1 core)', f'{results["policy_inference_us_p99"]:.0f} us'),
        *_policy_batch_rows(results),
        ('data generation (make data)', seconds(results['datagen_wall_s'])),
        ('training (shipped checkpoint)', seconds(results['train_wall_s'])),
    ]
    print(f'\nexo-vic benchmark (median of {opts.runs} runs of {opts.duration:.0f} s closed '
          'loop, full graph)')
    for name, value in rows:
        print(f'  {name:<34} {value}')
    rate = results['controller_rate_hz_runs']
    p99 = results['command_latency_ms_p99_runs']
    print('  per run: controller rate ' + ' / '.join(f'{v:.0f}' for v in rate) + ' Hz, '
          'latency p99 ' + ' / '.join(f'{v:.3f}' for v in p99 if v is not None) + ' ms')
    (opts.out / 'bench.json').write_text(json.dumps(results, indent=2) + '\n')
    per_run = ('controller rate per run: ' + ' / '.join(f'{v:.0f}' for v in rate) + ' Hz; '
               'latency p99 per run: ' + ' / '.join(f'{v:.3f}' for v in p99 if v is not None)
               + ' ms.')
    pages = write_results_page(
        [opts.out / 'results.md', *opts.results_page], 'Benchmark',
        [(f'Median of {opts.runs} runs of {opts.duration:.0f} s closed loop, full graph',
          markdown_table(['measure', 'value'], rows) + '\n\n' + per_run)], argv)
    print(f'[bench] wrote {opts.out / "bench.json"}, {opts.out / "latency.png"}, '
          + ', '.join(str(p) for p in pages))
    return 0


def _rollout_rows(results: dict) -> list[tuple[str, str]]:
    load = ' / '.join(f'{v:.1f}' for v in results['rollout_load_average'])
    return [
        ('in-process rollout setup', f'{results["rollout_setup_s"]:.2f} s'),
        ('in-process rollout, one episode (steady state, per core)',
         f'{results["rollout_real_time_multiple_single"]:.1f}x real time'),
        (f'in-process rollout, batch of {results["rollout_batch_size"]} (steady state, '
         'per core)', f'{results["rollout_real_time_multiple_per_core"]:.1f}x real time'),
        ('same, per CPU second: one episode / batch',
         f'{results["rollout_real_time_multiple_single_per_cpu_s"]:.1f}x / '
         f'{results["rollout_real_time_multiple_per_cpu_s"]:.1f}x real time'),
        ('load average during the rollouts (1 / 5 / 15 min)', load),
    ]


def _policy_batch_rows(results: dict) -> list[tuple[str, str]]:
    return [
        (f'policy inference per window: one per call / {results["policy_batch_size"]} per '
         'call', f'{results["policy_inference_us_per_window_single"]:.0f} us / '
         f'{results["policy_inference_us_per_window_batched"]:.0f} us'),
        ('batched outputs vs one per call, max |diff|',
         f'{results["policy_batched_max_abs_diff"]:.1e}'),
    ]


def _rollout_only(opts: argparse.Namespace, argv: list[str] | None) -> int:
    """``--rollout-only``: the in-process rollout speed alone (bench.json, results page)."""
    results = measure_rollout(batch=opts.batch, repeats=opts.runs)
    rows = _rollout_rows(results)
    for name, value in rows:
        print(f'  {name:<58} {value}')
    single = results['rollout_real_time_multiple_single_runs']
    batched = results['rollout_real_time_multiple_per_core_runs']
    per_run = ('per run: one episode ' + ' / '.join(f'{v:.1f}' for v in single) + 'x, batch '
               + ' / '.join(f'{v:.1f}' for v in batched) + 'x real time.')
    print('  ' + per_run)
    (opts.out / 'bench.json').write_text(json.dumps(results, indent=2) + '\n')
    pages = write_results_page(
        [opts.out / 'results.md', *opts.results_page], 'Benchmark',
        [(f'In-process closed loop ({results["rollout_task"]}), median of {opts.runs} runs',
          markdown_table(['measure', 'value'], rows) + '\n\n' + per_run)], argv)
    print(f'[bench] wrote {opts.out / "bench.json"}, ' + ', '.join(str(p) for p in pages))
    return 0


if __name__ == '__main__':
    sys.exit(main())
