"""The paper's nine missions: names, text commands, and smooth elbow reference trajectories.

Missions 1, 2, 4, 6 and 8 are single-peak ("bell"), 3, 7 and 9 double-peak, 5 triple-peak;
mission 9 is a bimanual carry (the box mass is shared by both arms). A reference trajectory
is a sum of non-overlapping rise-hold-fall bumps built from minimum-jerk segments, so q, qd
and qdd are analytic and continuous (C2), with a constant baseline before and after.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import re
import unicodedata

import numpy as np

# Elbow flexion range of the MyoSim model (r_elbow_flex), rad.
ELBOW_MIN_RAD = 0.0
ELBOW_MAX_RAD = 2.26893
# References keep this distance from the joint limits.
RANGE_MARGIN_RAD = 0.05
# Rest at the start and at the end of every task (before duration scaling), s.
REST_S = 0.5
# Fractions of each bump spent rising, holding and falling.
RISE_FRACTION = 0.4
HOLD_FRACTION = 0.2
# Relative height of successive peaks for each shape.
PEAK_HEIGHTS = {'bell': (1.0,), 'double': (1.0, 0.85), 'triple': (1.0, 0.9, 0.95)}

MAX_COMMAND_CHARS = 500


@dataclass(frozen=True)
class Task:
    """One mission of the paper.

    Attributes:
        task_id: short identifier, e.g. ``'lift_heavy'``.
        mission: mission number 1..9.
        name: human-readable name.
        text: canonical text command.
        aliases: other accepted phrasings.
        shape: ``'bell'``, ``'double'`` or ``'triple'`` (number of peaks 1, 2, 3).
        baseline_rad: elbow angle at rest, rad.
        amplitude_rad: peak elbow flexion above the baseline, rad.
        duration_s: total duration including rest at start and end, s.
        payload_kg: mass of the carried object, kg (for a bimanual task, the whole object).
        bimanual: True when both arms share the payload.

    """

    task_id: str
    mission: int
    name: str
    text: str
    aliases: tuple[str, ...]
    shape: str
    baseline_rad: float
    amplitude_rad: float
    duration_s: float
    payload_kg: float
    bimanual: bool = False

    def __post_init__(self) -> None:
        """Validate the task definition."""
        if self.shape not in PEAK_HEIGHTS:
            raise ValueError(f'shape must be one of {sorted(PEAK_HEIGHTS)}, got {self.shape!r}')
        if not 1 <= self.mission <= 9:
            raise ValueError(f'mission must be in [1, 9], got {self.mission!r}')
        peak = self.baseline_rad + self.amplitude_rad
        if not (ELBOW_MIN_RAD <= self.baseline_rad and peak <= ELBOW_MAX_RAD):
            raise ValueError(f'task angles must lie in the elbow range, got peak {peak!r}')
        if not self.duration_s > 2 * REST_S:
            raise ValueError(f'duration_s must exceed {2 * REST_S} s, got {self.duration_s!r}')

    @property
    def n_peaks(self) -> int:
        """Number of peaks of the reference (1, 2 or 3)."""
        return len(PEAK_HEIGHTS[self.shape])

    @property
    def payload_per_arm_kg(self) -> float:
        """Mass carried by one arm, kg (half the object for a bimanual task)."""
        return self.payload_kg / 2.0 if self.bimanual else self.payload_kg


TASKS: tuple[Task, ...] = (
    Task('ok_gesture', 1, 'OK gesture', 'make an ok gesture',
         ('ok sign', 'make the ok sign', 'ok gesture', 'show ok', 'okay gesture'),
         'bell', 0.3, 1.0, 4.0, 0.0),
    Task('thumbs_up', 2, 'Thumbs up', 'give a thumbs up',
         ('thumbs up', 'thumb up', 'give me a thumbs up', 'show a thumbs up'),
         'bell', 0.3, 1.1, 4.0, 0.0),
    Task('thumb_down', 3, 'Thumbs down', 'give a thumbs down',
         ('thumbs down', 'thumb down', 'give me a thumbs down', 'show a thumbs down'),
         'double', 0.3, 0.9, 5.0, 0.0),
    Task('drink', 4, 'Drink', 'drink from a cup',
         ('drink', 'take a drink', 'drink water', 'drink from the cup', 'have a sip'),
         'bell', 0.3, 1.6, 6.0, 0.3),
    Task('wave', 5, 'Wave', 'wave hello',
         ('wave', 'wave goodbye', 'wave your hand', 'say hello', 'wave bye'),
         'triple', 0.4, 0.7, 6.0, 0.0),
    Task('lift_light', 6, 'Lift light box', 'lift a light box',
         ('lift the light box', 'lift light box', 'pick up a light box', 'lift something light'),
         'bell', 0.3, 1.2, 5.0, 2.0),
    Task('shelf', 7, 'Box on shelf', 'put a box on a shelf',
         ('put the box on the shelf', 'place a box on a shelf', 'shelve the box',
          'put box on shelf'),
         'double', 0.3, 1.4, 7.0, 3.0),
    Task('lift_heavy', 8, 'Lift heavy box', 'lift a heavy box',
         ('lift the heavy box', 'lift heavy box', 'pick up a heavy box', 'lift something heavy'),
         'bell', 0.3, 1.2, 6.0, 10.0),
    Task('carry_bimanual', 9, 'Bimanual carry', 'carry a box with both hands',
         ('carry a box', 'carry the box', 'carry the box with both hands',
          'carry a box with two hands', 'bimanual carry'),
         'double', 0.3, 1.0, 8.0, 10.0, bimanual=True),
)

TASKS_BY_ID: dict[str, Task] = {task.task_id: task for task in TASKS}

_FILLER_PHRASES = ('can you', 'could you', 'would you', 'will you', 'i want you to',
                   'i would like you to', 'go ahead and', 'lets', 'let us')
_FILLER_WORDS = frozenset({'please', 'now', 'the', 'a', 'an', 'kindly', 'just', 'robot',
                           'exo', 'exoskeleton', 'hey', 'ok please'})


def normalize_text(text: str) -> str:
    """Normalise a command: lowercase, no punctuation/accents, single spaces, no filler words.

    Never raises; non-string input gives ``''``.
    """
    if not isinstance(text, str):
        return ''
    text = text[:MAX_COMMAND_CHARS]
    text = unicodedata.normalize('NFKD', text)
    text = ''.join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("'", '')
    text = re.sub(r'[^0-9a-z]+', ' ', text).strip()
    padded = f' {text} '
    for phrase in _FILLER_PHRASES:
        padded = padded.replace(f' {phrase} ', ' ')
    return ' '.join(w for w in padded.split() if w not in _FILLER_WORDS)


def _build_index() -> dict[str, Task]:
    index: dict[str, Task] = {}
    for task in TASKS:
        keys = (task.text, task.task_id, task.name, f'mission {task.mission}') + task.aliases
        for key in keys:
            norm = normalize_text(key)
            other = index.setdefault(norm, task)
            if other is not task:
                raise ValueError(f'ambiguous command {key!r} for {other.task_id} and '
                                 f'{task.task_id}')
    return index


_INDEX = _build_index()


def find_task(text: str) -> Task | None:
    """Return the task whose canonical text, alias, id or 'mission N' matches ``text``.

    Matching is exact after :func:`normalize_text`; anything else (including empty, very
    long or non-string input) gives ``None``. Never raises.
    """
    if not isinstance(text, str) or len(text) > MAX_COMMAND_CHARS:
        return None
    try:
        return _INDEX.get(normalize_text(text))
    except Exception:  # noqa: BLE001 -- a bad command must never crash the caller
        return None


@dataclass(frozen=True)
class TrajectoryParams:
    """Per-rollout variation of a task's reference.

    Attributes:
        amplitude_scale: multiplies the amplitude, in [0.5, 1.5].
        duration_scale: multiplies the duration (rests included), in [0.5, 2.0].
        baseline_offset_rad: added to the baseline, rad, in [-0.3, 0.3].

    """

    amplitude_scale: float = 1.0
    duration_scale: float = 1.0
    baseline_offset_rad: float = 0.0

    def __post_init__(self) -> None:
        """Reject invalid values with a message that quotes them."""
        for name, lo, hi in (('amplitude_scale', 0.5, 1.5), ('duration_scale', 0.5, 2.0),
                             ('baseline_offset_rad', -0.3, 0.3)):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)
                    and lo <= value <= hi):
                raise ValueError(f'{name} must be in [{lo}, {hi}], got {value!r}')


def sample_trajectory_params(rng: np.random.Generator, spread: float = 0.1) -> TrajectoryParams:
    """Draw random :class:`TrajectoryParams` around the nominal task.

    Args:
        rng: numpy random generator.
        spread: relative spread in [0, 0.5]: scales uniform in [1 - spread, 1 + spread], the
            baseline offset uniform in +-spread rad (clipped to the valid ranges).

    """
    if not (math.isfinite(spread) and 0.0 <= spread <= 0.5):
        raise ValueError(f'spread must be in [0, 0.5], got {spread!r}')
    amp, dur, off = rng.uniform(-spread, spread, size=3)
    return TrajectoryParams(amplitude_scale=float(np.clip(1.0 + amp, 0.5, 1.5)),
                            duration_scale=float(np.clip(1.0 + dur, 0.5, 2.0)),
                            baseline_offset_rad=float(np.clip(off, -0.3, 0.3)))


def _min_jerk(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-jerk step s(u) and its first/second derivatives w.r.t. u, for u in [0, 1]."""
    s = u * u * u * (10.0 + u * (-15.0 + 6.0 * u))
    ds = 30.0 * u * u * (1.0 - u) ** 2
    dds = 60.0 * u * (1.0 - u) * (1.0 - 2.0 * u)
    return s, ds, dds


