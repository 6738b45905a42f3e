"""``make demo``: the simulated graph, headless, through all nine tasks, recorded.

Starts sim_node, policy_node and controller_node as separate processes (the graph of
``sim.launch.py``) plus the MCAP recorder, sends every task's canonical text on
/task_text in turn (and finally a text that names no task, which must leave the human at
rest and the exo compliant), then stops the graph and writes into ``--out``:
``recording/`` (every topic: a rosbag2 bag folder, MCAP storage), ``summary.json`` (schema
in docs/reference.md) and plots (``overview.png``, ``task_NN_<task>.png``), plus node logs.

The graph runs in lockstep (``lockstep:=true``): sim_node publishes /clock and steps only
once the controller has answered, every other node runs on that simulated time, and the
demo times the tasks on it too (the stamps of /exo/human_state), so a loaded machine runs
the demo slower but with the same numbers. ``--realtime`` runs the wall-clock graph of
``make bench`` instead.

The simulated human has practised each task twice with the exo before the demo, as in the
dataset and the evaluation (a wearer measured after familiarisation):
:func:`exo_experiments.evaluation.single.practised_memory` runs the practice in-process with
the same policy and controller cores (``policy_mode``, the nodes' YAML), and sim_node
starts with the adapted internal models (``human_memory``; ``human_memory.json`` in
``--out``). ``--naive-human`` starts with a human who has never worn the exo instead.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
from pathlib import Path
import shutil
import sys

from tqdm import tqdm

from exo_bringup.launcher import GraphProcesses, stop_on_sigterm
from exo_bringup.send_task import publish_task_text
from exo_contract.runtime import restore_normal_scheduling
from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_experiments.analysis import summarize, write_summary
from exo_experiments.mcap_io import iter_decoded
from exo_experiments.observer import GraphObserver
from exo_experiments.plots import write_plots
from exo_experiments.recorder import DEFAULT_TOPICS
from exo_impedance_controller.params import ControllerParams
from exo_policy.params import DEFAULT_MODE, POLICY_MODES
from exo_sim.human import save_memory

UNKNOWN_TEXT = 'do a backflip'
RMSE_TARGET_RAD = 0.05
DIAGNOSTICS_TOPIC = '/diagnostics:diagnostic_msgs/msg/DiagnosticArray'
#: sim_node's counters of steps that did not wait for everything (lockstep).
LOCKSTEP_COUNTERS = ('lockstep_timeouts', 'reference_timeouts', 'text_start_timeouts')


def _practise(job: tuple[str, str, float]) -> dict:
    """Pool worker (module level: spawn-safe): one task's practised internal model."""
    from exo_experiments.evaluation.single import practised_memory  # noqa: PLC0415 (heavy)
    task_id, condition, body_mass_kg = job
    task = TASKS_BY_ID[task_id]
    memory = practised_memory(task, condition, body_mass_kg, task.text)
    return {task_id: memory[task_id]} if task_id in memory else {}


def practise(path: Path, policy_mode: str, body_mass_kg: float, workers: int = 2,
             tasks: list[str] | None = None) -> Path:
    """Write the human's internal models after practising ``tasks`` (default: all) with the exo.

    Each task: the evaluation's practice (``PRACTICE_REPETITIONS`` nominal repetitions with
    ``policy_mode`` as the reference source and the nodes' YAML configuration).
    """
    ids = tasks if tasks is not None else [task.task_id for task in TASKS]
    jobs = [(task_id, policy_mode, float(body_mass_kg)) for task_id in ids]
    memory: dict = {}
    ctx = mp.get_context('spawn')
    with ctx.Pool(processes=max(1, min(workers, len(jobs)))) as pool:
        for part in tqdm(pool.imap_unordered(_practise, jobs), total=len(jobs),
                         desc='[demo] practice', unit='task'):
            memory.update(part)
    save_memory(path, memory)
    return path


