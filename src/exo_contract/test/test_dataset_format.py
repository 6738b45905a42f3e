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


def test_format_constants():
    assert SCHEMA_VERSION == '1' and SCHEMA_VERSION_KEY == 'exo_vic_schema_version'
    assert SCHEMA.metadata == {b'exo_vic_schema_version': b'1'}
    assert MUSCLES == ('TRIlong', 'TRIlat', 'TRImed', 'BIClong', 'BICshort', 'BRA')
    assert ACTIVATION_COLUMNS == tuple(f'act_{m}' for m in MUSCLES)
    assert SCHEMA.names[:10] == ['episode', 'task_id', 'text', 'condition', 'alpha',
                                 'body_mass_kg', 'repetition', 'seed', 't', 'phase']
    assert SCHEMA.names[-7:] == list(ACTIVATION_COLUMNS) + ['metabolic_power']
    assert 'k_int' in FLOAT_COLUMNS and 'episode' not in FLOAT_COLUMNS


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


def test_reader_refuses_other_versions_and_schemas(tmp_path):
    table = tiny_table()
    pq.write_table(table.replace_schema_metadata({SCHEMA_VERSION_KEY: '2'}),
                   tmp_path / 'v2.parquet')
    with pytest.raises(ValueError, match="schema version '2'.*reads version '1'"):
        load_dataset(tmp_path / 'v2.parquet')
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


def test_no_mujoco_no_torch():
    code = ('import sys, exo_contract.dataset, exo_contract.metrics; '
            'print(sorted(m for m in ("mujoco", "torch", "exo_sim") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == '[]'
