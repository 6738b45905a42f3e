"""``exo_eval --subjects N``: the population study from the command line (arguments, run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from exo_bringup.node_config import NodeConfig
from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_experiments.evaluation.calibration import calibrate
from exo_experiments.evaluation.conditions import CONDITIONS
from exo_experiments.evaluation.population import subject_ids
from exo_experiments.evaluation.scenarios import check_scenarios, SCENARIOS
from exo_experiments.evaluation.study import LOADED_TASKS, run_population, SCHEMA
from exo_experiments.evaluation.study_figures import study_figures
from exo_experiments.evaluation.study_page import calibration_sections, study_sections
from exo_experiments.results_page import provenance, write_results_page

STUDY_CONDITIONS = ('no_exo', 'transparent', 'promp', 'learned', 'ablation_human_reference',
                    'gravity_share', 'constant_assist', 'learned_constant_stiffness')


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The population study's arguments of ``exo_eval``."""
    g = p.add_argument_group('population study (runs instead of the mass grid)')
    g.add_argument('--subjects', type=int, default=None,
                   help='number of evaluation subjects (ids 0..N-1) of the population study')
    g.add_argument('--calibration-subjects', type=int, default=0,
                   help='calibration subjects (ids 1000..) on which the gravity share and '
                        'the default controller are chosen first (calibration.json); '
                        "without --subjects only this (0: policy.yaml's gravity_share)")
    g.add_argument('--calibration', type=Path, default=None, metavar='PATH',
                   help='use the choices of a stored calibration.json instead')
    g.add_argument('--page-from', type=Path, default=None, metavar='STUDY_JSON',
                   help='write the results page and figures of a stored study.json into '
                        '--out again (no simulation)')
    g.add_argument('--scenarios', default=','.join(SCENARIOS),
                   help='comma-separated interaction-safety scenarios ('
                        + ','.join(SCENARIOS) + "; '' for none)")
    g.add_argument('--study-conditions', default=','.join(STUDY_CONDITIONS),
                   help='comma-separated conditions of the study')


def run_study(opts: argparse.Namespace, parser: argparse.ArgumentParser, argv,
              node_config: NodeConfig) -> int:
    """Run the population study of ``opts``; write study.json and results.md."""
    conditions = [c.strip() for c in opts.study_conditions.split(',') if c.strip()]
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad:
        parser.error(f'unknown conditions {bad}; choose from {list(CONDITIONS)}')
    tasks = ([t.strip() for t in opts.tasks.split(',') if t.strip()] if opts.tasks
             else [t.task_id for t in TASKS])
    bad = [t for t in tasks if t not in TASKS_BY_ID]
    if bad:
        parser.error(f'unknown tasks {bad}; choose from {list(TASKS_BY_ID)}')
    try:
        scenarios = check_scenarios([s.strip() for s in opts.scenarios.split(',')
                                     if s.strip()])
        subjects = subject_ids(opts.subjects) if opts.subjects is not None else []
        calibration = (subject_ids(opts.calibration_subjects, calibration=True)
                       if opts.calibration_subjects else [])
    except ValueError as exc:
        parser.error(str(exc))
    if calibration and opts.calibration is not None:
        parser.error('give either --calibration-subjects or --calibration, not both')
    if opts.calibration is not None and not subjects:
        parser.error('--calibration is used with --subjects (it sets what the study uses)')
    cal = None
    opts.out.mkdir(parents=True, exist_ok=True)
    if opts.calibration is not None:
        try:
            cal = json.loads(opts.calibration.read_text())
            float(cal['chosen_share'])
            list(cal['subjects']), dict(cal['candidates']), float(cal['target_rad'])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            parser.error(f'--calibration {opts.calibration}: not a calibration.json ({exc})')
    elif calibration:
        cal = calibrate(calibration, tasks=[t for t in LOADED_TASKS if t in tasks]
                        or list(LOADED_TASKS), scenarios=scenarios, workers=opts.workers,
                        node_config=node_config, ray_address=opts.ray_address)
        (opts.out / 'calibration.json').write_text(json.dumps(cal, indent=1))
        print(f'chosen on calibration subjects {calibration}: gravity share '
              f'{cal["chosen_share"]:g}, default {cal["default_choice"]["default"]} '
              f'({opts.out / "calibration.json"})')
    if not subjects:
        pages = write_results_page([opts.out / 'calibration.md'],
                                   'Choices made on calibration subjects',
                                   calibration_sections(cal), argv)
        print(f'wrote {", ".join(str(p) for p in pages)}')
        return 0 if cal['study']['safety_ok'] and cal['study']['errors'] == 0 else 1
    share = cal['chosen_share'] if cal else None
    study = run_population(conditions, tasks, scenarios, subjects, opts.workers, node_config,
                           share, ray_address=opts.ray_address)
    study['calibration'] = cal
    study['measured_by'] = provenance(argv)
    (opts.out / 'study.json').write_text(json.dumps(study, indent=1))
    pages = write_study_page(study, opts, argv)
    print(f'wrote {opts.out / "study.json"}, {", ".join(str(p) for p in pages)}; '
          f'{study["wall_s"]:.0f} s, errors {study["errors"]}, safety_ok {study["safety_ok"]}')
    return 0 if study['safety_ok'] and study['errors'] == 0 else 1


def write_study_page(study: dict, opts: argparse.Namespace, argv) -> list[Path]:
    """Figures (unless ``--no-plots``) and the results page of ``study`` into ``opts.out``."""
    study['figures'] = [] if opts.no_plots else study_figures(study, opts.out)
    return write_results_page([opts.out / 'results.md', *opts.results_page],
                              'Closed-loop evaluation: population study',
                              study_sections(study), argv)


def page_from_json(opts: argparse.Namespace, parser: argparse.ArgumentParser, argv) -> int:
    """``--page-from``: the page and figures of a stored study.json (no simulation)."""
    try:
        study = json.loads(opts.page_from.read_text())
        if study.get('schema') != SCHEMA:
            raise ValueError(f'schema {study.get("schema")!r}, expected {SCHEMA!r}')
    except (OSError, ValueError) as exc:
        parser.error(f'--page-from {opts.page_from}: not a study.json ({exc})')
    opts.out.mkdir(parents=True, exist_ok=True)
    pages = write_study_page(study, opts, argv)
    print(f'wrote {", ".join(str(p) for p in pages)} from {opts.page_from}')
    return 0
