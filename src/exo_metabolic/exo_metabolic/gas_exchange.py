"""Metabolic-analyser pipeline, pure core (numpy only, no rclpy).

What ``metabolic_node``, ``exo_replay_gas``, ``exo_sim_analyser`` and ``exo_trial`` compute;
the nodes only convert messages. The equations are those of :mod:`exo_contract.metabolics`
(eq. 15 Brockway, eq. 16 steady-state energy).

* :class:`MetabolicEstimator`: breath-by-breath VO2/VCO2 (mL/s) -> EE per eq. 15 in W/kg,
  smoothed as analysers do: a **time-based moving average** over the last
  ``smoothing_window_s`` seconds (default 30 s), each breath weighted by its duration (the
  time average of the breath-by-breath signal; 0 s = no smoothing). EC per eq. 16 over the
  steady-state window ``[steady_start_s, steady_end_s]`` after the trial start is integrated
  (trapezoid) from the **unsmoothed** breath values, each placed at the middle of its
  breath (a breath's value is the mean over the breath); the signal is held at its first /
  last value for at most ``edge_hold_s`` to reach the window's edges. Invalid breaths
  (NaN, infinite, negative, above ``max_plausible_ml_per_s``, stamp not after the previous
  breath) are rejected with a reason and change nothing.
* :func:`read_gas_csv`: an analyser's CSV export -> breaths, garbage rows skipped with
  their line number and reason.
* :class:`SimulatedAnalyser`: breath-by-breath VO2/VCO2 from a simulated metabolic power
  (basal rate + modelled muscle power), with first-order VO2 kinetics, a jittered breath
  period and multiplicative noise, seeded.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
import io
import math
import os
from pathlib import Path
import re
from typing import Iterable, Sequence

import numpy as np

from exo_contract.metabolics import (
    BROCKWAY_J_PER_ML_CO2,
    BROCKWAY_J_PER_ML_O2,
    gas_exchange_for_power,
    ML_PER_MIN_PER_ML_PER_S,
    steady_state_energy,
)
from exo_contract.parameters import check_fields, param
from exo_contract.parameters import defaults as param_defaults

#: Resting metabolic rate of the simulated analyser's subject, W/kg (the same value as the
#: optional basal term of exo_sim's muscle model, ``exo_sim.metabolic.BASAL_W_PER_KG``).
RESTING_W_PER_KG = 1.2
#: Units of VO2/VCO2 columns in a CSV export -> factor to mL/s.
UNITS = {'ml/s': 1.0, 'ml/min': 1.0 / ML_PER_MIN_PER_ML_PER_S, 'l/min': 1000.0 / 60.0}
#: A first breath stamped this long before the trial start is on another clock, s.
CLOCK_MISMATCH_S = 3600.0


# --------------------------------------------------------------------------- estimator
@dataclass(frozen=True)
class MetabolicParams:
    """Parameters of :class:`MetabolicEstimator` (and of ``metabolic_node``)."""

    body_mass_kg: float = param(70.0, "The subject's body mass m of eq. 15-16.", 'kg',
                                low=20.0, high=300.0)
    smoothing_window_s: float = param(
        30.0, 'Length of the moving average of the published EE (0: none).', 's',
        low=0.0, high=600.0)
    steady_start_s: float = param(
        180.0, 'Start t1 of the eq. 16 window after the trial start (paper: 180).', 's',
        low=0.0, high=86400.0)
    steady_end_s: float = param(
        600.0, 'End t2 of the eq. 16 window after the trial start (paper: 600), > t1.', 's',
        low=0.0, high=86400.0)
    max_plausible_ml_per_s: float = param(
        150.0, 'Breaths with VO2 or VCO2 above this are rejected.', 'mL/s',
        low=1.0, high=1000.0)
    edge_hold_s: float = param(
        10.0, "How far the first/last breath value may be held to reach the window's edges.",
        's', low=0.0, high=120.0)

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_fields(self)
        if not self.steady_end_s > self.steady_start_s:
            raise ValueError(f'steady_end_s must be > steady_start_s, got steady_start_s='
                             f'{self.steady_start_s!r}, steady_end_s={self.steady_end_s!r}')

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Field name -> default value, in declaration order."""
        return param_defaults(cls)


