"""The population study's sections of the results page, written from a study dict."""

from __future__ import annotations

from exo_experiments.evaluation.scenarios import (
    BUMP_S,
    BUMP_TORQUE_NM,
    COMFORT_TORQUE_NM,
    SCENARIOS,
    SMOOTHNESS_CUTOFF_HZ,
)
from exo_experiments.evaluation.stats import TOST_MARGIN_RAD
from exo_experiments.evaluation.study import POLICY_CONDITION
from exo_experiments.results_page import fmt, interval, markdown_table

LABELS = {'rmse_rad': 'exo RMSE, rad', 'rmse_arm_rad': 'arm RMSE, rad',
          'energy_change_pct': 'muscle energy vs no exo, %',
          'command_hf_rms_nm': f'command RMS above {SMOOTHNESS_CUTOFF_HZ:g} Hz, N*m',
          'peak_interaction_nm': 'peak interaction torque, N*m',
          'rms_interaction_nm': 'RMS interaction torque, N*m',
          'time_above_comfort_s': f'time above {COMFORT_TORQUE_NM:g} N*m, s',
          'muscle_energy_j': 'muscle energy, J', 'exo_deviation_rad': 'exo deviation, rad'}


def _cell(stat: dict | None, digits: int = 3) -> str | None:
    if not stat:
        return None
    ci = interval(stat.get('ci95'), digits)
    value = fmt(stat['mean'], digits)
    return f'{value} {ci}' if ci else value


def _diff(d: dict | None, digits: int = 3) -> str | None:
    if not d:
        return None
    ci = interval(d.get('ci95'), digits)
    p = d.get('p_holm')
    return (f'{fmt(d["mean_diff"], digits, signed=True)} {ci or ""} d_z '
            f'{fmt(d.get("dz"), 2)}, p_Holm {fmt(p, 3) if p is not None else "-"}')


def calibration_sections(cal: dict) -> list[tuple[str, str]]:
    """(heading, Markdown) sections of the choices made on calibration subjects."""
    cands = cal['candidates']
    tasks = list(dict.fromkeys(t for by in cands.values() for t in by))
    rows = [[f'{float(share):g}'] + [
        f'{fmt(by[t]["rmse_rad"], 3)} / {fmt(by[t]["energy_change_pct"], 1)}'
        if t in by else None for t in tasks] for share, by in cands.items()]
    sections = [(f'Calibration subjects {cal["subjects"]}: gravity share', '\n'.join([
        f'Chosen share {cal["chosen_share"]:g}: the largest whose mean exo RMSE is within '
        f'{cal["target_rad"]} rad in every loaded task. Cells: mean exo RMSE, rad / mean '
        'muscle energy vs no exo, %.', '',
        markdown_table(['share', *tasks], rows)]))]
    choice = cal.get('default_choice')
    if not choice:
        return sections
    rows = [[r['condition'], fmt(r['mean_energy_change_pct'], 1), fmt(r['worst_rmse_rad'], 3),
             'yes' if r['within_target'] else 'no', fmt(r['mean_rms_interaction_nm'], 3)]
            for r in choice['ranking']]
    verdict = ('the learned policy earns the default' if choice['learned_earns'] else
               'the learned policy does not earn the default: '
               + '; '.join(choice['unmet']))
    sections.append((f'Calibration subjects {cal["subjects"]}: the default controller',
                     '\n'.join([
                         f'Default: **{choice["default"]}** ({verdict}). Rule: '
                         'exo_experiments.evaluation.calibration.', '',
                         markdown_table(['candidate', 'mean energy vs no exo over the loaded '
                                         'tasks, %', 'worst mean exo RMSE, rad',
                                         f'within {choice["target_rad"]} rad',
                                         'mean RMS interaction torque over the scenarios, '
                                         'N*m'], rows)])))
    study = cal.get('study')
    if study:
        sections += [(f'Calibration: {h}', b) for h, b in study_sections(study)
                     if h.startswith(('Task ', 'Scenario '))]
    return sections


