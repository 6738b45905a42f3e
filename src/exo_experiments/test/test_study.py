"""Population, scenarios, paired statistics, calibration and the population study's pipeline."""

import json
import math

import numpy as np
import pytest

from exo_contract.tasks import ReferenceTrajectory, TASKS_BY_ID
from exo_experiments.evaluation import stats
from exo_experiments.evaluation.calibration import choose_default
from exo_experiments.evaluation.cli import main as exo_eval
from exo_experiments.evaluation.population import (
    CALIBRATION_IDS,
    draw_subject,
    EVALUATION_IDS,
    RANGES,
    subject_ids,
)
from exo_experiments.evaluation.scenarios import rms_above, ScenarioTrajectory
from exo_experiments.evaluation.study import run_population
from exo_experiments.evaluation.study_figures import study_figures
from exo_experiments.evaluation.study_page import calibration_sections, study_sections


def test_subjects_are_drawn_within_their_ranges_and_disjoint():
    """Every drawn value lies in its documented range; calibration ids never evaluate."""
    assert not set(EVALUATION_IDS) & set(CALIBRATION_IDS)
    assert subject_ids(3) == [0, 1, 2]
    assert subject_ids(2, calibration=True) == [1000, 1001]
    values = [draw_subject(i).to_json() for i in range(20)]
    for name, (lo, hi) in RANGES.items():
        drawn = [v[name] for v in values]
        assert all(lo <= x <= hi for x in drawn), name
        assert np.std(drawn) > 0.1 * (hi - lo) / math.sqrt(12), name
    assert draw_subject(5) == draw_subject(5)
    with pytest.raises(ValueError, match='subject_id'):
        draw_subject(5000)


def test_scenario_references():
    """Abort returns to rest, hold stays there, reverse plays the path back."""
    base = ReferenceTrajectory(TASKS_BY_ID['lift_light'])
    hold = ScenarioTrajectory(base, 'hold', 0.5)
    assert hold(1.0) == (base.baseline, 0.0, 0.0)
    abort = ScenarioTrajectory(base, 'abort', 0.5)
    assert abort(abort.t_at - 1e-6)[0] == pytest.approx(float(base(abort.t_at)[0]), abs=1e-4)
    assert abort(abort.duration)[0] == pytest.approx(base.baseline)
    rev = ScenarioTrajectory(base, 'reverse', 0.3)
    t = rev.t_at
    assert rev(t + 0.1)[0] == pytest.approx(float(base(t - 0.1)[0]))
    assert rev(t + 0.1)[1] == pytest.approx(-float(base(t - 0.1)[1]))
    assert rev(rev.duration)[0] == pytest.approx(base.baseline, abs=1e-6)


def test_rms_above_separates_chatter_from_the_movement():
    """A 1 Hz movement has no content above 5 Hz; a 20 Hz chatter of amplitude a has a/sqrt 2."""
    t = np.arange(0, 4.0, 0.001)
    slow = 3.0 * np.sin(2 * np.pi * 1.0 * t)
    assert rms_above(slow, 0.001) < 1e-6
    assert rms_above(slow + 2.0 * np.sin(2 * np.pi * 20 * t), 0.001) == pytest.approx(
        2.0 / math.sqrt(2), rel=1e-3)


def test_holm_tost_and_bootstrap():
    """Holm on a known example; TOST equivalence inside the margin, not outside."""
    assert stats.holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    rng = np.random.default_rng(0)
    inside = rng.normal(0.0, 0.002, 30)
    outside = rng.normal(0.01, 0.002, 30)
    assert stats.tost_paired(inside, 0.005)['equivalent']
    assert not stats.tost_paired(outside, 0.005)['equivalent']
    lo, hi = stats.bootstrap_ci(outside)
    assert lo < outside.mean() < hi
    assert stats.bootstrap_ci([1.0]) is None
    d = stats.paired({0: 2.0, 1: 3.0, 2: 5.0}, {0: 1.0, 1: 1.0, 2: 1.0, 3: 9.0})
    assert d['n'] == 3 and d['mean_diff'] == pytest.approx(7.0 / 3.0)