@dataclass(frozen=True)
class Breath:
    """One breath (or averaging interval) of an analyser.

    Attributes:
        t: stamp, end of the breath, s.
        vo2: O2 uptake, mL/s.
        vco2: CO2 output, mL/s.
        duration: what the values average over, s (NaN: unknown).

    """

    t: float
    vo2: float
    vco2: float
    duration: float = math.nan


@dataclass(frozen=True)
class Estimate:
    """What :meth:`MetabolicEstimator.add` makes of an accepted breath.

    Attributes:
        t: the breath's stamp, s.
        ee_breath: eq. 15 of this breath alone, W/kg.
        ee: moving average of eq. 15 over the smoothing window, W/kg.
        vo2: moving average of VO2, mL/s.
        vco2: moving average of VCO2, mL/s.
        power: ``ee * body mass``, W.

    """

    t: float
    ee_breath: float
    ee: float
    vo2: float
    vco2: float
    power: float


@dataclass(frozen=True)
class EnergyReport:
    """EC of eq. 16 over the steady-state window (times relative to the trial start).

    Attributes:
        ec_j: energy, J (None while no breath lies in the window).
        window_s: the configured window [t1, t2], s.
        covered_s: the part of the window the breaths covered, [a, b] s (None: nothing).
        complete: whether the breaths covered the whole window.
        breaths: accepted breaths since the trial start.
        breaths_in_window: accepted breaths whose middle lies in the window.
        rejected: rejected breaths since construction.
        mean_ee_w_per_kg: ``ec_j / (m * (b - a))`` (None with ec_j).

    """

    ec_j: float | None
    window_s: tuple[float, float]
    covered_s: tuple[float, float] | None
    complete: bool
    breaths: int
    breaths_in_window: int
    rejected: int
    mean_ee_w_per_kg: float | None

    def to_dict(self) -> dict:
        """JSON-ready dictionary (adds ``ec_kj``)."""
        d = asdict(self)
        d['ec_kj'] = None if self.ec_j is None else self.ec_j / 1000.0
        return d


def window_energy(t: np.ndarray, ee: np.ndarray, body_mass_kg: float, t1: float, t2: float,
                  edge_hold_s: float) -> tuple[float | None, tuple[float, float] | None]:
    """Eq. 16 over [t1, t2] from samples (t, ee), holding the end values up to ``edge_hold_s``.

    Returns (EC in J, covered [a, b]) or (None, None) when no part of the window is covered.
    One sample inside the window is held over ``edge_hold_s`` on both sides at most.
    """
    t = np.asarray(t, dtype=float)
    ee = np.asarray(ee, dtype=float)
    if t.size == 0:
        return None, None
    tt, ev = list(t), list(ee)
    start = max(t1, tt[0] - edge_hold_s)
    end = min(t2, tt[-1] + edge_hold_s)
    if tt[0] > start:
        tt.insert(0, start)
        ev.insert(0, ev[0])
    if tt[-1] < end:
        tt.append(end)
        ev.append(ev[-1])
    a, b = float(max(t1, tt[0])), float(min(t2, tt[-1]))
    if not b > a:
        return None, None
    return steady_state_energy(np.array(tt), np.array(ev), body_mass_kg, a, b), (a, b)