class ReferenceTrajectory:
    """Smooth (C2) elbow reference of a task: baseline + sum of rise-hold-fall bumps.

    Args:
        task: the task.
        params: amplitude/duration/baseline variation; the result is kept at least
            ``RANGE_MARGIN_RAD`` inside the elbow range.

    """

    def __init__(self, task: Task, params: TrajectoryParams = TrajectoryParams()) -> None:
        """Precompute the bump schedule."""
        self.task = task
        self.params = params
        lo = ELBOW_MIN_RAD + RANGE_MARGIN_RAD
        hi = ELBOW_MAX_RAD - RANGE_MARGIN_RAD
        self.baseline = float(np.clip(task.baseline_rad + params.baseline_offset_rad, lo, hi))
        amplitude = task.amplitude_rad * params.amplitude_scale
        self.amplitude = float(min(amplitude, hi - self.baseline))
        self._duration = task.duration_s * params.duration_scale
        rest = REST_S * params.duration_scale
        heights = PEAK_HEIGHTS[task.shape]
        bump = (self._duration - 2.0 * rest) / len(heights)
        self._starts = rest + bump * np.arange(len(heights))
        self._heights = self.amplitude * np.asarray(heights)
        self._t_rise = RISE_FRACTION * bump
        self._t_hold = HOLD_FRACTION * bump
        self._bumps = list(zip(self._starts.tolist(), self._heights.tolist(), strict=True))

    @property
    def duration(self) -> float:
        """Total duration of the reference (rests included), s."""
        return self._duration

    def __call__(self, t: float | np.ndarray) -> tuple:
        """Evaluate the reference at time(s) ``t`` (s): ``(q, qd, qdd)``, rad, rad/s, rad/s^2.

        Scalars give floats; an array of shape (T,) gives three arrays of shape (T,).
        """
        if isinstance(t, (float, int)):
            return self._scalar(float(t))
        scalar = np.ndim(t) == 0
        tt = np.atleast_1d(np.asarray(t, dtype=float))
        q = np.full_like(tt, self.baseline)
        qd = np.zeros_like(tt)
        qdd = np.zeros_like(tt)
        tr, th = self._t_rise, self._t_hold
        for start, h in zip(self._starts, self._heights, strict=True):
            tau = tt - start
            rise = (tau > 0.0) & (tau < tr)
            hold = (tau >= tr) & (tau <= tr + th)
            fall = (tau > tr + th) & (tau < 2.0 * tr + th)
            s, ds, dds = _min_jerk(np.clip(tau / tr, 0.0, 1.0))
            q += h * np.where(rise, s, 0.0) + h * hold
            qd += h * np.where(rise, ds / tr, 0.0)
            qdd += h * np.where(rise, dds / tr**2, 0.0)
            s, ds, dds = _min_jerk(np.clip((tau - tr - th) / tr, 0.0, 1.0))
            q += h * np.where(fall, 1.0 - s, 0.0)
            qd -= h * np.where(fall, ds / tr, 0.0)
            qdd -= h * np.where(fall, dds / tr**2, 0.0)
        if scalar:
            return float(q[0]), float(qd[0]), float(qdd[0])
        return q, qd, qdd

    def _scalar(self, t: float) -> tuple[float, float, float]:
        """Pure-Python evaluation for one time (fast path for 1 kHz loops)."""
        q, qd, qdd = self.baseline, 0.0, 0.0
        tr, th = self._t_rise, self._t_hold
        for start, h in self._bumps:
            tau = t - start
            if tau <= 0.0 or tau >= 2.0 * tr + th:
                continue
            if tau < tr:
                sign, u = 1.0, tau / tr
                base = 0.0
            elif tau <= tr + th:
                q += h
                continue
            else:
                sign, u = -1.0, (tau - tr - th) / tr
                base = 1.0
            s = u * u * u * (10.0 + u * (-15.0 + 6.0 * u))
            q += h * (base + sign * s)
            qd += sign * h * 30.0 * u * u * (1.0 - u) ** 2 / tr
            qdd += sign * h * 60.0 * u * (1.0 - u) * (1.0 - 2.0 * u) / tr**2
        return q, qd, qdd

    def phase(self, t: float) -> float:
        """Normalised progress t / duration, clipped to [0, 1]."""
        return float(min(max(t / self._duration, 0.0), 1.0))