def test_population_study_runs_and_writes_its_page(tmp_path):
    """One subject, no exo + gravity share, one task + one scenario: rows, stats, page."""
    study = run_population(['no_exo', 'gravity_share'], ['wave'], ['hold_still'], [0],
                           workers=1, progress=False)
    assert study['errors'] == 0 and study['safety_ok']
    rows = {(r['item'], r['condition']): r for r in study['rows']}
    assert rows[('wave', 'no_exo')]['energy_change_pct'] == 0.0
    assert rows[('hold_still', 'no_exo')]['peak_interaction_nm'] == 0.0
    assert rows[('hold_still', 'gravity_share')]['peak_interaction_nm'] > 0.0
    text = '\n'.join(body for _, body in study_sections(study))
    assert 'hold_still' in text and 'gravity_share' in text
    names = study_figures(study, tmp_path)
    assert names == ['study_tasks.png', 'study_scenarios.png']  # no learned: no forest plot
    assert all((tmp_path / n).stat().st_size > 5000 for n in names)


def _stat(mean, half):
    return {'mean': mean, 'ci95': [mean - half, mean + half], 'n': 5}


def _summary(learned_energy, learned_rms):
    """Two loaded tasks and one scenario; gravity_share is the best baseline in both tasks."""
    def task(cond_energy):
        return {c: {'energy_change_pct': _stat(e, 1.0), 'rmse_rad': _stat(r, 0.002)}
                for c, (e, r) in cond_energy.items()}
    cells = {'learned': (learned_energy, 0.030), 'gravity_share': (-15.0, 0.031),
             'constant_assist': (-20.0, 0.080), 'promp': (-8.0, 0.030)}
    return {'lift_light': task(cells), 'shelf': task(cells),
            'hold_still': {'learned': {'rms_interaction_nm': _stat(learned_rms, 0.05)},
                           'learned_constant_stiffness': {'rms_interaction_nm': _stat(1.0, 0.05)},
                           'gravity_share': {'rms_interaction_nm': _stat(0.8, 0.05)}}}


def test_the_learned_policy_keeps_the_default_only_when_it_earns_it():
    """Beyond the best baseline and its ablation with separate intervals: learned stays."""
    tasks, scen = ('lift_light', 'shelf'), ('hold_still',)
    earned = choose_default(_summary(-20.0, 0.5), tasks, scen)
    assert earned['learned_earns'] and earned['default'] == 'learned'
    assert earned['unmet'] == []
    # intervals overlap the best baseline's (-14 +- 1 against -15 +- 1): not earned; the
    # best-measured candidate within the tracking target is the gravity share (constant
    # assist saves more but tracks at 0.08 rad)
    close = choose_default(_summary(-14.0, 0.5), tasks, scen)
    assert not close['learned_earns'] and close['default'] == 'gravity_share'
    assert any('lift_light: energy saving not beyond gravity_share' in u for u in close['unmet'])
    ranking = {r['condition']: r for r in close['ranking']}
    assert not ranking['constant_assist']['within_target']
    assert ranking['gravity_share']['mean_rms_interaction_nm'] == pytest.approx(0.8)
    # saves most but its interaction torque is not below its constant-stiffness ablation's:
    # not earned, yet still the best-measured candidate
    stiff = choose_default(_summary(-30.0, 0.98), tasks, scen)
    assert not stiff['learned_earns'] and stiff['default'] == 'learned'
    assert [u.split(':')[0] for u in stiff['unmet']] == ['hold_still']
    cal = {'subjects': [1000], 'chosen_share': 0.3, 'target_rad': 0.05,
           'candidates': {'0.3': {'shelf': {'rmse_rad': 0.03, 'energy_change_pct': -15.0}}},
           'default_choice': close}
    text = '\n'.join(body for _, body in calibration_sections(cal))
    assert '**gravity_share**' in text and 'does not earn the default' in text


