"""ProMP baseline (Paraschos et al. 2013): per-task reference angle and stiffness vs phase.

The paper's baseline (section V-B, condition 3) generates the reference joint trajectory and
the interaction stiffness from Probabilistic Movement Primitives. Here one ProMP per task is
fitted with :class:`movement_primitives.promp.ProMP` (EM over demonstrations) jointly over
the 2-D trajectory ``y(phase) = (q_target, k_int)`` of exactly the default policy's training
episodes and targets (``exo_fit_promp``, :func:`exo_experiments.fitting.training_columns`: the
bounded virtual equilibrium of the ``alpha = 0.5`` episodes of the training groups, the fair
baseline), in phase coordinates: the active phase [0, 1] of each episode is resampled to
``phase_points`` samples. Each dimension is standardised with the training mean/std (the
statistics travel with the model). At run time the reference is the ProMP mean at ``phase =
(t - t0 - onset) / task.duration_s`` with ``t0`` the instruction time and ``onset`` the mean
reaction time of the task's demonstrations (the only timing the ProMP has: no
proprioception; the values at phase 0 and 1 are held outside [0, 1]), the reference
velocity is the time derivative of the mean, and the stiffness is clipped to a positive
floor.

    exo_fit_promp --data data/exo_vic_v2 --out src/exo_policy/exo_policy/data/promp.npz
    exo_fit_promp --simulate 4 --out /tmp/promp.npz     # no dataset: in-process rollouts

The console script lives in :mod:`exo_experiments.fitting` (it can simulate); here are the pure
parts: demonstrations from a dataset table (:func:`demonstrations_from_table`), the model
(:class:`ProMPModel`, fitting and persistence) and the source (:class:`ProMPReferenceSource`,
a :class:`exo_policy.reference_source.ReferenceSourceBase`). No rclpy here.
"""

from __future__ import annotations

from importlib import resources
import json
import math
from pathlib import Path

import numpy as np

from exo_contract.dataset import CONDITION_EXO
from exo_contract.metrics import active_mask
from exo_contract.tasks import Task, TASKS_BY_ID
from exo_policy.reference_source import (
    bound_assistance,
    bound_lead,
    check_assist_bound,
    ImpedanceTarget,
    MAX_ASSIST_TORQUE_NM,
    MAX_LEAD_RAD,
    ReferenceSourceBase,
    Resolver,
)

SOURCE_PROMP = 'promp'
PROMP_MODEL_VERSION = 1
PHASE_POINTS = 100
N_WEIGHTS_PER_DIM = 30
# Dense grid on which the mean is tabulated for the 100 Hz run-time look-up.
RUNTIME_POINTS = 1001
# Positive floor of the generated stiffness, N*m/rad.
K_FLOOR = 1.0
# Episodes whose active phase covers less than [MIN_COVER_LO, MIN_COVER_HI] are skipped.
MIN_COVER_LO = 0.05
MIN_COVER_HI = 0.95
DIMS = ('q_ref', 'k_int')
TABLE_COLUMNS = ('episode', 'task_id', 'condition', 'phase', 'q_ref', 'k_int')
"""The dataset columns :func:`demonstrations_from_table` reads."""


def default_model_path() -> Path:
    """The shipped model, ``exo_policy/data/promp.npz``."""
    return Path(str(resources.files('exo_policy') / 'data' / 'promp.npz'))


def _promp_class():
    from movement_primitives.promp import ProMP  # noqa: PLC0415 -- heavy optional import
    return ProMP


def _mean_on_grid(n_weights_per_dim: int, weight_mean: np.ndarray,
                  grid: np.ndarray) -> np.ndarray:
    """ProMP mean (len(grid), 2) in standardised units; ``grid`` spans [0, 1]."""
    promp = _promp_class()(n_dims=len(DIMS), n_weights_per_dim=n_weights_per_dim)
    promp.from_weight_distribution(np.asarray(weight_mean, dtype=float),
                                   np.eye(len(weight_mean)))
    # The library normalises (in place) by max(T): always pass a fresh copy.
    return promp.mean_trajectory(np.array(grid, dtype=float, copy=True))


