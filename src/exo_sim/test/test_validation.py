"""Tests of exo_sim.validation: Fig. 4 / Table I report on a tiny generated dataset."""

import json
import math

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from scipy import stats

from exo_contract.dataset import load_dataset, STEPS_FILE
from exo_contract.metrics import active_mask
from exo_sim.datagen.config import DatagenConfig
from exo_sim.datagen.generator import generate
from exo_sim.validation import (
    episode_metrics,
    friedman,
    main,
    phase_windows,
    stiffness_metrics,
    validation_report,
)

TINY = DatagenConfig(tasks=('ok_gesture',), alphas=(0.0, 1.0), masses=(60.0, 80.0),
                     repetitions=1, workers=2)
FILES = ('report.json', 'report.md', 'effort_by_task.png', 'tracking_by_task.png',
         'stiffness_by_task.png')


@pytest.fixture(scope='module')
def tiny_dir(tmp_path_factory):
    return generate(TINY, tmp_path_factory.mktemp('tiny'), progress=False)


def test_report_files_and_finite_p_values(tiny_dir, tmp_path):
    report = validation_report(tiny_dir, tmp_path)
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / 'report.json').read_text()) == report
    assert report['conditions'] == ['no_exo', 'alpha=0', 'alpha=1']
    task = report['tasks']['ok_gesture']
    for metric in ('effort', 'metabolic_power_w', 'tracking_rmse_rad'):
        test = task['friedman'][metric]
        assert test['status'] == 'ok'
        assert test['n_blocks'] == 2 and test['n_conditions'] == 3
        assert math.isfinite(test['p_value']) and 0 < test['p_value'] <= 1
        assert test['annotation'] in ('*', 'ns')
        for cond in report['conditions']:
            s = task['stats'][metric][cond]
            assert s['n'] == 2 and math.isfinite(s['mean']) and s['std'] >= 0
    # the exoskeleton's own weight costs effort without assistance; full assistance saves it
    effort = task['stats']['effort']
    assert effort['alpha=1']['mean'] < effort['alpha=0']['mean']
    md = (tmp_path / 'report.md').read_text()
    assert 'Muscle effort' in md and 'p-value' in md and 'M1 ok_gesture' in md
    assert 'Interaction stiffness' in md and 'unassisted tracking RMSE' in md
    stiff = task['stiffness']
    assert set(stiff['by_condition']) == {'alpha=0', 'alpha=1'}
    for entry in (stiff['assisted'], stiff['all_exo']):
        assert entry['k_cv'] > 0 and entry['k_mean'] > 0 and entry['n'] >= 2
    prof = report['stiffness_profiles']['ok_gesture']['alpha=1']
    assert len(prof['k_mean']) == len(prof['qd_ref_mean']) == 101
    assert report['summary']['unassisted_tracking_rmse_rad']['ok_gesture'] > 0


def test_episode_metrics_match_direct_computation(tiny_dir):
    table = load_dataset(tiny_dir)
    rows = episode_metrics(table)
    assert len(rows) == 6
    ep = table.filter(pc.equal(table.column('episode'), 0))
    phase = ep.column('phase').to_numpy()
    active = (phase > 0) & (phase < 1)
    np.testing.assert_array_equal(active, active_mask(phase))
    acts = np.column_stack([ep.column(n).to_numpy() for n in ep.schema.names
                            if n.startswith('act_')]).astype(float)[active]
    err = (ep.column('q_human').to_numpy().astype(float)
           - ep.column('q_ref').to_numpy().astype(float))[active]
    assert rows[0]['condition'] == 'no_exo'
    assert rows[0]['effort'] == pytest.approx(np.mean(np.sum(acts**2, axis=1)), rel=1e-9)
    assert rows[0]['tracking_rmse_rad'] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-9)


def test_one_mass_block_reports_insufficient_blocks(tiny_dir, tmp_path):
    table = load_dataset(tiny_dir)
    one = table.filter(pc.equal(table.column('body_mass_kg'), 60.0))
    data = tmp_path / 'one_mass'
    data.mkdir()
    pq.write_table(one, data / STEPS_FILE)
    report = validation_report(data, tmp_path / 'report')
    for name in FILES:
        assert (tmp_path / 'report' / name).is_file(), name
    for test in report['tasks']['ok_gesture']['friedman'].values():
        assert test['status'] == 'insufficient blocks'
        assert test['p_value'] is None and test['annotation'] == 'n/a'
    assert 'insufficient blocks' in (tmp_path / 'report' / 'report.md').read_text()


def test_stiffness_windows_and_metrics():
    """Rapid flexion: velocity > half the peak; hold: slow, in the upper half."""
    t = np.linspace(0.0, 2.0, 201)
    phase = np.where((t > 0.0) & (t < 2.0), t / 2.0, -1.0)
    q = 0.3 + 0.5 * (1 - np.cos(np.pi * np.clip(t, 0, 1)))  # rise, then hold at 1.3
    qd = np.gradient(q, t)
    rapid, hold = phase_windows(phase, q, qd)
    assert np.all(t[rapid] > 0.15) and np.all(t[rapid] < 0.85) and rapid.sum() > 50
    assert np.all(t[hold] > 0.9) and hold.sum() > 80
    k = np.where(rapid, 200.0, 100.0)
    col = {'k_int': k, 'phase': phase, 'q_ref': q, 't': t}
    m = stiffness_metrics(col, np.ones_like(t, dtype=bool))
    assert m['k_rapid'] == 200.0 and m['k_hold'] == 100.0 and m['k_cv'] > 0.2
    col['k_int'] = np.full_like(t, np.nan)
    assert math.isnan(stiffness_metrics(col, np.ones_like(t, dtype=bool))['k_cv'])


def test_friedman_unit_cases():
    conds = ['no_exo', 'alpha=0', 'alpha=0.5', 'alpha=1']
    # identical ranking in all three blocks: chi2 = n (k - 1) = 9, W = 1
    blocks = {m: {c: m + v for c, v in zip(conds, (3.0, 4.0, 2.0, 1.0), strict=True)}
              for m in (60.0, 70.0, 80.0)}
    res = friedman(blocks, conds)
    assert res['status'] == 'ok'
    assert res['statistic'] == pytest.approx(9.0)
    assert res['p_value'] == pytest.approx(stats.chi2.sf(9.0, 3))
    assert res['p_value'] < 0.05 and res['annotation'] == '*'
    assert res['kendall_w'] == pytest.approx(1.0)
    assert friedman(blocks, conds[:2])['status'] == 'insufficient conditions'
    incomplete = {**blocks, 90.0: {'no_exo': 1.0}}
    assert friedman(incomplete, conds)['n_blocks'] == 3
    tied = {m: dict.fromkeys(conds, 1.0) for m in (60.0, 70.0, 80.0)}
    assert friedman(tied, conds)['status'] == 'all tied'


def test_console_script(tiny_dir, tmp_path, capsys):
    assert main(['--data', str(tiny_dir), '--out', str(tmp_path)]) == 0
    assert 'Muscle effort' in capsys.readouterr().out
    assert (tmp_path / 'report.json').is_file()