class MetabolicEstimator:
    """Eq. 15 per breath, moving average, eq. 16 over the steady-state window.

    Args:
        params: :class:`MetabolicParams`.
        start: trial start, s on the breaths' clock (None: the first accepted breath's
            stamp minus its duration; also when the first breath of a trial is stamped more
            than ``CLOCK_MISMATCH_S`` before ``start``: the analyser uses another clock).

    """

    def __init__(self, params: MetabolicParams, start: float | None = None) -> None:
        self.params = params
        self._smooth: list[tuple[float, float, float, float]] = []  # (t, weight, vo2, vco2)
        self._mid_t: list[float] = []
        self._ee: list[float] = []
        self._last_t: float | None = None
        self.start = start
        self.rejected = 0
        #: A one-time remark for the log (set when the trial start is moved), else None.
        self.note: str | None = None

    def restart(self, start: float | None) -> None:
        """Start a new trial at ``start`` (s): the EC samples are cleared, smoothing kept."""
        self.start = start
        self._mid_t.clear()
        self._ee.clear()

    def check(self, breath: Breath) -> str | None:
        """Why ``breath`` is rejected, or None when it is valid."""
        values = (breath.t, breath.vo2, breath.vco2)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            return f'non-finite value (t={breath.t!r}, vo2={breath.vo2!r}, ' \
                   f'vco2={breath.vco2!r})'
        if breath.vo2 < 0 or breath.vco2 < 0:
            return f'negative gas exchange (vo2={breath.vo2!r}, vco2={breath.vco2!r} mL/s)'
        limit = self.params.max_plausible_ml_per_s
        if breath.vo2 > limit or breath.vco2 > limit:
            return (f'implausible gas exchange (vo2={breath.vo2!r}, vco2={breath.vco2!r} '
                    f'mL/s > {limit} mL/s)')
        if self._last_t is not None and not breath.t > self._last_t:
            return f'stamp {breath.t!r} s is not after the previous breath ({self._last_t!r} s)'
        return None

    def add(self, breath: Breath) -> tuple[Estimate | None, str | None]:
        """Process one breath: (estimate, None) when accepted, (None, reason) when rejected."""
        reason = self.check(breath)
        if reason is not None:
            self.rejected += 1
            return None, reason
        duration = breath.duration
        gap = breath.t - self._last_t if self._last_t is not None else math.inf
        if not (isinstance(duration, (int, float)) and math.isfinite(duration)
                and duration > 0):
            duration = gap if math.isfinite(gap) else 0.0
        duration = min(duration, gap)
        self._last_t = breath.t
        if (not self._mid_t and self.start is not None
                and breath.t < self.start - CLOCK_MISMATCH_S):
            self.note = (f'breath stamp {breath.t:.1f} s lies far before the trial start '
                         f'{self.start:.1f} s (another clock?): the trial starts with this '
                         'breath')
            self.start = None
        if self.start is None:
            self.start = breath.t - duration
        ee_breath = float((BROCKWAY_J_PER_ML_O2 * breath.vo2
                           + BROCKWAY_J_PER_ML_CO2 * breath.vco2) / self.params.body_mass_kg)
        self._mid_t.append(breath.t - 0.5 * duration)
        self._ee.append(ee_breath)
        # Moving average over (t - W, t]; weight = breath duration (1 s when unknown).
        self._smooth.append((breath.t, duration if duration > 0 else 1.0,
                             breath.vo2, breath.vco2))
        horizon = breath.t - self.params.smoothing_window_s
        while len(self._smooth) > 1 and self._smooth[0][0] <= horizon:
            self._smooth.pop(0)
        w = np.array([s[1] for s in self._smooth])
        vo2 = float(np.dot(w, [s[2] for s in self._smooth]) / w.sum())
        vco2 = float(np.dot(w, [s[3] for s in self._smooth]) / w.sum())
        ee = (BROCKWAY_J_PER_ML_O2 * vo2 + BROCKWAY_J_PER_ML_CO2 * vco2) \
            / self.params.body_mass_kg
        return Estimate(breath.t, ee_breath, ee, vo2, vco2,
                        ee * self.params.body_mass_kg), None

    def series(self) -> tuple[np.ndarray, np.ndarray]:
        """Breath-middle times relative to the trial start (s) and EE (W/kg) since it."""
        start = self.start if self.start is not None else 0.0
        return np.asarray(self._mid_t) - start, np.asarray(self._ee)

    def energy(self) -> EnergyReport:
        """EC (eq. 16) over the steady-state window, from the breaths so far."""
        p = self.params
        t, ee = self.series()
        keep = t >= -p.edge_hold_s  # breaths of this trial (restart may keep a late one)
        t, ee = t[keep], ee[keep]
        window = (p.steady_start_s, p.steady_end_s)
        ec, covered = window_energy(t, ee, p.body_mass_kg, *window, p.edge_hold_s)
        inside = int(np.count_nonzero((t >= window[0]) & (t <= window[1])))
        mean = None
        if ec is not None and covered is not None:
            mean = ec / (p.body_mass_kg * (covered[1] - covered[0]))
        complete = bool(covered is not None and covered[0] <= window[0]
                        and covered[1] >= window[1])
        return EnergyReport(ec, window, covered, complete, int(t.size), inside,
                            self.rejected, mean)