def run_demo(out: Path, body_mass_kg: float, settle_s: float, ready_timeout: float,
             texts: list[tuple[str, float]], lockstep: bool = True,
             policy_mode: str = DEFAULT_MODE, practice: bool = True,
             practice_tasks: list[str] | None = None) -> dict:
    """Run the graph through ``texts`` [(text, seconds of graph time)], record, summarise.

    ``lockstep`` runs the graph on simulated time (default); False: the real-time graph.
    ``policy_mode`` is policy_node's reference source (the ``policy_mode`` launch argument).
    ``practice``: the human has practised each task (``practice_tasks``, default all nine)
    with the exo (module docstring); False: it has never worn it.
    """
    out.mkdir(parents=True, exist_ok=True)
    values = {'body_mass_kg': str(body_mass_kg), 'policy_mode': policy_mode,
              'lockstep': str(lockstep).lower()}
    if practice:
        values['human_memory'] = str(practise(out / 'human_memory.json', policy_mode,
                                              body_mass_kg, tasks=practice_tasks).resolve())
    recording = out / 'recording'
    (out / 'recording.mcap').unlink(missing_ok=True)
    shutil.rmtree(recording, ignore_errors=True)
    topics = ', '.join(f"'{t}'" for t in DEFAULT_TOPICS + (DIAGNOSTICS_TOPIC,))
    recorder = ('recorder', [sys.executable, '-m', 'exo_experiments.recorder', '--ros-args',
                             '-p', f'output:={recording}', '-p', f'topics:=[{topics}]'])
    graph = GraphProcesses('sim', values, out / 'logs', extra=(recorder,))
    observer = None
    try:
        graph.start()
        # In lockstep the harness times each instruction by the simulated time, which
        # sim_node and controller_node (real-time priority) advance: at normal priority a
        # loaded machine let the texts arrive later in simulated time than on an idle one.
        # After graph.start(), so that the nodes do not inherit it.
        observer = GraphObserver(realtime=lockstep)
        print(f'[demo] started {", ".join(graph.processes)} '
              f'({"lockstep, simulated time" if lockstep else "real time"}); '
              f'logs in {out / "logs"}', flush=True)
        observer.wait_ready(graph, ready_timeout, subscribers=1)  # the relay reads it
        observer.spin_graph_time(settle_s, graph)
        for text, seconds in tqdm(texts, desc='[demo] tasks', unit='task'):
            tqdm.write(f'[demo] /task_text: {text!r} ({seconds:.1f} s)')
            publish_task_text(observer.node, text)
            observer.spin_graph_time(seconds, graph)
    finally:
        codes = graph.stop()
        if observer is not None:
            observer.close()
        restore_normal_scheduling()  # the summary and plots run at normal priority
    print(f'[demo] graph stopped: {codes}', flush=True)
    if not recording.exists():
        raise RuntimeError(f'the recorder wrote no {recording}; see {out / "logs"}')
    limit = ControllerParams().torque_limit
    summary = summarize(recording, torque_limit=limit)
    summary['body_mass_kg'] = body_mass_kg
    summary['clock_mode'] = 'lockstep' if lockstep else 'realtime'
    if lockstep:
        summary['lockstep'] = lockstep_counters(recording)
    summary['policy_mode'] = policy_mode
    summary['human'] = 'practised' if practice else 'naive'
    write_summary(summary, out / 'summary.json')
    plots = write_plots(recording, out, summary)
    print(f'[demo] wrote {out / "summary.json"} and {len(plots)} plots', flush=True)
    return summary


def lockstep_counters(recording: Path) -> dict:
    """sim_node's last lockstep counters in the recording's /diagnostics (None if absent).

    ``lockstep_timeouts``: steps taken without the controller's answer; ``reference_timeouts``:
    references not waited for to the end; ``text_start_timeouts``: task texts the simulated
    human started without policy_node's task_start. With all three at 0 (the first step
    always waits), every step saw the same inputs as on an idle machine.
    """
    counters = dict.fromkeys(LOCKSTEP_COUNTERS)
    for _topic, _t, msg in iter_decoded(recording, topics=['/diagnostics']):
        for status in msg.status:
            if status.name == 'exo_sim: physics':
                values = {kv.key: kv.value for kv in status.values}
                counters.update({k: int(values[k]) for k in LOCKSTEP_COUNTERS if k in values})
    return counters


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
    if summary.get('lockstep'):
        print('lockstep: ' + ', '.join(f'{k} {v}' for k, v in summary['lockstep'].items()))
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
    parser.add_argument('--policy-mode', default=DEFAULT_MODE, choices=POLICY_MODES,
                        help=f"policy_node's reference source (default {DEFAULT_MODE})")
    parser.add_argument('--realtime', action='store_true',
                        help='run the real-time graph (make bench) instead of lockstep')
    parser.add_argument('--naive-human', action='store_true',
                        help='a simulated human who has never worn the exo (default: it has '
                             'practised each task twice with it, as in the evaluation)')
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 when a task misses the RMSE target or has violations')
    parser.add_argument('--tasks', default=','.join(task.task_id for task in TASKS),
                        help='comma-separated task ids, in order (default: all nine)')
    opts = parser.parse_args(argv)
    chosen = [name.strip() for name in opts.tasks.split(',') if name.strip()]
    unknown = [name for name in chosen if name not in TASKS_BY_ID]
    if unknown or not chosen:
        parser.error(f'--tasks: unknown task ids {unknown}; choose from {list(TASKS_BY_ID)}')
    stop_on_sigterm()
    texts = [(TASKS_BY_ID[name].text, TASKS_BY_ID[name].duration_s + opts.gap)
             for name in chosen]
    texts.append((UNKNOWN_TEXT, 2.0))
    try:
        summary = run_demo(opts.out, opts.body_mass_kg, opts.settle, opts.ready_timeout,
                           texts, lockstep=not opts.realtime, policy_mode=opts.policy_mode,
                           practice=not opts.naive_human, practice_tasks=chosen)
    except RuntimeError as err:
        print(f'[demo] failed: {err}', file=sys.stderr)
        return 1
    ok = print_summary(summary)
    print(json.dumps({'all_targets_met': ok}))
    return 1 if opts.strict and not ok else 0


if __name__ == '__main__':
    sys.exit(main())
