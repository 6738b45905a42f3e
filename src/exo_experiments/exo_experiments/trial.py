"""exo_trial: one condition of the paper's metabolic experiment, recorded; Fig. 6 from several.

    exo_trial --condition natural --out out/trial/natural          # 20 s by default
    exo_trial --condition promp   --out out/trial/promp
    exo_trial --condition learned --out out/trial/learned --duration 600   # the paper's 10 min
    exo_trial compare out/trial/natural out/trial/promp out/trial/learned --out out/trial

``exo_trial [run]`` starts the graph (``--graph``: any graph of ``exo_launch``, e.g. ``sim``
or the real exoskeleton's; ``--arg name=value`` passes launch arguments) plus the MCAP
recorder, ``metabolic_node`` and, with ``--analyser sim`` (the default on the sim graph),
``exo_sim_analyser`` (and ``exo_live_view`` with ``--live-view``). Conditions (paper
section V-B):

* ``natural``: no assistance. policy_node and controller_node are not started; in
  simulation the exo stays attached and unpowered (sim_node applies 0 N*m without
  commands: the transparent condition) and the graph runs in real time; on hardware take
  the exo off.
* ``promp``: policy_node in ``promp`` mode (the ProMP baseline).
* ``learned``: policy_node in ``learned`` mode (the proposed, default policy).

On the sim graph the assisted conditions run in lockstep (simulated time, as ``make demo``:
a loaded machine runs slower, not differently; ``--realtime`` for wall-clock time); the
trial's duration, cycles and every stamp are then in simulated time.

After the graph is up and ``--settle`` seconds have passed, the trial starts: the metabolic
node's ``~/restart`` service is called and the task text (default 'lift a heavy box', the
paper's repetitive 10 kg lift) is sent at the start of every cycle (task duration plus a
seeded 2-4 s pause, about 67 cycles in 10 minutes, as in the paper) for ``--duration``
seconds. Then the graph is stopped and ``--out`` gets ``recording/`` (a bag), ``trial.json``
(the settings, the node's own EC report, and the analysis recomputed from the recording:
:func:`exo_experiments.trial_analysis.analyse`), ``trial.png`` and ``logs/``.

``exo_trial compare DIR...`` recomputes every trial from its recording and writes
``fig6.png`` (EE curves per condition and EC bars), ``compare.json`` and ``compare.md``
(the reduction table against natural movement).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import shutil
import sys
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger
from tqdm import tqdm

from exo_bringup.graph import network_environment, share_path
from exo_bringup.launcher import GraphProcesses, GRAPHS, stop_on_sigterm
from exo_bringup.readiness import missing_text_readers, PolicyLoadWait
from exo_bringup.send_task import publish_task_text
from exo_contract.qos import STATE_QOS
from exo_contract.tasks import find_task
from exo_contract.topics import (
    CONTROLLER_STATE_TOPIC,
    ENERGY_EXPENDITURE_TOPIC,
    GAS_EXCHANGE_TOPIC,
    JOINT_STATES_TOPIC,
    TASK_TEXT_TOPIC,
)
from exo_experiments import trial_analysis
from exo_interfaces.msg import ControllerState, MetabolicPower

DEFAULT_TEXT = 'lift a heavy box'
PAUSE_S = (2.0, 4.0)
ASSISTING_NODES = ('policy_node', 'controller_node')
POLICY_MODES = {'promp': 'promp', 'learned': 'learned', 'gravity_share': 'gravity_share'}
METABOLIC_NODE = 'metabolic_node'
ANALYSER_NODE = 'sim_analyser'
#: Wall seconds without progress of the graph's time after which the trial gives up.
STALL_TIMEOUT_S = 60.0


def cycle_starts(duration_s: float, task_s: float, seed: int,
                 pause_s: tuple[float, float] = PAUSE_S) -> list[float]:
    """Start times (s) of the cycles of a trial: task duration plus a uniform pause."""
    rng = np.random.default_rng(seed)
    starts, t = [], 0.0
    while t < duration_s:
        starts.append(round(t, 6))
        t += task_s + float(rng.uniform(*pause_s))
    return starts


def _node_command(module: str, name: str, params: dict[str, object]) -> list[str]:
    cmd = [sys.executable, '-m', module, '--ros-args', '-r', f'__node:={name}',
           '--params-file', str(share_path('exo_metabolic', 'config/metabolic.yaml'))]
    for key, value in params.items():
        cmd += ['-p', f'{key}:={value!r}' if isinstance(value, float) else f'{key}:={value}']
    return cmd


def build_graph(opts: argparse.Namespace, out: Path) -> GraphProcesses:
    """The graph of the condition plus recorder, metabolic node and (sim) analyser.

    On a graph with a ``lockstep`` argument (sim) an assisted condition runs in lockstep
    unless ``opts.realtime``: simulated time for every node, the metabolic ones included.
    ``natural`` runs in real time: without a controller there is nothing to step with.
    """
    _, arguments = GRAPHS[opts.graph]
    names = {a.name for a in arguments}
    values = dict(opts.arg)
    if 'policy_mode' in values:
        raise ValueError('the condition sets policy_mode; do not pass it with --arg')
    if opts.condition in POLICY_MODES:
        values['policy_mode'] = POLICY_MODES[opts.condition]
    if 'body_mass_kg' in names:
        values.setdefault('body_mass_kg', repr(float(opts.body_mass_kg)))
    if 'lockstep' in names:
        # Lockstep steps the simulation when the controller has answered: only with one.
        lockstep = opts.condition != 'natural' and not getattr(opts, 'realtime', False)
        values.setdefault('lockstep', 'true' if lockstep else 'false')
    graph = GraphProcesses(opts.graph, values, out / 'logs')
    if opts.condition == 'natural':
        graph.commands = [(n, c) for n, c in graph.commands if n not in ASSISTING_NODES]
    sim_time = 'true' if getattr(graph, 'lockstep', False) else 'false'
    window = opts.steady_window or trial_analysis.default_window(opts.duration)
    graph.commands.append(('recorder', [
        sys.executable, '-m', 'exo_experiments.recorder', '--ros-args',
        '-p', f'output:={out / "recording"}']))
    graph.commands.append((METABOLIC_NODE, _node_command(
        'exo_metabolic.metabolic_node', METABOLIC_NODE, {
            'body_mass_kg': float(opts.body_mass_kg), 'steady_start_s': float(window[0]),
            'steady_end_s': float(window[1]), 'smoothing_window_s': float(opts.smoothing_s),
            'use_sim_time': sim_time})))
    if getattr(opts, 'live_view', False):
        graph.commands.append(('live_view', [sys.executable, '-m', 'exo_experiments.live_view']))
    if opts.analyser == 'sim':
        graph.commands.append((ANALYSER_NODE, _node_command(
            'exo_metabolic.sim_analyser', ANALYSER_NODE, {
                'body_mass_kg': float(opts.body_mass_kg), 'seed': int(opts.seed),
                'use_sim_time': sim_time,
                'wait_for_power': 'true' if 'sim_node' in dict(graph.commands) else 'false'})))
    return graph


class TrialObserver:
    """The trial's own rclpy node: waits for the graph, sends texts, restarts and asks EC."""

    def __init__(self, sim_time: bool = False) -> None:
        # Join the graph's network (the launcher's defaults for its child processes).
        os.environ.update(network_environment(os.environ))
        rclpy.init(args=[])
        self.node = rclpy.create_node('exo_trial', parameter_overrides=[
            Parameter('use_sim_time', value=sim_time)])
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.joint_states = 0
        self.controller_states = 0
        self.ee: float | None = None
        self._subs = [
            self.node.create_subscription(JointState, JOINT_STATES_TOPIC, self._on_joint,
                                          qos_profile_sensor_data),
            self.node.create_subscription(ControllerState, CONTROLLER_STATE_TOPIC,
                                          self._on_state, STATE_QOS),
        ]
        self.node.create_subscription(MetabolicPower, ENERGY_EXPENDITURE_TOPIC, self._on_ee,
                                      STATE_QOS)
        self._last_progress = time.monotonic()
        self.restart = self.node.create_client(Trigger, f'/{METABOLIC_NODE}/restart')
        self.report = self.node.create_client(Trigger, f'/{METABOLIC_NODE}/report')

    def _on_joint(self, _msg: JointState) -> None:
        self.joint_states += 1

    def _on_state(self, _msg: ControllerState) -> None:
        self.controller_states += 1

    def _on_ee(self, msg: MetabolicPower) -> None:
        self.ee = float(msg.power_per_kg)

    def spin_for(self, seconds: float, graph: GraphProcesses) -> None:
        """Spin for ``seconds``; raise RuntimeError if a process of the graph died."""
        deadline = time.monotonic() + seconds
        while True:
            self.executor.spin_once(timeout_sec=min(0.05, max(deadline - time.monotonic(), 0)))
            dead = graph.dead()
            if dead:
                raise RuntimeError(f'process(es) exited during the trial: {dead}')
            if time.monotonic() >= deadline:
                return

    def now(self) -> float:
        """The graph's time, s: simulated time in lockstep (/clock), else the system clock."""
        return self.node.get_clock().now().nanoseconds * 1e-9

    def spin_until(self, t_end: float, graph: GraphProcesses, step: float = 0.1) -> None:
        """Spin until the graph's time reaches ``t_end`` or ``step`` wall seconds passed.

        Raises RuntimeError if the graph's time stood still for ``STALL_TIMEOUT_S``.
        """
        before = self.now()
        wall = time.monotonic() + step
        while self.now() < t_end and time.monotonic() < wall:
            self.spin_for(0.02, graph)
        if self.now() > before:
            self._last_progress = time.monotonic()
        elif time.monotonic() - self._last_progress > STALL_TIMEOUT_S:
            raise RuntimeError(f'the graph time stood still for {STALL_TIMEOUT_S} s; the '
                               f'nodes were at:\n{graph.stacks()}')

    def wait_ready(self, graph: GraphProcesses, timeout: float, joint_states: bool) -> None:
        """Wait until the graph is up (subscribers, joint states, controller, services).

        policy_node's 'loaded' status (when it runs; while it says 'loading' the wait goes on
        past ``timeout`` with a progress line, exo_bringup.readiness.PolicyLoadWait),
        /task_text subscribers of the started nodes, metabolic_node and the recorder on
        /exo/gas_exchange, a /joint_states message (``joint_states``), 100 controller ticks
        (when controller_node runs) and metabolic_node's services.
        """
        started = set(graph.processes)
        text_subs = len(started & {'sim_node', 'policy_node', 'recorder'})
        deadline = time.monotonic() + timeout
        missing: list[str] = []
        load = PolicyLoadWait(self.node, time.monotonic,
                              lambda line: print(line, flush=True), '[trial]')
        try:
            while load.check(deadline):
                self.spin_for(0.2, graph)
                missing = self._missing(started, text_subs, joint_states, load)
                if not missing:
                    for sub in self._subs:  # 1 kHz streams: only to see the graph come up
                        self.node.destroy_subscription(sub)
                    self._subs = []
                    return
        finally:
            load.close()
        raise RuntimeError(f'graph not ready after {time.monotonic() - load.start:.0f} s: '
                           f'waiting for {", ".join(missing)}')

    def _missing(self, started: set, text_subs: int, joint_states: bool,
                 load: PolicyLoadWait) -> list[str]:
        """What the graph still lacks before the trial can start."""
        missing = []
        if 'policy_node' in started and not load.loaded:
            missing.append(f'policy_node ({load.message or "not heard"})')
        if (self.node.count_subscribers(TASK_TEXT_TOPIC) < text_subs
                or missing_text_readers(self.node, started)):
            missing.append(f'{text_subs} /task_text subscribers')
        if self.node.count_subscribers(GAS_EXCHANGE_TOPIC) < 2:
            missing.append('metabolic_node and recorder on /exo/gas_exchange')
        if joint_states and self.joint_states == 0:
            missing.append('/joint_states')
        if 'controller_node' in started and self.controller_states < 100:
            missing.append('controller ticks')
        if not (self.restart.service_is_ready() and self.report.service_is_ready()):
            missing.append('metabolic_node services')
        if self.now() <= 0.0:
            missing.append('/clock')
        return missing

    def call(self, client, timeout: float = 10.0) -> Trigger.Response | None:
        """Call a Trigger service; None on timeout."""
        future = client.call_async(Trigger.Request())
        self.executor.spin_until_future_complete(future, timeout_sec=timeout)
        return future.result() if future.done() else None

    def close(self) -> None:
        """Destroy the node and shut rclpy down."""
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown()