class ProMPModel:
    """One 2-D ProMP (q_ref, k_int) per task over the phase [0, 1].

    Attributes:
        n_weights_per_dim: RBFs per dimension.
        phase_points: samples per demonstration used for fitting.
        offset, scale: (2,) standardisation, ``y_std = (y - offset) / scale``.
        weight_mean: task_id -> (2 * n_weights_per_dim,) weight mean (standardised units).
        weight_cov: task_id -> (2W, 2W) weight covariance (standardised units).
        n_demos: task_id -> number of demonstrations.
        metadata: free-form provenance strings.

    """

    def __init__(self, n_weights_per_dim: int, phase_points: int, offset: np.ndarray,
                 scale: np.ndarray, weight_mean: dict[str, np.ndarray],
                 weight_cov: dict[str, np.ndarray], n_demos: dict[str, int],
                 metadata: dict[str, str] | None = None,
                 onset_s: dict[str, float] | None = None) -> None:
        if not (isinstance(n_weights_per_dim, (int, np.integer)) and n_weights_per_dim >= 2):
            raise ValueError(f'n_weights_per_dim must be an integer >= 2, got '
                             f'{n_weights_per_dim!r}')
        offset = np.asarray(offset, dtype=float)
        scale = np.asarray(scale, dtype=float)
        if offset.shape != (2,) or scale.shape != (2,) or np.any(scale <= 0) or not (
                np.all(np.isfinite(offset)) and np.all(np.isfinite(scale))):
            raise ValueError(f'offset/scale must be finite (2,) arrays, scale > 0, got '
                             f'{offset!r}, {scale!r}')
        n_w = 2 * int(n_weights_per_dim)
        for task_id, w in weight_mean.items():
            w = np.asarray(w, dtype=float)
            if w.shape != (n_w,) or not np.all(np.isfinite(w)):
                raise ValueError(f'weight mean of {task_id!r} must be finite ({n_w},), got '
                                 f'shape {w.shape}')
        self.n_weights_per_dim = int(n_weights_per_dim)
        self.phase_points = int(phase_points)
        self.offset = offset
        self.scale = scale
        self.weight_mean = {k: np.asarray(v, dtype=float) for k, v in weight_mean.items()}
        self.weight_cov = {k: np.asarray(v, dtype=float) for k, v in weight_cov.items()}
        self.n_demos = {k: int(v) for k, v in n_demos.items()}
        self.metadata = dict(metadata or {})
        self.onset_s = {str(k): float(v) for k, v in (onset_s or {}).items()}
        for task_id, value in self.onset_s.items():
            if not (math.isfinite(value) and 0.0 <= value <= 5.0):
                raise ValueError(f'onset_s of {task_id!r} must be in [0, 5] s, got {value!r}')
        self._grid = np.linspace(0.0, 1.0, RUNTIME_POINTS)
        self._tables: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for task_id in self.weight_mean:
            y = self.mean(task_id, self._grid)
            dq = np.gradient(y[:, 0], self._grid)
            self._tables[task_id] = (y[:, 0].copy(), dq, y[:, 1].copy())

    @property
    def task_ids(self) -> list[str]:
        """Tasks with a fitted ProMP."""
        return list(self.weight_mean)

    def mean(self, task_id: str, phase: np.ndarray) -> np.ndarray:
        """Mean trajectory (P, 2) = (q_ref rad, k_int N*m/rad) at ``phase`` (P,) in [0, 1].

        Evaluated exactly by the library on the grid ``[0, phase...]`` (its time
        normalisation needs the grid's maximum to be 1); stiffness is not clipped here.
        """
        phase = np.clip(np.atleast_1d(np.asarray(phase, dtype=float)), 0.0, 1.0)
        grid = np.concatenate((phase, [1.0]))
        y = _mean_on_grid(self.n_weights_per_dim, self.weight_mean[task_id], grid)[:-1]
        return y * self.scale + self.offset

    def sample(self, task_id: str, phase: np.ndarray) -> tuple[float, float, float]:
        """Run-time look-up at one phase: ``(q rad, dq/dphase rad, k N*m/rad)``, clipped.

        Linear interpolation of the mean tabulated on a dense grid; the phase is clipped to
        [0, 1] (the end value is held after the task) and the stiffness to ``K_FLOOR``.
        """
        q, dq, k = self._tables[task_id]
        p = min(max(float(phase), 0.0), 1.0)
        if p >= 1.0:
            return float(q[-1]), 0.0, max(float(k[-1]), K_FLOOR)
        return (float(np.interp(p, self._grid, q)), float(np.interp(p, self._grid, dq)),
                max(float(np.interp(p, self._grid, k)), K_FLOOR))

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, demos: dict[str, np.ndarray], n_weights_per_dim: int = N_WEIGHTS_PER_DIM,
            metadata: dict[str, str] | None = None, n_iter: int = 200,
            onset_s: dict[str, float] | None = None) -> 'ProMPModel':
        """Fit one ProMP per task.

        Args:
            demos: task_id -> (n_demos, phase_points, 2) demonstrations (q_ref, k_int) on
                the uniform phase grid ``linspace(0, 1, phase_points)``.
            n_weights_per_dim: RBFs per dimension.
            metadata: provenance strings stored with the model.
            n_iter: maximum EM iterations of ``ProMP.imitate``.
            onset_s: task_id -> mean movement onset after the instruction in the
                demonstrations, s (the run-time phase starts that long after the
                instruction; default 0).

        """
        if not demos:
            raise ValueError('no demonstrations to fit')
        shapes = {v.shape[1:] for v in demos.values()}
        if len(shapes) != 1 or next(iter(shapes))[1] != 2:
            raise ValueError(f'demonstrations must all be (n, P, 2), got shapes {shapes}')
        stacked = np.concatenate([v.reshape(-1, 2) for v in demos.values()])
        if not np.all(np.isfinite(stacked)):
            raise ValueError('demonstrations must be finite')
        offset = stacked.mean(axis=0)
        scale = np.maximum(stacked.std(axis=0), 1e-6)
        points = next(iter(shapes))[0]
        grid = np.linspace(0.0, 1.0, points)
        promp_cls = _promp_class()
        means, covs, counts = {}, {}, {}
        for task_id, y in demos.items():
            ys = (np.asarray(y, dtype=float) - offset) / scale
            promp = promp_cls(n_dims=2, n_weights_per_dim=n_weights_per_dim)
            ts = np.tile(grid, (len(ys), 1))
            promp.imitate(ts, ys, n_iter=n_iter)
            means[task_id] = np.asarray(promp.weight_mean, dtype=float)
            covs[task_id] = np.asarray(promp.weight_cov, dtype=float)
            counts[task_id] = len(ys)
        return cls(n_weights_per_dim, points, offset, scale, means, covs, counts, metadata,
                   onset_s)

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path) -> None:
        """Write a compressed .npz (format version ``PROMP_MODEL_VERSION``, JSON header)."""
        header = {'version': PROMP_MODEL_VERSION, 'dims': list(DIMS),
                  'n_weights_per_dim': self.n_weights_per_dim,
                  'phase_points': self.phase_points, 'offset': self.offset.tolist(),
                  'scale': self.scale.tolist(), 'tasks': self.task_ids,
                  'n_demos': self.n_demos, 'metadata': self.metadata,
                  'onset_s': self.onset_s}
        arrays = {}
        for task_id in self.task_ids:
            arrays[f'mean_{task_id}'] = self.weight_mean[task_id]
            arrays[f'cov_{task_id}'] = self.weight_cov[task_id]
        np.savez_compressed(path, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: Path | None = None, require_all_tasks: bool = True) -> 'ProMPModel':
        """Load a model; the default is the one shipped in ``exo_policy/data/promp.npz``."""
        if path is None:
            path = default_model_path()
        with np.load(path) as data:
            header = json.loads(str(data['header']))
            version = int(header.get('version', -1))
            if version != PROMP_MODEL_VERSION:
                raise ValueError(f'{path}: ProMP model version {version}, expected '
                                 f'{PROMP_MODEL_VERSION}')
            tasks = header['tasks']
            means = {t: data[f'mean_{t}'] for t in tasks}
            covs = {t: data[f'cov_{t}'] for t in tasks}
        model = cls(header['n_weights_per_dim'], header['phase_points'], header['offset'],
                    header['scale'], means, covs, header['n_demos'], header['metadata'],
                    header.get('onset_s'))
        missing = sorted(set(TASKS_BY_ID) - set(model.task_ids))
        if require_all_tasks and missing:
            raise ValueError(f'{path}: no ProMP for tasks {missing}')
        return model