def study_sections(study: dict) -> list[tuple[str, str]]:
    """(heading, Markdown) sections of the population study."""
    cfg = study['config']
    conds = cfg['conditions']
    subj = study['subjects']
    sections = [('Population study: configuration', '\n'.join([
        f'- subjects: {len(subj)} (ids {", ".join(str(s["subject_id"]) for s in subj)}; '
        'evaluation ids 0-999, calibration ids 1000-1999, '
        'exo_experiments.evaluation.population)',
        f'- conditions: {", ".join(conds)}; max_assist_torque {cfg["max_assist_torque"]:g} '
        f'N*m for every source; {cfg["practice_repetitions"]} practice repetitions',
        f'- gravity share {cfg["gravity_share"]:g}'
        + (f' (chosen on calibration subjects {study["calibration"]["subjects"]}: largest '
           f"share with every loaded task's mean exo RMSE <= "
           f'{study["calibration"]["target_rad"]} rad)' if study.get('calibration') else ''),
        f'- tasks: {", ".join(cfg["tasks"])}; scenarios: {", ".join(cfg["scenarios"])}',
        f'- comfort threshold {COMFORT_TORQUE_NM:g} N*m (the assistance bound; a working '
        f'threshold, no verified literature value); bump {BUMP_TORQUE_NM:g} N*m for '
        f'{BUMP_S:g} s',
        f'- measured: {study.get("measured_by") or "study.json created " + study["created"]}',
        f'- wall time {study["wall_s"]:.0f} s on {cfg["workers"]} workers; errors '
        f'{study["errors"]}; safety_ok {study["safety_ok"]}',
        '- intervals: percentile bootstrap 95 % over subjects; paired differences are '
        f'{POLICY_CONDITION} minus the other condition, Wilcoxon signed-rank p, '
        'Holm-corrected over the tasks (or scenarios) of each metric'])),
    ]
    summary = study['summary']
    for item in [*cfg['tasks'], *cfg['scenarios']]:
        by = summary.get(item, {})
        scen = SCENARIOS.get(item)
        metrics = (['peak_interaction_nm', 'rms_interaction_nm', 'time_above_comfort_s',
                    'muscle_energy_j', 'exo_deviation_rad', 'command_hf_rms_nm'] if scen
                   else ['rmse_rad', 'rmse_arm_rad', 'energy_change_pct',
                         'rms_interaction_nm', 'command_hf_rms_nm'])
        rows = [[c] + [_cell(by.get(c, {}).get(m), 1 if m == 'energy_change_pct' else 3)
                       for m in metrics] for c in conds if c in by]
        title = (f"Scenario {item}: text '{scen.text_task}', wearer does {scen.human_task} "
                 f'({scen.kind})' if scen else f'Task {item}')
        sections.append((title + ', mean [95 % interval]',
                         markdown_table(['condition', *[LABELS[m] for m in metrics]], rows)))
    comp = study['comparisons']
    rows = []
    for item, b in comp.get('best_baseline', {}).items():
        rows.append([item, b['baseline'], LABELS[b['metric']],
                     _diff(b['default_minus_baseline'], 2),
                     _diff(b['rmse_default_minus_baseline'], 4)])
    if rows:
        sections.append((f'{POLICY_CONDITION} against the best baseline per task and '
                         'scenario (paired, default minus baseline)', markdown_table(
                             ['task / scenario', 'best baseline', 'metric', 'difference',
                              'exo RMSE difference, rad'], rows)))
    rows = []
    for other, per_metric in comp.get('default_vs', {}).items():
        for m in ('energy_change_pct', 'rms_interaction_nm', 'peak_interaction_nm'):
            for item, d in per_metric.get(m, {}).items():
                rows.append([other, LABELS[m], item, _diff(d, 3)])
    if rows:
        sections.append((f'{POLICY_CONDITION} against every condition (paired differences)',
                         markdown_table(['other condition', 'metric', 'task / scenario',
                                         'difference'], rows)))
    rows = []
    for cond, by in comp.get('tost_arm_tracking', {}).items():
        for task, t in by.items():
            if t:
                rows.append([cond, task, fmt(t['mean_diff'], 4), interval(t['ci90'], 4),
                             fmt(t['p'], 3), 'yes' if t['equivalent'] else 'no'])
    if rows:
        sections.append((f"Is the arm's tracking unchanged? TOST against no exo, margin "
                         f'+-{TOST_MARGIN_RAD} rad', markdown_table(
                             ['condition', 'task', 'mean arm RMSE difference, rad',
                              '90 % interval', 'TOST p', 'equivalent'], rows)))
    if study.get('figures'):
        sections.append(('Figures', '\n\n'.join(f'![{f}]({f})' for f in study['figures'])))
    if study.get('calibration'):
        sections += calibration_sections(study['calibration'])
    return sections
