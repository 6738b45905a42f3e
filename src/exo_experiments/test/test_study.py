"""Population, scenarios, paired statistics and the population study's pipeline."""

import math

import numpy as np
import pytest

from exo_contract.tasks import ReferenceTrajectory, TASKS_BY_ID
from exo_experiments.evaluation import stats
from exo_experiments.evaluation.population import (
    CALIBRATION_IDS,
    draw_subject,
    EVALUATION_IDS,
    RANGES,
    subject_ids,
)
from exo_experiments.evaluation.scenarios import rms_above, ScenarioTrajectory
from exo_experiments.evaluation.study import run_population
from exo_experiments.evaluation.study_page import study_sections


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


def test_population_study_runs_and_writes_its_page():
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
