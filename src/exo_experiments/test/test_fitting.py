"""Tests of exo_experiments.fitting: the oracle table and the ProMP fit from simulation.

Golden check of the shipped oracle table (``exo_policy/data/oracle_stiffness.npz``): a fresh
fit of one task must reproduce it; regenerate the table with ``exo_fit_oracle`` when this
fails after a change of the simulation or the task library.
"""

import numpy as np
import pytest

from exo_contract.dataset import write_dataset
from exo_contract.tasks import TASKS_BY_ID
from exo_experiments import fitting
from exo_experiments.fitting import fit_task_profile, oracle_main, promp_main, simulate_table
from exo_policy.dataset import synthetic_table
from exo_policy.oracle import StiffnessTable
from exo_policy.promp import demonstrations_from_table, ProMPModel, TABLE_COLUMNS
from exo_sim.stiffness import DEFAULT_FIT


def test_shipped_table_matches_a_fresh_fit():
    """Golden check: regenerate with `exo_fit_oracle` when this fails after a model change."""
    table = StiffnessTable.load()
    fresh = fit_task_profile(TASKS_BY_ID['wave'], phase=table.phase)
    np.testing.assert_allclose(fresh, table.profiles['wave'], rtol=1e-6, atol=1e-6)


def test_shipped_table_was_fitted_with_the_one_fit_setting():
    meta = StiffnessTable.load().metadata
    assert float(meta['window_s']) == DEFAULT_FIT.window_s
    assert float(meta['k_min']) == DEFAULT_FIT.k_min
    assert float(meta['k_max']) == DEFAULT_FIT.k_max


def test_oracle_console_script_writes_a_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fitting, 'TASKS', (TASKS_BY_ID['ok_gesture'],))
    out = tmp_path / 'table.npz'
    assert oracle_main(['--out', str(out), '--body-mass-kg', '60']) == 0
    assert 'wrote' in capsys.readouterr().out
    with np.load(out) as data:
        meta = dict(zip(data['meta_keys'].tolist(), data['meta_values'].tolist(), strict=True))
        assert [k for k in data.files if k.startswith('k_')] == ['k_ok_gesture']
        k = data['k_ok_gesture']
    assert meta == {'alpha': '1.0', 'body_mass_kg': '60.0', 'window_s': '0.2', 'k_min': '5.0',
                    'k_max': '250.0'}
    assert np.all(k >= DEFAULT_FIT.k_min) and np.all(k <= DEFAULT_FIT.k_max)
    with pytest.raises(SystemExit):
        oracle_main(['--out', str(out), '--alpha', '2'])


def test_simulate_table_follows_the_dataset_conventions():
    table = simulate_table(1, seed=0, tasks=['ok_gesture'])
    assert set(table) == set(TABLE_COLUMNS)
    n = table['phase'].size
    assert all(v.shape == (n,) for v in table.values())
    phase = table['phase']
    assert phase[0] == -1.0 and phase[-1] == -1.0  # rest before and after the task
    active = (phase > 0) & (phase < 1)
    assert np.all(np.diff(phase[active]) > 0)
    assert np.all((table['k_int'] >= DEFAULT_FIT.k_min) & (table['k_int'] <= DEFAULT_FIT.k_max))
    assert demonstrations_from_table(table)['ok_gesture'].shape == (1, 100, 2)


def test_promp_console_script_fits_a_dataset(tmp_path, capsys):
    data = write_dataset(synthetic_table(episodes_per_task=2, seed=2, tasks=('ok_gesture',)),
                         tmp_path / 'data')
    out = tmp_path / 'promp.npz'
    assert promp_main(['--data', str(data), '--out', str(out), '--weights', '8',
                       '--max-demos', '1']) == 0
    printed = capsys.readouterr().out
    assert 'no demonstrations for tasks' in printed and 'wrote' in printed
    assert 'no manifest' in printed  # the synthetic dataset has none: onset 0
    model = ProMPModel.load(out, require_all_tasks=False)
    assert model.onset_s == {}
    assert model.task_ids == ['ok_gesture'] and model.n_demos == {'ok_gesture': 1}
    assert model.metadata['data'] == str(data)
    with pytest.raises(SystemExit):
        promp_main(['--data', str(tmp_path / 'nowhere'), '--out', str(out)])


def test_the_fair_promp_sees_the_policys_training_episodes_targets_and_onsets(tmp_path):
    """The fair ProMP's data: the default policy's episodes, targets and reaction times.

    training_columns: the policy's own episodes (its alpha, the training side of its group
    split) and angle target; mean_onsets: the manifest's reaction times.
    """
    import json  # noqa: PLC0415

    from exo_policy.configuration import PolicyConfig  # noqa: PLC0415
    from exo_policy.dataset import episodes_from_table, split_episodes  # noqa: PLC0415
    table = synthetic_table(episodes_per_task=3, seed=6)
    data = write_dataset(table, tmp_path / 'data')
    config = PolicyConfig()
    cols = fitting.training_columns(data, config)
    episodes = episodes_from_table(table, config.reference_target, config.train_alphas,
                                   config.max_lead)
    train, val = split_episodes(episodes, config.val_fraction, config.seed)
    assert set(np.unique(cols['episode'])) == {e.episode for e in train}
    assert not set(np.unique(cols['episode'])) & {e.episode for e in val}
    first = train[0]
    rows = cols['episode'] == first.episode
    np.testing.assert_allclose(cols['q_ref'][rows], first.q_ref, rtol=1e-6)
    # the bounded lead: the target is never further than max_lead from the exo angle
    assert np.max(np.abs(first.q_ref - first.state[:, 0])) <= config.max_lead + 1e-6
    manifest = {'episodes': [{'episode': int(e.episode), 'task_id': e.task_id,
                              'variation': {'onset_s': 0.2 + 0.1 * (e.episode % 3)}}
                             for e in episodes]}
    (data.parent / 'manifest.json').write_text(json.dumps(manifest))
    onsets = fitting.mean_onsets(data, cols['episode'])
    for task_id, value in onsets.items():
        expected = np.mean([0.2 + 0.1 * (e.episode % 3) for e in train if e.task_id == task_id])
        assert value == pytest.approx(expected)