# --------------------------------------------------------------------------- CSV
@dataclass
class GasTable:
    """Breaths read from an analyser's CSV export.

    Attributes:
        t: breath times, s (strictly increasing), as in the file.
        vo2: O2 uptake, mL/s.
        vco2: CO2 output, mL/s.
        unit: the unit the VO2/VCO2 columns were read in.
        columns: (time, vo2, vco2) column names or indices used.
        skipped: (line number, reason) of every row that was not used.

    """

    t: np.ndarray
    vo2: np.ndarray
    vco2: np.ndarray
    unit: str
    columns: tuple[str, str, str]
    skipped: list[tuple[int, str]]

    def breaths(self) -> list[Breath]:
        """The rows as :class:`Breath` (duration: time since the previous row, first NaN)."""
        out = []
        for i, (t, vo2, vco2) in enumerate(zip(self.t, self.vo2, self.vco2, strict=True)):
            duration = float(t - self.t[i - 1]) if i else math.nan
            out.append(Breath(float(t), float(vo2), float(vco2), duration))
        return out


def _norm(name: str) -> str:
    return re.sub(r'[^a-z0-9]', '', name.strip().lower())


def _unit_hint(name: str) -> str | None:
    """Unit named in a column header ('VO2 (mL/min)', 'vo2_ml_per_s', 'VO2 L/min'), or None."""
    n = name.strip().lower().replace(' ', '')
    if re.search(r'm?l(/|_per_|_|\.)?min', n):
        return 'ml/min' if 'ml' in n else 'l/min'
    if re.search(r'ml(/|_per_|_)?s(ec)?($|[^a-z])', n):
        return 'ml/s'
    return None


def parse_time(text: str) -> float:
    """Seconds from ``'12.5'``, ``'mm:ss(.s)'`` or ``'hh:mm:ss(.s)'``; ValueError otherwise."""
    text = text.strip()
    if ':' in text:
        parts = text.split(':')
        if len(parts) > 3 or any(not p.strip() for p in parts):
            raise ValueError(f'not a time: {text!r}')
        seconds = 0.0
        for part in parts:
            seconds = seconds * 60.0 + float(part)
        return seconds
    return float(text)


def _pick(header: Sequence[str], wanted: str | None, kind: str) -> int:
    norms = [_norm(h) for h in header]
    if wanted is not None:
        for i, h in enumerate(header):
            if h.strip() == wanted or norms[i] == _norm(wanted):
                return i
        raise ValueError(f'no column {wanted!r} in the header {list(header)}')
    for i, n in enumerate(norms):
        if 'kg' in n:  # VO2/kg: relative to body mass, not what eq. 15 takes
            continue
        if kind == 'time' and (n in ('t', 'time', 'times', 'timesec', 'elapsed', 'elapseds')
                               or n.startswith('time')):
            return i
        if kind == 'vo2' and n.startswith('vo2'):
            return i
        if kind == 'vco2' and n.startswith('vco2'):
            return i
    raise ValueError(f'no {kind} column found in the header {list(header)}; name it with '
                     f'the {kind} column option')


