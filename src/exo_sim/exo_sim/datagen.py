"""Interaction data generation (paper section II, eq. 3 + eq. 4): ``exo_datagen``.

The simulated human (MyoSim elbow, :mod:`exo_sim.human`) performs each of the nine tasks
while the exoskeleton assists with ``tau_exo = alpha * tau_bio`` (eq. 3), for every
assistance ratio ``alpha`` x body mass x randomised repetition, plus a no-exo condition
(``ExoArmConfig(attach_exo=False)``) for comparison. The interaction stiffness ``K_int(t)``
of eq. 4 (``tau_ext = K_int (q_d - q_r)``) is fitted per episode at the 1 kHz simulation
rate (:func:`exo_sim.stiffness.fit_interaction_stiffness`, centred window), then every
signal is decimated to ``sample_rate_hz`` by taking every n-th 1 kHz sample (no
filtering; the values of a row belong to one simulation instant). Episodes run in a
``multiprocessing`` pool (spawn) with a progress bar; the result does not depend on the
number of workers or their scheduling.

    exo_datagen --out data/exo_vic_v1            # full set (9 x 4 x 3 x 3 = 324 episodes)
    exo_datagen --out /tmp/exo_quick --quick     # tiny set for smoke tests
    exo_validate_data --data data/exo_vic_v1 --out data/exo_vic_v1/validation

Dataset format, version 1 (``exo_vic_schema_version = '1'``)
------------------------------------------------------------
A dataset is a directory with two files:

``steps.parquet``
    One Apache Parquet file (zstd-compressed), one row per time step at ``sample_rate_hz``
    (100 Hz by default), rows ordered by ``episode`` then ``t``. The file's key-value
    metadata holds ``exo_vic_schema_version = '1'``. Columns (flexion positive, REP-103):

    ==================  =======  ===============================================================
    column              type     meaning
    ==================  =======  ===============================================================
    episode             int32    episode index 0..E-1 (see the manifest)
    task_id             string   task identifier, e.g. ``lift_heavy`` (:data:`exo_sim.tasks.TASKS`)
    text                string   the task's canonical text command, e.g. ``lift a heavy box``
    condition           string   ``'exo'`` (exo worn, eq. 3 assistance) or ``'no_exo'``
    alpha               float32  assistance ratio of eq. 3; NaN for ``no_exo``
    body_mass_kg        float32  subject body mass, kg
    repetition          int16    repetition index 0..R-1 within (task, mass, condition)
    seed                int64    seed of the episode's trajectory randomisation (see below)
    t                   float32  time since the episode start, s
    phase               float32  task progress in [0, 1]; -1 during the rest before/after
    q_ref               float32  the human's reference elbow angle q_d, rad
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
    act_BRA                      BICshort, BRA (six columns)
    metabolic_power     float32  muscle metabolic power (Umberger 2003), W
    ==================  =======  ===============================================================

    Each episode is ``rest_before_s`` at the baseline, the task (``phase`` 0 -> 1; the
    task's reference itself starts and ends with a short rest), then ``rest_after_s``.

``manifest.json``
    ``schema_version`` (1), ``created`` (UTC ISO 8601), ``config`` (every
    :class:`DatagenConfig` field), ``episodes`` (one entry per episode: ``episode``,
    ``task_id``, ``condition``, ``alpha``, ``body_mass_kg``, ``repetition``, ``seed``,
    ``trajectory_params``, ``steps``), ``software`` (python, numpy, scipy, mujoco, myo-sim,
    pyarrow), ``git_commit`` (or null), ``steps_sha256`` (sha256 of ``steps.parquet``),
    ``wall_time_s``.

Seeds: the seed of an episode is derived with ``np.random.SeedSequence(base_seed,
spawn_key=(mission, round(mass_g), repetition))`` and draws its
:class:`~exo_sim.tasks.TrajectoryParams` (:func:`~exo_sim.tasks.sample_trajectory_params`
with ``spread``). It is deliberately shared by all conditions of the same (task, mass,
repetition): the conditions are paired (same reference motion), as in the paper's
within-subject comparison, and a subset of tasks/masses reproduces the same episodes as the
full set. The simulation itself is deterministic.

Read a dataset with :func:`load_dataset` (checks the schema version).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
import datetime
import hashlib
import importlib.metadata
import json
import math
import multiprocessing
import os
from pathlib import Path
import platform
import subprocess
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from exo_sim.model import ExoArmConfig, MUSCLES
from exo_sim.rollout import ProportionalAssist, run_rollout
from exo_sim.stiffness import fit_interaction_stiffness
from exo_sim.tasks import ReferenceTrajectory, sample_trajectory_params, TASKS, TASKS_BY_ID

SCHEMA_VERSION = '1'
SCHEMA_VERSION_KEY = 'exo_vic_schema_version'
STEPS_FILE = 'steps.parquet'
MANIFEST_FILE = 'manifest.json'
CONDITION_EXO = 'exo'
CONDITION_NO_EXO = 'no_exo'
ACTIVATION_COLUMNS = tuple(f'act_{m}' for m in MUSCLES)
SOFTWARE_PACKAGES = ('numpy', 'scipy', 'mujoco', 'myo-sim', 'pyarrow')
DEFAULT_OUT = Path('data/exo_vic_v1')
SIM_RATE_HZ = 1000.0

SCHEMA = pa.schema(
    [pa.field('episode', pa.int32()),
     pa.field('task_id', pa.string()),
     pa.field('text', pa.string()),
     pa.field('condition', pa.string()),
     pa.field('alpha', pa.float32()),
     pa.field('body_mass_kg', pa.float32()),
     pa.field('repetition', pa.int16()),
     pa.field('seed', pa.int64()),
     pa.field('t', pa.float32()),
     pa.field('phase', pa.float32()),
     pa.field('q_ref', pa.float32()),
     pa.field('q_exo', pa.float32()),
     pa.field('qd_exo', pa.float32()),
     pa.field('q_human', pa.float32()),
     pa.field('qd_human', pa.float32()),
     pa.field('tau_ext', pa.float32()),
     pa.field('tau_exo', pa.float32()),
     pa.field('tau_bio', pa.float32()),
     pa.field('k_int', pa.float32())]
    + [pa.field(name, pa.float32()) for name in ACTIVATION_COLUMNS]
    + [pa.field('metabolic_power', pa.float32())],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION})
"""The pyarrow schema of ``steps.parquet`` (format version 1), metadata included."""

_FLOAT_COLUMNS = tuple(f.name for f in SCHEMA if pa.types.is_float32(f.type))


def _real(value: object) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(float(value)))


def _integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class DatagenConfig:
    """What :func:`generate` simulates; every field is recorded in the manifest.

    Attributes:
        tasks: task ids (default: all nine, :data:`exo_sim.tasks.TASKS` order).
        alphas: assistance ratios of eq. 3, each in [0, 1], distinct.
        masses: body masses in kg, each in [40, 150], distinct.
        repetitions: randomised repetitions per (task, mass, condition), >= 1.
        include_no_exo: also simulate the arm without the exoskeleton.
        spread: relative spread of the trajectory randomisation, in [0, 0.5]
            (:func:`exo_sim.tasks.sample_trajectory_params`).
        base_seed: base of the per-episode seeds, integer in [0, 2**63).
        sample_rate_hz: output rate; must divide the 1 kHz simulation rate.
        fit_window_s: window of the eq. 4 stiffness fit, s, > 0 (fitted at 1 kHz).
        k_min: lower clip of the fitted stiffness, N*m/rad, > 0.
        k_max: upper clip of the fitted stiffness, N*m/rad, > k_min.
        rest_before_s: rest at the baseline before the task, s, >= 0.
        rest_after_s: rest at the baseline after the task, s, >= 0.
        workers: worker processes, >= 1 (default: ``os.cpu_count()``); 1 runs in-process.

    """

    tasks: tuple[str, ...] = tuple(task.task_id for task in TASKS)
    alphas: tuple[float, ...] = (0.0, 0.5, 1.0)
    masses: tuple[float, ...] = (60.0, 70.0, 80.0)
    repetitions: int = 3
    include_no_exo: bool = True
    spread: float = 0.1
    base_seed: int = 0
    sample_rate_hz: float = 100.0
    fit_window_s: float = 0.2
    k_min: float = 5.0
    k_max: float = 250.0
    rest_before_s: float = 0.5
    rest_after_s: float = 0.5
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)

    def __post_init__(self) -> None:
        """Reject invalid values with a message that quotes them."""
        for name in ('tasks', 'alphas', 'masses'):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                raise ValueError(f'{name} must be a tuple, got {value!r}')
            if len(set(value)) != len(value):
                raise ValueError(f'{name} must not contain duplicates, got {value!r}')
        if not self.tasks:
            raise ValueError(f'tasks must not be empty, got {self.tasks!r}')
        unknown = [t for t in self.tasks if t not in TASKS_BY_ID]
        if unknown:
            raise ValueError(f'unknown task ids {unknown!r}; known: {sorted(TASKS_BY_ID)}')
        for a in self.alphas:
            if not (_real(a) and 0.0 <= a <= 1.0):
                raise ValueError(f'alphas must lie in [0, 1], got {a!r} in {self.alphas!r}')
        if not self.masses:
            raise ValueError(f'masses must not be empty, got {self.masses!r}')
        for m in self.masses:
            if not (_real(m) and 40.0 <= m <= 150.0):
                raise ValueError(f'masses must lie in [40, 150] kg, got {m!r} in '
                                 f'{self.masses!r}')
        if not isinstance(self.include_no_exo, bool):
            raise ValueError(f'include_no_exo must be a bool, got {self.include_no_exo!r}')
        if not self.alphas and not self.include_no_exo:
            raise ValueError('no condition to simulate: alphas is empty and include_no_exo '
                             'is False')
        if not (_integer(self.repetitions) and self.repetitions >= 1):
            raise ValueError(f'repetitions must be an integer >= 1, got {self.repetitions!r}')
        if not (_real(self.spread) and 0.0 <= self.spread <= 0.5):
            raise ValueError(f'spread must be in [0, 0.5], got {self.spread!r}')
        if not (_integer(self.base_seed) and 0 <= self.base_seed < 2**63):
            raise ValueError(f'base_seed must be an integer in [0, 2**63), got '
                             f'{self.base_seed!r}')
        if not (_real(self.sample_rate_hz) and 0 < self.sample_rate_hz <= SIM_RATE_HZ):
            raise ValueError(f'sample_rate_hz must be in (0, {SIM_RATE_HZ:g}], got '
                             f'{self.sample_rate_hz!r}')
        ratio = SIM_RATE_HZ / self.sample_rate_hz
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f'sample_rate_hz must divide the {SIM_RATE_HZ:g} Hz simulation '
                             f'rate, got {self.sample_rate_hz!r}')
        if not (_real(self.fit_window_s) and 0 < self.fit_window_s <= 10.0):
            raise ValueError(f'fit_window_s must be in (0, 10] s, got {self.fit_window_s!r}')
        if not (_real(self.k_min) and self.k_min > 0):
            raise ValueError(f'k_min must be > 0, got {self.k_min!r}')
        if not (_real(self.k_max) and self.k_max > self.k_min):
            raise ValueError(f'k_max must be > k_min={self.k_min!r}, got {self.k_max!r}')
        for name in ('rest_before_s', 'rest_after_s'):
            value = getattr(self, name)
            if not (_real(value) and 0 <= value <= 10.0):
                raise ValueError(f'{name} must be in [0, 10] s, got {value!r}')
        if not (_integer(self.workers) and self.workers >= 1):
            raise ValueError(f'workers must be an integer >= 1, got {self.workers!r}')

    @property
    def decimation(self) -> int:
        """Number of 1 kHz simulation steps per output row."""
        return int(round(SIM_RATE_HZ / self.sample_rate_hz))

    @property
    def conditions(self) -> tuple[tuple[str, float], ...]:
        """The simulated conditions as ``(condition, alpha)``; alpha NaN for no-exo."""
        out = [(CONDITION_NO_EXO, math.nan)] if self.include_no_exo else []
        return tuple(out + [(CONDITION_EXO, float(a)) for a in self.alphas])

    def to_json(self) -> dict:
        """Plain-JSON form of the configuration (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))