def run_trial(opts: argparse.Namespace) -> dict:
    """Run one condition; write the recording, trial.json and trial.png; return trial.json."""
    out: Path = opts.out
    out.mkdir(parents=True, exist_ok=True)
    (out / 'recording.mcap').unlink(missing_ok=True)
    shutil.rmtree(out / 'recording', ignore_errors=True)
    task = find_task(opts.task_text)
    if opts.cycle_period is None and task is None:
        raise ValueError(f'{opts.task_text!r} is not the text of a task: give --cycle-period')
    window = tuple(opts.steady_window or trial_analysis.default_window(opts.duration))
    graph = build_graph(opts, out)
    sim_time = bool(getattr(graph, 'lockstep', False))
    observer = TrialObserver(sim_time)
    if opts.cycle_period is not None:
        starts = [float(t) for t in np.arange(0.0, opts.duration, opts.cycle_period)]
    else:
        starts = cycle_starts(opts.duration, task.duration_s, opts.seed)
    node_report = None
    start_ns = 0
    sent: list[float] = []
    try:
        graph.start()
        print(f'[trial] {opts.condition} on the {opts.graph} graph '
              f'({"lockstep, simulated time" if sim_time else "real time"}): started '
              f'{", ".join(graph.processes)}; logs in {out / "logs"}', flush=True)
        observer.wait_ready(graph, opts.ready_timeout, opts.wait_joint_states)
        observer.spin_until(observer.now() + opts.settle, graph, step=opts.ready_timeout)
        if observer.call(observer.restart) is None:
            raise RuntimeError('metabolic_node did not answer ~/restart')
        t0 = observer.now()
        start_ns = int(round(t0 * 1e9))
        bar = tqdm(total=int(round(opts.duration)), desc=f'[trial] {opts.condition}',
                   unit='s')
        while (elapsed := observer.now() - t0) < opts.duration:
            while len(sent) < len(starts) and elapsed >= starts[len(sent)]:
                publish_task_text(observer.node, opts.task_text)
                sent.append(round(elapsed, 3))
            upcoming = starts[len(sent)] if len(sent) < len(starts) else opts.duration
            observer.spin_until(t0 + min(upcoming, opts.duration), graph)
            bar.n = min(int(observer.now() - t0), bar.total)
            bar.set_postfix(cycles=len(sent), ee=f'{observer.ee:.2f} W/kg'
                            if observer.ee is not None else '-')
            bar.refresh()
        bar.n = bar.total
        bar.close()
        answer = observer.call(observer.report)
        if answer is not None:
            node_report = json.loads(answer.message)
    finally:
        codes = graph.stop()
        observer.close()
    print(f'[trial] graph stopped: {codes}', flush=True)
    recording = out / 'recording'
    if not (recording / 'metadata.yaml').exists():
        raise RuntimeError(f'the recorder wrote no {recording}; see {out / "logs"}')
    streams = trial_analysis.load_streams(recording, start_ns, cycle_starts_s=sent)
    trial = {
        'schema_version': trial_analysis.TRIAL_SCHEMA_VERSION,
        'condition': opts.condition, 'label': trial_analysis.LABELS[opts.condition],
        'graph': opts.graph, 'launch_args': dict(opts.arg), 'analyser': opts.analyser,
        'task_text': opts.task_text, 'duration_s': opts.duration,
        'body_mass_kg': opts.body_mass_kg, 'seed': opts.seed,
        'clock': 'simulated (lockstep)' if sim_time else 'system', 'start_ns': start_ns,
        'recording': 'recording', 'cycle_starts_s': sent,
        'node_report': node_report,
        'analysis': trial_analysis.analyse(streams, opts.body_mass_kg, window,
                                           opts.smoothing_s, opts.duration),
    }
    (out / 'trial.json').write_text(json.dumps(trial, indent=1))
    trial_analysis.plot_trial(trial, out / 'trial.png')
    return trial