def read_gas_csv(source: str | os.PathLike | io.TextIOBase, unit: str | None = None,
                 time_column: str | None = None, vo2_column: str | None = None,
                 vco2_column: str | None = None,
                 max_plausible_ml_per_s: float = 150.0) -> GasTable:
    """Read an analyser's CSV export of breath-by-breath (or averaged) gas exchange.

    Columns: time (s as a number, or ``mm:ss`` / ``hh:mm:ss``), VO2 and VCO2. With a header
    row the columns are found by name (``time``/``t``..., ``VO2...``, ``VCO2...``; names
    containing ``kg`` are skipped, as VO2/kg is not what eq. 15 takes) or by the
    ``*_column`` arguments; without one they are the first three columns. Delimiter: ``,``,
    ``;`` or tab. Lines starting with ``#`` are comments.

    Units (``unit``: 'ml/s', 'ml/min' or 'l/min'): explicit argument, else a hint in the
    VO2 header (``VO2 (mL/min)``, ``vo2_ml_s``...), else 'ml/min' (what analysers export).

    Rows that cannot be used are skipped and listed in ``skipped`` with their line number:
    wrong number of fields, text where a number belongs, NaN/inf, negative values, values
    above ``max_plausible_ml_per_s`` (after conversion), and times not after the previous
    kept row. Raises ValueError only when the file cannot be read at all (no header
    columns, unknown unit).
    """
    if unit is not None and unit not in UNITS:
        raise ValueError(f'unit must be one of {sorted(UNITS)}, got {unit!r}')
    if isinstance(source, (str, os.PathLike)):
        text = Path(source).read_text(encoding='utf-8-sig', errors='replace')
    else:
        text = source.read()
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith('#')]
    if not lines:
        raise ValueError('the CSV file has no data rows')
    try:
        dialect = csv.Sniffer().sniff(lines[0][1], delimiters=',;\t')
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ','
    rows = [(n, row) for (n, _), row in zip(
        lines, csv.reader([line for _, line in lines], delimiter=delimiter), strict=True)]
    first = rows[0][1]

    def numeric(cell: str) -> bool:
        try:
            parse_time(cell)
            return True
        except ValueError:
            return False

    if first and not any(numeric(c) for c in first):
        header = [c.strip() for c in first]
        data = rows[1:]
        it, iv, ic = (_pick(header, time_column, 'time'), _pick(header, vo2_column, 'vo2'),
                      _pick(header, vco2_column, 'vco2'))
        names = (header[it], header[iv], header[ic])
        hint = _unit_hint(header[iv])
    else:
        data = rows
        it, iv, ic = 0, 1, 2
        names = ('0', '1', '2')
        hint = None
    chosen = unit or hint or 'ml/min'
    scale = UNITS[chosen]
    t_out: list[float] = []
    vo2_out: list[float] = []
    vco2_out: list[float] = []
    skipped: list[tuple[int, str]] = []
    need = max(it, iv, ic) + 1
    for n, row in data:
        if len(row) < need:
            skipped.append((n, f'{len(row)} fields, expected at least {need}'))
            continue
        try:
            t = parse_time(row[it])
            vo2 = float(row[iv]) * scale
            vco2 = float(row[ic]) * scale
        except ValueError:
            skipped.append((n, f'not a number: {[row[it], row[iv], row[ic]]!r}'))
            continue
        if not all(math.isfinite(v) for v in (t, vo2, vco2)):
            skipped.append((n, f'non-finite value: {[row[it], row[iv], row[ic]]!r}'))
            continue
        if vo2 < 0 or vco2 < 0:
            skipped.append((n, f'negative gas exchange: {[row[iv], row[ic]]!r}'))
            continue
        if vo2 > max_plausible_ml_per_s or vco2 > max_plausible_ml_per_s:
            skipped.append((n, f'implausible gas exchange: {[row[iv], row[ic]]!r} {chosen} '
                               f'(> {max_plausible_ml_per_s} mL/s)'))
            continue
        if t_out and not t > t_out[-1]:
            skipped.append((n, f'time {row[it].strip()!r} is not after the previous row '
                               f'({t_out[-1]!r} s)'))
            continue
        t_out.append(t)
        vo2_out.append(vo2)
        vco2_out.append(vco2)
    return GasTable(np.array(t_out), np.array(vo2_out), np.array(vco2_out), chosen, names,
                    skipped)


def write_gas_csv(path: str | os.PathLike, breaths: Iterable[Breath]) -> Path:
    """Write breaths as ``time_s,vo2_ml_per_s,vco2_ml_per_s`` (readable by read_gas_csv)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as stream:
        writer = csv.writer(stream)
        writer.writerow(['time_s', 'vo2_ml_per_s', 'vco2_ml_per_s'])
        for b in breaths:
            writer.writerow([f'{b.t:.3f}', f'{b.vo2:.4f}', f'{b.vco2:.4f}'])
    return path


# --------------------------------------------------------------------------- simulation
@dataclass(frozen=True)
class AnalyserConfig:
    """Parameters of :class:`SimulatedAnalyser` (and of ``exo_sim_analyser``)."""

    body_mass_kg: float = param(70.0, "The subject's body mass (scales the resting rate).",
                                'kg', low=20.0, high=300.0)
    basal_w_per_kg: float = param(RESTING_W_PER_KG, 'Resting metabolic rate.', 'W/kg',
                                  low=0.0, high=5.0)
    rer: float = param(0.85, 'Mean respiratory exchange ratio VCO2/VO2.', '1',
                       low=0.7, high=1.1)
    rer_sd: float = param(0.02, 'Breath-to-breath standard deviation of the RER.', '1',
                          low=0.0, high=0.1)
    breath_period_min_s: float = param(3.0, 'Shortest breath.', 's', low=0.5, high=20.0)
    breath_period_max_s: float = param(
        4.0, 'Longest breath (periods are uniform in [min, max]).', 's', low=0.5, high=20.0)
    noise_cv: float = param(
        0.10, 'Coefficient of variation of the breath-to-breath multiplicative noise.', '1',
        low=0.0, high=0.5)
    kinetics_tau_s: float = param(
        40.0, 'Time constant of the first-order VO2 kinetics (0: none).', 's',
        low=0.0, high=600.0)
    seed: int = param(0, 'Random seed.', low=0, high=2**31 - 1)

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_fields(self)
        if self.breath_period_max_s < self.breath_period_min_s:
            raise ValueError(f'breath_period_max_s must be >= breath_period_min_s '
                             f'({self.breath_period_min_s!r} s), got '
                             f'{self.breath_period_max_s!r}')

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Field name -> default value, in declaration order."""
        return param_defaults(cls)


