"""Tests of exo_sim.datagen: dataset format, determinism, stiffness, phase, manifest."""

import hashlib
import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exo_contract.dataset import (
    ACTIVATION_COLUMNS,
    load_dataset,
    MANIFEST_FILE,
    SCHEMA,
    STEPS_FILE,
)
from exo_contract.metrics import active_mask
from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_sim.datagen.cli import main
from exo_sim.datagen.config import DatagenConfig, episode_specs, sample_variation
from exo_sim.datagen.generator import generate
from exo_sim.episodes import simulate_assisted_episode
from exo_sim.model import MUSCLES
from exo_sim.stiffness import DEFAULT_FIT

EXPECTED_COLUMNS = [
    ('episode', pa.int32()), ('task_id', pa.string()), ('text', pa.string()),
    ('condition', pa.string()), ('alpha', pa.float32()), ('body_mass_kg', pa.float32()),
    ('repetition', pa.int16()), ('group', pa.int32()), ('seed', pa.int64()),
    ('noise_seed', pa.int64()), ('t', pa.float32()),
    ('phase', pa.float32()), ('q_ref', pa.float32()), ('q_intent', pa.float32()),
    ('q_exo', pa.float32()),
    ('qd_exo', pa.float32()), ('q_human', pa.float32()), ('qd_human', pa.float32()),
    ('tau_ext', pa.float32()), ('tau_exo', pa.float32()), ('tau_bio', pa.float32()),
    ('k_int', pa.float32()), ('act_TRIlong', pa.float32()), ('act_TRIlat', pa.float32()),
    ('act_TRImed', pa.float32()), ('act_BIClong', pa.float32()),
    ('act_BICshort', pa.float32()), ('act_BRA', pa.float32()),
    ('co_contraction_index', pa.float32()), ('metabolic_power', pa.float32()),
]

SMALL = DatagenConfig(tasks=('ok_gesture', 'lift_heavy'), alphas=(0.0, 1.0), masses=(70.0,),
                      repetitions=1, workers=1)


@pytest.fixture(scope='module')
def small_dir(tmp_path_factory):
    return generate(SMALL, tmp_path_factory.mktemp('small'), progress=False)


@pytest.fixture(scope='module')
def small(small_dir):
    return load_dataset(small_dir)


def _episodes(table):
    cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.schema.names}
    for ep in np.unique(cols['episode']):
        sel = cols['episode'] == ep
        yield {name: values[sel] for name, values in cols.items()}


def _effort(ep):
    acts = np.column_stack([ep[n] for n in ep if n.startswith('act_')]).astype(float)
    active = active_mask(ep['phase'])
    return float(np.mean(np.sum(acts[active] ** 2, axis=1)))


def test_schema_and_metadata_exact(small_dir):
    schema = pq.read_schema(small_dir / STEPS_FILE)
    assert [(f.name, f.type) for f in schema] == EXPECTED_COLUMNS
    assert schema.metadata[b'exo_vic_schema_version'] == b'2'
    assert schema.equals(SCHEMA, check_metadata=False)
    assert SCHEMA.metadata == {b'exo_vic_schema_version': b'2'}


def test_activation_columns_follow_the_model_muscles():
    assert ACTIVATION_COLUMNS == tuple(f'act_{m}' for m in MUSCLES)


def test_fit_settings_default_to_the_one_definition():
    config = DatagenConfig()
    assert config.fit == DEFAULT_FIT
    assert (config.fit_window_s, config.k_min, config.k_max) == (
        DEFAULT_FIT.window_s, DEFAULT_FIT.k_min, DEFAULT_FIT.k_max)


