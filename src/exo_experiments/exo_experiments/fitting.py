"""Fit the reference sources' models from simulation: ``exo_fit_oracle`` and ``exo_fit_promp``.

Both run the one eq. 3 + eq. 4 episode recipe of the dataset
(:func:`exo_sim.episodes.simulate_assisted_episode`: assisted rollout, then the windowed
least-squares stiffness fit with :data:`exo_sim.stiffness.DEFAULT_FIT`) and hand the
episodes to the pure fitting code of exo_policy (which never imports exo_sim):

* the oracle's stiffness table: for each task the simulated human (70 kg) performs the
  task with ``alpha = 1`` (default), and :func:`exo_policy.oracle.stiffness_profile`
  resamples the fitted stiffness on the phase grid;
* the ProMP baseline (the fair comparison of the default policy): demonstrations of exactly
  the policy's training episodes and angle/stiffness targets (:func:`training_columns`, the
  checkpoint's configuration), or of in-process rollouts with the same target
  (:func:`simulate_table`), fitted by :class:`exo_policy.promp.ProMPModel`.

::

    exo_fit_oracle [--out src/exo_policy/exo_policy/data/oracle_stiffness.npz]
    exo_fit_promp --data data/exo_vic_v2 --out src/exo_policy/exo_policy/data/promp.npz
    exo_fit_promp --simulate 4 --out /tmp/promp.npz     # no dataset: in-process rollouts

Regenerate the shipped oracle table with ``exo_fit_oracle`` after changing the simulation or
the task library; ``test/test_fitting.py`` checks the table against a fresh fit of one task.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from exo_contract.dataset import CONDITION_EXO, load_dataset
from exo_contract.tasks import sample_trajectory_params, Task, TASKS, TASKS_BY_ID
from exo_policy.configuration import PolicyConfig
from exo_policy.dataset import (
    angle_target,
    columns_needed,
    episode_columns,
    episodes_from_table,
    REQUIRED_COLUMNS,
    split_episodes,
)
from exo_policy.oracle import (
    default_table_path,
    PROFILE_POINTS,
    stiffness_profile,
    StiffnessTable,
)
from exo_policy.promp import (
    default_model_path,
    demonstrations_from_table,
    fit_summary,
    N_WEIGHTS_PER_DIM,
    PHASE_POINTS,
    ProMPModel,
    subsample_demonstrations,
    TABLE_COLUMNS,
)
from exo_policy.runtime import default_checkpoint_dir
from exo_sim.episodes import simulate_assisted_episode
from exo_sim.stiffness import DEFAULT_FIT, FitSettings

DEFAULT_DATA = Path('data/exo_vic_v2')
SIMULATED_RATE_HZ = 100.0
SIMULATED_SPREAD = 0.1


# ---------------------------------------------------------------------- oracle
def fit_task_profile(task: Task, alpha: float = 1.0, body_mass_kg: float = 70.0,
                     phase: np.ndarray | None = None,
                     fit: FitSettings = DEFAULT_FIT) -> np.ndarray:
    """Stiffness profile of ``task`` on the phase grid (default ``PROFILE_POINTS``), N*m/rad.

    One nominal episode (:func:`exo_sim.episodes.simulate_assisted_episode`), its fitted
    stiffness resampled on the phase by :func:`exo_policy.oracle.stiffness_profile`.
    """
    episode = simulate_assisted_episode(task, alpha, body_mass_kg, fit=fit)
    return stiffness_profile(episode.rollout.phase, episode.k_int, fit.k_min, fit.k_max, phase)


def fit_table(alpha: float = 1.0, body_mass_kg: float = 70.0, fit: FitSettings = DEFAULT_FIT,
              progress: bool = True) -> StiffnessTable:
    """Fit every task of the library (with a progress bar); the settings go in the metadata."""
    phase = np.linspace(0.0, 1.0, PROFILE_POINTS)
    profiles = {}
    for task in tqdm(TASKS, desc='fitting oracle stiffness', unit='task', disable=not progress):
        profiles[task.task_id] = fit_task_profile(task, alpha, body_mass_kg, phase, fit)
    metadata = {'alpha': str(alpha), 'body_mass_kg': str(body_mass_kg),
                'window_s': str(fit.window_s), 'k_min': str(fit.k_min), 'k_max': str(fit.k_max)}
    return StiffnessTable(phase, profiles, metadata)


def oracle_main(argv: list[str] | None = None) -> int:
    """Console script ``exo_fit_oracle``."""
    parser = argparse.ArgumentParser(
        prog='exo_fit_oracle',
        description="Fit the oracle's per-task stiffness profiles from in-process rollouts "
                    '(eq. 3 + eq. 4).')
    parser.add_argument('--out', type=Path, default=default_table_path(),
                        help='output .npz (default: the shipped table)')
    parser.add_argument('--alpha', type=float, default=1.0, help='assistance ratio of eq. 3')
    parser.add_argument('--body-mass-kg', type=float, default=70.0)
    opts = parser.parse_args(argv)
    try:
        table = fit_table(opts.alpha, opts.body_mass_kg)
    except ValueError as exc:
        parser.error(str(exc))
    table.save(opts.out)
    for task_id, k in table.profiles.items():
        print(f'{task_id:<16} K min {k.min():7.2f}  mean {k.mean():7.2f}  max {k.max():7.2f}')
    print(f'wrote {opts.out}')
    return 0


# ---------------------------------------------------------------------- ProMP
def simulate_table(n_per_task: int = 3, seed: int = 0, tasks: list[str] | None = None,
                   body_masses: tuple[float, ...] = (60.0, 70.0, 80.0),
                   config: PolicyConfig | None = None,
                   fit: FitSettings = DEFAULT_FIT) -> dict[str, np.ndarray]:
    """A small dev dataset: columns :data:`exo_policy.promp.TABLE_COLUMNS` at 100 Hz.

    Per episode a random body mass and :func:`exo_contract.tasks.sample_trajectory_params`
    variation at the policy configuration's eq. 3 assistance ratio (the first of
    ``config.train_alphas``; default :class:`exo_policy.configuration.PolicyConfig`),
    simulated with the dataset's recipe (:func:`exo_sim.episodes.simulate_assisted_episode`);
    ``q_ref`` holds the policy's angle target (:func:`exo_policy.dataset.angle_target`);
    every signal is decimated to 100 Hz (every n-th simulation step, as the dataset).
    """
    config = config if config is not None else PolicyConfig()
    alpha = float(config.train_alphas[0]) if config.train_alphas else 1.0
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in TABLE_COLUMNS}
    episode_id = 0
    for task in TASKS:
        if tasks is not None and task.task_id not in tasks:
            continue
        for _ in range(n_per_task):
            mass = float(rng.choice(body_masses))
            params = sample_trajectory_params(rng, SIMULATED_SPREAD)
            episode = simulate_assisted_episode(task, alpha, mass, params, fit=fit)
            every = max(1, int(round(1.0 / (SIMULATED_RATE_HZ * episode.timestep))))
            roll = episode.rollout
            phase = roll.phase[::every]
            n = phase.size
            rows['episode'].append(np.full(n, episode_id))
            rows['task_id'].append(np.full(n, task.task_id))
            rows['condition'].append(np.full(n, CONDITION_EXO))
            rows['phase'].append(phase)
            rows['q_ref'].append(angle_target(
                roll.q_exo[::every], roll.q_ref[::every], roll.tau_ext[::every],
                episode.k_int[::every], config.reference_target, config.max_lead))
            rows['k_int'].append(episode.k_int[::every])
            episode_id += 1
    return {k: np.concatenate(v) for k, v in rows.items()}


def mean_onsets(data: Path, episode_ids: np.ndarray) -> dict[str, float]:
    """Mean movement onset after the instruction per task over ``episode_ids``, s.

    From the dataset's manifest (each episode's recorded variation); {} (onset 0, with a
    warning) when the dataset has no manifest.
    """
    manifest = Path(data) / 'manifest.json' if Path(data).is_dir() else (
        Path(data).parent / 'manifest.json')
    if not manifest.is_file():
        print(f'warning: no manifest {str(manifest)!r}: the ProMP phase starts with the '
              'instruction (onset 0)')
        return {}
    episodes = json.loads(manifest.read_text())['episodes']
    wanted = {int(e) for e in np.unique(episode_ids)}
    onsets: dict[str, list[float]] = {}
    for e in episodes:
        if int(e['episode']) in wanted:
            onsets.setdefault(e['task_id'], []).append(float(e['variation']['onset_s']))
    return {task_id: float(np.mean(v)) for task_id, v in onsets.items()}


def training_columns(data: Path, config: PolicyConfig) -> dict[str, np.ndarray]:
    """The policy's training episodes and targets of dataset ``data`` as step columns.

    Exactly what :func:`exo_policy.train.train` fits with ``config``: the same episodes
    (eq. 3 ratios ``config.train_alphas``, the training side of the group split) and the
    same angle target (``config.reference_target``, ``config.max_lead``).
    """
    needed = REQUIRED_COLUMNS + columns_needed(config.reference_target, config.train_alphas)
    table = load_dataset(data, needed)
    episodes = episodes_from_table(table, config.reference_target, config.train_alphas,
                                   config.max_lead)
    train_eps, _ = split_episodes(episodes, config.val_fraction, config.seed)
    return episode_columns(train_eps)


def promp_main(argv: list[str] | None = None) -> int:
    """Console script ``exo_fit_promp``: the fair ProMP baseline of the default policy."""
    parser = argparse.ArgumentParser(
        prog='exo_fit_promp',
        description='ProMP baseline: per-task angle target and stiffness vs phase, fitted on '
                    "the default policy's training episodes and targets.")
    parser.add_argument('--data', type=Path, default=DEFAULT_DATA,
                        help='dataset directory (steps.parquet) or parquet file')
    parser.add_argument('--out', type=Path, default=default_model_path(),
                        help='output .npz (default: the shipped model)')
    parser.add_argument('--checkpoint', type=Path, default=default_checkpoint_dir(),
                        help='policy checkpoint whose training targets and episodes the '
                             'ProMP is fitted on (its policy_meta.json config; default: the '
                             'shipped one)')
    parser.add_argument('--weights', type=int, default=N_WEIGHTS_PER_DIM,
                        help='RBFs per dimension')
    parser.add_argument('--phase-points', type=int, default=PHASE_POINTS,
                        help='resampled points per demonstration')
    parser.add_argument('--max-demos', type=int, default=0,
                        help='at most this many demonstrations per task (0: all)')
    parser.add_argument('--simulate', type=int, default=0, metavar='N',
                        help='ignore --data: simulate N demonstrations per task in-process')
    parser.add_argument('--seed', type=int, default=0)
    opts = parser.parse_args(argv)
    meta = opts.checkpoint / 'policy_meta.json'
    try:
        config = PolicyConfig.from_dict(json.loads(meta.read_text())['config'])
    except (OSError, ValueError, KeyError) as exc:
        parser.error(f'cannot read the policy configuration {str(meta)!r}: {exc}')
    if opts.simulate > 0:
        table = simulate_table(opts.simulate, opts.seed, config=config)
        source = f'simulated: {opts.simulate} rollouts/task, seed {opts.seed}'
    else:
        if not opts.data.exists():
            parser.error(f'--data {str(opts.data)!r} does not exist (or use --simulate N)')
        try:
            table = training_columns(opts.data, config)
        except ValueError as exc:
            parser.error(str(exc))
        source = str(opts.data)
    demos = demonstrations_from_table(table, opts.phase_points)
    demos = subsample_demonstrations(demos, opts.max_demos, opts.seed)
    # The simulated demonstrations start with the instruction (onset 0).
    onsets = {} if opts.simulate > 0 else mean_onsets(opts.data, table['episode'])
    missing = sorted(set(TASKS_BY_ID) - set(demos))
    if missing:
        print(f'warning: no demonstrations for tasks {missing}')
    model = ProMPModel.fit(demos, opts.weights, metadata={
        'data': source, 'condition': CONDITION_EXO, 'dims': 'q_target,k_int',
        'reference_target': config.reference_target,
        'train_alphas': ','.join(str(a) for a in config.train_alphas),
        'max_lead': str(config.max_lead), 'split': 'training groups of the policy',
        'n_weights_per_dim': str(opts.weights)}, onset_s=onsets)
    model.save(opts.out)
    for line in fit_summary(model, demos):
        print(line)
    print(f'wrote {opts.out}')
    return 0
