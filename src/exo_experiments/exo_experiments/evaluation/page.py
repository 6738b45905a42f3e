"""The evaluation's results page (``results.md``), written from an eval.json dict."""

from __future__ import annotations

from exo_experiments.results_page import fmt, interval, markdown_table


def _rmse(stats: dict | None) -> str | None:
    if stats is None:
        return None
    ci = interval(stats.get('rmse_rad_ci95'))
    return f'{fmt(stats["rmse_rad"])} {ci}' if ci else fmt(stats['rmse_rad'])


def _energy(stats: dict | None) -> str | None:
    if stats is None or stats.get('energy_change_pct') is None:
        return None
    ci = interval(stats.get('energy_change_pct_ci95'), 1)
    value = fmt(stats['energy_change_pct'], 1, signed=True) + ' %'
    return f'{value} {ci}' if ci else value


def evaluation_sections(report: dict) -> list[tuple[str, str]]:
    """(heading, Markdown) sections of the results page of ``report``."""
    cfg = report['config']
    conditions = [c for c in cfg['conditions'] if c in report['per_condition']]
    sections = [('Configuration', '\n'.join([
        f'- conditions: {", ".join(cfg["conditions"])}',
        f'- tasks: {", ".join(cfg["tasks"])}',
        f'- body masses: {", ".join(f"{m:g}" for m in cfg["masses"])} kg (training masses '
        f'{", ".join(f"{m:g}" for m in cfg["training_masses"])})',
        f'- seeds: {", ".join(str(s) for s in cfg["seeds"])}; '
        f'repetitive session {cfg["repetitive_minutes"]:g} min',
        f'- energy: {report["metabolic_model"]}' if isinstance(report.get('metabolic_model'),
                                                                str) else
        '- energy: modelled muscle energy of the elbow (Umberger 2003)',
        f'- wall time {report["wall_s"]:.0f} s; safety_ok {report["safety_ok"]}, '
        f'errors {report["errors"]}',
        *[f'- skipped {c}: {why}' for c, why in report['skipped_conditions'].items()],
    ]))]
    rows = []
    for task, by in report['summary'].items():
        rows.append([task] + [_rmse(by.get(c)) for c in conditions])
    sections.append(("Tracking: exo-angle RMSE against the human's reference, rad, mean "
                     '[95 % interval]', markdown_table(['task', *conditions], rows)))
    assisted = [c for c in conditions if c != 'no_exo']
    rows = [[task] + [_energy(by.get(c)) for c in assisted]
            for task, by in report['summary'].items()]
    sections.append(('Muscle energy against no exo, paired per rollout, mean [95 % interval]',
                     markdown_table(['task', *assisted], rows)))
    rows = [[c, fmt(s['rmse_rad']), fmt(s['rmse_rad_seen']), fmt(s['rmse_rad_unseen']),
             fmt(s['effort'], 4), fmt(s['metabolic_energy_j_per_kg'], 3), s['n'],
             s['safety_violations']] for c, s in report['per_condition'].items()]
    sections.append(('Per condition', markdown_table(
        ['condition', 'RMSE rad', 'seen masses', 'unseen masses', 'effort', 'energy J/kg',
         'rollouts', 'unsafe rollouts'], rows)))
    rep = report['repetitive']
    if rep.get('over_seeds'):
        rows = [[c, fmt(o['reduction_pct_mean'], 1, signed=True),
                 interval(o['reduction_pct_ci95'], 1),
                 ', '.join(fmt(r, 3) for r in o['rmse_rad']), len(o['seeds'])]
                for c, o in rep['over_seeds'].items()]
        sections.append((f'Repetitive session: {rep["minutes"]:g} min of '
                         f'\'{rep["task_text"]}\', {rep["body_mass_kg"]:g} kg, steady '
                         f'window {rep["steady_window_s"]} s', markdown_table(
                             ['condition', 'EC reduction vs no exo, %', '95 % interval',
                              'RMSE rad per seed', 'seeds'], rows)))
    if report.get('plots'):
        sections.append(('Figures', '\n'.join(f'- `{p}`' for p in report['plots'])))
    return sections