def test_rows_and_episode_content(small):
    # 2 tasks x 1 mass x 1 repetition x (no_exo + 2 alphas)
    assert sorted(set(small.column('episode').to_pylist())) == list(range(6))
    texts = {t.task_id: t.text for t in TASKS}
    for ep in _episodes(small):
        assert len(set(ep['task_id'])) == 1 and len(set(ep['text'])) == 1
        assert ep['text'][0] == texts[ep['task_id'][0]]
        np.testing.assert_allclose(np.diff(ep['t']), 0.01, atol=1e-5)
        assert ep['t'][0] == 0.0
        assert np.all(ep['body_mass_kg'] == 70.0)
        assert np.all(np.isfinite(ep['q_human'])) and np.all(np.isfinite(ep['tau_bio']))
        assert np.all(np.isfinite(ep['q_intent']))
        cci = ep['co_contraction_index']
        assert np.all((cci >= 0) & (cci <= 1)) and np.any(cci > 0.05)
        acts = np.column_stack([ep[n] for n in ep if n.startswith('act_')])
        assert acts.shape[1] == 6 and np.all((acts >= 0) & (acts <= 1))
        if ep['condition'][0] == 'no_exo':
            assert np.all(np.isnan(ep['alpha']))
            assert np.all(np.isnan(ep['q_exo'])) and np.all(np.isnan(ep['qd_exo']))
            assert np.all(ep['tau_ext'] == 0) and np.all(ep['tau_exo'] == 0)
        else:
            assert ep['condition'][0] == 'exo'
            assert len(set(ep['alpha'])) == 1 and ep['alpha'][0] in (0.0, 1.0)
            assert np.all(np.isfinite(ep['q_exo']))
            if ep['alpha'][0] == 0.0:
                assert np.all(ep['tau_exo'] == 0)
            else:
                assert np.max(np.abs(ep['tau_exo'])) > 0.1


def test_k_int_positive_time_varying_for_exo_nan_for_no_exo(small):
    for ep in _episodes(small):
        k = ep['k_int']
        if ep['condition'][0] == 'no_exo':
            assert np.all(np.isnan(k))
        else:
            assert np.all(np.isfinite(k))
            assert np.all((k >= SMALL.k_min) & (k <= SMALL.k_max))
            assert np.ptp(k) > 1.0  # time-varying


def test_phase_rest_semantics(small):
    for ep in _episodes(small):
        phase = ep['phase']
        assert phase[0] == -1.0 and phase[-1] == -1.0
        active = np.flatnonzero(phase >= 0)
        assert active.size > 0
        assert np.all(np.diff(active) == 1)  # one contiguous active block
        assert np.all(phase[(phase != -1.0)] >= 0) and np.all(phase <= 1)
        assert np.all(np.diff(phase[active]) > 0)
        assert phase[active[0]] < 0.01 and phase[active[-1]] > 0.99
        # 0.5 s rest before the instruction, then the group's onset (0.2-1.0 s)
        onset = ep['t'][active[0]] - 0.5
        assert 0.2 - 0.011 <= onset <= 1.0 + 0.011
        rest = phase < 0
        np.testing.assert_allclose(ep['q_ref'][rest], ep['q_ref'][0], atol=1e-6)


def test_rows_are_the_episode_recipe_decimated(small):
    """An exo episode of the dataset is simulate_assisted_episode's, every 10th step."""
    spec = next(s for s in episode_specs(SMALL)
                if s.task_id == 'ok_gesture' and s.condition == 'exo' and s.alpha == 1.0)
    variation = sample_variation(spec.seed, SMALL)
    episode = simulate_assisted_episode(TASKS_BY_ID['ok_gesture'], 1.0, 70.0, variation.params,
                                        fit=SMALL.fit, seed=spec.noise_seed,
                                        onset_s=variation.onset_s)
    ep = next(e for e in _episodes(small) if e['episode'][0] == spec.episode)
    for name, values in (('k_int', episode.k_int), ('phase', episode.rollout.phase),
                         ('q_exo', episode.rollout.q_exo), ('t', episode.rollout.t),
                         ('q_intent', episode.rollout.q_intent),
                         ('co_contraction_index', episode.rollout.cocontraction)):
        np.testing.assert_array_equal(ep[name], values[::10].astype(np.float32), err_msg=name)


def test_effort_lower_with_full_assistance_lift_heavy(small):
    effort = {}
    for ep in _episodes(small):
        if ep['task_id'][0] == 'lift_heavy' and ep['condition'][0] == 'exo':
            effort[float(ep['alpha'][0])] = _effort(ep)
    assert set(effort) == {0.0, 1.0}
    assert effort[1.0] < effort[0.0]


def test_deterministic_across_worker_counts(small_dir, small, tmp_path):
    other = generate(DatagenConfig(**{**SMALL.__dict__, 'workers': 2}), tmp_path,
                     progress=False)
    table = load_dataset(other)
    assert table.schema.equals(small.schema, check_metadata=True)
    for name in SCHEMA.names:
        np.testing.assert_array_equal(table.column(name).to_numpy(zero_copy_only=False),
                                      small.column(name).to_numpy(zero_copy_only=False),
                                      err_msg=name)
    a = json.loads((small_dir / MANIFEST_FILE).read_text())
    b = json.loads((other / MANIFEST_FILE).read_text())
    assert a['steps_sha256'] == b['steps_sha256']
    assert a['episodes'] == b['episodes']


