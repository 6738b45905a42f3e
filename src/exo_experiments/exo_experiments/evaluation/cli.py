"""``exo_eval``: the command line of the evaluation (arguments, main, printed report).

Examples::

    exo_eval --out out/eval                 # full grid (minutes on many cores)
    exo_eval --quick --out out/eval_quick   # 3 tasks, 70 kg, 1 simulated minute
    exo_eval --task-text 'make an ok gesture' --mass 72 --policy promp --json
    exo_eval --quick --controller-params my_params.yaml --policy-params my_policy.yaml
    exo_eval --subjects 20 --calibration-subjects 5 --out out/eval   # population study
    exo_eval --calibration-subjects 5 --out out/calibration   # only the calibration choices
    exo_eval --page-from out/eval/study.json --out out/eval   # its page and figures again
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from exo_bringup.node_config import load_node_config
from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_experiments.evaluation.conditions import (
    CONDITIONS,
    SourceUnavailableError,
    TRAINING_MASSES,
    UNSEEN_MASSES,
)
from exo_experiments.evaluation.figures import make_plots
from exo_experiments.evaluation.grid import run_evaluation
from exo_experiments.evaluation.page import evaluation_sections
from exo_experiments.evaluation.single import single_rollout
from exo_experiments.evaluation.study_cli import add_arguments as add_study_arguments
from exo_experiments.evaluation.study_cli import page_from_json, run_study
from exo_experiments.results_page import write_results_page

DESCRIPTION = ('Closed-loop evaluation (paper section V, Fig. 4-7): every task x condition x '
               'body mass.')
QUICK_TASKS = ('ok_gesture', 'wave', 'lift_heavy')
QUICK_MASSES = (70.0,)


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(',') if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``exo_eval``."""
    p = argparse.ArgumentParser(prog='exo_eval', description=DESCRIPTION)
    p.add_argument('--out', type=Path, default=Path('out/eval'),
                   help='output directory (eval.json + plots)')
    p.add_argument('--results-page', type=Path, action='append', default=[], metavar='PATH',
                   help='also write the results page (results.md) to PATH, e.g. '
                        'docs/results/eval.md (repeatable)')
    p.add_argument('--quick', action='store_true',
                   help=f'reduced grid: tasks {",".join(QUICK_TASKS)}, 70 kg, 1 minute')
    p.add_argument('--conditions', default=','.join(CONDITIONS),
                   help='comma-separated subset of ' + ','.join(CONDITIONS))
    p.add_argument('--masses', default=None,
                   help='comma-separated body masses, kg (default: training 60,70,80 + '
                        'unseen 55,65,75,90)')
    p.add_argument('--tasks', default=None, help='comma-separated task ids (default: all)')
    p.add_argument('--repetitive-minutes', type=float, default=None,
                   help='simulated minutes of the repetitive task (default 10; quick 1; 0: '
                        'skip)')
    p.add_argument('--repetitive-conditions', default=None,
                   help='comma-separated conditions of the repetitive session (default: '
                        "--conditions; no_exo is always run, the reduction's reference)")
    p.add_argument('--workers', type=int, default=None, help='processes (default: all CPUs)')
    p.add_argument('--ray-address', default=None, metavar='ADDRESS',
                   help="run the rollouts on a Ray cluster ('auto', 'ray://host:10001' or "
                        "'local'; docs/cluster.md); default: --workers local processes")
    p.add_argument('--seed', type=int, default=0,
                   help="first evaluation seed (the human's timing, noise and the repetitive "
                        'schedule); with --task-text the seed of that rollout')
    p.add_argument('--seeds', type=int, default=None,
                   help='number of seeds of the grid (default 5; quick 1)')
    p.add_argument('--basal-w-per-kg', type=float, default=0.0,
                   help='constant basal term added to EE(t), W/kg (default 0)')
    p.add_argument('--no-plots', action='store_true')
    p.add_argument('--task-text', default=None,
                   help='single rollout for this text (with --mass, --policy)')
    p.add_argument('--mass', type=float, default=70.0, help='body mass of --task-text, kg')
    p.add_argument('--policy', choices=CONDITIONS,
                   default='learned', help='condition of the --task-text rollout')
    p.add_argument('--onset-delay', type=float, default=None, metavar='S',
                   help='--task-text: movement onset after the instruction, s (default: drawn '
                        'from --seed, 0.2-1.0 s)')
    p.add_argument('--speed', type=float, default=None,
                   help='--task-text: movement speed relative to the task (default: drawn, '
                        '+-20 %%)')
    p.add_argument('--amplitude', type=float, default=None,
                   help='--task-text: amplitude relative to the task (default: drawn, +-15 %%)')
    p.add_argument('--json', action='store_true', help='print the result as JSON')
    p.add_argument('--controller-params', type=Path, default=None, metavar='PATH',
                   help="controller_node parameter file (ROS 2 YAML; default: the launch "
                        "files' share/exo_impedance_controller/config/params.yaml with the "
                        'launch argument defaults on top)')
    p.add_argument('--policy-params', type=Path, default=None, metavar='PATH',
                   help="policy_node parameter file (ROS 2 YAML; rate_hz sets the reference "
                        "period, language_encoder the task resolver; default: the launch "
                        "files' share/exo_bringup/config/policy.yaml with the launch argument "
                        'defaults on top)')
    add_study_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_eval``; returns 0 when every rollout is safe and error-free."""
    parser = build_parser()
    opts = parser.parse_args(argv)
    try:
        node_config = load_node_config(opts.controller_params, opts.policy_params)
    except ValueError as exc:
        parser.error(str(exc))
    if opts.page_from is not None:
        return page_from_json(opts, parser, argv)
    if opts.subjects is not None or opts.calibration_subjects or opts.calibration is not None:
        return run_study(opts, parser, argv, node_config)
    if opts.task_text is not None:
        try:
            res = single_rollout(opts.task_text, opts.mass, opts.policy, node_config,
                                 opts.seed, opts.onset_delay, opts.speed, opts.amplitude)
        except SourceUnavailableError as exc:
            res = {'task_text': opts.task_text, 'policy': opts.policy,
                   'body_mass_kg': opts.mass, 'error': str(exc)}
        except ValueError as exc:
            parser.error(str(exc))
        if opts.json:
            print(json.dumps(res, indent=2))
        else:
            print_single(res)
        return 0 if 'error' not in res and res['safety_ok'] else 1
    conditions = [c.strip() for c in opts.conditions.split(',') if c.strip()]
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        parser.error(f'unknown conditions {bad}; choose from {list(CONDITIONS)}')
    if opts.tasks:
        tasks = [t.strip() for t in opts.tasks.split(',') if t.strip()]
    else:
        tasks = list(QUICK_TASKS) if opts.quick else [t.task_id for t in TASKS]
    bad = [t for t in tasks if t not in TASKS_BY_ID]
    if bad:
        parser.error(f'unknown tasks {bad}; choose from {list(TASKS_BY_ID)}')
    if opts.masses:
        masses = _floats(opts.masses)
    else:
        masses = list(QUICK_MASSES) if opts.quick else list(TRAINING_MASSES + UNSEEN_MASSES)
    for m in masses:
        if not (math.isfinite(m) and 40.0 <= m <= 150.0):
            parser.error(f'--masses must lie in [40, 150] kg, got {m!r}')
    minutes = opts.repetitive_minutes
    if minutes is None:
        minutes = 1.0 if opts.quick else 10.0
    if not (math.isfinite(minutes) and 0.0 <= minutes <= 120.0) or 0 < minutes < 0.25:
        parser.error(f'--repetitive-minutes must be 0 or in [0.25, 120], got {minutes!r}')
    seeds = opts.seeds if opts.seeds is not None else (1 if opts.quick else 5)
    if not 1 <= seeds <= 100:
        parser.error(f'--seeds must be in [1, 100], got {seeds!r}')
    rep_conditions = None
    if opts.repetitive_conditions is not None:
        rep_conditions = [c.strip() for c in opts.repetitive_conditions.split(',') if c.strip()]
        bad = [c for c in rep_conditions if c not in conditions]
        if bad:
            parser.error(f'--repetitive-conditions {bad} are not among --conditions')
    report = run_evaluation(conditions, tasks, masses, minutes, opts.workers, opts.seed,
                            opts.basal_w_per_kg, quick=opts.quick, node_config=node_config,
                            seeds=seeds, repetitive_conditions=rep_conditions,
                            ray_address=opts.ray_address)
    opts.out.mkdir(parents=True, exist_ok=True)
    report['plots'] = [] if opts.no_plots else make_plots(report, opts.out)
    (opts.out / 'eval.json').write_text(json.dumps(report, indent=1, allow_nan=True))
    pages = write_results_page([opts.out / 'results.md', *opts.results_page],
                               'Closed-loop evaluation', evaluation_sections(report), argv)
    print_report(report)
    print(f'wrote {opts.out / "eval.json"}, {", ".join(str(p) for p in pages)}')
    return 0 if report['safety_ok'] and report['errors'] == 0 else 1


def print_single(res: dict) -> None:
    """Print a :func:`single_rollout` result for a person."""
    if 'error' in res:
        print(f'error: {res["error"]}')
        return
    s = res['safety']
    print(f'text {res["task_text"]!r} -> task {res["resolved_task"]} (confidence '
          f'{res["confidence"]}), human task {res["human_task"]}, '
          f'{res["body_mass_kg"]:g} kg, policy {res["policy"]}\n'
          f'RMSE {res["rmse_rad"]:.4f} rad, effort {res["effort"]:.4f}, metabolic '
          f'{res["metabolic_energy_j"]:.2f} J\nsafety: {s["ticks"]} ticks, '
          f'stiffness-rate {s["stiffness_rate_violations"]}, torque-limit '
          f'{s["torque_limit_violations"]}, non-finite {s["nonfinite_commands"]}')


def print_report(report: dict) -> None:
    """Print the per-condition table and the repetitive session of an eval.json dict."""
    for cond, reason in report['skipped_conditions'].items():
        print(f'skipped {cond}: {reason}')
    print(f'{"condition":<12} {"RMSE rad":>9} {"seen":>7} {"unseen":>7} {"effort":>8} '
          f'{"J/kg":>7} {"unsafe":>6}')
    for cond, s in report['per_condition'].items():
        def f(v):
            return f'{v:.4f}' if v is not None else '   -  '
        print(f'{cond:<12} {f(s["rmse_rad"]):>9} {f(s["rmse_rad_seen"]):>7} '
              f'{f(s["rmse_rad_unseen"]):>7} {f(s["effort"]):>8} '
              f'{f(s["metabolic_energy_j_per_kg"]):>7} {s["safety_violations"]:>6}')
    rep = report['repetitive']
    if rep['conditions']:
        print(f'repetitive: {rep["minutes"]:g} min of {rep["task_text"]!r}, '
              f'{rep["body_mass_kg"]:g} kg, steady window {rep["steady_window_s"]} s')
        for cond, r in rep['conditions'].items():
            if 'error' in r:
                print(f'  {cond:<12} error: {r["error"]}')
                continue
            print(f'  {cond:<12} EC {r["ec_j"]:9.1f} J  reduction '
                  f'{r.get("reduction_pct_vs_no_exo", math.nan):+6.2f} %  cycles '
                  f'{r["cycles_completed"]}/{r["cycles_started"]}  RMSE {r["rmse_rad"]:.4f} '
                  f'rad  safe {r["safety_ok"]}  ({r["wall_s"]:.0f} s)')
    errors = [r for r in report['rollouts'] if 'error' in r]
    for r in errors:
        print(f'error {r["task_id"]} {r["condition"]} {r["body_mass_kg"]}: {r["error"]}')
    print(f'safety_ok {report["safety_ok"]}, wall {report["wall_s"]:.1f} s')


if __name__ == '__main__':
    raise SystemExit(main())
