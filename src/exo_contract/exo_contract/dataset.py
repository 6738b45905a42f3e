"""The exo-vic dataset format (version 2) and its one reader and one writer.

Written by data generation (``exo_datagen``, :mod:`exo_sim.datagen`), read by the data
validation (``exo_validate_data``), the policy training (:mod:`exo_policy.dataset`) and the
ProMP fit (:mod:`exo_policy.promp`), all through :func:`load_dataset`, which checks the
format version. pyarrow only: no MuJoCo, no torch.

Dataset format, version 2 (``exo_vic_schema_version = '2'``)
------------------------------------------------------------
Version 2 is written by the simulated human of :mod:`exo_sim.human` (delayed feedback,
motor noise, co-contraction, adaptation; randomised repetitions). It has every column of
version 1 plus ``group``, ``noise_seed``, ``q_intent`` and ``co_contraction_index``.
Version 1 (the ideal-servo human, no group column) is refused by :func:`load_dataset`:
regenerate it.

A dataset is a directory with two files:

``steps.parquet``
    One Apache Parquet file (zstd-compressed), one row per time step at ``sample_rate_hz``
    (100 Hz by default), rows ordered by ``episode`` then ``t``. The file's key-value
    metadata holds ``exo_vic_schema_version = '2'``. Columns (flexion positive, REP-103):

    ==================  =======  ===============================================================
    column              type     meaning
    ==================  =======  ===============================================================
    episode             int32    episode index 0..E-1 (see the manifest)
    task_id             string   task identifier, e.g. ``lift_heavy``
                                 (:data:`exo_contract.tasks.TASKS`)
    text                string   the task's canonical text command, e.g. ``lift a heavy box``
    condition           string   ``'exo'`` (exo worn, eq. 3 assistance) or ``'no_exo'``
    alpha               float32  assistance ratio of eq. 3; NaN for ``no_exo``
    body_mass_kg        float32  subject body mass, kg
    repetition          int16    repetition index 0..R-1 within (task, mass, condition)
    group               int32    trajectory index: one (task, body mass, repetition), shared
                                 by its conditions (no exo and every alpha: same intended
                                 motion). Split train/validation by group, never by episode
                                 (:func:`split_groups`)
    seed                int64    seed of the group's randomisation (onset, speed, amplitude,
                                 rest posture)
    noise_seed          int64    seed of the episode's motor noise (differs per condition)
    t                   float32  time since the episode start, s
    phase               float32  task progress ``tau / duration`` in [0, 1] while the task
                                 runs; -1 at rest before the instruction, between the
                                 instruction and the movement onset, and after the task (the
                                 step loop's phase convention; the active phase
                                 ``0 < phase < 1`` is :func:`exo_contract.metrics.active_mask`)
    q_ref               float32  the human's reference elbow angle q_d (the movement it
                                 intends, from its onset, at its speed and amplitude), rad
    q_intent            float32  the human's delay-free intent: the reference its motor
                                 command aims at in this step (``q_ref`` at ``t`` + the
                                 feedforward lead, 20 ms), ahead of the motion that the
                                 sensorimotor loop and the muscles delay, rad
    q_exo               float32  exo joint angle q_r, rad; NaN for ``no_exo``
    qd_exo              float32  exo joint velocity, rad/s; NaN for ``no_exo``
    q_human             float32  human elbow angle, rad
    qd_human            float32  human elbow velocity, rad/s
    tau_ext             float32  interaction (cuff) torque on the exo, N*m; 0 for ``no_exo``
    tau_exo             float32  exo motor torque applied (after the hardware limit), N*m;
                                 0 for ``no_exo``
    tau_bio             float32  net muscle torque about the elbow, N*m
    k_int               float32  eq. 4 interaction stiffness, N*m/rad, in [k_min, k_max]
                                 (positive, time-varying); NaN for ``no_exo``
    act_TRIlong ...     float32  activations in [0, 1] of TRIlong, TRIlat, TRImed, BIClong,
    act_BRA                      BICshort, BRA (six columns, :data:`ACTIVATION_COLUMNS`)
    co_contraction_...  float32  ``co_contraction_index``: ``2 min(T_flex, T_ext) /
                                 (T_flex + T_ext)`` of the active flexor and extensor torques
                                 the human commands, in [0, 1]
    metabolic_power     float32  muscle metabolic power (Umberger 2003), W
    ==================  =======  ===============================================================

    Each episode is ``rest_before_s`` at the baseline, the instruction, the movement onset
    (``onset_s`` later), the task (``phase`` 0 -> 1; the task's reference itself starts and
    ends with a short rest), then ``rest_after_s``.

``manifest.json``
    ``schema_version`` (2), ``created`` (UTC ISO 8601), ``config`` (every field of the
    generator's configuration, :class:`exo_sim.datagen.config.DatagenConfig`, the human's
    parameters included), ``rows``, ``episodes`` (one entry per episode: ``episode``,
    ``task_id``, ``condition``, ``alpha``, ``body_mass_kg``, ``repetition``, ``group``,
    ``seed``, ``noise_seed``, ``variation`` (``onset_s``, ``speed``, ``amplitude_scale``,
    ``baseline_offset_rad``, ``duration_scale``), ``trajectory_params``,
    ``task_duration_s``, ``steps``), ``split`` (the recommended group-wise validation
    groups, :func:`split_groups`), ``software`` (python, numpy, scipy, mujoco, myo-sim,
    pyarrow), ``git_commit`` (or null), ``steps_file``, ``steps_sha256`` (sha256 of
    ``steps.parquet``), ``wall_time_s``.

Train/validation split
----------------------
Episodes of one group share one intended trajectory across conditions; splitting them one
by one leaks that trajectory into validation. :func:`split_groups` splits by group, per
task, deterministically: every task with >= 2 groups gets ``round(val_fraction * groups)``
(at least 1) validation groups, drawn with ``numpy.random.default_rng([seed,
crc32(task_id)])``; a group is on one side only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import os
from pathlib import Path
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA_VERSION = '2'
SCHEMA_VERSION_KEY = 'exo_vic_schema_version'
STEPS_FILE = 'steps.parquet'
MANIFEST_FILE = 'manifest.json'
CONDITION_EXO = 'exo'
CONDITION_NO_EXO = 'no_exo'
MUSCLES = ('TRIlong', 'TRIlat', 'TRImed', 'BIClong', 'BICshort', 'BRA')
"""The six muscles of the MyoSim elbow model, in the order of the activation columns."""
ACTIVATION_COLUMNS = tuple(f'act_{m}' for m in MUSCLES)

SCHEMA = pa.schema(
    [pa.field('episode', pa.int32()),
     pa.field('task_id', pa.string()),
     pa.field('text', pa.string()),
     pa.field('condition', pa.string()),
     pa.field('alpha', pa.float32()),
     pa.field('body_mass_kg', pa.float32()),
     pa.field('repetition', pa.int16()),
     pa.field('group', pa.int32()),
     pa.field('seed', pa.int64()),
     pa.field('noise_seed', pa.int64()),
     pa.field('t', pa.float32()),
     pa.field('phase', pa.float32()),
     pa.field('q_ref', pa.float32()),
     pa.field('q_intent', pa.float32()),
     pa.field('q_exo', pa.float32()),
     pa.field('qd_exo', pa.float32()),
     pa.field('q_human', pa.float32()),
     pa.field('qd_human', pa.float32()),
     pa.field('tau_ext', pa.float32()),
     pa.field('tau_exo', pa.float32()),
     pa.field('tau_bio', pa.float32()),
     pa.field('k_int', pa.float32())]
    + [pa.field(name, pa.float32()) for name in ACTIVATION_COLUMNS]
    + [pa.field('co_contraction_index', pa.float32()),
       pa.field('metabolic_power', pa.float32())],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION})
"""The pyarrow schema of ``steps.parquet`` (format version 2), metadata included."""

FLOAT_COLUMNS = tuple(f.name for f in SCHEMA if pa.types.is_float32(f.type))
"""The float32 (per-step signal) columns, in schema order."""


def steps_path(path: str | Path) -> Path:
    """``path/steps.parquet`` for a dataset directory, ``path`` itself otherwise."""
    path = Path(path)
    return path / STEPS_FILE if path.is_dir() else path


def load_dataset(path: str | Path, columns: Iterable[str] | None = None) -> pa.Table:
    """Read a dataset's ``steps.parquet`` (``path``: the dataset directory or the file).

    Args:
        path: dataset directory, or the ``steps.parquet`` file itself.
        columns: read only these columns (in this order, duplicates dropped); None: all,
            in :data:`SCHEMA` order.

    Returns:
        The table, with :data:`SCHEMA`'s types and metadata.

    Raises:
        FileNotFoundError: no such dataset.
        ValueError: the file is not exo-vic format version 2 (version key missing or
            different -- version 1 included, with a message saying to regenerate it --, or
            columns/types differ from :data:`SCHEMA`), or ``columns`` names a column the
            format does not have.

    """
    file = steps_path(path)
    if not file.is_file():
        raise FileNotFoundError(f'no exo-vic dataset at {str(path)!r} (expected {file})')
    names = None
    if columns is not None:
        names = list(dict.fromkeys(columns))
        unknown = [c for c in names if c not in SCHEMA.names]
        if unknown:
            raise ValueError(f'the exo-vic dataset format has no columns {unknown!r}; it has '
                             f'{SCHEMA.names}')
    schema = pq.read_schema(file)
    meta = schema.metadata or {}
    version = meta.get(SCHEMA_VERSION_KEY.encode())
    if version is None:
        raise ValueError(f'{file} is not an exo-vic dataset: Parquet metadata key '
                         f'{SCHEMA_VERSION_KEY!r} is missing')
    version = version.decode()
    if version == '1':
        raise ValueError(f'{file} is an exo-vic dataset of format version 1 (the ideal-servo '
                         f'human, no trajectory groups); this code reads version '
                         f'{SCHEMA_VERSION!r} (the simulated human with delay, noise and '
                         f'co-contraction, group-wise split). Regenerate it: make data, or '
                         f'exo_datagen --out data/exo_vic_v2')
    if version != SCHEMA_VERSION:
        raise ValueError(f'{file} has exo-vic schema version {version!r}, but this code reads '
                         f'version {SCHEMA_VERSION!r}; regenerate it with exo_datagen or use '
                         f'a matching exo-vic version')
    if not schema.remove_metadata().equals(SCHEMA.remove_metadata()):
        raise ValueError(f'{file} claims exo-vic schema version {version!r} but its columns '
                         f'differ from exo_contract.dataset.SCHEMA:\n'
                         f'{schema.remove_metadata()}')
    if names is None:
        return pq.read_table(file, schema=SCHEMA)
    return pq.read_table(file, columns=names, schema=SCHEMA)


def split_groups(groups: Mapping[int, str], val_fraction: float = 0.15, seed: int = 0
                 ) -> tuple[list[int], list[int]]:
    """Group-wise train/validation split (see the module docstring), deterministic.

    Args:
        groups: group id -> task id (one entry per trajectory group).
        val_fraction: fraction of each task's groups in validation, in [0, 1).
        seed: seed of the draw.

    Returns:
        ``(train_groups, val_groups)``, sorted, disjoint, covering ``groups``.

    """
    if not (isinstance(val_fraction, (int, float)) and 0.0 <= val_fraction < 1.0):
        raise ValueError(f'val_fraction must be in [0, 1), got {val_fraction!r}')
    by_task: dict[str, list[int]] = {}
    for group, task_id in sorted(groups.items()):
        by_task.setdefault(str(task_id), []).append(int(group))
    train: list[int] = []
    val: list[int] = []
    for task_id in sorted(by_task):
        ids = by_task[task_id]
        rng = np.random.default_rng([int(seed), zlib.crc32(task_id.encode())])
        perm = rng.permutation(len(ids))
        n_val = 0 if len(ids) < 2 or val_fraction == 0 else max(
            1, int(round(val_fraction * len(ids))))
        chosen = {ids[i] for i in perm[:n_val].tolist()}
        for g in ids:
            (val if g in chosen else train).append(g)
    return sorted(train), sorted(val)


def write_dataset(table: pa.Table, out_dir: str | Path) -> Path:
    """Write ``table`` as ``out_dir/steps.parquet`` (zstd, atomically); returns the file.

    The table must have exactly the columns and types of :data:`SCHEMA`; the format's
    version metadata is set. The manifest is the generator's business
    (:mod:`exo_sim.datagen`).

    Raises:
        ValueError: the table's columns or types differ from :data:`SCHEMA`.

    """
    if not table.schema.remove_metadata().equals(SCHEMA.remove_metadata()):
        raise ValueError(f'table columns differ from exo_contract.dataset.SCHEMA:\n'
                         f'{table.schema.remove_metadata()}')
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    file = out / STEPS_FILE
    tmp = file.with_suffix('.parquet.tmp')
    pq.write_table(table.replace_schema_metadata(SCHEMA.metadata), tmp, compression='zstd')
    os.replace(tmp, file)
    return file
