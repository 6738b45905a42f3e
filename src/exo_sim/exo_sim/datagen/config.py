"""What data generation simulates: :class:`DatagenConfig`, the episode specs and their seeds.

Seeds: the seed of an episode is derived with ``np.random.SeedSequence(base_seed,
spawn_key=(mission, round(mass_g), repetition))`` and draws its
:class:`~exo_contract.tasks.TrajectoryParams`
(:func:`~exo_contract.tasks.sample_trajectory_params` with ``spread``). It is deliberately
shared by all conditions of the same (task, mass, repetition): the conditions are paired
(same reference motion), as in the paper's within-subject comparison, and a subset of
tasks/masses reproduces the same episodes as the full set. The simulation itself is
deterministic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
import os

import numpy as np

from exo_contract.dataset import CONDITION_EXO, CONDITION_NO_EXO
from exo_contract.tasks import TASKS, TASKS_BY_ID
from exo_sim.episodes import REST_AFTER_S, REST_BEFORE_S
from exo_sim.stiffness import DEFAULT_FIT, FitSettings

SIM_RATE_HZ = 1000.0


def _real(value: object) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(float(value)))


def _integer(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class DatagenConfig:
    """What :func:`exo_sim.datagen.generator.generate` simulates; recorded in the manifest.

    Attributes:
        tasks: task ids (default: all nine, :data:`exo_contract.tasks.TASKS` order).
        alphas: assistance ratios of eq. 3, each in [0, 1], distinct.
        masses: body masses in kg, each in [40, 150], distinct.
        repetitions: randomised repetitions per (task, mass, condition), >= 1.
        include_no_exo: also simulate the arm without the exoskeleton.
        spread: relative spread of the trajectory randomisation, in [0, 0.5]
            (:func:`exo_contract.tasks.sample_trajectory_params`).
        base_seed: base of the per-episode seeds, integer in [0, 2**63).
        sample_rate_hz: output rate; must divide the 1 kHz simulation rate.
        fit_window_s, k_min, k_max: the eq. 4 stiffness fit (:attr:`fit`; defaults:
            :data:`exo_sim.stiffness.DEFAULT_FIT`; fitted at 1 kHz).
        rest_before_s: rest at the baseline before the task, s, in [0, 10].
        rest_after_s: rest at the baseline after the task, s, in [0, 10].
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
    fit_window_s: float = DEFAULT_FIT.window_s
    k_min: float = DEFAULT_FIT.k_min
    k_max: float = DEFAULT_FIT.k_max
    rest_before_s: float = REST_BEFORE_S
    rest_after_s: float = REST_AFTER_S
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
        try:
            self.fit  # noqa: B018 -- validates the eq. 4 fit settings
        except ValueError as exc:
            raise ValueError(f'invalid eq. 4 fit settings (fit_window_s, k_min, k_max): '
                             f'{exc}') from None
        for name in ('rest_before_s', 'rest_after_s'):
            value = getattr(self, name)
            if not (_real(value) and 0 <= value <= 10.0):
                raise ValueError(f'{name} must be in [0, 10] s, got {value!r}')
        if not (_integer(self.workers) and self.workers >= 1):
            raise ValueError(f'workers must be an integer >= 1, got {self.workers!r}')

    @property
    def fit(self) -> FitSettings:
        """The eq. 4 fit settings of this configuration."""
        return FitSettings(window_s=self.fit_window_s, k_min=self.k_min, k_max=self.k_max)

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
