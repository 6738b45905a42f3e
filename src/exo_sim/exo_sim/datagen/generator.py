"""Simulate every episode of a :class:`DatagenConfig` on a worker pool and write the dataset.

Each episode is one :func:`exo_sim.episodes.simulate_assisted_episode` (the practised
human, eq. 3 assistance, eq. 4 stiffness fitted at the 1 kHz simulation rate) with its
group's :class:`~exo_sim.datagen.config.RepetitionVariation` and its own noise seed; every
signal is then decimated to ``sample_rate_hz`` by taking every n-th 1 kHz sample (no
filtering; the values of a row belong to one simulation instant). Episodes run on local
worker processes (spawn) or a Ray cluster (:func:`exo_sim.parallel.map_jobs`) with a
progress bar, one job per task (per task x mass with more workers than tasks, or on a
cluster) whose episodes (every mass, condition and repetition) and practice step as one
batch (:func:`exo_sim.episodes.simulate_assisted_episodes`); the
result does not depend on the batches, the number of workers, where they run or their
scheduling. The step table and the manifest
follow :mod:`exo_contract.dataset` (format version 2), with the recommended group-wise
split.
"""

from __future__ import annotations

from dataclasses import asdict
import datetime
import hashlib
import importlib.metadata
import json
import math
from pathlib import Path
import platform
import subprocess
import time

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from exo_contract.dataset import (
    ACTIVATION_COLUMNS,
    CONDITION_EXO,
    FLOAT_COLUMNS,
    MANIFEST_FILE,
    MUSCLES,
    SCHEMA,
    SCHEMA_VERSION,
    split_groups,
    STEPS_FILE,
    write_dataset,
)
from exo_contract.tasks import TASKS_BY_ID
from exo_sim.datagen.config import DatagenConfig, episode_specs, EpisodeSpec, sample_variation
from exo_sim.episodes import AssistedEpisode, EpisodeRequest, simulate_assisted_episodes
from exo_sim.model import MUSCLES as MODEL_MUSCLES
from exo_sim.parallel import map_jobs

SOFTWARE_PACKAGES = ('numpy', 'scipy', 'mujoco', 'myo-sim', 'pyarrow')
VAL_FRACTION = 0.15
SPLIT_SEED = 0

if tuple(MODEL_MUSCLES) != MUSCLES:  # the activation columns follow the model's muscles
    raise RuntimeError(f'exo_sim.model.MUSCLES {tuple(MODEL_MUSCLES)} differ from the dataset '
                      f'format exo_contract.dataset.MUSCLES {MUSCLES}')


def episode_columns(episode: AssistedEpisode, every: int = 1) -> dict[str, np.ndarray]:
    """The per-step (float32) columns of the dataset for ``episode``, every ``every``-th step.

    Without the exoskeleton ``q_exo``, ``qd_exo``, ``alpha`` and ``k_int`` are NaN and
    ``tau_ext``, ``tau_exo`` are 0. ``phase`` is the rollout's (-1 at rest and before the
    onset).
    """
    res = episode.rollout
    n = res.t.size
    nan = np.full(n, np.nan)
    exo = episode.exo
    full = {
        't': res.t, 'phase': res.phase, 'q_ref': res.q_ref, 'q_intent': res.q_intent,
        'co_contraction_index': res.cocontraction,
        'q_exo': res.q_exo if exo else nan, 'qd_exo': res.qd_exo if exo else nan,
        'q_human': res.q_human, 'qd_human': res.qd_human,
        'tau_ext': res.tau_ext if exo else np.zeros(n),
        'tau_exo': res.tau_cmd if exo else np.zeros(n),
        'tau_bio': res.tau_bio, 'k_int': episode.k_int,
        'metabolic_power': res.metabolic_power,
        'alpha': np.full(n, episode.alpha), 'body_mass_kg': np.full(n, episode.body_mass_kg),
    }
    for i, name in enumerate(ACTIVATION_COLUMNS):
        full[name] = res.activations[:, i]
    return {name: np.asarray(full[name][::every], dtype=np.float32) for name in FLOAT_COLUMNS}


def _request(spec: EpisodeSpec, config: DatagenConfig) -> tuple[EpisodeRequest, object]:
    variation = sample_variation(spec.seed, config)
    request = EpisodeRequest(
        TASKS_BY_ID[spec.task_id], spec.alpha if spec.condition == CONDITION_EXO else None,
        spec.body_mass_kg, variation.params, fit=config.fit,
        rest_before=config.rest_before_s, rest_after=config.rest_after_s,
        human=config.human, seed=spec.noise_seed, onset_s=variation.onset_s,
        practice_repetitions=config.practice_repetitions, metabolic_every=config.decimation)
    return request, variation