# ---------------------------------------------------------------------- data
def demonstrations_from_table(table, phase_points: int = PHASE_POINTS,
                              condition: str = CONDITION_EXO) -> dict[str, np.ndarray]:
    """Per-task demonstrations (n, phase_points, 2) from a dataset table.

    Args:
        table: ``pyarrow.Table`` (e.g. :func:`exo_contract.dataset.load_dataset` with
            :data:`TABLE_COLUMNS`) or a dict of equal-length columns, with at least
            ``episode, task_id, condition, phase, q_ref, k_int``; one row per step, ``phase``
            -1 at rest and in [0, 1] in the task (the active phase, ``0 < phase < 1``,
            :func:`exo_contract.metrics.active_mask`, is used).
        phase_points: samples of the uniform phase grid.
        condition: episodes of this condition are used ('exo': k_int is defined).

    Episodes with a non-finite k_int in the task, or whose active phase does not cover
    [0.05, 0.95], are skipped.

    """
    cols = {}
    for name in TABLE_COLUMNS:
        col = table[name]
        cols[name] = np.asarray(col.to_numpy() if hasattr(col, 'to_numpy') else col)
    keep = (cols['condition'] == condition) & active_mask(cols['phase'])
    episode = cols['episode'][keep]
    task = cols['task_id'][keep].astype(str)
    phase = cols['phase'][keep].astype(float)
    y = np.stack([cols['q_ref'][keep], cols['k_int'][keep]], axis=1).astype(float)
    grid = np.linspace(0.0, 1.0, phase_points)
    order = np.lexsort((phase, episode))
    episode, task, phase, y = episode[order], task[order], phase[order], y[order]
    bounds = np.flatnonzero(np.diff(episode)) + 1
    out: dict[str, list[np.ndarray]] = {}
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(episode)], strict=True):
        p, yy = phase[lo:hi], y[lo:hi]
        if hi - lo < 4 or p[0] > MIN_COVER_LO or p[-1] < MIN_COVER_HI:
            continue
        if not np.all(np.isfinite(yy)):
            continue
        p, idx = np.unique(p, return_index=True)
        yy = yy[idx]
        demo = np.stack([np.interp(grid, p, yy[:, d]) for d in range(2)], axis=1)
        out.setdefault(str(task[lo]), []).append(demo)
    return {k: np.stack(v) for k, v in out.items()}