QUICK_CONFIG = DatagenConfig(tasks=('ok_gesture', 'lift_heavy'), alphas=(0.0, 1.0),
                             masses=(70.0,), repetitions=1)


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to simulate (picklable; sent to a worker)."""

    episode: int
    task_id: str
    condition: str
    alpha: float
    body_mass_kg: float
    repetition: int
    seed: int


def episode_seed(base_seed: int, task_id: str, body_mass_kg: float, repetition: int) -> int:
    """Deterministic seed (in [0, 2**63)) of the trajectory randomisation of an episode.

    Depends only on the base seed, the task's mission number, the mass (in grams) and the
    repetition, so it is the same for every condition and for any subset of the config.
    """
    key = (TASKS_BY_ID[task_id].mission, int(round(body_mass_kg * 1000.0)), int(repetition))
    state = np.random.SeedSequence(int(base_seed), spawn_key=key).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def episode_specs(config: DatagenConfig) -> list[EpisodeSpec]:
    """Every episode of ``config``, in dataset order (task, mass, repetition, condition)."""
    specs = []
    for task_id in config.tasks:
        for mass in config.masses:
            for rep in range(config.repetitions):
                seed = episode_seed(config.base_seed, task_id, mass, rep)
                for condition, alpha in config.conditions:
                    specs.append(EpisodeSpec(len(specs), task_id, condition, alpha,
                                             float(mass), rep, seed))
    return specs


def simulate_episode(spec: EpisodeSpec, config: DatagenConfig) -> tuple[dict, dict]:
    """Simulate one episode; returns ``(columns, info)``.

    ``columns`` maps every float column of :data:`SCHEMA` to a decimated (N,) array;
    ``info`` holds the trajectory parameters and the number of rows.
    """
    task = TASKS_BY_ID[spec.task_id]
    params = sample_trajectory_params(np.random.default_rng(spec.seed), config.spread)
    exo = spec.condition == CONDITION_EXO
    arm_config = ExoArmConfig(body_mass_kg=spec.body_mass_kg, attach_exo=exo)
    controller = ProportionalAssist(spec.alpha) if exo else None
    res = run_rollout(task, config=arm_config, controller=controller, params=params,
                      rest_before=config.rest_before_s, rest_after=config.rest_after_s)
    h = arm_config.timestep
    n = res.t.size
    nan = np.full(n, np.nan)
    if exo:
        window = max(1, int(round(config.fit_window_s / h)))
        k_int = fit_interaction_stiffness(res.tau_ext, res.q_ref, res.q_exo, window,
                                          config.k_min, config.k_max)
    else:
        k_int = nan
    duration = ReferenceTrajectory(task, params).duration
    tt = res.t - config.rest_before_s
    active = (tt >= 0.0) & (tt <= duration)
    phase = np.where(active, np.clip(tt / duration, 0.0, 1.0), -1.0)
    full = {
        't': res.t, 'phase': phase, 'q_ref': res.q_ref,
        'q_exo': res.q_exo if exo else nan, 'qd_exo': res.qd_exo if exo else nan,
        'q_human': res.q_human, 'qd_human': res.qd_human,
        'tau_ext': res.tau_ext if exo else np.zeros(n),
        'tau_exo': res.tau_cmd if exo else np.zeros(n),
        'tau_bio': res.tau_bio, 'k_int': k_int, 'metabolic_power': res.metabolic_power,
        'alpha': np.full(n, spec.alpha), 'body_mass_kg': np.full(n, spec.body_mass_kg),
    }
    for i, name in enumerate(ACTIVATION_COLUMNS):
        full[name] = res.activations[:, i]
    step = config.decimation
    columns = {name: np.asarray(full[name][::step], dtype=np.float32)
               for name in _FLOAT_COLUMNS}
    info = {'trajectory_params': asdict(params), 'steps': int(columns['t'].size),
            'task_duration_s': duration}
    return columns, info


def _worker(job: tuple[EpisodeSpec, DatagenConfig]) -> tuple[int, dict, dict]:
    spec, config = job
    columns, info = simulate_episode(spec, config)
    return spec.episode, columns, info


def _software_versions() -> dict:
    versions = {'python': platform.python_version()}
    for name in SOFTWARE_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_commit() -> str | None:
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit or None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _build_table(specs: list[EpisodeSpec], results: dict[int, tuple[dict, dict]]) -> pa.Table:
    counts = [results[s.episode][1]['steps'] for s in specs]
    arrays = {}
    for name in _FLOAT_COLUMNS:
        arrays[name] = pa.array(np.concatenate([results[s.episode][0][name] for s in specs]),
                                type=pa.float32())

    def repeat(values: list, dtype: pa.DataType) -> pa.Array:
        if pa.types.is_string(dtype):
            uniq = sorted(set(values))
            idx = np.repeat(np.array([uniq.index(v) for v in values], dtype=np.int32), counts)
            return pa.DictionaryArray.from_arrays(pa.array(idx), pa.array(uniq)).cast(dtype)
        return pa.array(np.repeat(np.array(values), counts).astype(dtype.to_pandas_dtype()),
                        type=dtype)

    arrays['episode'] = repeat([s.episode for s in specs], pa.int32())
    arrays['task_id'] = repeat([s.task_id for s in specs], pa.string())
    arrays['text'] = repeat([TASKS_BY_ID[s.task_id].text for s in specs], pa.string())
    arrays['condition'] = repeat([s.condition for s in specs], pa.string())
    arrays['repetition'] = repeat([s.repetition for s in specs], pa.int16())
    arrays['seed'] = repeat([s.seed for s in specs], pa.int64())
    return pa.Table.from_arrays([arrays[f.name] for f in SCHEMA], schema=SCHEMA)


def generate(config: DatagenConfig, out_dir: str | Path, progress: bool = True) -> Path:
    """Simulate every episode of ``config`` and write the dataset to ``out_dir``.

    Writes ``out_dir/steps.parquet`` and ``out_dir/manifest.json`` (format: module
    docstring) and returns ``out_dir``. Episodes run on ``config.workers`` processes
    (spawn); the files' content does not depend on the number of workers.
    """
    if not isinstance(config, DatagenConfig):
        raise TypeError(f'config must be a DatagenConfig, got {type(config).__name__}')
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    specs = episode_specs(config)
    # Longest episodes first: better load balance over the pool.
    order = sorted(specs, key=lambda s: (-TASKS_BY_ID[s.task_id].duration_s, s.episode))
    jobs = [(spec, config) for spec in order]
    workers = min(config.workers, len(jobs))
    results: dict[int, tuple[dict, dict]] = {}
    bar = tqdm(total=len(jobs), desc='exo_datagen', unit='episode', disable=not progress)
    try:
        if workers == 1:
            for job in jobs:
                episode, columns, info = _worker(job)
                results[episode] = (columns, info)
                bar.update()
        else:
            ctx = multiprocessing.get_context('spawn')
            with ctx.Pool(workers) as pool:
                for episode, columns, info in pool.imap_unordered(_worker, jobs):
                    results[episode] = (columns, info)
                    bar.update()
    finally:
        bar.close()
    table = _build_table(specs, results)
    steps_path = out / STEPS_FILE
    tmp = steps_path.with_suffix('.parquet.tmp')
    pq.write_table(table, tmp, compression='zstd')
    os.replace(tmp, steps_path)
    episodes = []
    for s in specs:
        info = results[s.episode][1]
        episodes.append({'episode': s.episode, 'task_id': s.task_id, 'condition': s.condition,
                         'alpha': None if math.isnan(s.alpha) else s.alpha,
                         'body_mass_kg': s.body_mass_kg, 'repetition': s.repetition,
                         'seed': s.seed, 'trajectory_params': info['trajectory_params'],
                         'task_duration_s': info['task_duration_s'], 'steps': info['steps']})
    manifest = {
        'schema_version': int(SCHEMA_VERSION),
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'config': config.to_json(),
        'rows': table.num_rows,
        'episodes': episodes,
        'software': _software_versions(),
        'git_commit': _git_commit(),
        'steps_file': STEPS_FILE,
        'steps_sha256': _sha256(steps_path),
        'wall_time_s': round(time.perf_counter() - start, 3),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + '\n')
    return out


def load_dataset(path: str | Path) -> pa.Table:
    """Read ``steps.parquet`` (``path`` is the dataset directory or the file itself).

    Raises:
        FileNotFoundError: no such dataset.
        ValueError: the file is not exo-vic format version 1 (version key missing or
            different, or columns/types differ from :data:`SCHEMA`).

    """
    path = Path(path)
    file = path / STEPS_FILE if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f'no exo-vic dataset at {str(path)!r} (expected {file})')
    schema = pq.read_schema(file)
    meta = schema.metadata or {}
    version = meta.get(SCHEMA_VERSION_KEY.encode())
    if version is None:
        raise ValueError(f'{file} is not an exo-vic dataset: Parquet metadata key '
                         f'{SCHEMA_VERSION_KEY!r} is missing')
    version = version.decode()
    if version != SCHEMA_VERSION:
        raise ValueError(f'{file} has exo-vic schema version {version!r}, but this code reads '
                         f'version {SCHEMA_VERSION!r}; regenerate it with exo_datagen or use '
                         f'a matching exo_sim version')
    if not schema.remove_metadata().equals(SCHEMA.remove_metadata()):
        raise ValueError(f'{file} claims exo-vic schema version {version!r} but its columns '
                         f'differ from exo_sim.datagen.SCHEMA:\n{schema.remove_metadata()}')
    return pq.read_table(file, schema=SCHEMA)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(',') if v.strip())


def _strings(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(',') if v.strip())


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_datagen``."""
    parser = argparse.ArgumentParser(
        prog='exo_datagen', description=__doc__.splitlines()[0],
        epilog='Lists are comma-separated, e.g. --alphas 0,0.5,1 --tasks drink,wave.')
    parser.add_argument('--out', type=Path, default=DEFAULT_OUT,
                        help='output directory (default: %(default)s)')
    parser.add_argument('--quick', action='store_true',
                        help='tiny config: ok_gesture + lift_heavy, alphas 0,1, 70 kg, 1 rep')
    parser.add_argument('--repetitions', type=int, help='repetitions per combination')
    parser.add_argument('--workers', type=int, help='worker processes (default: cpu count)')
    parser.add_argument('--tasks', type=_strings, help='task ids (default: all nine)')
    parser.add_argument('--masses', type=_floats, help='body masses, kg')
    parser.add_argument('--alphas', type=_floats, help='assistance ratios of eq. 3')
    parser.add_argument('--spread', type=float, help='trajectory randomisation spread')
    parser.add_argument('--seed', type=int, help='base seed')
    parser.add_argument('--no-no-exo', action='store_true', help='skip the no-exo condition')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    opts = parser.parse_args(argv)
    base = QUICK_CONFIG if opts.quick else DatagenConfig()
    overrides = {name: value for name, value in (
        ('repetitions', opts.repetitions), ('workers', opts.workers), ('tasks', opts.tasks),
        ('masses', opts.masses), ('alphas', opts.alphas), ('spread', opts.spread),
        ('base_seed', opts.seed)) if value is not None}
    if opts.no_no_exo:
        overrides['include_no_exo'] = False
    try:
        config = DatagenConfig(**{**asdict(base), **overrides})
    except ValueError as exc:
        parser.error(str(exc))
    start = time.perf_counter()
    out = generate(config, opts.out, progress=not opts.no_progress)
    wall = time.perf_counter() - start
    n_ep = len(episode_specs(config))
    size = (out / STEPS_FILE).stat().st_size
    print(f'wrote {out / STEPS_FILE} ({n_ep} episodes, {size / 1e6:.1f} MB) and '
          f'{out / MANIFEST_FILE} on {config.workers} workers in {wall:.1f} s wall time')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
