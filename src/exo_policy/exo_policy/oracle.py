"""Oracle reference source: the task library's reference and a fitted stiffness profile.

Before the learned policy exists (and afterwards as an upper-bound baseline), the oracle
maps a task text to the task library, follows that task's ground-truth reference angle
from the moment the text arrived, and publishes a stiffness profile fitted per eq. 4
(``tau_ext = K_int (q_d - q_r)``) from in-process rollouts of the simulated human with
the exoskeleton assisting per eq. 3. The rollouts run in :mod:`exo_experiments.fitting`
(``exo_fit_oracle``, which writes the table shipped in
``exo_policy/data/oracle_stiffness.npz``); here are the pure parts: the phase profile of
one episode (:func:`stiffness_profile`), the table, and the source.

Text that names no task never yields a guess: the oracle then holds the measured angle
with the compliant stiffness (no assistance) and reports ``source='fallback'``
(:class:`exo_policy.reference_source.ReferenceSourceBase`).

No rclpy here: :mod:`exo_policy.policy_node` converts messages and calls this core.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from scipy.ndimage import uniform_filter1d

from exo_contract.metrics import active_mask
from exo_contract.tasks import ReferenceTrajectory, Task, TASKS_BY_ID
from exo_policy.reference_source import (
    bound_lead,
    ImpedanceTarget,
    MAX_LEAD_RAD,
    ReferenceSourceBase,
    Resolver,
)

SOURCE_ORACLE = 'oracle'
STIFFNESS_TABLE_VERSION = 1
PROFILE_POINTS = 101
SMOOTH_POINTS = 5


def default_table_path() -> Path:
    """The shipped table, ``exo_policy/data/oracle_stiffness.npz``."""
    return Path(str(resources.files('exo_policy') / 'data' / 'oracle_stiffness.npz'))


def stiffness_profile(phase: np.ndarray, k_int: np.ndarray, k_min: float, k_max: float,
                      grid: np.ndarray | None = None,
                      smooth_points: int = SMOOTH_POINTS) -> np.ndarray:
    """One episode's stiffness as a function of the task phase, smoothed and clipped.

    Args:
        phase: (T,) task phase of each sample (-1 at rest; active: ``0 < phase < 1``).
        k_int: (T,) eq. 4 stiffness of each sample, N*m/rad.
        k_min: lower clip, N*m/rad (the fit's).
        k_max: upper clip, N*m/rad (the fit's).
        grid: (P,) increasing phase grid in [0, 1] (default: ``PROFILE_POINTS`` points).
        smooth_points: width of the moving average over the grid.

    Returns:
        (P,) stiffness on ``grid`` (linear interpolation of the active samples, held at the
        ends), N*m/rad, in [k_min, k_max].

    """
    grid = np.linspace(0.0, 1.0, PROFILE_POINTS) if grid is None else grid
    phase = np.asarray(phase, dtype=float)
    k_int = np.asarray(k_int, dtype=float)
    active = active_mask(phase)
    if not np.any(active):
        raise ValueError('no active-phase sample (0 < phase < 1) to build a profile from')
    profile = np.interp(grid, phase[active], k_int[active])
    return np.clip(uniform_filter1d(profile, smooth_points, mode='nearest'), k_min, k_max)


class StiffnessTable:
    """Per-task stiffness profiles K(phase) on a common phase grid.

    Attributes:
        phase: (N,) increasing phase grid in [0, 1].
        profiles: task_id -> (N,) stiffness in N*m/rad, all positive and finite.
        metadata: provenance strings (the fit's ``alpha``, ``body_mass_kg``, ``window_s``,
            ``k_min``, ``k_max`` for a table written by ``exo_fit_oracle``).

    """

    def __init__(self, phase: np.ndarray, profiles: dict[str, np.ndarray],
                 metadata: dict[str, str] | None = None) -> None:
        phase = np.asarray(phase, dtype=float)
        if phase.ndim != 1 or phase.size < 2 or np.any(np.diff(phase) <= 0):
            raise ValueError(f'phase grid must be 1-D and increasing, got shape {phase.shape}')
        for task_id, k in profiles.items():
            k = np.asarray(k, dtype=float)
            if k.shape != phase.shape or not np.all(np.isfinite(k)) or np.any(k <= 0):
                raise ValueError(f'stiffness profile of {task_id!r} must be finite, positive '
                                 f'and of shape {phase.shape}, got shape {k.shape}')
        self.phase = phase
        self.profiles = {key: np.asarray(val, dtype=float) for key, val in profiles.items()}
        self.metadata = {str(k): str(v) for k, v in (metadata or {}).items()}

    def stiffness(self, task_id: str, phase: float) -> float:
        """Stiffness of ``task_id`` at ``phase`` (clipped to [0, 1]), linear interpolation."""
        return float(np.interp(min(max(phase, 0.0), 1.0), self.phase, self.profiles[task_id]))

    def save(self, path: Path, metadata: dict[str, str] | None = None) -> None:
        """Write the table as a compressed .npz with a format version and metadata.

        ``metadata`` (default: :attr:`metadata`) is stored as strings.
        """
        arrays = {f'k_{task_id}': k for task_id, k in self.profiles.items()}
        meta = {str(k): str(v) for k, v in (
            self.metadata if metadata is None else metadata).items()}
        np.savez_compressed(
            path, phase=self.phase, version=np.array(STIFFNESS_TABLE_VERSION),
            meta_keys=np.array(list(meta.keys()), dtype=str),
            meta_values=np.array(list(meta.values()), dtype=str), **arrays)

    @classmethod
    def load(cls, path: Path | None = None) -> 'StiffnessTable':
        """Load a table; the default is the one shipped in ``exo_policy/data``."""
        if path is None:
            path = default_table_path()
        with np.load(path) as data:
            version = int(data['version'])
            if version != STIFFNESS_TABLE_VERSION:
                raise ValueError(f'{path}: stiffness table version {version}, expected '
                                 f'{STIFFNESS_TABLE_VERSION}')
            profiles = {key[2:]: data[key] for key in data.files if key.startswith('k_')}
            meta = {}
            if 'meta_keys' in data.files:
                meta = dict(zip(data['meta_keys'].tolist(), data['meta_values'].tolist(),
                                strict=True))
            table = cls(data['phase'], profiles, meta)
        missing = sorted(set(TASKS_BY_ID) - set(table.profiles))
        if missing:
            raise ValueError(f'{path}: no stiffness profile for tasks {missing}')
        return table


class OracleReferenceSource(ReferenceSourceBase):
    """Reference angle + stiffness for the task named by the last task text.

    Args:
        table: fitted stiffness profiles (default: the shipped table).
        compliant_stiffness: stiffness used at rest and for unknown text, N*m/rad.
        resolver: text -> task resolution (:class:`exo_language.resolver.TaskResolver`);
            default: :func:`exo_policy.reference_source.default_resolver`.

    """

    def __init__(self, table: StiffnessTable | None = None,
                 compliant_stiffness: float = 2.0, resolver: Resolver | None = None) -> None:
        super().__init__(resolver, compliant_stiffness)
        self._table = table if table is not None else StiffnessTable.load()
        self._trajectory: ReferenceTrajectory | None = None

    def accepts(self, task: Task) -> bool:
        """Only tasks with a stiffness profile in the table."""
        return task.task_id in self._table.profiles

    def on_task_text(self, text: str, task: Task | None) -> None:
        """Start following ``task``'s reference (None: at rest)."""
        self._trajectory = ReferenceTrajectory(task) if task is not None else None

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """Reference at time ``t`` (s) given the measured exo angle ``q`` (rad), ``qd``.

        Called at the policy rate (the :class:`~exo_policy.reference_source.ReferenceSource`
        protocol); the measured angle holds the reference when no task is known and bounds
        its lead (``MAX_LEAD_RAD``, controller_node's ``max_lead``: beyond it the reference
        moves with the arm, ``qd``, as the controller's own bound would move it).
        """
        if self._task is None or self._trajectory is None:
            return self.fallback(q)
        tau = t - self._t0
        q_ref, qd_ref, _ = self._trajectory(tau)
        k = self._table.stiffness(self._task.task_id, self._trajectory.phase(tau))
        q_ref, qd_ref = bound_lead(float(q), float(q_ref), float(qd), float(qd_ref),
                                   MAX_LEAD_RAD)
        return ImpedanceTarget(float(q_ref), float(qd_ref), k, self._task.task_id,
                               self._confidence, SOURCE_ORACLE)