def subsample_demonstrations(demos: dict[str, np.ndarray], max_demos: int,
                             seed: int = 0) -> dict[str, np.ndarray]:
    """At most ``max_demos`` demonstrations per task, drawn without replacement (order kept).

    ``max_demos <= 0`` keeps them all.
    """
    if max_demos <= 0:
        return dict(demos)
    rng = np.random.default_rng(seed)
    return {k: v[np.sort(rng.choice(len(v), min(len(v), max_demos), replace=False))]
            for k, v in demos.items()}


def fit_summary(model: ProMPModel, demos: dict[str, np.ndarray]) -> list[str]:
    """One line per task: demonstrations, ranges of the mean, RMSE of the mean vs the data."""
    lines = []
    for task_id in model.task_ids:
        grid = np.linspace(0.0, 1.0, demos[task_id].shape[1])
        y = model.mean(task_id, grid)
        err = np.sqrt(np.mean((y - demos[task_id].mean(axis=0)) ** 2, axis=0))
        lines.append(f'{task_id:<16} demos {model.n_demos[task_id]:4d}  q {y[:, 0].min():5.2f}..'
                     f'{y[:, 0].max():5.2f} rad  K {y[:, 1].min():6.1f}..{y[:, 1].max():6.1f}  '
                     f'fit RMSE q {err[0]:.4f} rad, K {err[1]:.2f}')
    return lines


# ---------------------------------------------------------------------- source
class ProMPReferenceSource(ReferenceSourceBase):
    """Reference angle + stiffness from the task's ProMP mean (the paper's baseline).

    Args:
        model: fitted model (default: the shipped ``exo_policy/data/promp.npz``).
        resolver: text -> task resolution (:class:`exo_language.resolver.TaskResolver`);
            default: :func:`exo_policy.reference_source.default_resolver`.
        compliant_stiffness: stiffness at rest and for unknown text, N*m/rad.

    """

    def __init__(self, model: ProMPModel | None = None, resolver: Resolver | None = None,
                 compliant_stiffness: float = 2.0,
                 max_assist_torque: float = MAX_ASSIST_TORQUE_NM) -> None:
        super().__init__(resolver, compliant_stiffness)
        self._model = model if model is not None else ProMPModel.load()
        self.max_assist_torque = check_assist_bound(max_assist_torque)

    def accepts(self, task: Task) -> bool:
        """Only tasks with a fitted ProMP."""
        return task.task_id in self._model.weight_mean

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """ProMP mean at phase ``(t - t0 - onset) / duration`` (held outside [0, 1]).

        ``t0`` is the instruction time and ``onset`` the demonstrations' mean reaction time
        (the only timing an open-loop primitive has); fallback if no task.
        """
        task = self._task
        if task is None:
            return self.fallback(q)
        phase = (t - self._t0 - self._model.onset_s.get(task.task_id, 0.0)) / task.duration_s
        q_ref, dq_dphase, k = self._model.sample(task.task_id, phase)
        qd_ref = dq_dphase / task.duration_s if 0.0 <= phase < 1.0 else 0.0
        # The same assistance bound as the default policy (like with like): a saturation
        # on the measured angle, not a conditioning of the primitive's phase; the lead within
        # the controller's max_lead (beyond it the reference moves with the arm).
        q_ref = bound_assistance(q, q_ref, k, self.max_assist_torque)
        q_ref, qd_ref = bound_lead(q, q_ref, qd, qd_ref, MAX_LEAD_RAD)
        return ImpedanceTarget(q_ref, qd_ref, k, task.task_id, self._confidence, SOURCE_PROMP)
