"""Fit the oracle's per-task stiffness profiles from in-process rollouts (eq. 3 + eq. 4).

For each task the simulated human (70 kg) performs the task while the exoskeleton assists
with ``tau_exo = alpha * tau_bio`` (eq. 3, alpha = 1 by default); the interaction
stiffness is fitted per eq. 4 (``tau_ext = K_int (q_d - q_r)``, windowed least squares,
:func:`exo_sim.stiffness.fit_interaction_stiffness`) and resampled on a phase grid.

    exo_fit_oracle [--out src/exo_policy/exo_policy/data/oracle_stiffness.npz]

Regenerate the shipped table with this command after changing the simulation or the
task library; ``test_oracle.py`` checks the table against a fresh fit of one task.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d
from tqdm import tqdm

from exo_policy.oracle import StiffnessTable
from exo_sim.datagen import DatagenConfig
from exo_sim.model import ExoArmConfig
from exo_sim.rollout import ProportionalAssist, run_rollout
from exo_sim.stiffness import fit_interaction_stiffness
from exo_sim.tasks import Task, TASKS

PHASE_POINTS = 101
# The eq. 4 fit uses the settings of the dataset (one definition: exo_sim.datagen).
_FIT = DatagenConfig()
K_MIN = _FIT.k_min
K_MAX = _FIT.k_max
WINDOW_S = _FIT.fit_window_s
SMOOTH_POINTS = 5
DEFAULT_OUT = Path(__file__).parent / 'data' / 'oracle_stiffness.npz'


def fit_task_profile(task: Task, alpha: float = 1.0, body_mass_kg: float = 70.0,
                     phase: np.ndarray | None = None) -> np.ndarray:
    """Stiffness profile (PHASE_POINTS,) of ``task`` on the phase grid, N*m/rad."""
    phase = np.linspace(0.0, 1.0, PHASE_POINTS) if phase is None else phase
    config = ExoArmConfig(body_mass_kg=body_mass_kg)
    result = run_rollout(task, config=config, controller=ProportionalAssist(alpha))
    window = max(1, int(round(WINDOW_S / config.timestep)))
    k = fit_interaction_stiffness(result.tau_ext, result.q_ref, result.q_exo, window,
                                  K_MIN, K_MAX)
    active = (result.phase > 0.0) & (result.phase < 1.0)
    profile = np.interp(phase, result.phase[active], k[active])
    return np.clip(uniform_filter1d(profile, SMOOTH_POINTS, mode='nearest'), K_MIN, K_MAX)


def fit_table(alpha: float = 1.0, body_mass_kg: float = 70.0) -> StiffnessTable:
    """Fit every task of the library (with a progress bar)."""
    phase = np.linspace(0.0, 1.0, PHASE_POINTS)
    profiles = {}
    for task in tqdm(TASKS, desc='fitting oracle stiffness', unit='task'):
        profiles[task.task_id] = fit_task_profile(task, alpha, body_mass_kg, phase)
    return StiffnessTable(phase, profiles)


def main(argv: list[str] | None = None) -> int:
    """Console script ``exo_fit_oracle``."""
    parser = argparse.ArgumentParser(prog='exo_fit_oracle', description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=DEFAULT_OUT)
    parser.add_argument('--alpha', type=float, default=1.0, help='assistance ratio of eq. 3')
    parser.add_argument('--body-mass-kg', type=float, default=70.0)
    opts = parser.parse_args(argv)
    table = fit_table(opts.alpha, opts.body_mass_kg)
    table.save(opts.out, {'alpha': str(opts.alpha), 'body_mass_kg': str(opts.body_mass_kg),
                          'window_s': str(WINDOW_S), 'k_min': str(K_MIN), 'k_max': str(K_MAX)})
    for task_id, k in table.profiles.items():
        print(f'{task_id:<16} K min {k.min():7.2f}  mean {k.mean():7.2f}  max {k.max():7.2f}')
    print(f'wrote {opts.out}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
