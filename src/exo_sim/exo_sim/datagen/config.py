"""What data generation simulates: :class:`DatagenConfig`, the episode specs and their seeds.

A **trajectory** (a *group*) is one (task, body mass, repetition). Its seed is derived with
``np.random.SeedSequence(base_seed, spawn_key=(mission, round(mass_g), repetition))`` and
draws the repetition's :class:`RepetitionVariation` (:func:`sample_variation`): movement
onset after the instruction (uniform in ``onset_range_s``, 0.2-1.0 s), speed (uniform
+-``speed_spread``, 20 %; ``duration_scale = 1 / speed``), amplitude (uniform
+-``amplitude_spread``, 15 %) and rest posture (uniform +-``baseline_spread_rad``). The
group is deliberately shared by all conditions (no exo, every alpha): the conditions are
paired (same intended motion), as in the paper's within-subject comparison, and a subset
of tasks/masses reproduces the same episodes as the full set. The motor-noise seed is
per episode (``spawn_key`` + the condition), as a person never repeats the same noise.

``base_seed`` 0 gives the dataset; the human's parameters were calibrated on other seeds
(``CALIBRATION_BASE_SEED``), so the reported numbers are not those it was tuned on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
import os

import numpy as np

from exo_contract.dataset import CONDITION_EXO, CONDITION_NO_EXO
from exo_contract.tasks import TASKS, TASKS_BY_ID, TrajectoryParams
from exo_sim.episodes import PRACTICE_REPETITIONS, REST_AFTER_S, REST_BEFORE_S
from exo_sim.human import DEFAULT_HUMAN, HumanConfig
from exo_sim.stiffness import DEFAULT_FIT, FitSettings

SIM_RATE_HZ = 1000.0
CALIBRATION_BASE_SEED = 1000
"""Base seed of the calibration set the human's parameters were tuned on (not the data)."""


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
        onset_range_s: (min, max) movement onset after the instruction, s, in [0, 5].
        speed_spread: relative spread of the movement speed, in [0, 0.4].
        amplitude_spread: relative spread of the amplitude, in [0, 0.4].
        baseline_spread_rad: spread of the rest posture, rad, in [0, 0.3].
        base_seed: base of the per-episode seeds, integer in [0, 2**63).
        human: the simulated human's parameters (:class:`exo_sim.human.HumanConfig`).
        practice_repetitions: practice before every recorded episode, in [0, 20]
            (:func:`exo_sim.episodes.practise`).
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
    onset_range_s: tuple[float, float] = (0.2, 1.0)
    speed_spread: float = 0.2
    amplitude_spread: float = 0.15
    baseline_spread_rad: float = 0.05
    base_seed: int = 0
    human: HumanConfig = DEFAULT_HUMAN
    practice_repetitions: int = PRACTICE_REPETITIONS
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
        onset = self.onset_range_s
        if not (isinstance(onset, tuple) and len(onset) == 2 and all(_real(v) for v in onset)
                and 0.0 <= onset[0] <= onset[1] <= 5.0):
            raise ValueError(f'onset_range_s must be a tuple (min, max) with 0 <= min <= max '
                             f'<= 5 s, got {onset!r}')
        for name, hi in (('speed_spread', 0.4), ('amplitude_spread', 0.4),
                         ('baseline_spread_rad', 0.3)):
            value = getattr(self, name)
            if not (_real(value) and 0.0 <= value <= hi):
                raise ValueError(f'{name} must be in [0, {hi:g}], got {value!r}')
        if not isinstance(self.human, HumanConfig):
            raise ValueError(f'human must be a HumanConfig, got {self.human!r}')
        if not (_integer(self.practice_repetitions) and 0 <= self.practice_repetitions <= 20):
            raise ValueError(f'practice_repetitions must be an integer in [0, 20], got '
                             f'{self.practice_repetitions!r}')
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
class RepetitionVariation:
    """How one repetition (a group: task x mass x repetition) differs from the nominal task.

    Attributes:
        onset_s: movement onset after the instruction, s.
        speed: movement speed relative to the nominal task (``duration_scale = 1 / speed``).
        amplitude_scale: amplitude relative to the nominal task.
        baseline_offset_rad: rest posture offset, rad.

    """

    onset_s: float = 0.0
    speed: float = 1.0
    amplitude_scale: float = 1.0
    baseline_offset_rad: float = 0.0

    @property
    def params(self) -> TrajectoryParams:
        """The reference's :class:`~exo_contract.tasks.TrajectoryParams`."""
        return TrajectoryParams(amplitude_scale=self.amplitude_scale,
                                duration_scale=1.0 / self.speed,
                                baseline_offset_rad=self.baseline_offset_rad)

    def to_json(self) -> dict:
        """Plain-JSON form, with the derived ``duration_scale``."""
        return {**asdict(self), 'duration_scale': 1.0 / self.speed}