def test_a_stored_calibration_drives_the_study(tmp_path):
    """``--calibration`` sets the gravity share and appears on the page; a bad file is refused."""
    cal = {'subjects': [1000], 'chosen_share': 0.2, 'target_rad': 0.05,
           'candidates': {'0.2': {'shelf': {'rmse_rad': 0.03, 'energy_change_pct': -10.0}}}}
    path = tmp_path / 'calibration.json'
    path.write_text(json.dumps(cal))
    out = tmp_path / 'study'
    rc = exo_eval(['--subjects', '1', '--calibration', str(path), '--tasks', 'wave',
                   '--scenarios', '', '--study-conditions', 'no_exo,gravity_share',
                   '--workers', '1', '--out', str(out)])
    assert rc == 0
    study = json.loads((out / 'study.json').read_text())
    assert study['config']['gravity_share'] == 0.2
    assert study['measured_by'].startswith('Written by `')
    page = (out / 'results.md').read_text()
    assert 'Calibration subjects [1000]: gravity share' in page
    assert '![study_tasks.png](study_tasks.png)' in page and (out / 'study_tasks.png').exists()
    again = tmp_path / 'again'
    assert exo_eval(['--page-from', str(out / 'study.json'), '--no-plots',
                     '--out', str(again)]) == 0
    assert (again / 'results.md').read_text().count('Task wave') == 1
    with pytest.raises(SystemExit):
        exo_eval(['--page-from', str(path), '--out', str(again)])
    path.write_text('{"subjects": [1000]}')
    with pytest.raises(SystemExit):
        exo_eval(['--subjects', '1', '--calibration', str(path), '--out', str(out)])
    with pytest.raises(SystemExit):
        exo_eval(['--subjects', '1', '--calibration', str(path), '--calibration-subjects', '1',
                  '--out', str(out)])
    with pytest.raises(SystemExit):  # a calibration without a study to apply it to
        exo_eval(['--calibration', str(out / 'study.json'), '--out', str(out)])


def test_a_subjects_batch_gives_each_item_its_numbers_alone():
    """A subject's lock-step batch of every condition = one condition and item at a time.

    Every condition's practice chains, then every item of every condition. A scenario
    that changes the wearer's reference and the bump (a push on the forearm), with and
    without the exo: every row's numbers are the same.
    """
    from exo_experiments.evaluation.conditions import default_node_config  # noqa: PLC0415
    from exo_experiments.evaluation.study import (  # noqa: PLC0415
        run_subject,
        run_subject_conditions,
    )
    items = ['reverse', 'bump']
    config = default_node_config()
    batch = run_subject_conditions(3, ['gravity_share', 'no_exo'], items, config)
    alone = [row for c in ('gravity_share', 'no_exo')
             for row in run_subject(3, c, items, config, batch=False)]
    assert [(r['condition'], r['item']) for r in batch] == [
        (c, i) for c in ('gravity_share', 'no_exo') for i in items]
    for a, b in zip(batch, alone, strict=True):
        assert 'error' not in a
        assert {k: v for k, v in a.items() if k != 'wall_s'} == \
            {k: v for k, v in b.items() if k != 'wall_s'}


def test_a_failing_item_is_reported_on_its_own_row():
    """An unknown item fails alone; the batch's other items still give their numbers."""
    from exo_experiments.evaluation.conditions import default_node_config  # noqa: PLC0415
    from exo_experiments.evaluation.study import run_subject_conditions  # noqa: PLC0415
    rows = run_subject_conditions(3, ['no_exo', 'transparent'], ['wave', 'no_such_task'],
                                  default_node_config())
    assert [(r['condition'], r['item']) for r in rows] == [
        ('no_exo', 'wave'), ('no_exo', 'no_such_task'), ('transparent', 'wave'),
        ('transparent', 'no_such_task')]
    for good, bad in (rows[:2], rows[2:]):
        assert 'error' not in good and good['rmse_rad'] > 0.0
        assert 'KeyError' in bad['error']