def test_same_data_in_one_job_per_task_and_per_task_and_mass(tmp_path):
    """One worker: one job per task; two workers for one task: one job per task x mass."""
    config = DatagenConfig(tasks=('ok_gesture',), alphas=(1.0,), masses=(60.0, 80.0),
                           repetitions=1, include_no_exo=False, workers=1)
    per_task = load_dataset(generate(config, tmp_path / 'task', progress=False))
    per_mass = load_dataset(generate(DatagenConfig(**{**config.__dict__, 'workers': 2}),
                                     tmp_path / 'mass', progress=False))
    assert per_task.num_rows > 0
    for name in SCHEMA.names:
        np.testing.assert_array_equal(per_mass.column(name).to_numpy(zero_copy_only=False),
                                      per_task.column(name).to_numpy(zero_copy_only=False),
                                      err_msg=name)


def test_seeds_deterministic_paired_and_distinct():
    specs = episode_specs(SMALL)
    assert [s.seed for s in specs] == [s.seed for s in episode_specs(SMALL)]
    by_block = {}
    groups = {}
    for s in specs:
        by_block.setdefault((s.task_id, s.body_mass_kg, s.repetition), set()).add(s.seed)
        groups.setdefault((s.task_id, s.body_mass_kg, s.repetition), set()).add(s.group)
    assert all(len(seeds) == 1 for seeds in by_block.values())  # conditions are paired
    assert len({next(iter(v)) for v in by_block.values()}) == len(by_block)
    # one group per trajectory, numbered in order; the noise differs per episode
    assert all(len(g) == 1 for g in groups.values())
    assert sorted(next(iter(g)) for g in groups.values()) == list(range(len(groups)))
    assert len({s.noise_seed for s in specs}) == len(specs)
    assert not {s.noise_seed for s in specs} & {s.seed for s in specs}
    other = episode_specs(DatagenConfig(**{**SMALL.__dict__, 'base_seed': 1}))
    assert {s.seed for s in other}.isdisjoint({s.seed for s in specs})
    # a subset of the config reproduces the same seeds
    sub = episode_specs(DatagenConfig(**{**SMALL.__dict__, 'tasks': ('lift_heavy',)}))
    assert {s.seed for s in sub} == by_block[('lift_heavy', 70.0, 0)]
    big = episode_specs(DatagenConfig(repetitions=3))
    assert len(big) == 9 * 3 * 3 * 4
    assert len({s.seed for s in big}) == 9 * 3 * 3 == len({s.group for s in big})
    # the group's randomisation: onset, speed, amplitude within the configured ranges
    for s in big[::4]:
        v = sample_variation(s.seed, DatagenConfig())
        assert 0.2 <= v.onset_s <= 1.0 and 0.8 <= v.speed <= 1.2
        assert 0.85 <= v.amplitude_scale <= 1.15 and abs(v.baseline_offset_rad) <= 0.05
        assert v.params.duration_scale == pytest.approx(1.0 / v.speed)


def test_manifest_fields_and_sha256(small_dir, small):
    manifest = json.loads((small_dir / MANIFEST_FILE).read_text())
    for key in ('schema_version', 'created', 'config', 'episodes', 'software', 'git_commit',
                'steps_sha256', 'wall_time_s'):
        assert key in manifest, key
    assert manifest['schema_version'] == 2
    assert manifest['created'].endswith('+00:00')
    assert manifest['config']['alphas'] == [0.0, 1.0]
    assert manifest['config']['tasks'] == ['ok_gesture', 'lift_heavy']
    for pkg in ('python', 'numpy', 'scipy', 'mujoco', 'myo-sim', 'pyarrow'):
        assert manifest['software'][pkg], pkg
    digest = hashlib.sha256((small_dir / STEPS_FILE).read_bytes()).hexdigest()
    assert manifest['steps_sha256'] == digest
    eps = manifest['episodes']
    assert [e['episode'] for e in eps] == list(range(6))
    assert sum(e['steps'] for e in eps) == small.num_rows
    for e in eps:
        for key in ('task_id', 'condition', 'alpha', 'body_mass_kg', 'repetition', 'seed',
                    'group', 'noise_seed', 'variation', 'trajectory_params', 'steps'):
            assert key in e, key
        assert (e['alpha'] is None) == (e['condition'] == 'no_exo')
        for key in ('onset_s', 'speed', 'amplitude_scale', 'baseline_offset_rad'):
            assert key in e['variation'], key
    assert manifest['config']['human']['feedback_delay_s'] > 0
    split = manifest['split']
    assert split['unit'].startswith('group')
    assert sorted(split['train_groups'] + split['val_groups']) == [0, 1]
    assert not set(split['train_groups']) & set(split['val_groups'])
    seeds = small.column('seed').to_numpy()
    episodes = small.column('episode').to_numpy()
    for e in eps:
        assert np.all(seeds[episodes == e['episode']] == e['seed'])