def sample_variation(seed: int, config: DatagenConfig) -> RepetitionVariation:
    """Draw the :class:`RepetitionVariation` of a group from its trajectory ``seed``."""
    rng = np.random.default_rng(seed)
    lo, hi = config.onset_range_s
    onset, speed, amp, base = rng.uniform(0.0, 1.0, size=4)
    return RepetitionVariation(
        onset_s=float(round(lo + (hi - lo) * onset, 3)),
        speed=float(1.0 + config.speed_spread * (2.0 * speed - 1.0)),
        amplitude_scale=float(1.0 + config.amplitude_spread * (2.0 * amp - 1.0)),
        baseline_offset_rad=float(config.baseline_spread_rad * (2.0 * base - 1.0)))


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to simulate (picklable; sent to a worker).

    ``group`` numbers the trajectories (task, mass, repetition) in dataset order; ``seed``
    is the group's trajectory seed, ``noise_seed`` the episode's motor-noise seed.
    """

    episode: int
    task_id: str
    condition: str
    alpha: float
    body_mass_kg: float
    repetition: int
    seed: int
    group: int = 0
    noise_seed: int = 0


def _seed(base_seed: int, key: tuple[int, ...]) -> int:
    state = np.random.SeedSequence(int(base_seed), spawn_key=key).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def episode_seed(base_seed: int, task_id: str, body_mass_kg: float, repetition: int) -> int:
    """Deterministic seed (in [0, 2**63)) of the trajectory (group) of an episode.

    Depends only on the base seed, the task's mission number, the mass (in grams) and the
    repetition, so it is the same for every condition and for any subset of the config.
    """
    return _seed(base_seed, (TASKS_BY_ID[task_id].mission, int(round(body_mass_kg * 1000.0)),
                             int(repetition)))


def noise_seed(base_seed: int, task_id: str, body_mass_kg: float, repetition: int,
               condition: str, alpha: float) -> int:
    """Deterministic motor-noise seed (in [0, 2**63)) of one episode (differs per condition)."""
    level = -1 if condition == CONDITION_NO_EXO else int(round(float(alpha) * 1000.0))
    return _seed(base_seed, (TASKS_BY_ID[task_id].mission, int(round(body_mass_kg * 1000.0)),
                             int(repetition), 1, level + 1))


def episode_specs(config: DatagenConfig) -> list[EpisodeSpec]:
    """Every episode of ``config``, in dataset order (task, mass, repetition, condition)."""
    specs = []
    group = 0
    for task_id in config.tasks:
        for mass in config.masses:
            for rep in range(config.repetitions):
                seed = episode_seed(config.base_seed, task_id, mass, rep)
                for condition, alpha in config.conditions:
                    specs.append(EpisodeSpec(
                        len(specs), task_id, condition, alpha, float(mass), rep, seed, group,
                        noise_seed(config.base_seed, task_id, mass, rep, condition, alpha)))
                group += 1
    return specs
