"""Training windows from the dataset's step table (one row per 100 Hz step).

The table is read with :func:`exo_contract.dataset.load_dataset` (format version 2, checked),
columns :data:`REQUIRED_COLUMNS` plus :func:`columns_needed`.

A window ending at step t of an episode holds the physical exo state ``(q_exo, qd_exo)`` at
steps ``t-T+1 .. t`` (the episode's first sample repeats before its start, as the runtime's
ring buffer does), the targets ``q_ref(t)`` (the human's reference q_d) and ``k_int(t)``
(eq. 4), and the episode's instruction text. Only ``condition == 'exo'`` rows with finite
values are used. Train/validation are split by trajectory group, per task,
deterministically (:func:`exo_contract.dataset.split_groups`): the episodes of one group
(one task, body mass and repetition, every alpha: the same intended motion) are all on one
side, so validation measures how the policy does on trajectories it has not seen.

With ``reference_target='assist'`` (the default policy's) the angle target is instead the
virtual equilibrium ``q_v = q_exo + clip(-tau_ext / k_int, -max_lead, max_lead)`` (the
reference that makes the impedance law, with ``K = k_int``, reproduce the recorded cuff
torque; the lead is bounded because the quotient is ill-conditioned where the eq. 4 fit's
stiffness sits near its floor; needs the ``tau_ext`` column), and ``alphas`` keeps only the
episodes of those eq. 3 assistance ratios (needs ``alpha``). With ``'human'`` it is the
human's reference ``q_ref`` (the paper's literal formulation, an ablation).
During training the canonical text is replaced, with probability ``paraphrase_prob``, by a
random paraphrase / casing / punctuation / filler variant (:mod:`exo_language.paraphrases`).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exo_contract.dataset import ACTIVATION_COLUMNS, CONDITION_EXO, SCHEMA, split_groups
from exo_contract.tasks import ReferenceTrajectory, TASKS, TASKS_BY_ID, TrajectoryParams
from exo_language.paraphrases import augment_text
from exo_policy.configuration import PolicyConfig
from exo_policy.processing import Normalizer, WordTokenizer

REQUIRED_COLUMNS = ('episode', 'group', 'task_id', 'text', 'condition', 't', 'phase', 'q_exo',
                    'qd_exo', 'q_ref', 'k_int')
ASSIST_COLUMNS = ('tau_ext', 'alpha')
REFERENCE_TARGETS = ('human', 'assist')
ALPHA_TOLERANCE = 1e-4


def columns_needed(reference_target: str = 'human', alphas: tuple[float, ...] = ()
                   ) -> tuple[str, ...]:
    """Columns beyond :data:`REQUIRED_COLUMNS` that :func:`episodes_from_table` needs.

    Read a dataset for training with ``load_dataset(path, REQUIRED_COLUMNS +
    columns_needed(...))`` (:func:`exo_contract.dataset.load_dataset`).
    """
    extra = []
    if reference_target == 'assist':
        extra.append('tau_ext')
    if alphas:
        extra.append('alpha')
    return tuple(extra)


@dataclass
class Episode:
    """One exo episode, arrays (N,) in time order.

    Attributes:
        episode: id. group: trajectory group (task, mass, repetition; shared by the
        conditions). task_id, text: task and canonical instruction. state: (N, 2) physical
        ``(q_exo, qd_exo)``. q_ref: (N,) rad, the angle target (the human's reference, or
        the virtual equilibrium ``q_v`` for ``reference_target='assist'``). k_int: (N,)
        N*m/rad. phase: (N,) task phase (-1 at rest, [0, 1] in the task; the ProMP
        baseline is fitted on it).

    """

    episode: int
    task_id: str
    text: str
    state: np.ndarray
    q_ref: np.ndarray
    k_int: np.ndarray
    group: int = -1
    phase: np.ndarray | None = None


def angle_target(q_exo: np.ndarray, q_ref: np.ndarray, tau_ext: np.ndarray | None,
                 k_int: np.ndarray, reference_target: str, max_lead: float) -> np.ndarray:
    """The angle head's target (N,) rad; inputs (N,).

    ``q_ref`` for 'human', the bounded virtual equilibrium
    ``q_exo + clip(-tau_ext / k_int, +-max_lead)`` for 'assist'.
    """
    if reference_target == 'human':
        return np.asarray(q_ref, dtype=np.float64)
    if reference_target != 'assist':
        raise ValueError(f'reference_target must be one of {REFERENCE_TARGETS}, got '
                         f'{reference_target!r}')
    if not (isinstance(max_lead, (int, float)) and max_lead > 0):
        raise ValueError(f'max_lead must be > 0 rad, got {max_lead!r}')
    if tau_ext is None:
        raise ValueError("the 'assist' target needs the tau_ext column")
    lead = -np.asarray(tau_ext, dtype=np.float64) / np.asarray(k_int, dtype=np.float64)
    return np.asarray(q_exo, dtype=np.float64) + np.clip(lead, -max_lead, max_lead)


def episodes_from_table(table: pa.Table, reference_target: str = 'human',
                        alphas: tuple[float, ...] = (), max_lead: float = math.inf
                        ) -> list[Episode]:
    """Split the table into exo episodes (non-finite rows dropped), sorted by episode id.

    Args:
        table: the step table.
        reference_target: 'human' (target ``q_ref``) or 'assist' (target
            ``q_exo - tau_ext / k_int``).
        alphas: keep only rows whose ``alpha`` is one of these (() = all).
        max_lead: bound of the 'assist' lead ``|q_v - q_exo|``, rad (> 0).

    """
    if reference_target not in REFERENCE_TARGETS:
        raise ValueError(f'reference_target must be one of {REFERENCE_TARGETS}, got '
                         f'{reference_target!r}')
    needed = REQUIRED_COLUMNS + columns_needed(reference_target, alphas)
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise ValueError(f'step table lacks columns {missing}')
    table = table.filter(pc.equal(table['condition'], CONDITION_EXO))
    cols = {c: table[c].to_numpy(zero_copy_only=False) for c in needed}
    order = np.lexsort((cols['t'], cols['episode']))
    cols = {c: v[order] for c, v in cols.items()}
    finite = np.ones(len(order), dtype=bool)
    for c in ('q_exo', 'qd_exo', 'q_ref', 'k_int'):
        finite &= np.isfinite(cols[c].astype(float))
    if reference_target == 'assist':
        finite &= np.isfinite(cols['tau_ext'].astype(float)) & (cols['k_int'] > 0)
    if alphas:
        alpha = cols['alpha'].astype(float)
        finite &= np.any(np.abs(alpha[:, None] - np.asarray(alphas, float)[None, :])
                         <= ALPHA_TOLERANCE, axis=1)
    cols = {c: v[finite] for c, v in cols.items()}
    cols['q_ref'] = angle_target(cols['q_exo'], cols['q_ref'], cols.get('tau_ext'),
                                 cols['k_int'], reference_target, max_lead)
    ep = cols['episode']
    if ep.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(ep)) + 1
    episodes = []
    for sl in np.split(np.arange(ep.size), cuts):
        episodes.append(Episode(
            episode=int(ep[sl[0]]), task_id=str(cols['task_id'][sl[0]]),
            text=str(cols['text'][sl[0]]),
            state=np.stack([cols['q_exo'][sl], cols['qd_exo'][sl]], axis=1).astype(np.float32),
            q_ref=cols['q_ref'][sl].astype(np.float32),
            k_int=cols['k_int'][sl].astype(np.float32), group=int(cols['group'][sl[0]]),
            phase=cols['phase'][sl].astype(np.float64)))
    return episodes


def episode_columns(episodes: list[Episode]) -> dict[str, np.ndarray]:
    """The episodes as step columns ``episode, task_id, condition, phase, q_ref, k_int``.

    ``q_ref`` is each episode's angle target (what the policy's angle head learns), so a
    model fitted on these columns (the ProMP baseline,
    :func:`exo_policy.promp.demonstrations_from_table`) sees the same targets and episodes.
    """
    if any(e.phase is None for e in episodes):
        raise ValueError('episodes lack the phase column')
    return {
        'episode': np.concatenate([np.full(len(e.q_ref), e.episode) for e in episodes]),
        'task_id': np.concatenate([np.full(len(e.q_ref), e.task_id) for e in episodes]),
        'condition': np.full(sum(len(e.q_ref) for e in episodes), CONDITION_EXO),
        'phase': np.concatenate([e.phase for e in episodes]),
        'q_ref': np.concatenate([e.q_ref for e in episodes]).astype(np.float64),
        'k_int': np.concatenate([e.k_int for e in episodes]).astype(np.float64),
    }


def split_episodes(episodes: list[Episode], val_fraction: float,
                   seed: int) -> tuple[list[Episode], list[Episode]]:
    """Deterministic split by trajectory group, per task (never one group on both sides).

    :func:`exo_contract.dataset.split_groups` over the episodes' groups: every task with
    >= 2 groups gets >= 1 validation group.
    """
    groups = {e.group: e.task_id for e in episodes}
    _, val_groups = split_groups(groups, val_fraction, seed)
    val_set = set(val_groups)
    ordered = sorted(episodes, key=lambda e: e.episode)
    return ([e for e in ordered if e.group not in val_set],
            [e for e in ordered if e.group in val_set])


def fit_normalizer(episodes: list[Episode], stiffness_scale: float = 0.0) -> Normalizer:
    """Normalisation statistics of (training) episodes."""
    state = np.concatenate([e.state for e in episodes])
    return Normalizer.fit(state[:, 0], state[:, 1], np.concatenate([e.q_ref for e in episodes]),
                          np.concatenate([e.k_int for e in episodes]), stiffness_scale)


class WindowSet:
    """All windows of a list of episodes, gathered in batches.

    Args:
        episodes: the episodes.
        config: T, stride, paraphrase probability.
        normalizer: statistics applied to inputs and targets.
        tokenizer: text -> ids.
        augment: replace texts by random variants (training only).
        stride: take every ``stride``-th step as a window end.

    """

    def __init__(self, episodes: list[Episode], config: PolicyConfig, normalizer: Normalizer,
                 tokenizer: WordTokenizer, augment: bool = False, stride: int = 1) -> None:
        if not episodes:
            raise ValueError('WindowSet needs at least one episode')
        self.config = config
        self.tokenizer = tokenizer
        self.augment = augment
        self.episodes = episodes
        self.task_ids = sorted({e.task_id for e in episodes})
        task_index = {t: i for i, t in enumerate(self.task_ids)}
        lengths = [len(e.q_ref) for e in episodes]
        self._offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        self._state = normalizer.normalize_history(np.concatenate([e.state for e in episodes]))
        self._q = normalizer.normalize_qref(np.concatenate([e.q_ref for e in episodes]),
                                            np.concatenate([e.state[:, 0] for e in episodes]))
        self._k = normalizer.normalize_k(np.concatenate([e.k_int for e in episodes]))
        ends, eps = [], []
        for i, n in enumerate(lengths):
            local = np.arange(0, n, stride)
            ends.append(local)
            eps.append(np.full(local.size, i))
        self._end = np.concatenate(ends)
        self._ep = np.concatenate(eps)
        self._tokens = tokenizer.encode_batch([e.text for e in episodes])
        self.window_task = np.array([task_index[episodes[i].task_id] for i in self._ep])

    def __len__(self) -> int:
        """Number of windows."""
        return int(self._end.size)

    def batch(self, index: np.ndarray, rng: random.Random | None = None) -> dict[str, np.ndarray]:
        """Gather windows ``index`` (B,).

        Returns:
            ``history`` (B, T, 2) float32 normalised, ``tokens`` (B, L) int64, ``q`` (B,)
            normalised target offset ``q_ref - q_exo`` (see :class:`Normalizer`), ``k`` (B,)
            k_int / k_scale, ``task`` (B,) index in task_ids.

        """
        index = np.asarray(index, dtype=np.int64)
        ep = self._ep[index]
        end = self._end[index]
        offs = self._offsets[ep]
        t = self.config.history_steps
        local = np.clip(end[:, None] + np.arange(-t + 1, 1)[None, :], 0, None)
        history = self._state[offs[:, None] + local]
        tokens = self._tokens[ep].copy()
        if self.augment and rng is not None and self.config.paraphrase_prob > 0:
            for row, e in enumerate(ep.tolist()):
                if rng.random() < self.config.paraphrase_prob:
                    episode = self.episodes[e]
                    task = TASKS_BY_ID.get(episode.task_id)
                    aliases = task.aliases if task is not None else ()
                    tokens[row] = self.tokenizer.encode(
                        augment_text(rng, episode.task_id, episode.text, aliases))
        return {'history': history, 'tokens': tokens, 'q': self._q[offs + end],
                'k': self._k[offs + end], 'task': self.window_task[index]}


def synthetic_table(episodes_per_task: int = 2, seed: int = 0, rate_hz: float = 100.0,
                    tasks: tuple[str, ...] | None = None) -> pa.Table:
    """A small step table in the dataset format, without physics (tests and smoke runs).

    Every column of :data:`exo_contract.dataset.SCHEMA` is filled (write it with
    :func:`exo_contract.dataset.write_dataset`). The exo angle lags the task reference
    through a first-order filter plus noise; ``k_int`` is a smooth positive function of the
    phase and the payload; ``alpha`` cycles 0.5, 0.5, 1 over the repetitions of a task and
    ``tau_ext`` is a smooth cuff torque whose virtual equilibrium ``q_exo - tau_ext / k_int``
    leads the exo by about 0.1 rad. ``phase`` is -1 at rest (0.5 s before and after the
    task). The human follows the exo (``q_human = q_exo``); the muscle columns are smooth
    placeholders (70 kg, ``tau_exo = alpha * tau_bio``). Repetitions 1 and 2 of a task share
    a trajectory group (every other repetition has its own); ``q_intent`` is ``q_ref`` 30 ms
    ahead.
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {c: [] for c in SCHEMA.names}
    ep = 0
    group = -1
    for task in TASKS:
        if tasks is not None and task.task_id not in tasks:
            continue
        for rep in range(episodes_per_task):
            if rep != 2:  # repetitions 1 and 2 share a group
                group += 1
            params = TrajectoryParams(amplitude_scale=float(rng.uniform(0.9, 1.1)),
                                      duration_scale=float(rng.uniform(0.9, 1.1)))
            ref = ReferenceTrajectory(task, params)
            t = np.arange(0.0, ref.duration + 1.0, 1.0 / rate_hz)
            q_ref, _, _ = ref(t - 0.5)
            q_intent, _, _ = ref(t - 0.5 + 0.03)
            lag = 1.0 - math.exp(-1.0 / (rate_hz * 0.08))
            q = np.empty_like(q_ref)
            q[0] = q_ref[0]
            for i in range(1, q.size):
                q[i] = q[i - 1] + lag * (q_ref[i] - q[i - 1])
            q += rng.normal(0.0, 0.002, q.size)
            qd = np.gradient(q, 1.0 / rate_hz)
            tau = (t - 0.5) / ref.duration
            progress = np.clip(tau, 0.0, 1.0)
            k = 10.0 + 4.0 * task.payload_kg + 20.0 * np.sin(np.pi * progress) ** 2
            alpha = (0.5, 0.5, 1.0)[rep % 3]
            tau_bio = 1.0 + 2.0 * task.payload_kg * np.sin(np.pi * progress) ** 2
            activation = 0.05 + 0.2 * np.sin(np.pi * progress) ** 2
            n = t.size
            rows['episode'] += [ep] * n
            rows['task_id'] += [task.task_id] * n
            rows['text'] += [task.text] * n
            rows['condition'] += [CONDITION_EXO] * n
            rows['alpha'] += [alpha] * n
            rows['body_mass_kg'] += [70.0] * n
            rows['repetition'] += [rep] * n
            rows['group'] += [group] * n
            rows['seed'] += [seed] * n
            rows['noise_seed'] += [seed + ep] * n
            rows['t'] += t.tolist()
            rows['phase'] += np.where((tau >= 0.0) & (tau <= 1.0), tau, -1.0).tolist()
            rows['q_ref'] += q_ref.tolist()
            rows['q_intent'] += q_intent.tolist()
            rows['q_exo'] += q.tolist()
            rows['qd_exo'] += qd.tolist()
            rows['q_human'] += q.tolist()
            rows['qd_human'] += qd.tolist()
            rows['tau_ext'] += (-0.1 * k * np.sin(np.pi * progress) * (1 + 0.1 * task.payload_kg)
                                ).tolist()
            rows['tau_exo'] += (alpha * tau_bio).tolist()
            rows['tau_bio'] += tau_bio.tolist()
            rows['k_int'] += k.tolist()
            for name in ACTIVATION_COLUMNS:
                rows[name] += activation.tolist()
            rows['co_contraction_index'] += (0.2 + 0.1 * progress).tolist()
            rows['metabolic_power'] += (20.0 + 100.0 * activation).tolist()
            ep += 1
    return pa.Table.from_arrays([pa.array(rows[f.name], f.type) for f in SCHEMA],
                                schema=SCHEMA)


__all__ = ['Episode', 'WindowSet', 'columns_needed', 'episodes_from_table', 'fit_normalizer',
           'REQUIRED_COLUMNS', 'split_episodes', 'synthetic_table']