def test_load_dataset_rejects_other_versions(small, tmp_path):
    v1 = small.drop_columns(['group', 'noise_seed', 'q_intent', 'co_contraction_index'])
    pq.write_table(v1.replace_schema_metadata({'exo_vic_schema_version': '1'}),
                   tmp_path / 'v1.parquet')
    with pytest.raises(ValueError, match='format version 1.*Regenerate'):
        load_dataset(tmp_path / 'v1.parquet')
    bad = small.replace_schema_metadata({'exo_vic_schema_version': '3'})
    pq.write_table(bad, tmp_path / 'v3.parquet')
    with pytest.raises(ValueError, match="schema version '3'.*reads version '2'"):
        load_dataset(tmp_path / 'v3.parquet')
    pq.write_table(small.replace_schema_metadata(None), tmp_path / 'none.parquet')
    with pytest.raises(ValueError, match='exo_vic_schema_version.*missing'):
        load_dataset(tmp_path / 'none.parquet')
    pq.write_table(small.drop_columns(['k_int']), tmp_path / 'cols.parquet')
    with pytest.raises(ValueError, match='columns differ'):
        load_dataset(tmp_path / 'cols.parquet')
    with pytest.raises(FileNotFoundError, match='no exo-vic dataset'):
        load_dataset(tmp_path / 'nothing')


@pytest.mark.parametrize('kwargs, message', [
    ({'alphas': (0.0, 1.5)}, r'alphas must lie in \[0, 1\], got 1.5'),
    ({'alphas': (0.5, 0.5)}, 'duplicates'),
    ({'masses': (30.0,)}, r'masses must lie in \[40, 150\] kg, got 30.0'),
    ({'tasks': ('fly',)}, "unknown task ids \\['fly'\\]"),
    ({'tasks': ['wave']}, 'tasks must be a tuple'),
    ({'repetitions': 0}, 'repetitions must be an integer >= 1, got 0'),
    ({'workers': 0}, 'workers must be an integer >= 1, got 0'),
    ({'sample_rate_hz': 30.0}, 'must divide'),
    ({'k_min': 5.0, 'k_max': 4.0}, 'k_max must be > k_min'),
    ({'speed_spread': 0.9}, r'speed_spread must be in \[0, 0.4\], got 0.9'),
    ({'onset_range_s': (1.0, 0.2)}, 'onset_range_s'),
    ({'practice_repetitions': -1}, 'practice_repetitions'),
    ({'human': {'noise_cv': 0.1}}, 'human must be a HumanConfig'),
    ({'alphas': (), 'include_no_exo': False}, 'no condition'),
    ({'base_seed': -1}, 'base_seed'),
    ({'fit_window_s': math.nan}, 'fit_window_s'),
])
def test_config_rejects_invalid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DatagenConfig(**kwargs)


def test_console_script_one_episode(tmp_path, capsys):
    out = tmp_path / 'cli'
    assert main(['--out', str(out), '--tasks', 'ok_gesture', '--alphas', '1', '--masses', '60',
                 '--repetitions', '1', '--workers', '1', '--no-no-exo', '--no-progress']) == 0
    assert 'wall time' in capsys.readouterr().out
    table = load_dataset(out)
    assert set(table.column('condition').to_pylist()) == {'exo'}
    assert set(table.column('body_mass_kg').to_pylist()) == {60.0}
    with pytest.raises(SystemExit):
        main(['--out', str(out), '--alphas', '2'])
