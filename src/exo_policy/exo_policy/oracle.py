"""Oracle reference source: the task library's reference and a fitted stiffness profile.

Before the learned policy exists (and afterwards as an upper-bound baseline), the oracle
maps a task text to the task library, follows that task's ground-truth reference angle
from the moment the text arrived, and publishes a stiffness profile fitted per eq. 4
(``tau_ext = K_int (q_d - q_r)``) from in-process rollouts of the simulated human with
the exoskeleton assisting per eq. 3 (see :mod:`exo_policy.fit_oracle`, which writes the
table shipped in ``exo_policy/data/oracle_stiffness.npz``).

Text that names no task never yields a guess: the oracle then holds the measured angle
with the compliant stiffness (no assistance) and reports ``source='fallback'``.

No rclpy here: :mod:`exo_policy.policy_node` converts messages and calls this core.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
import math
from pathlib import Path
from typing import Protocol

import numpy as np

from exo_sim.tasks import find_task, ReferenceTrajectory, Task, TASKS_BY_ID

SOURCE_ORACLE = 'oracle'
SOURCE_FALLBACK = 'fallback'
STIFFNESS_TABLE_VERSION = 1


@dataclass(frozen=True)
class ImpedanceTarget:
    """One reference sample for the controller (one joint).

    Attributes:
        reference_angle: q_d, rad.
        reference_velocity: dq_d/dt, rad/s.
        stiffness: K_hat, N*m/rad, before the controller's stability bound.
        task_id: resolved task, '' when none.
        confidence: confidence of the task resolution in [0, 1].
        source: 'oracle' or 'fallback'.

    """

    reference_angle: float
    reference_velocity: float
    stiffness: float
    task_id: str
    confidence: float
    source: str


class StiffnessTable:
    """Per-task stiffness profiles K(phase) on a common phase grid.

    Attributes:
        phase: (N,) increasing phase grid in [0, 1].
        profiles: task_id -> (N,) stiffness in N*m/rad, all positive and finite.

    """

    def __init__(self, phase: np.ndarray, profiles: dict[str, np.ndarray]) -> None:
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

    def stiffness(self, task_id: str, phase: float) -> float:
        """Stiffness of ``task_id`` at ``phase`` (clipped to [0, 1]), linear interpolation."""
        return float(np.interp(min(max(phase, 0.0), 1.0), self.phase, self.profiles[task_id]))

    def save(self, path: Path, metadata: dict[str, str] | None = None) -> None:
        """Write the table as a compressed .npz with a format version and metadata."""
        arrays = {f'k_{task_id}': k for task_id, k in self.profiles.items()}
        meta = dict(metadata or {})
        np.savez_compressed(
            path, phase=self.phase, version=np.array(STIFFNESS_TABLE_VERSION),
            meta_keys=np.array(list(meta.keys()), dtype=str),
            meta_values=np.array(list(meta.values()), dtype=str), **arrays)

    @classmethod
    def load(cls, path: Path | None = None) -> 'StiffnessTable':
        """Load a table; the default is the one shipped in ``exo_policy/data``."""
        if path is None:
            path = Path(str(resources.files('exo_policy') / 'data' / 'oracle_stiffness.npz'))
        with np.load(path) as data:
            version = int(data['version'])
            if version != STIFFNESS_TABLE_VERSION:
                raise ValueError(f'{path}: stiffness table version {version}, expected '
                                 f'{STIFFNESS_TABLE_VERSION}')
            profiles = {key[2:]: data[key] for key in data.files if key.startswith('k_')}
            table = cls(data['phase'], profiles)
        missing = sorted(set(TASKS_BY_ID) - set(table.profiles))
        if missing:
            raise ValueError(f'{path}: no stiffness profile for tasks {missing}')
        return table


class ReferenceSource(Protocol):
    """What policy_node and the evaluation harness drive: oracle, learned policy, ProMP.

    ``set_task_text`` is called once per /task_text message (text encoded once);
    ``reference`` at the policy rate with the latest exo joint state.
    """

    def set_task_text(self, text: str, t: float) -> Task | None:
        """Resolve ``text`` at time ``t`` (s); None when it names no known task."""

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """Reference angle and stiffness at time ``t`` given the exo state."""


class OracleReferenceSource:
    """Reference angle + stiffness for the task named by the last task text.

    Args:
        table: fitted stiffness profiles (default: the shipped table).
        compliant_stiffness: stiffness used at rest and for unknown text, N*m/rad.
        resolver: text -> Task | None (e.g. :class:`exo_policy.language.TaskResolver`);
            default: exact match of the normalised text in the task library.

    """

    def __init__(self, table: StiffnessTable | None = None,
                 compliant_stiffness: float = 2.0, resolver=None) -> None:
        if not math.isfinite(compliant_stiffness) or compliant_stiffness <= 0:
            raise ValueError(f'compliant_stiffness must be > 0 N*m/rad, got {compliant_stiffness}')
        self._table = table if table is not None else StiffnessTable.load()
        self._compliant = float(compliant_stiffness)
        self._resolve = resolver if resolver is not None else find_task
        self._task: Task | None = None
        self._trajectory: ReferenceTrajectory | None = None
        self._t0 = 0.0

    @property
    def task(self) -> Task | None:
        """The task being followed, or None at rest / after unknown text."""
        return self._task

    def set_task_text(self, text: str, t: float) -> Task | None:
        """Resolve ``text`` at time ``t`` (s); returns the task, or None (then at rest)."""
        task = self._resolve(text)
        self._task = task
        self._trajectory = ReferenceTrajectory(task) if task is not None else None
        self._t0 = float(t)
        return task

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """Reference at time ``t`` (s) given the measured exo angle ``q`` (rad), ``qd``.

        Called at the policy rate (the :class:`ReferenceSource` protocol); the oracle only
        uses ``q``, to hold it when no task is known.
        """
        del qd
        if self._task is None or self._trajectory is None:
            hold = q if math.isfinite(q) else float('nan')
            return ImpedanceTarget(hold, 0.0, self._compliant, '', 0.0, SOURCE_FALLBACK)
        tau = t - self._t0
        q, qd, _ = self._trajectory(tau)
        k = self._table.stiffness(self._task.task_id, self._trajectory.phase(tau))
        return ImpedanceTarget(float(q), float(qd), k, self._task.task_id, 1.0, SOURCE_ORACLE)