def simulate_episodes(specs: list[EpisodeSpec], config: DatagenConfig
                      ) -> list[tuple[dict, dict]]:
    """Simulate episodes as one batch (:func:`exo_sim.episodes.simulate_assisted_episodes`).

    Returns one ``(columns, info)`` per spec, in order: ``columns`` maps every float
    column of the format to a decimated (N,) array; ``info`` holds the group's variation,
    the trajectory parameters, the task duration and the number of rows. An episode's
    result does not depend on the batch it ran in.
    """
    prepared = [_request(spec, config) for spec in specs]
    out = []
    for (request, variation), episode in zip(
            prepared, simulate_assisted_episodes([r for r, _ in prepared]), strict=True):
        columns = episode_columns(episode, config.decimation)
        info = {'variation': variation.to_json(), 'trajectory_params': asdict(request.params),
                'steps': int(columns['t'].size), 'task_duration_s': episode.duration}
        out.append((columns, info))
    return out


def _worker(job: tuple[list[EpisodeSpec], DatagenConfig]) -> list[tuple[int, dict, dict]]:
    specs, config = job
    return [(spec.episode, columns, info)
            for spec, (columns, info) in zip(specs, simulate_episodes(specs, config),
                                             strict=True)]


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


def build_table(specs: list[EpisodeSpec], results: dict[int, tuple[dict, dict]]) -> pa.Table:
    """The step table (:data:`exo_contract.dataset.SCHEMA`) of simulated episodes.

    Args:
        specs: the episodes, in dataset order.
        results: episode index -> ``(columns, info)`` of :func:`simulate_episodes`.

    """
    counts = [results[s.episode][1]['steps'] for s in specs]
    arrays = {}
    for name in FLOAT_COLUMNS:
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
    arrays['group'] = repeat([s.group for s in specs], pa.int32())
    arrays['seed'] = repeat([s.seed for s in specs], pa.int64())
    arrays['noise_seed'] = repeat([s.noise_seed for s in specs], pa.int64())
    return pa.Table.from_arrays([arrays[f.name] for f in SCHEMA], schema=SCHEMA)


def generate(config: DatagenConfig, out_dir: str | Path, progress: bool = True,
             ray_address: str | None = None) -> Path:
    """Simulate every episode of ``config`` and write the dataset to ``out_dir``.

    Writes ``out_dir/steps.parquet`` and ``out_dir/manifest.json`` (format:
    :mod:`exo_contract.dataset`) and returns ``out_dir``. Episodes run on
    ``config.workers`` processes (spawn), or on the Ray cluster at ``ray_address``
    (:func:`exo_sim.parallel.map_jobs`); the files' content does not depend on the number
    of workers nor on where they run.
    """
    if not isinstance(config, DatagenConfig):
        raise TypeError(f'config must be a DatagenConfig, got {type(config).__name__}')
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    specs = episode_specs(config)
    # One job per task: its body masses, conditions and repetitions step as one batch (the
    # practice of each mass x condition too); per task x mass when there are more workers
    # than tasks or a cluster (more, smaller jobs). Longest tasks first for the balance.
    per_mass = ray_address is not None or config.workers > len(set(config.tasks))
    order = sorted(specs, key=lambda s: (-TASKS_BY_ID[s.task_id].duration_s, s.task_id,
                                         s.body_mass_kg, s.condition, s.alpha, s.repetition))
    groups: dict[tuple, list[EpisodeSpec]] = {}
    for spec in order:
        key = (spec.task_id, spec.body_mass_kg) if per_mass else (spec.task_id,)
        groups.setdefault(key, []).append(spec)
    jobs = [(group, config) for group in groups.values()]
    workers = min(config.workers, len(jobs))
    results: dict[int, tuple[dict, dict]] = {}
    bar = tqdm(total=len(specs), desc='exo_datagen', unit='episode', disable=not progress)
    try:
        for done in map_jobs(_worker, jobs, workers, ray_address):
            for episode, columns, info in done:
                results[episode] = (columns, info)
            bar.update(len(done))
    finally:
        bar.close()
    table = build_table(specs, results)
    steps_path = write_dataset(table, out)
    episodes = []
    for s in specs:
        info = results[s.episode][1]
        episodes.append({'episode': s.episode, 'task_id': s.task_id, 'condition': s.condition,
                         'alpha': None if math.isnan(s.alpha) else s.alpha,
                         'body_mass_kg': s.body_mass_kg, 'repetition': s.repetition,
                         'group': s.group, 'seed': s.seed, 'noise_seed': s.noise_seed,
                         'variation': info['variation'],
                         'trajectory_params': info['trajectory_params'],
                         'task_duration_s': info['task_duration_s'], 'steps': info['steps']})
    train_groups, val_groups = split_groups({s.group: s.task_id for s in specs}, VAL_FRACTION,
                                            SPLIT_SEED)
    manifest = {
        'schema_version': int(SCHEMA_VERSION),
        'created': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'config': config.to_json(),
        'rows': table.num_rows,
        'episodes': episodes,
        'split': {'unit': 'group (task, body mass, repetition), all conditions',
                  'val_fraction': VAL_FRACTION, 'seed': SPLIT_SEED,
                  'train_groups': train_groups, 'val_groups': val_groups},
        'software': _software_versions(),
        'git_commit': _git_commit(),
        'steps_file': STEPS_FILE,
        'steps_sha256': _sha256(steps_path),
        'wall_time_s': round(time.perf_counter() - start, 3),
    }
    (out / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + '\n')
    return out
