"""``exo_eval --subjects N``: the population study from the command line (arguments, run)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from exo_bringup.node_config import NodeConfig
from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_experiments.evaluation.calibration import choose_gravity_share
from exo_experiments.evaluation.conditions import CONDITIONS
from exo_experiments.evaluation.population import subject_ids
from exo_experiments.evaluation.scenarios import check_scenarios, SCENARIOS
from exo_experiments.evaluation.study import LOADED_TASKS, run_population
from exo_experiments.evaluation.study_page import study_sections
from exo_experiments.results_page import write_results_page

STUDY_CONDITIONS = ('no_exo', 'transparent', 'promp', 'learned', 'ablation_human_reference',
                    'gravity_share', 'constant_assist', 'learned_constant_stiffness')


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The population study's arguments of ``exo_eval``."""
    g = p.add_argument_group('population study (runs instead of the mass grid)')
    g.add_argument('--subjects', type=int, default=None,
                   help='number of evaluation subjects (ids 0..N-1) of the population study')
    g.add_argument('--calibration-subjects', type=int, default=0,
                   help='calibration subjects (ids 1000..) on which the gravity share is '
                        "chosen first (0: policy.yaml's gravity_share)")
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
        subjects = subject_ids(opts.subjects)
        calibration = (subject_ids(opts.calibration_subjects, calibration=True)
                       if opts.calibration_subjects else [])
    except ValueError as exc:
        parser.error(str(exc))
    cal = None
    share = None
    if calibration:
        cal = choose_gravity_share(calibration, tasks=[t for t in LOADED_TASKS if t in tasks]
                                   or LOADED_TASKS, workers=opts.workers,
                                   node_config=node_config)
        share = cal['chosen_share']
        print(f'gravity share {share:g} chosen on calibration subjects {calibration}')
    study = run_population(conditions, tasks, scenarios, subjects, opts.workers, node_config,
                           share)
    study['calibration'] = cal
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / 'study.json').write_text(json.dumps(study, indent=1))
    pages = write_results_page([opts.out / 'results.md', *opts.results_page],
                               'Closed-loop evaluation: population study',
                               study_sections(study), argv)
    print(f'wrote {opts.out / "study.json"}, {", ".join(str(p) for p in pages)}; '
          f'{study["wall_s"]:.0f} s, errors {study["errors"]}, safety_ok {study["safety_ok"]}')
    return 0 if study['safety_ok'] and study['errors'] == 0 else 1


def page_from_json(path: Path, out: Path) -> None:
    """Re-write the results page of a stored study.json (no simulation)."""
    study = json.loads(Path(path).read_text())
    write_results_page([out], 'Closed-loop evaluation: population study',
                       study_sections(study), None)
