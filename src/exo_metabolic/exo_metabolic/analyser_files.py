"""Metabolic analysers' export files -> breaths, read and checked (pure core, no rclpy).

What ``exo_replay_gas`` reads. The layouts labs bring, as their software writes them:

* **COSMED** (PFT Suite, Omnia; .xlsx or CSV): subject metadata in the first columns, the
  data table to its right (``t``, ``Rf``, ``VT``, ``VE``, ``VO2``, ``VCO2``, ``VO2/Kg``,
  ``R``, ``EEm``...), a units row under the header (``hh:mm:ss``, ``mL/min``,
  ``Kcal/min``) and sometimes a blank row under it; Omnia stores ``t`` as an Excel time
  (a fraction of a day).
* **CORTEX MetaSoft Studio** (.xlsx or CSV): ~50 rows of administrative and patient data
  above the header (``t``, ``V'O2``, ``V'O2/kg``, ``V'CO2``, ``RER``, ``BF``...), a units
  row (``hh:mm:ss``, ``l/min``), times with a decimal comma (``00:00:04,8``), ``-`` in
  empty cells.
* **MGC Diagnostics Breeze** (tab-separated): ``VO2`` twice, first per kg (mL/kg/min) then
  absolute (mL/min), with or without a units row.
* **Parvo Medics TrueOne 2400** (CSV): a metadata block, the header over three rows
  (``TIME``/``VO2``/``VCO2``..., ``STPD``/``BTPS``, ``min``/``l/min``/``ml/kg/m``), a row
  of dashes, ``TIME`` in decimal minutes, an events section after a blank row.
* **Vyntus CPX** (SentrySuite text export, tab-separated): two lines of subject data, the
  header (``t``/``Tid``, ``V'O2``, ``V'O2/kg``, ``V'CO2``...) and a units row.
* exo-vic's own CSV (``time_s,vo2_ml_per_s,vco2_ml_per_s``, :func:`write_gas_csv`) and
  any table with time, VO2 and VCO2 columns; a headerless file is read as its first three
  columns (time s, VO2, VCO2).

Any delimiter (tab, ``;``, ``,``, ``|``) and decimal mark (``.`` or ``,``); the header is
found below a metadata block; a units row (or a unit in the header, ``VO2 (mL/min)``) is
honoured; per-kg columns are never taken as absolute; times as ``hh:mm:ss`` (``.z`` or
``,z``), ``mm:ss``, seconds, minutes (a ``min`` unit) or Excel day fractions.

Never silently wrong: what was read must look like a person breathing, or the file is
refused (:class:`AnalyserFileError`) with a message naming the column, the unit assumed
and the option that overrides it: median VO2 and VCO2 within :data:`VO2_RANGE_ML_PER_MIN`
and :data:`VCO2_RANGE_ML_PER_MIN`, median RER within :data:`RER_RANGE`, median interval
between rows within :data:`INTERVAL_RANGE_S`, VO2 / (VO2 per kg) a body mass where the
file has both. Where the file has the vendor's own energy column (COSMED ``EEm`` in
kcal/min...), eq. 15 (:func:`exo_contract.metabolics.brockway_power`) is compared with it
and a difference beyond :data:`ENERGY_TOLERANCE_PCT` is a warning.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field
import datetime as dt
import math
import os
from pathlib import Path
import re
from typing import Sequence

import numpy as np

from exo_contract.metabolics import brockway_power, ML_PER_MIN_PER_ML_PER_S
from exo_metabolic.gas_exchange import _unit_hint, GasTable

#: Plausible median VO2 of a person (rest of a small adult to an elite athlete), mL/min.
VO2_RANGE_ML_PER_MIN = (100.0, 7000.0)
#: Plausible median VCO2, mL/min.
VCO2_RANGE_ML_PER_MIN = (60.0, 9000.0)
#: Plausible median respiratory exchange ratio VCO2 / VO2.
RER_RANGE = (0.6, 1.3)
#: Plausible median interval between breaths, s (the upper end: ``max_interval_s``).
INTERVAL_RANGE_S = (1.0, 15.0)
#: Body mass implied by VO2 / (VO2 per kg) where a file has both, kg.
BODY_MASS_RANGE_KG = (20.0, 300.0)
#: Eq. 15 vs the vendor's energy column: a larger difference is warned about, %.
ENERGY_TOLERANCE_PCT = 3.0
#: Fewer usable rows than this fraction of the data rows: the file is refused.
MIN_USABLE_FRACTION = 0.5

#: Flow units of VO2/VCO2 columns -> factor to mL/min.
FLOW_UNITS = {'ml/min': 1.0, 'l/min': 1000.0, 'ml/s': ML_PER_MIN_PER_ML_PER_S}
#: Time units of a numeric time column -> factor to s ('day': Excel day fractions).
TIME_UNITS = {'s': 1.0, 'min': 60.0, 'ms': 0.001, 'day': 86400.0}
#: Energy units of a vendor's energy column -> factor to W.
ENERGY_UNITS = {'kcal/min': 4184.0 / 60.0, 'kcal/h': 4184.0 / 3600.0,
                'kcal/day': 4184.0 / 86400.0, 'kj/min': 1000.0 / 60.0,
                'kj/h': 1000.0 / 3600.0, 'w': 1.0}
#: Vendors whose software writes one documented unit for VO2/VCO2 (used without a units
#: row or a unit in the header).
VENDOR_FLOW_UNIT = {'cosmed': 'ml/min', 'parvo-trueone': 'l/min'}
#: Rows searched for the header.
HEADER_SEARCH_ROWS = 400
EMPTY_CELLS = {'', '-', '--', '---', 'n/a', 'na', 'nan'}

_TIME_KEY = re.compile(r'(t|time|tid|zeit|tempo|temps|tiempo|elapsed|elapsedtime)'
                       r'(s|sec|secs|min|ms|hhmmss|hmmss|mmss|minsec)?')
_FLOW_SUFFIX = r'(stpd)?(abs|absolute)?((ml|l)(/|per)?(min|m|s|sec))?'
_VO2_KEY = re.compile(r'vo2' + _FLOW_SUFFIX)
_VCO2_KEY = re.compile(r'vco2' + _FLOW_SUFFIX)
_ENERGY_KEYS = {'eem': 'kcal/min', 'eeh': 'kcal/h', 'ee': None, 'ee/min': 'kcal/min',
                'ee/h': 'kcal/h', 'ee/day': 'kcal/day', 'ee/d': 'kcal/day',
                'ee/24h': 'kcal/day', 'energyexpenditure': None}
_VENDOR_WORDS = (
    ('cosmed', ('cosmed', 'omnia', 'pft suite', 'id code', 'quark', 'k5')),
    ('cortex', ('metasoft', 'cortex', 'administrative data', 'patient data', 'stammdaten',
                'metalyzer', 'metamax')),
    ('vyntus', ('vyntus', 'sentrysuite', 'vyaire', 'carefusion', 'id-nummer')),
    ('parvo-trueone', ('parvo', 'trueone', 'truemax')),
    ('mgc-breeze', ('breeze', 'medgraphics', 'mgc diagnostics', 'ultima', 'cardiorespiratory '
                    'diagnostics')),
)


class AnalyserFileError(ValueError):
    """A file that cannot be read right; the message says why and what to pass instead."""


class ClockSeconds(float):
    """A time already in seconds (an Excel time cell read by openpyxl)."""


@dataclass
class Column:
    """One column of the data table.

    Attributes:
        index: 0-based position in the row.
        name: the header text (continued by a second header row where it ends in ``/``).
        unit: the unit text of the units row or of the header, '' when none.
        unit_source: 'units row', 'header' or ''.

    """

    index: int
    name: str
    unit: str = ''
    unit_source: str = ''

    @property
    def label(self) -> str:
        """``'VO2' (column 5)``: the name and 1-based column number."""
        return f'{self.name!r} (column {self.index + 1})'


@dataclass
class AnalyserFile:
    """What :func:`read_analyser_file` made of a file.

    Attributes:
        path: the file.
        table: the breaths (VO2/VCO2 in mL/s, t in s), rows not used in ``table.skipped``.
        vendor: the layout detected ('cosmed', 'cortex', 'mgc-breeze', 'parvo-trueone',
            'vyntus', 'exo-vic' or 'generic').
        units: 'time', 'vo2', 'vco2' -> (unit, where it came from).
        warnings: remarks to show the user (nothing refused).
        energy_check: eq. 15 against the vendor's energy column (None: no such column).

    """

    path: Path
    table: GasTable
    vendor: str
    units: dict[str, tuple[str, str]]
    warnings: list[str] = field(default_factory=list)
    energy_check: dict | None = None

    def summary(self) -> dict:
        """One JSON-ready object: what ``exo_replay_gas FILE --check`` prints."""
        t = self.table
        vo2 = t.vo2 * ML_PER_MIN_PER_ML_PER_S
        vco2 = t.vco2 * ML_PER_MIN_PER_ML_PER_S
        return {
            'file': str(self.path),
            'vendor': self.vendor,
            'breaths': int(t.t.size),
            'duration_s': round(float(t.t[-1] - t.t[0]), 3),
            'vo2_ml_per_min_median': round(float(np.median(vo2)), 2),
            'vco2_ml_per_min_median': round(float(np.median(vco2)), 2),
            'rer_median': round(float(np.median(vco2 / vo2)), 4),
            'unit': t.unit,
            'time_unit': self.units['time'][0],
            'unit_source': {k: v[1] for k, v in self.units.items()},
            'columns': list(t.columns),
            'skipped': len(t.skipped),
            'energy_check': self.energy_check,
            'warnings': list(self.warnings),
        }


# --------------------------------------------------------------------------- text helpers
def _key(name: str) -> str:
    """Normalised column name: lower case, letters, digits and '/' only (V'O2 -> vo2)."""
    name = name.lower().replace('\u0307', '').replace('v\u0307', 'v')
    return re.sub(r'[^a-z0-9/]', '', name)


def _split_name(text: str) -> tuple[str, str]:
    """``'VO2 (mL/min)'`` -> (``'VO2'``, ``'mL/min'``); no bracket -> (text, '')."""
    m = re.fullmatch(r'\s*(.*?)\s*[\(\[]([^\)\]]*)[\)\]]\s*', text)
    if m and m.group(1):
        return m.group(1), m.group(2).strip()
    return text.strip(), ''


def flow_unit(text: str) -> str | None:
    """'ml/min', 'l/min', 'ml/s', 'per-kg' or None for a unit text (``mL/min/Kg``...)."""
    s = re.sub(r'[\s\[\]()]', '', str(text).lower()).replace('\u00b7', '/').replace('*', '/')
    s = re.sub(r'(stpd|btps|atps)', '', s)
    s = s.replace('min-1', '/min').replace('min\u207b\u00b9', '/min').replace('.', '/')
    s = re.sub(r'/+', '/', s).strip('/')
    if not s:
        return None
    if 'kg' in s and re.search(r'm?l', s):
        return 'per-kg'
    if s in ('ml/min', 'ml/m', 'mlmin', 'mlpermin', 'ml/mn'):
        return 'ml/min'
    if s in ('l/min', 'l/m', 'lmin', 'lpm', 'lpermin', 'l/mn'):
        return 'l/min'
    if s in ('ml/s', 'ml/sec', 'mls', 'mlpers', 'mlpersec'):
        return 'ml/s'
    return None


def time_unit(text: str) -> str | None:
    """'s', 'min', 'ms', 'clock' (hh:mm:ss, mm:ss...) or None for a time unit text."""
    s = re.sub(r'[\s\[\]()]', '', str(text).lower())
    if not s:
        return None
    if ':' in s or s in ('hhmmss', 'hmmss', 'mmss', 'minsec'):
        return 'clock'
    if s in ('s', 'sec', 'secs', 'second', 'seconds'):
        return 's'
    if s in ('min', 'mins', 'minute', 'minutes', 'm'):
        return 'min'
    if s in ('ms', 'msec'):
        return 'ms'
    return None


def energy_unit(text: str) -> str | None:
    """A key of :data:`ENERGY_UNITS` for a unit text (``Kcal/min``, ``kcal/d``...), or None."""
    s = re.sub(r'[\s\[\]()]', '', str(text).lower())
    s = {'kcal/m': 'kcal/min', 'kcal/hr': 'kcal/h', 'kcal/d': 'kcal/day',
         'kcal/24h': 'kcal/day', 'kj/m': 'kj/min', 'kj/hr': 'kj/h', 'watt': 'w'}.get(s, s)
    return s if s in ENERGY_UNITS else None


def _is_blank(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _number(cell: object, decimal: str) -> float | None:
    """A cell as a float; None when empty (``''``, ``-``...); ValueError when not a number."""
    if cell is None:
        return None
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return float(cell)
    text = str(cell).strip()
    if text.lower() in EMPTY_CELLS:
        return None
    if decimal == ',':
        if re.fullmatch(r'[+-]?\d{1,3}(\.\d{3})+(,\d+)?', text):
            text = text.replace('.', '')
        text = text.replace(',', '.')
    elif re.fullmatch(r'[+-]?\d{1,3}(,\d{3})+(\.\d+)?', text):
        text = text.replace(',', '')
    return float(text)


def _clock(text: str, decimal: str) -> float:
    """Seconds from ``hh:mm:ss(.z|,z)`` or ``mm:ss(.z|,z)``; ValueError otherwise."""
    parts = text.strip().split(':')
    if len(parts) not in (2, 3) or any(not p.strip() for p in parts):
        raise ValueError(f'not a time: {text!r}')
    last = parts[-1].strip()
    if decimal == ',' or (',' in last and '.' not in last):
        last = last.replace(',', '.')
    seconds = 0.0
    for part in parts[:-1]:
        if not part.strip().isdigit():
            raise ValueError(f'not a time: {text!r}')
        seconds = seconds * 60.0 + float(part)
    return seconds * 60.0 + float(last)


def _time(cell: object, decimal: str, unit: str) -> float | None:
    """A time cell in s; None when empty; ValueError when not a time.

    ``unit``: 's', 'min', 'ms', 'day' for numbers ('clock': numbers are Excel day fractions).
    """
    if isinstance(cell, ClockSeconds):
        return float(cell)
    if isinstance(cell, str) and ':' in cell:
        return _clock(cell, decimal)
    value = _number(cell, decimal)
    if value is None:
        return None
    return value * TIME_UNITS['day' if unit == 'clock' else unit]


# --------------------------------------------------------------------------- reading cells
def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode('utf-16')
    try:
        return raw.decode('utf-8-sig')
    except UnicodeDecodeError:
        return raw.decode('cp1252', errors='replace')


def _text_rows(text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of the lines of a text file, '#' comment lines left out."""
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith('#'):
            continue
        rows.append((n, next(csv.reader([line], delimiter=delimiter)) if line else []))
    return rows


def _excel_cell(value: object) -> object:
    if isinstance(value, dt.datetime):
        return ClockSeconds((value - dt.datetime(1899, 12, 30)).total_seconds())
    if isinstance(value, dt.time):
        return ClockSeconds(value.hour * 3600 + value.minute * 60 + value.second
                            + value.microsecond * 1e-6)
    if isinstance(value, dt.timedelta):
        return ClockSeconds(value.total_seconds())
    return value


def _xlsx_sheets(path: Path) -> list[tuple[str, list[tuple[int, list]]]]:
    try:
        import openpyxl
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise AnalyserFileError(
            f'{path.name}: reading .xlsx needs openpyxl (pip install openpyxl); or export '
            'the file as CSV') from err
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many types on a damaged file
        raise AnalyserFileError(f'{path.name}: not a readable .xlsx workbook ({err})') from err
    try:
        return [(sheet.title, [(n, [_excel_cell(v) for v in row]) for n, row in
                               enumerate(sheet.iter_rows(values_only=True), start=1)])
                for sheet in book.worksheets]
    finally:
        book.close()


# --------------------------------------------------------------------------- layout
@dataclass
class _Layout:
    rows: list[tuple[int, list]]
    header: int  # index into rows; -1: headerless
    columns: list[Column]
    first_data: int  # index into rows
    where: str  # 'sheet X' / 'delimiter ;'


def _cell_text(cell: object) -> str:
    return '' if cell is None else str(cell).strip()


def _header_matches(names: Sequence[str], wanted: dict[str, str]) -> bool:
    """Whether a row names a time, a VO2 and a VCO2 column (or the columns ``wanted``)."""
    keys = [_key(_split_name(n)[0]) for n in names]
    for kind, pattern in (('time', _TIME_KEY), ('vo2', _VO2_KEY), ('vco2', _VCO2_KEY)):
        want = wanted.get(kind)
        if want and want.startswith('#'):
            continue
        if want:
            if not (want.strip() in names or _key(want) in keys):
                return False
        elif not any(pattern.fullmatch(k) for k in keys):
            return False
    return True


def _find_header(rows: list[tuple[int, list]], wanted: dict[str, str]) -> int | None:
    for i, (_, row) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if _header_matches([_cell_text(c) for c in row], wanted):
            return i
    return None


def _layout(rows: list[tuple[int, list]], where: str, wanted: dict[str, str]) -> _Layout | None:
    """Header, sub-header rows (name continuations, units) and the first data row."""
    h = _find_header(rows, wanted)
    if h is None:
        return None
    header = [_cell_text(c) for c in rows[h][1]]
    columns = []
    for i, text in enumerate(header):
        base, bracket = _split_name(text)
        col = Column(i, text)
        if bracket and (flow_unit(bracket) or time_unit(bracket) or energy_unit(bracket)):
            col.name, col.unit, col.unit_source = base, bracket, 'header'
        columns.append(col)
    time_idx = [c.index for c in columns if _TIME_KEY.fullmatch(_key(c.name))]
    first = h + 1
    for j in range(h + 1, min(h + 7, len(rows))):
        row = rows[j][1]
        if any(i < len(row) and _parses_as_time(row[i]) for i in time_idx):
            first = j
            break
    for _, row in rows[h + 1:first]:
        for col in columns:
            cell = _cell_text(row[col.index]) if col.index < len(row) else ''
            if not cell or set(cell) <= set('-_= '):
                continue
            if (not col.unit_source and (flow_unit(cell) or time_unit(cell)
                                         or energy_unit(cell))):
                col.unit, col.unit_source = cell, 'units row'
            elif col.name.endswith('/') and cell.upper() not in ('STPD', 'BTPS', 'ATPS'):
                col.name += cell
    return _Layout(rows, h, columns, first, where)


def _parses_as_time(cell: object) -> bool:
    if _is_blank(cell):
        return False
    try:
        return _time(cell, '.', 's') is not None or False
    except ValueError:
        try:
            return _time(cell, ',', 's') is not None
        except ValueError:
            return False


def _headerless(rows: list[tuple[int, list]], where: str) -> _Layout | None:
    for i, (_, row) in enumerate(rows):
        if all(_is_blank(c) for c in row):
            continue
        if len(row) >= 3 and all(_parses_as_time(c) for c in row[:3]):
            return _Layout(rows, -1, [Column(0, '0'), Column(1, '1'), Column(2, '2')], i,
                           where)
        return None
    return None


def _decimal_mark(rows: list[tuple[int, list]], start: int, columns: Sequence[int]) -> str:
    comma = dot = 0
    for _, row in rows[start:start + 200]:
        for i in columns:
            cell = row[i] if i < len(row) else None
            if not isinstance(cell, str):
                continue
            if re.fullmatch(r'[+-]?[\d:]*\d,\d+', cell.strip()):
                comma += 1
            elif re.fullmatch(r'[+-]?[\d:]*\d?\.\d+([eE][+-]?\d+)?', cell.strip()):
                dot += 1
    return ',' if comma > dot else '.'


def _layouts(path: Path, wanted: dict[str, str]) -> list[_Layout]:
    suffix = path.suffix.lower()
    if suffix == '.xls':
        raise AnalyserFileError(
            f'{path.name}: an Excel 97-2003 (.xls) workbook cannot be read; save it as .xlsx '
            'or export CSV')
    if suffix in ('.xlsx', '.xlsm'):
        sheets = _xlsx_sheets(path)
        found = [lay for name, rows in sheets
                 if (lay := _layout(rows, f'sheet {name!r}', wanted)) is not None]
        return found or [lay for name, rows in sheets
                         if (lay := _headerless(rows, f'sheet {name!r}')) is not None]
    text = _decode(path.read_bytes())
    found = []
    for delimiter in ('\t', ';', ',', '|'):
        rows = _text_rows(text, delimiter)
        lay = _layout(rows, f'delimiter {delimiter!r}', wanted)
        if lay is not None:
            found.append(lay)
    if found:
        # The delimiter that splits the header into the most named columns.
        return sorted(found, key=lambda lay: -sum(bool(_cell_text(c)) for c in
                                                  lay.rows[lay.header][1]))
    for delimiter in ('\t', ';', ','):
        lay = _headerless(_text_rows(text, delimiter), f'delimiter {delimiter!r}')
        if lay is not None:
            return [lay]
    return []


# --------------------------------------------------------------------------- columns
def _by_option(columns: Sequence[Column], wanted: str, option: str) -> Column:
    if wanted.startswith('#') and wanted[1:].isdigit():
        i = int(wanted[1:]) - 1
        for col in columns:
            if col.index == i:
                return col
        raise AnalyserFileError(f'{option} {wanted}: the header has {len(columns)} columns')
    for col in columns:
        if col.name == wanted or _cell_text(col.name) == wanted.strip():
            return col
    for col in columns:
        if _key(col.name) == _key(wanted):
            return col
    raise AnalyserFileError(f'{option} {wanted!r}: no such column in the header '
                            f'{[c.name for c in columns]}')


def _values(lay: _Layout, col: Column, decimal: str) -> np.ndarray:
    out = []
    for _, row in lay.rows[lay.first_data:lay.first_data + 500]:
        try:
            v = _number(row[col.index], decimal) if col.index < len(row) else None
        except ValueError:
            v = None
        if v is not None and math.isfinite(v):
            out.append(v)
    return np.array(out)


def _gas_column(lay: _Layout, key: re.Pattern, gas: str, option: str, decimal: str,
                notes: list[str]) -> tuple[Column, list[Column]]:
    """The absolute column of ``gas`` ('VO2'/'VCO2') and its per-kg columns."""
    named = [c for c in lay.columns if key.fullmatch(_key(c.name))]
    per_kg = [c for c in named if flow_unit(c.unit) == 'per-kg']
    per_kg += [c for c in lay.columns if 'kg' in _key(c.name)
               and key.fullmatch(_key(c.name).replace('/kg', '').replace('kg', ''))]
    absolute = [c for c in named if c not in per_kg]
    if not absolute:
        raise AnalyserFileError(
            f'no absolute {gas} column: {[c.label for c in per_kg]} are per kg (eq. 15 takes '
            f'{gas} in mL/min, not mL/kg/min); name the absolute column with {option}')
    if len(absolute) == 1:
        return absolute[0], per_kg
    # Same name twice without units (Breeze): per kg and absolute differ by the body mass.
    medians = [(float(np.median(v)) if (v := _values(lay, c, decimal)).size else math.nan, c)
               for c in absolute]
    finite = sorted((m, c) for m, c in medians if math.isfinite(m) and m > 0)
    if len(finite) == 2:
        (small, c_small), (large, c_large) = finite
        ratio = large / small
        if BODY_MASS_RANGE_KG[0] <= ratio <= BODY_MASS_RANGE_KG[1]:
            notes.append(f'{gas} named twice without a unit: {c_small.label} (median '
                         f'{small:.4g}) read as per kg, {c_large.label} (median {large:.4g}, '
                         f'x{ratio:.1f}) as absolute')
            return c_large, per_kg + [c_small]
    raise AnalyserFileError(
        f'{gas} is named by several columns {[c.label for c in absolute]} and which is '
        f'absolute cannot be told; pass {option} "#N" (N: the 1-based column number)')


def _time_column(lay: _Layout, wanted: str | None, decimal: str) -> Column:
    if wanted:
        return _by_option(lay.columns, wanted, '--time-column')
    cands = [c for c in lay.columns if _TIME_KEY.fullmatch(_key(c.name))]
    for col in cands:
        rows = lay.rows[lay.first_data:lay.first_data + 50]
        ok = sum(1 for _, r in rows if col.index < len(r) and _parses_as_time(r[col.index]))
        if ok >= max(1, len(rows) // 2):
            return col
    if cands:
        return cands[0]
    raise AnalyserFileError(f'no time column in the header {[c.name for c in lay.columns]}; '
                            'name it with --time-column')


def _vendor(lay: _Layout, columns: Sequence[Column]) -> str:
    head = ' '.join(_cell_text(c).lower() for _, row in lay.rows[:max(lay.header, 0) + 1]
                    for c in row[:12])
    head += ' ' + ' '.join(_cell_text(c).lower() for _, row in lay.rows[:60] for c in row[:9])
    for vendor, words in _VENDOR_WORDS:
        if any(re.search(r'(^|[^a-z])' + re.escape(w) + r'($|[^a-z])', head) for w in words):
            return vendor
    keys = [_key(c.name) for c in columns]
    names = [c.name for c in columns]
    if 'eem' in keys or ('rf' in keys and 't' in keys and 'r' in keys):
        return 'cosmed'
    if 'TIME' in names and any(c.unit_source == 'units row' for c in columns) and any(
            _cell_text(c).upper() == 'STPD' for _, r in lay.rows[lay.header + 1:lay.first_data]
            for c in r):
        return 'parvo-trueone'
    if sum(1 for k in keys if k == 'vo2') >= 2:
        return 'mgc-breeze'
    if keys[:3] == ['times', 'vo2mlpers', 'vco2mlpers']:
        return 'exo-vic'
    return 'generic'


# --------------------------------------------------------------------------- reading
def _flow(col: Column, unit: str | None, vendor: str) -> tuple[str, str]:
    if unit is not None:
        return unit, '--unit'
    if col.unit_source:
        u = flow_unit(col.unit)
        if u == 'per-kg':
            raise AnalyserFileError(f'{col.label} is in {col.unit} (per kg); eq. 15 takes the '
                                    'absolute flow: name that column with --vo2-column / '
                                    '--vco2-column')
        if u is None:
            raise AnalyserFileError(
                f'{col.label}: unknown unit {col.unit!r} ({col.unit_source}); pass --unit '
                f'({"|".join(FLOW_UNITS)})')
        return u, col.unit_source
    hint = _unit_hint(col.name)
    if hint:
        return hint, 'header'
    if vendor in VENDOR_FLOW_UNIT:
        return VENDOR_FLOW_UNIT[vendor], f'{vendor} default'
    return 'ml/min', 'assumed'


def _suggest_flow(median_ml_min: float, unit: str, span: tuple[float, float]) -> str:
    raw = median_ml_min / FLOW_UNITS[unit]
    fits = [u for u, f in FLOW_UNITS.items() if u != unit and span[0] <= raw * f <= span[1]]
    if fits:
        return 'if the column is in ' + ' or '.join(fits) + ' pass ' + ' or '.join(
            f'--unit {u}' for u in fits)
    return ('if this is not the absolute flow, name the right column with --vo2-column / '
            '--vco2-column')


def read_analyser_file(path: str | os.PathLike, unit: str | None = None,
                       time_column: str | None = None, vo2_column: str | None = None,
                       vco2_column: str | None = None, time_unit_override: str | None = None,
                       max_interval_s: float = INTERVAL_RANGE_S[1],
                       max_plausible_ml_per_s: float = 150.0) -> AnalyserFile:
    """Read and check an analyser's export (.xlsx, CSV/TSV/text): see the module docstring.

    Args:
        path: the file.
        unit: unit of the VO2 and VCO2 columns (a key of :data:`FLOW_UNITS`), overriding
            the file's units row, the header and the vendor's default.
        time_column: the time column by header name, or ``'#N'`` by its 1-based number,
            instead of the one found by name.
        vo2_column: the same for VO2.
        vco2_column: the same for VCO2.
        time_unit_override: unit of a numeric time column (a key of :data:`TIME_UNITS`).
        max_interval_s: the largest plausible median interval between rows, s (raise it
            for files of averages over longer intervals).
        max_plausible_ml_per_s: rows with VO2 or VCO2 above this are skipped, mL/s.

    Rows that cannot be used (empty or ``-`` cells, text, NaN, negative, implausible, time
    not after the previous row) are skipped and listed with their line (CSV) or row
    (.xlsx) number. Raises :class:`AnalyserFileError` when the file is refused.

    """
    path = Path(path)
    if unit is not None and unit not in FLOW_UNITS:
        raise AnalyserFileError(f'--unit must be one of {sorted(FLOW_UNITS)}, got {unit!r}')
    if time_unit_override is not None and time_unit_override not in TIME_UNITS:
        raise AnalyserFileError(f'--time-unit must be one of {sorted(TIME_UNITS)}, got '
                                f'{time_unit_override!r}')
    wanted = {k: w for k, w in (('time', time_column), ('vo2', vo2_column),
                                ('vco2', vco2_column)) if w}
    try:
        layouts = _layouts(path, wanted)
    except OSError as err:
        raise AnalyserFileError(f'cannot open {path}: {err}') from err
    if not layouts:
        raise AnalyserFileError(
            f'{path.name}: no header row with time, VO2 and VCO2 columns in the first '
            f"{HEADER_SEARCH_ROWS} rows (names such as t/Time/TIME, VO2/V'O2, VCO2/V'CO2); "
            'name them with --time-column, --vo2-column, --vco2-column')
    lay = layouts[0]
    notes: list[str] = []
    idx = [c.index for c in lay.columns]
    decimal = _decimal_mark(lay.rows, lay.first_data, idx)
    if lay.header < 0:
        ct, cv, cc = lay.columns
        vendor, per_kg = 'generic', []
    else:
        ct = _time_column(lay, time_column, decimal)
        cv, per_kg = ((_by_option(lay.columns, vo2_column, '--vo2-column'), []) if vo2_column
                      else _gas_column(lay, _VO2_KEY, 'VO2', '--vo2-column', decimal, notes))
        cc, _ = ((_by_option(lay.columns, vco2_column, '--vco2-column'), []) if vco2_column
                 else _gas_column(lay, _VCO2_KEY, 'VCO2', '--vco2-column', decimal, notes))
        vendor = _vendor(lay, lay.columns)
    u_vo2, s_vo2 = _flow(cv, unit, vendor)
    u_vco2, s_vco2 = _flow(cc, unit, vendor)
    energy_col = None
    for col in lay.columns if lay.header >= 0 else []:
        k = _key(col.name)
        if k in _ENERGY_KEYS:
            eu = energy_unit(col.unit) if col.unit_source else _ENERGY_KEYS[k]
            if eu is not None:
                energy_col = (col, eu)
                break

    # Time unit of numeric cells.
    if time_unit_override:
        t_unit, t_src = time_unit_override, '--time-unit'
    elif ct.unit_source and time_unit(ct.unit):
        t_unit, t_src = time_unit(ct.unit), ct.unit_source
    else:
        m = _TIME_KEY.fullmatch(_key(ct.name))
        hint = time_unit(m.group(2)) if m and m.group(2) else None
        t_unit, t_src = (hint, 'header') if hint else ('s', 'assumed')

    # Rows.
    parsed: list[tuple[int, float, float, float, float]] = []  # n, t, vo2, vco2 (mL/min), ee
    skipped: list[tuple[int, str]] = []
    need = max(ct.index, cv.index, cc.index) + 1
    blank_seen = False
    any_clock_text = False
    for pos in range(lay.first_data, len(lay.rows)):
        n, row = lay.rows[pos]
        if all(_is_blank(c) for c in row):
            blank_seen = bool(parsed) or blank_seen
            continue
        cells = [row[i] if i < len(row) else None for i in (ct.index, cv.index, cc.index)]
        shown = [_cell_text(c) for c in cells]
        try:
            t = _time(cells[0], decimal, 'clock' if t_unit == 'clock' else t_unit)
        except ValueError:
            if blank_seen and parsed:
                rest = sum(1 for _, r in lay.rows[pos:] if not all(_is_blank(c) for c in r))
                notes.append(f'the data table ends at the blank row above row/line {n}; '
                             f'{rest} rows below it (another section) are not read')
                break
            skipped.append((n, f'not a time: {shown[0]!r}'))
            continue
        if t is None or _is_blank(cells[1]) or _is_blank(cells[2]):
            if len(row) < need:
                skipped.append((n, f'{len(row)} fields, expected at least {need}'))
            else:
                skipped.append((n, f'empty cell: {shown!r}'))
            continue
        try:
            vo2 = _number(cells[1], decimal)
            vco2 = _number(cells[2], decimal)
        except ValueError:
            skipped.append((n, f'not a number: {shown!r}'))
            continue
        if vo2 is None or vco2 is None:
            skipped.append((n, f'empty cell: {shown!r}'))
            continue
        any_clock_text = any_clock_text or (isinstance(cells[0], str) and ':' in cells[0])
        ee = math.nan
        if energy_col is not None:
            c = energy_col[0]
            try:
                ee = _number(row[c.index], decimal) if c.index < len(row) else None
            except ValueError:
                ee = None
            ee = math.nan if ee is None else ee * ENERGY_UNITS[energy_col[1]]
        parsed.append((n, t, vo2 * FLOW_UNITS[u_vo2], vco2 * FLOW_UNITS[u_vco2], ee))

    # Numbers below 1 in a time column without a unit: Excel day fractions.
    if (t_src == 'assumed' and not any_clock_text and len(parsed) >= 2
            and 0 < max(p[1] for p in parsed) < 1.0):
        parsed = [(n, t * TIME_UNITS['day'], a, b, e) for n, t, a, b, e in parsed]
        t_unit, t_src = 'day', 'values below 1 (Excel day fractions)'
        notes.append(f'time column {ct.label} holds numbers below 1: read as Excel day '
                     'fractions (x 86400 s); pass --time-unit s if they are seconds')
    t_label = 'hh:mm:ss' if t_unit == 'clock' or any_clock_text else t_unit

    # Row checks (as the CSV reader of exo_metabolic.gas_exchange).
    kept: list[tuple[int, float, float, float, float]] = []
    limit = max_plausible_ml_per_s * ML_PER_MIN_PER_ML_PER_S
    for n, t, vo2, vco2, ee in parsed:
        raw = [_cell_text(x) for x in (t, vo2, vco2)]
        if not all(math.isfinite(v) for v in (t, vo2, vco2)):
            skipped.append((n, f'non-finite value: {raw!r}'))
        elif vo2 < 0 or vco2 < 0:
            skipped.append((n, f'negative gas exchange: {raw[1:]!r} mL/min'))
        elif vo2 > limit or vco2 > limit:
            skipped.append((n, f'implausible gas exchange: {vo2:.1f}, {vco2:.1f} mL/min '
                               f'(> {limit:.0f} mL/min)'))
        elif kept and not t > kept[-1][1]:
            skipped.append((n, f'time {t:.3f} s is not after the previous row '
                               f'({kept[-1][1]:.3f} s)'))
        else:
            kept.append((n, t, vo2, vco2, ee))
    skipped.sort()

    where = f'{path.name} ({lay.where})'
    vo2_desc = f'VO2 column {cv.label} read as {u_vo2} ({s_vo2})'
    vco2_desc = f'VCO2 column {cc.label} read as {u_vco2} ({s_vco2})'
    total = len(kept) + len(skipped)
    if len(kept) < 2:
        first = f'; first: line/row {skipped[0][0]}: {skipped[0][1]}' if skipped else ''
        raise AnalyserFileError(
            f'{where}: {len(kept)} usable rows of {total} (columns {ct.label}, {cv.label}, '
            f'{cc.label}){first}')
    if len(kept) < MIN_USABLE_FRACTION * total:
        raise AnalyserFileError(
            f'{where}: only {len(kept)} of {total} rows usable with columns {ct.label}, '
            f'{cv.label}, {cc.label} (first skipped: line/row {skipped[0][0]}: '
            f'{skipped[0][1]}); name the right columns with --time-column, --vo2-column, '
            '--vco2-column')
    t = np.array([k[1] for k in kept])
    vo2 = np.array([k[2] for k in kept])
    vco2 = np.array([k[3] for k in kept])

    # Plausibility of the file as a whole.
    for desc, values, span, gas in ((vo2_desc, vo2, VO2_RANGE_ML_PER_MIN, 'VO2'),
                                    (vco2_desc, vco2, VCO2_RANGE_ML_PER_MIN, 'VCO2')):
        med = float(np.median(values))
        if not span[0] <= med <= span[1]:
            u = u_vo2 if gas == 'VO2' else u_vco2
            raise AnalyserFileError(
                f'{where}: {desc} gives a median {gas} of {med:.4g} mL/min, outside the '
                f'human range {span[0]:g}-{span[1]:g} mL/min; {_suggest_flow(med, u, span)}')
    rer = float(np.median(vco2 / np.where(vo2 > 0, vo2, np.nan)))
    if not (math.isfinite(rer) and RER_RANGE[0] <= rer <= RER_RANGE[1]):
        raise AnalyserFileError(
            f'{where}: median RER (VCO2/VO2) {rer:.3g} is outside {RER_RANGE[0]}-'
            f'{RER_RANGE[1]}: {vo2_desc}, {vco2_desc}; pass --unit for both, or name the '
            'columns with --vo2-column / --vco2-column')
    interval = float(np.median(np.diff(t)))
    if not INTERVAL_RANGE_S[0] <= interval <= max_interval_s:
        hint = ''
        if t_label != 'hh:mm:ss':
            raw = interval / TIME_UNITS[t_unit]
            fits = [u for u, f in TIME_UNITS.items()
                    if u != t_unit and INTERVAL_RANGE_S[0] <= raw * f <= max_interval_s]
            if fits:
                hint = ('if the times are in ' + ' or '.join(fits) + ' pass '
                        + ' or '.join(f'--time-unit {u}' for u in fits) + '; ')
        raise AnalyserFileError(
            f'{where}: median interval between rows {interval:.4g} s is outside '
            f'{INTERVAL_RANGE_S[0]:g}-{max_interval_s:g} s: time column {ct.label} read as '
            f'{t_label} ({t_src}); {hint}for averages over longer intervals pass '
            f'--max-interval S')
    for col in per_kg:
        kg = _values(lay, col, decimal)
        if kg.size and np.median(kg) > 0:
            mass = float(np.median(vo2)) / float(np.median(kg))
            if not BODY_MASS_RANGE_KG[0] <= mass <= BODY_MASS_RANGE_KG[1]:
                raise AnalyserFileError(
                    f'{where}: {vo2_desc} over the per-kg column {col.label} gives a body '
                    f'mass of {mass:.3g} kg, outside {BODY_MASS_RANGE_KG[0]:g}-'
                    f'{BODY_MASS_RANGE_KG[1]:g} kg; pass --unit or --vo2-column')
            break

    energy = None
    if energy_col is not None:
        ee = np.array([k[4] for k in kept])
        ok = np.isfinite(ee) & (ee > 0)
        if ok.sum() >= 2:
            eq15 = brockway_power(vo2[ok] / ML_PER_MIN_PER_ML_PER_S,
                                  vco2[ok] / ML_PER_MIN_PER_ML_PER_S, 1.0)
            diff = 100.0 * (float(np.sum(eq15)) / float(np.sum(ee[ok])) - 1.0)
            col, eu = energy_col
            energy = {'column': col.name, 'unit': eu, 'rows': int(ok.sum()),
                      'vendor_w_mean': round(float(np.mean(ee[ok])), 2),
                      'eq15_w_mean': round(float(np.mean(eq15)), 2),
                      'difference_pct': round(diff, 2)}
            if abs(diff) > ENERGY_TOLERANCE_PCT:
                notes.append(f"eq. 15 gives {diff:+.1f} % against the file's own energy "
                             f'column {col.label} ({eu}): beyond {ENERGY_TOLERANCE_PCT:g} %; '
                             f'check the units ({vo2_desc}, {vco2_desc})')

    unit_text = u_vo2 if u_vo2 == u_vco2 else f'VO2 {u_vo2}, VCO2 {u_vco2}'
    table = GasTable(t, vo2 / ML_PER_MIN_PER_ML_PER_S, vco2 / ML_PER_MIN_PER_ML_PER_S,
                     unit_text, (ct.name, cv.name, cc.name), skipped)
    units = {'time': (t_label, t_src), 'vo2': (u_vo2, s_vo2), 'vco2': (u_vco2, s_vco2)}
    return AnalyserFile(path, table, vendor, units, notes, energy)