class SimulatedAnalyser:
    """Breath-by-breath VO2/VCO2 from a simulated metabolic power.

    The subject's power is ``basal_w_per_kg * m + P_muscle`` (W), ``P_muscle`` the modelled
    muscle power (sim_node's /exo/metabolic_power). The measured power follows it with
    first-order kinetics (``tau``), is averaged over each breath, turned into VO2/VCO2 by
    the inverse of eq. 15 at the breath's RER (``rer`` + N(0, ``rer_sd``)), and multiplied
    by a breath factor ``max(0.05, 1 + noise_cv N(0, 1))`` (tidal-volume variation; mean 1,
    so the expected EE of a breath is the true mean power / m). Breath periods are uniform
    in [``breath_period_min_s``, ``breath_period_max_s``].

    Call :meth:`update` with the time (s) and the muscle power in effect since the last
    call (zero-order hold); it returns the breaths that ended.
    """

    def __init__(self, config: AnalyserConfig) -> None:
        self.config = config
        self._rng = np.random.default_rng(config.seed)
        self._t: float | None = None
        self._x = 0.0  # measured (lagged) power, W
        self._acc = 0.0  # integral of x over the current breath, J
        self._breath_start = 0.0
        self._breath_end = 0.0

    @property
    def basal_w(self) -> float:
        """Resting power, W."""
        return self.config.basal_w_per_kg * self.config.body_mass_kg

    def _period(self) -> float:
        c = self.config
        return float(self._rng.uniform(c.breath_period_min_s, c.breath_period_max_s))

    def _advance(self, dt: float, target: float) -> None:
        """Integrate the lagged power over ``dt`` towards ``target`` (exact for constant)."""
        tau = self.config.kinetics_tau_s
        x0 = self._x
        if tau <= 0:
            self._x = target
            self._acc += target * dt
            return
        decay = math.exp(-dt / tau)
        self._x = target + (x0 - target) * decay
        self._acc += target * dt + (x0 - target) * tau * (1.0 - decay)

    def _emit(self) -> Breath:
        c = self.config
        duration = self._breath_end - self._breath_start
        mean_power = max(self._acc / duration, 0.0)
        rer = float(np.clip(c.rer + c.rer_sd * self._rng.standard_normal(), 0.7, 1.1))
        vo2, vco2 = gas_exchange_for_power(mean_power, rer)
        factor = max(0.05, 1.0 + c.noise_cv * float(self._rng.standard_normal()))
        return Breath(self._breath_end, vo2 * factor, vco2 * factor, duration)

    def update(self, t: float, muscle_power_w: float) -> list[Breath]:
        """Advance to ``t`` (s) with ``muscle_power_w`` (W, NaN/negative -> 0); new breaths."""
        p = muscle_power_w if math.isfinite(muscle_power_w) and muscle_power_w > 0 else 0.0
        target = self.basal_w + p
        if self._t is None:  # start at rest in steady state with the current power
            self._t = t
            self._x = target
            self._breath_start = t
            self._breath_end = t + self._period()
            return []
        breaths = []
        while t >= self._breath_end:
            self._advance(self._breath_end - self._t, target)
            self._t = self._breath_end
            breaths.append(self._emit())
            self._acc = 0.0
            self._breath_start = self._breath_end
            self._breath_end += self._period()
        if t > self._t:
            self._advance(t - self._t, target)
            self._t = t
        return breaths
