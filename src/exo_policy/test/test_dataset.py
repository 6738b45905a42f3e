"""Tests of the training windows, the episode split and the text augmentation."""

import random

import numpy as np
import pyarrow as pa
import pytest

from exo_contract.dataset import load_dataset, SCHEMA, write_dataset
from exo_policy.configuration import quick_config
from exo_policy.dataset import (
    columns_needed,
    episodes_from_table,
    fit_normalizer,
    REQUIRED_COLUMNS,
    split_episodes,
    synthetic_table,
    WindowSet,
)
from exo_policy.processing import history_windows
from exo_policy.train import build_tokenizer


@pytest.fixture(scope='module')
def table():
    return synthetic_table(episodes_per_task=3, seed=1)


def read_for_training(path, extra=()):
    """How training reads a dataset (exo_policy.train.train)."""
    return load_dataset(path, REQUIRED_COLUMNS + tuple(extra))


def test_synthetic_table_is_in_the_dataset_format(table):
    assert table.schema.equals(SCHEMA, check_metadata=True)
    phase = table['phase'].to_numpy()
    assert phase.min() == -1.0 and phase.max() <= 1.0 and np.any((phase > 0) & (phase < 1))


def test_load_and_episodes(table, tmp_path):
    write_dataset(table, tmp_path)
    loaded = read_for_training(tmp_path)
    assert loaded.column_names == list(REQUIRED_COLUMNS)
    episodes = episodes_from_table(loaded)
    assert len(episodes) == 27
    for e in episodes:
        assert e.state.shape == (len(e.q_ref), 2) and e.k_int.shape == e.q_ref.shape
    with pytest.raises(FileNotFoundError, match='nowhere'):
        read_for_training(tmp_path / 'nowhere')


def test_only_finite_exo_rows(table):
    no_exo = table.set_column(table.column_names.index('condition'), 'condition',
                              pa.array(['no_exo'] * table.num_rows))
    assert episodes_from_table(no_exo) == []
    k = table['k_int'].to_numpy().copy()
    k[:5] = np.nan
    with_nan = table.set_column(table.column_names.index('k_int'), 'k_int', pa.array(k))
    n_rows = sum(len(e.q_ref) for e in episodes_from_table(with_nan))
    assert n_rows == table.num_rows - 5


def test_split_is_by_group_deterministic_and_covers_tasks(table):
    """One trajectory group (shared by its conditions) is never on both sides."""
    episodes = episodes_from_table(table)
    # synthetic: 3 repetitions per task, repetitions 1 and 2 share a group
    by_group = {}
    for e in episodes:
        by_group.setdefault(e.group, set()).add(e.episode)
    assert max(len(v) for v in by_group.values()) == 2
    train, val = split_episodes(episodes, 0.3, seed=0)
    train2, val2 = split_episodes(episodes, 0.3, seed=0)
    assert [e.episode for e in val] == [e.episode for e in val2]
    assert not {e.episode for e in train} & {e.episode for e in val}
    assert not {e.group for e in train} & {e.group for e in val}
    assert len(train) + len(val) == len(episodes)
    assert {e.task_id for e in val} == {e.task_id for e in episodes}
    for e in val:  # the whole group went to validation
        assert by_group[e.group] <= {v.episode for v in val}
    seeds = [[e.group for e in split_episodes(episodes, 0.3, seed=s)[1]] for s in range(6)]
    assert len({tuple(g) for g in seeds}) > 1