def run_compare(dirs: list[Path], out: Path,
                window: tuple[float, float] | None = None) -> list[dict]:
    """Fig. 6 and the reduction table from several trials; returns the table rows."""
    out.mkdir(parents=True, exist_ok=True)
    trials = [trial_analysis.load_trial(d, window)
              for d in tqdm(dirs, desc='[compare] recordings', unit='trial')]
    order = {c: i for i, c in enumerate(trial_analysis.CONDITIONS)}
    trials.sort(key=lambda t: order.get(t['condition'], len(order)))
    seen: dict[str, int] = {}
    for t in trials:  # several trials of one condition: number them
        seen[t['condition']] = seen.get(t['condition'], 0) + 1
        t['label'] = t['condition'] + ('' if seen[t['condition']] == 1
                                       else f' #{seen[t["condition"]]}')
    rows = trial_analysis.comparison_table(trials)
    table = trial_analysis.format_table(rows)
    (out / 'compare.md').write_text(table + '\n')
    (out / 'compare.json').write_text(json.dumps(
        {'trials': [t['dir'] for t in trials], 'rows': rows}, indent=1))
    trial_analysis.plot_fig6(trials, rows, out / 'fig6.png')
    print(table)
    print(f'[compare] wrote {out / "fig6.png"}, {out / "compare.md"}, {out / "compare.json"}')
    return rows


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected name=value, got '{text}'")
    return key.strip(), value.strip()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='exo_trial', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command')
    run = sub.add_parser('run', help='run one condition (the default command)')
    run.add_argument('--condition', choices=trial_analysis.CONDITIONS, required=True)
    run.add_argument('--graph', default='sim', choices=sorted(GRAPHS),
                     help='graph of exo_launch to run (default sim)')
    run.add_argument('--arg', type=_key_value, action='append', default=[],
                     metavar='NAME=VALUE', help='launch argument of the graph (repeatable)')
    run.add_argument('--task-text', default=DEFAULT_TEXT,
                     help=f'instruction re-sent every cycle (default {DEFAULT_TEXT!r})')
    run.add_argument('--duration', type=float, default=20.0,
                     help='trial length, s (default 20, a short test; the paper: 600)')
    run.add_argument('--body-mass-kg', type=float, default=70.0,
                     help="subject's body mass m of eq. 15-16 (and of the simulated human)")
    run.add_argument('--cycle-period', type=float, default=None,
                     help='fixed seconds between task texts (default: task duration + a '
                          'seeded 2-4 s pause)')
    run.add_argument('--steady-window', type=float, nargs=2, default=None,
                     metavar=('T1', 'T2'), help='eq. 16 window, s after the start '
                     "(default [0.3 T, T]: 180-600 s for the paper's 10 minutes)")
    run.add_argument('--smoothing-s', type=float, default=30.0,
                     help='moving average of the EE curve, s (default 30)')
    run.add_argument('--analyser', choices=('sim', 'none'), default=None,
                     help="'sim' starts exo_sim_analyser; 'none' expects a lab analyser on "
                          '/exo/gas_exchange (default: sim on the sim graph, else none)')
    run.add_argument('--realtime', action='store_true',
                     help='run a sim graph in real time (default for promp/learned: '
                          'lockstep, simulated time, as make demo; natural has no '
                          'controller to step with and always runs in real time)')
    run.add_argument('--live-view', action='store_true',
                     help='also start exo_live_view (Foxglove, ws://127.0.0.1:8765)')
    run.add_argument('--seed', type=int, default=0, help='cycle pauses and analyser noise')
    run.add_argument('--settle', type=float, default=2.0,
                     help='seconds at rest after the graph is up, before the trial')
    run.add_argument('--ready-timeout', type=float, default=120.0)
    run.add_argument('--no-wait-joint-states', dest='wait_joint_states',
                     action='store_false', help='do not wait for /joint_states')
    run.add_argument('--out', type=Path, default=None,
                     help='output directory (default out/trial/<condition>)')
    cmp_ = sub.add_parser('compare', help='Fig. 6 and the reduction table from trials')
    cmp_.add_argument('trials', type=Path, nargs='+', help='trial directories (trial.json)')
    cmp_.add_argument('--out', type=Path, default=Path('out/trial'))
    cmp_.add_argument('--steady-window', type=float, nargs=2, default=None,
                      metavar=('T1', 'T2'), help="override the trials' eq. 16 window, s")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_trial``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ('run', 'compare', '-h', '--help'):
        argv.insert(0, 'run')
    parser = _parser()
    opts = parser.parse_args(argv)
    if opts.command == 'compare':
        try:
            run_compare(opts.trials, opts.out, opts.steady_window)
        except (OSError, KeyError, ValueError) as err:
            print(f'[compare] failed: {err}', file=sys.stderr)
            return 1
        return 0
    if opts.duration <= 0:
        parser.error(f'--duration must be > 0, got {opts.duration}')
    if opts.steady_window is not None and not 0 <= opts.steady_window[0] < \
            opts.steady_window[1]:
        parser.error(f'--steady-window needs 0 <= T1 < T2, got {opts.steady_window}')
    if opts.analyser is None:
        opts.analyser = 'sim' if opts.graph == 'sim' else 'none'
    if opts.out is None:
        opts.out = Path('out/trial') / opts.condition
    stop_on_sigterm()
    try:
        trial = run_trial(opts)
    except (RuntimeError, ValueError) as err:
        print(f'[trial] failed: {err}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('[trial] interrupted: the graph is stopped, the recording kept', file=sys.stderr)
        return 130
    a = trial['analysis']
    ec = 'n/a' if a['ec_kj'] is None else f'{a["ec_kj"]:.3f} kJ'
    node = trial['node_report'] or {}
    node_ec = 'n/a' if node.get('ec_kj') is None else f'{node["ec_kj"]:.3f} kJ'
    print(f'[trial] {trial["condition"]}: EC (eq. 16, {a["window_s"][0]:g}-'
          f'{a["window_s"][1]:g} s) = {ec} from the recording, {node_ec} from metabolic_node; '
          f'{a["cycles"]} cycles, {a["breaths"]} breaths; wrote {opts.out / "trial.json"}, '
          f'{opts.out / "trial.png"}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
