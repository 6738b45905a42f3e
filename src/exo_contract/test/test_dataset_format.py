"""Tests of exo_contract.dataset: the format spec, the one reader and the one writer."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exo_contract.dataset import (
    ACTIVATION_COLUMNS,
    FLOAT_COLUMNS,
    load_dataset,
    MUSCLES,
    SCHEMA,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    split_groups,
    STEPS_FILE,
    steps_path,
    write_dataset,
)


def tiny_table(rows: int = 5) -> pa.Table:
    """A table in the format, values irrelevant."""
    arrays = []
    for field in SCHEMA:
        if pa.types.is_string(field.type):
            arrays.append(pa.array(['x'] * rows, field.type))
        else:
            arrays.append(pa.array(np.arange(rows), field.type))
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


V1_COLUMNS = ['episode', 'task_id', 'text', 'condition', 'alpha', 'body_mass_kg', 'repetition',
              'seed', 't', 'phase', 'q_ref', 'q_exo', 'qd_exo', 'q_human', 'qd_human',
              'tau_ext', 'tau_exo', 'tau_bio', 'k_int', *(f'act_{m}' for m in MUSCLES),
              'metabolic_power']


def test_format_constants():
    assert SCHEMA_VERSION == '2' and SCHEMA_VERSION_KEY == 'exo_vic_schema_version'
    assert SCHEMA.metadata == {b'exo_vic_schema_version': b'2'}
    assert MUSCLES == ('TRIlong', 'TRIlat', 'TRImed', 'BIClong', 'BICshort', 'BRA')
    assert ACTIVATION_COLUMNS == tuple(f'act_{m}' for m in MUSCLES)
    assert SCHEMA.names[:12] == ['episode', 'task_id', 'text', 'condition', 'alpha',
                                 'body_mass_kg', 'repetition', 'group', 'seed', 'noise_seed',
                                 't', 'phase']
    assert SCHEMA.names[-8:] == list(ACTIVATION_COLUMNS) + ['co_contraction_index',
                                                            'metabolic_power']
    assert 'k_int' in FLOAT_COLUMNS and 'episode' not in FLOAT_COLUMNS
    assert 'q_intent' in FLOAT_COLUMNS and 'co_contraction_index' in FLOAT_COLUMNS
    # version 2 = every column of version 1 plus what the new human exposes
    assert set(V1_COLUMNS) < set(SCHEMA.names)
    assert set(SCHEMA.names) - set(V1_COLUMNS) == {'group', 'noise_seed', 'q_intent',
                                                   'co_contraction_index'}


def test_write_then_read_round_trip(tmp_path):
    table = tiny_table()
    file = write_dataset(table.replace_schema_metadata(None), tmp_path / 'data')
    assert file == tmp_path / 'data' / STEPS_FILE and steps_path(tmp_path / 'data') == file
    assert not list((tmp_path / 'data').glob('*.tmp'))
    loaded = load_dataset(tmp_path / 'data')
    assert loaded.schema.equals(SCHEMA, check_metadata=True)
    assert loaded.equals(table)
    assert load_dataset(file).equals(table)


def test_read_selected_columns_in_order(tmp_path):
    write_dataset(tiny_table(), tmp_path)
    sub = load_dataset(tmp_path, ('k_int', 'episode', 'k_int'))
    assert sub.column_names == ['k_int', 'episode']
    assert sub.schema.field('episode').type == pa.int32()
    with pytest.raises(ValueError, match=r"no columns \['nope'\]"):
        load_dataset(tmp_path, ['episode', 'nope'])


def test_reader_refuses_version_1_with_a_clear_message(tmp_path):
    """A version 1 dataset (ideal-servo human, no groups) is refused: regenerate it."""
    table = tiny_table().select(V1_COLUMNS)
    pq.write_table(table.replace_schema_metadata({SCHEMA_VERSION_KEY: '1'}),
                   tmp_path / 'v1.parquet')
    with pytest.raises(ValueError, match='format version 1') as err:
        load_dataset(tmp_path / 'v1.parquet')
    assert 'Regenerate' in str(err.value) and 'exo_vic_v2' in str(err.value)
    # also when a v1 file is asked only for columns both versions have
    with pytest.raises(ValueError, match='format version 1'):
        load_dataset(tmp_path / 'v1.parquet', ['episode', 'k_int'])


def test_reader_refuses_other_versions_and_schemas(tmp_path):
    table = tiny_table()
    pq.write_table(table.replace_schema_metadata({SCHEMA_VERSION_KEY: '3'}),
                   tmp_path / 'v3.parquet')
    with pytest.raises(ValueError, match="schema version '3'.*reads version '2'"):
        load_dataset(tmp_path / 'v3.parquet')
    pq.write_table(table.replace_schema_metadata(None), tmp_path / 'none.parquet')
    with pytest.raises(ValueError, match='exo_vic_schema_version.*missing'):
        load_dataset(tmp_path / 'none.parquet')
    pq.write_table(table.drop_columns(['k_int']), tmp_path / 'cols.parquet')
    with pytest.raises(ValueError, match='columns differ'):
        load_dataset(tmp_path / 'cols.parquet')
    with pytest.raises(FileNotFoundError, match='no exo-vic dataset'):
        load_dataset(tmp_path / 'nothing')


def test_writer_refuses_another_schema(tmp_path):
    with pytest.raises(ValueError, match='columns differ'):
        write_dataset(tiny_table().drop_columns(['seed']), tmp_path)
    assert not (tmp_path / STEPS_FILE).exists()


def test_split_groups_never_puts_a_group_on_both_sides():
    groups = {g: ('drink', 'wave', 'lift_heavy')[g % 3] for g in range(27)}
    train, val = split_groups(groups, 0.3, seed=0)
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(groups)
    assert split_groups(groups, 0.3, seed=0) == (train, val)  # deterministic
    assert split_groups(groups, 0.3, seed=1) != (train, val)
    for task in ('drink', 'wave', 'lift_heavy'):  # per task: round(0.3 * 9) = 3 groups
        assert sum(1 for g in val if groups[g] == task) == 3
    # a task with one group stays in training; a task with two gets one validation group
    train, val = split_groups({0: 'wave', 1: 'drink', 2: 'drink'}, 0.1)
    assert 0 in train and len([g for g in val if g in (1, 2)]) == 1
    with pytest.raises(ValueError, match='1.5'):
        split_groups(groups, 1.5)


def test_no_mujoco_no_torch():
    code = ('import sys, exo_contract.dataset, exo_contract.metrics; '
            'print(sorted(m for m in ("mujoco", "torch", "exo_sim") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == '[]'