def test_windows_match_history_windows(table):
    cfg = quick_config(history_steps=8)
    episodes = episodes_from_table(table)[:2]
    norm = fit_normalizer(episodes)
    tok = build_tokenizer([], cfg.max_text_tokens)
    ws = WindowSet(episodes, cfg, norm, tok)
    assert len(ws) == sum(len(e.q_ref) for e in episodes)
    n0 = len(episodes[0].q_ref)
    index = np.array([0, 3, n0 - 1, n0, n0 + 20])
    b = ws.batch(index)
    assert b['history'].shape == (5, 8, 2) and b['tokens'].shape == (5, cfg.max_text_tokens)
    expected = np.concatenate([
        history_windows(episodes[0].state, np.array([0, 3, n0 - 1]), 8),
        history_windows(episodes[1].state, np.array([0, 20]), 8)])
    np.testing.assert_allclose(norm.denormalize_history(b['history']), expected, atol=1e-5)
    q_now = expected[:, -1, 0]
    q_ref = np.array([episodes[0].q_ref[0], episodes[0].q_ref[3], episodes[0].q_ref[n0 - 1],
                      episodes[1].q_ref[0], episodes[1].q_ref[20]])
    np.testing.assert_allclose(norm.denormalize_qref(b['q'], q_now), q_ref, atol=1e-5)
    assert np.all(b['k'] > 0)


def test_augmentation_varies_text(table):
    cfg = quick_config(paraphrase_prob=1.0)
    episodes = episodes_from_table(table)
    norm = fit_normalizer(episodes)
    tok = build_tokenizer([], cfg.max_text_tokens)
    plain = WindowSet(episodes, cfg, norm, tok)
    aug = WindowSet(episodes, cfg, norm, tok, augment=True)
    index = np.arange(0, len(aug), 50)
    a = aug.batch(index, random.Random(0))
    p = plain.batch(index, random.Random(0))
    np.testing.assert_array_equal(a['history'], p['history'])
    np.testing.assert_array_equal(a['q'], p['q'])
    assert np.mean(np.any(a['tokens'] != p['tokens'], axis=1)) > 0.5


def test_assist_target_is_the_virtual_equilibrium_and_alphas_filter(table, tmp_path):
    human = {e.episode: e for e in episodes_from_table(table)}
    assist = episodes_from_table(table, 'assist')
    assert {e.episode for e in assist} == set(human)
    cols = {c: table[c].to_numpy(zero_copy_only=False) for c in ('episode', 'q_exo', 'tau_ext',
                                                                  'k_int')}
    for e in assist[:5]:
        rows = cols['episode'] == e.episode
        expected = cols['q_exo'][rows] - cols['tau_ext'][rows] / cols['k_int'][rows]
        np.testing.assert_allclose(e.q_ref, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(e.state, human[e.episode].state)
        assert not np.allclose(e.q_ref, human[e.episode].q_ref)
    # the lead is bounded by max_lead (the heavy tasks' synthetic lead is about 0.2 rad)
    for e in episodes_from_table(table, 'assist', max_lead=0.12):
        lead = e.q_ref - e.state[:, 0]
        assert np.max(np.abs(lead)) <= 0.12 + 1e-6
    assert max(np.max(np.abs(e.q_ref - e.state[:, 0])) for e in assist) > 0.15
    with pytest.raises(ValueError, match='max_lead'):
        episodes_from_table(table, 'assist', max_lead=0.0)
    # synthetic alphas cycle 0.5, 0.5, 1 over the 3 repetitions of each task
    only_one = episodes_from_table(table, 'assist', (0.5,))
    assert len(only_one) == 18
    assert len(episodes_from_table(table, 'human', (1.0,))) == 9
    assert len(episodes_from_table(table, 'human', (0.5, 1.0))) == 27
    assert episodes_from_table(table, 'human', (0.25,)) == []
    # the extra columns are read on request only, and their absence is reported
    write_dataset(table, tmp_path)
    assert 'tau_ext' not in read_for_training(tmp_path).column_names
    assert columns_needed('assist', (1.0,)) == ('tau_ext', 'alpha')
    loaded = read_for_training(tmp_path, ('tau_ext', 'alpha'))
    assert len(episodes_from_table(loaded, 'assist', (0.5,))) == 18
    with pytest.raises(ValueError, match=r"\['tau_ext'\]"):
        episodes_from_table(read_for_training(tmp_path), 'assist')
    with pytest.raises(ValueError, match=r"\['alpha'\]"):
        episodes_from_table(read_for_training(tmp_path), 'human', (1.0,))
    with pytest.raises(ValueError, match="'virtual'"):
        episodes_from_table(table, 'virtual')
    with pytest.raises(ValueError, match="'nope'"):
        read_for_training(tmp_path, ('nope',))
