"""Fit the reference sources' models from simulation: ``exo_fit_oracle`` and ``exo_fit_promp``.

Both run the one eq. 3 + eq. 4 episode recipe of the dataset
(:func:`exo_sim.episodes.simulate_assisted_episode`: assisted rollout, then the windowed
least-squares stiffness fit with :data:`exo_sim.stiffness.DEFAULT_FIT`) and hand the
episodes to the pure fitting code of exo_policy (which never imports exo_sim):

* the oracle's stiffness table: for each task the simulated human (70 kg) performs the
  task with ``alpha = 1`` (default), and :func:`exo_policy.oracle.stiffness_profile`
  resamples the fitted stiffness on the phase grid;
* the ProMP baseline: demonstrations from a dataset (:func:`exo_contract.dataset.load_dataset`)
  or from in-process rollouts (:func:`simulate_table`), fitted by
  :class:`exo_policy.promp.ProMPModel`.

::

    exo_fit_oracle [--out src/exo_policy/exo_policy/data/oracle_stiffness.npz]
    exo_fit_promp --data data/exo_vic_v1 --out src/exo_policy/exo_policy/data/promp.npz
    exo_fit_promp --simulate 4 --out /tmp/promp.npz     # no dataset: in-process rollouts

Regenerate the shipped oracle table with ``exo_fit_oracle`` after changing the simulation or
the task library; ``test/test_fitting.py`` checks the table against a fresh fit of one task.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from exo_contract.dataset import CONDITION_EXO, load_dataset
from exo_contract.tasks import sample_trajectory_params, Task, TASKS, TASKS_BY_ID
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
from exo_sim.episodes import simulate_assisted_episode
from exo_sim.stiffness import DEFAULT_FIT, FitSettings

DEFAULT_DATA = Path('data/exo_vic_v1')
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
                   alphas: tuple[float, ...] = (0.5, 1.0),
                   fit: FitSettings = DEFAULT_FIT) -> dict[str, np.ndarray]:
    """A small dev dataset: columns :data:`exo_policy.promp.TABLE_COLUMNS` at 100 Hz.

    Per episode a random body mass, assistance ratio and
    :func:`exo_contract.tasks.sample_trajectory_params` variation, simulated with the
    dataset's recipe (:func:`exo_sim.episodes.simulate_assisted_episode`); every signal is
    decimated to 100 Hz (every n-th simulation step, as the dataset).
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in TABLE_COLUMNS}
    episode_id = 0
    for task in TASKS:
        if tasks is not None and task.task_id not in tasks:
            continue
        for _ in range(n_per_task):
            mass = float(rng.choice(body_masses))
            alpha = float(rng.choice(alphas))
            params = sample_trajectory_params(rng, SIMULATED_SPREAD)
            episode = simulate_assisted_episode(task, alpha, mass, params, fit=fit)
            every = max(1, int(round(1.0 / (SIMULATED_RATE_HZ * episode.timestep))))
            phase = episode.rollout.phase[::every]
            n = phase.size
            rows['episode'].append(np.full(n, episode_id))
            rows['task_id'].append(np.full(n, task.task_id))
            rows['condition'].append(np.full(n, CONDITION_EXO))
            rows['phase'].append(phase)
            rows['q_ref'].append(episode.rollout.q_ref[::every])
            rows['k_int'].append(episode.k_int[::every])
            episode_id += 1
    return {k: np.concatenate(v) for k, v in rows.items()}


def promp_main(argv: list[str] | None = None) -> int:
    """Console script ``exo_fit_promp``."""
    parser = argparse.ArgumentParser(
        prog='exo_fit_promp',
        description='ProMP baseline: fit per-task reference angle and stiffness vs phase.')
    parser.add_argument('--data', type=Path, default=DEFAULT_DATA,
                        help='dataset directory (steps.parquet) or parquet file')
    parser.add_argument('--out', type=Path, default=default_model_path(),
                        help='output .npz (default: the shipped model)')
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
    if opts.simulate > 0:
        table = simulate_table(opts.simulate, opts.seed)
        source = f'simulated: {opts.simulate} rollouts/task, seed {opts.seed}'
    else:
        if not opts.data.exists():
            parser.error(f'--data {str(opts.data)!r} does not exist (or use --simulate N)')
        try:
            table = load_dataset(opts.data, TABLE_COLUMNS)
        except ValueError as exc:
            parser.error(str(exc))
        source = str(opts.data)
    demos = demonstrations_from_table(table, opts.phase_points)
    demos = subsample_demonstrations(demos, opts.max_demos, opts.seed)
    missing = sorted(set(TASKS_BY_ID) - set(demos))
    if missing:
        print(f'warning: no demonstrations for tasks {missing}')
    model = ProMPModel.fit(demos, opts.weights, metadata={
        'data': source, 'condition': CONDITION_EXO, 'dims': 'q_ref,k_int',
        'n_weights_per_dim': str(opts.weights)})
    model.save(opts.out)
    for line in fit_summary(model, demos):
        print(line)
    print(f'wrote {opts.out}')
    return 0
