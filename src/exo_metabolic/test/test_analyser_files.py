"""Analyser export files: every vendor layout read right, and refused when it cannot be.

The fixtures are written here, at test time, in the layouts the vendors' software exports
(COSMED PFT Suite / Omnia, CORTEX MetaSoft Studio, MGC Diagnostics Breeze, Parvo Medics
TrueOne 2400, Vyntus CPX), from one known breath series, so each test knows what the file
holds: the reader must give back that series in mL/s and s.
"""

import json
import math
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import openpyxl
import pytest

from exo_metabolic.analyser_files import AnalyserFileError, read_analyser_file
from exo_metabolic.gas_exchange import Breath, write_gas_csv

MASS = 70.0
N = 80


def series(seed=5, period=(2.5, 4.5), rer=0.86):
    """Known breaths: (t s, VO2 mL/min, VCO2 mL/min), a walking adult (~800 mL/min)."""
    rng = np.random.default_rng(seed)
    t = 2.0 + np.cumsum(rng.uniform(*period, N))
    vo2 = 800.0 * (1.0 + 0.08 * rng.standard_normal(N))
    vco2 = vo2 * (rer + 0.02 * rng.standard_normal(N))
    return np.round(t, 1), np.round(vo2, 0), np.round(vco2, 0)


def hms(seconds, decimal=None, hours=True):
    """'00:01:04' / '00:01:04,8' (one decimal with the given mark) / '1:04'."""
    whole = int(seconds)
    h, m, s = whole // 3600, whole % 3600 // 60, whole % 60
    text = f'{h:02d}:{m:02d}:{s:02d}' if hours else f'{h * 60 + m}:{s:02d}'
    if decimal:
        text += f'{decimal}{int(round((seconds - whole) * 10)) % 10}'
    return text


def comma(x, digits=3):
    return f'{x:.{digits}f}'.replace('.', ',')


def weir_kcal_min(vo2_ml_min, vco2_ml_min):
    """The vendor's own energy (Weir 1949), kcal/min: what COSMED writes in EEm."""
    return 3.941 * vo2_ml_min / 1000 + 1.106 * vco2_ml_min / 1000


def assert_series(read, t, vo2, vco2, t_offset=0.0, atol_t=0.06, rtol=1e-3):
    table = read.table
    assert table.t.size == t.size, read.table.skipped
    np.testing.assert_allclose(table.t, t + t_offset, atol=atol_t)
    np.testing.assert_allclose(table.vo2 * 60, vo2, rtol=rtol)
    np.testing.assert_allclose(table.vco2 * 60, vco2, rtol=rtol)


# --------------------------------------------------------------------------- COSMED
COSMED_META = [('ID code:', '0042'), ('Last name:', 'Doe'), ('First name:', 'Jane'),
               ('Sex:', 'Female'), ('Age:', 34), ('Height (cm):', 168),
               ('Weight (Kg):', MASS), ('D.O.B.:', '01/02/1991'), ('Test date:', '12/03/2025'),
               ('Test time:', '10:31'), ('Protocol:', 'Elbow exo, repetitive lift')]
COSMED_HEADER = ['t', 'Rf', 'VT', 'VE', 'VO2', 'VCO2', 'VE/VO2', 'VE/VCO2', 'R', 'VO2/Kg',
                 'METS', 'HR', 'VO2/HR', 'FeO2', 'FeCO2', 'EEm', 'EEh', 'Phase', 'Marker']
COSMED_UNITS = ['hh:mm:ss', '1/min', 'L', 'L/min', 'mL/min', 'mL/min', '---', '---', '---',
                'mL/min/Kg', '---', 'bpm', 'mL/beat', '%', '%', 'Kcal/min', 'Kcal/h', '---',
                '---']


def cosmed_rows(t, vo2, vco2, time_cell, energy_scale=1.0):
    rows = []
    for i in range(t.size):
        ee = weir_kcal_min(vo2[i], vco2[i]) * energy_scale
        rows.append([time_cell(t[i]), 18.0, 1.1, 19.8, vo2[i], vco2[i], 24.7, 28.7,
                     round(vco2[i] / vo2[i], 2), round(vo2[i] / MASS, 1),
                     round(vo2[i] / MASS / 3.5, 1), 96, round(vo2[i] / 96, 1), 16.4, 4.1,
                     round(ee, 2), round(ee * 60, 0), 'EXERCISE', ''])
    return rows


def write_cosmed_xlsx(path, t, vo2, vco2, omnia=True, energy_scale=1.0):
    """COSMED layout: metadata in A-B, D-E; the table from column J; units row (+ blank)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = 'Data'
    for r, (label, value) in enumerate(COSMED_META, start=1):
        sheet.cell(r, 1, label)
        sheet.cell(r, 2, value)
    sheet.cell(1, 4, 'Omnia' if omnia else 'PFT Suite')
    sheet.cell(2, 4, 'COSMED Srl')
    first_col = 10
    for j, (name, unit) in enumerate(zip(COSMED_HEADER, COSMED_UNITS, strict=True)):
        sheet.cell(1, first_col + j, name)
        sheet.cell(2, first_col + j, unit)
    start = 4 if omnia else 3  # Omnia: a blank row under the units row
    cell = (lambda s: s / 86400.0) if omnia else (lambda s: hms(s))
    for i, row in enumerate(cosmed_rows(t, vo2, vco2, cell, energy_scale)):
        for j, value in enumerate(row):
            c = sheet.cell(start + i, first_col + j, value)
            if j == 0 and omnia:
                c.number_format = 'hh:mm:ss'
    book.save(path)
    return path


@pytest.mark.parametrize('omnia', [True, False], ids=['omnia', 'pft-suite'])
def test_cosmed_xlsx(tmp_path, omnia):
    t, vo2, vco2 = series()
    path = write_cosmed_xlsx(tmp_path / 'cosmed.xlsx', t, vo2, vco2, omnia=omnia)
    read = read_analyser_file(path)
    assert read.vendor == 'cosmed'
    assert read.table.columns == ('t', 'VO2', 'VCO2')
    assert read.units['vo2'] == ('ml/min', 'units row')
    # Omnia: Excel times (fractions of a day); PFT Suite: hh:mm:ss text, whole seconds.
    assert_series(read, t if omnia else np.floor(t), vo2, vco2, atol_t=1e-3)
    assert read.energy_check['column'] == 'EEm'
    assert abs(read.energy_check['difference_pct']) < 1.0  # Weir vs Brockway
    assert read.warnings == []


def test_cosmed_omnia_day_fractions_in_csv_with_blank_row(tmp_path):
    """Omnia's t as an Excel day fraction (3.47e-05 for 3 s) in a CSV: read as time."""
    t, vo2, vco2 = series()
    lines = [','.join(['ID code:', '0042', '', '', '', '', '', '', ''] + COSMED_HEADER),
             ','.join(['Last name:', 'Doe', '', '', '', '', '', '', ''] + COSMED_UNITS),
             ','.join(['First name:', 'Jane'] + [''] * 26)]
    for row in cosmed_rows(t, vo2, vco2, lambda s: repr(float(s) / 86400.0)):
        lines.append(','.join([''] * 9 + [str(v) for v in row]))
    path = tmp_path / 'omnia.csv'
    path.write_text('\n'.join(lines) + '\n')
    read = read_analyser_file(path)
    assert read.vendor == 'cosmed' and read.units['time'][0] == 'hh:mm:ss'
    assert_series(read, t, vo2, vco2, atol_t=1e-6)


def test_cosmed_day_fractions_without_unit_row_are_read_and_said(tmp_path):
    """A bare t column of numbers below 1: Excel day fractions, with a warning."""
    t, vo2, vco2 = series()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(['t', 'VO2', 'VCO2'])
    for i in range(t.size):
        sheet.append([t[i] / 86400.0, vo2[i], vco2[i]])
    book.save(tmp_path / 'bare.xlsx')
    read = read_analyser_file(tmp_path / 'bare.xlsx')
    assert_series(read, t, vo2, vco2, atol_t=1e-6)
    assert read.units['time'][0] == 'day'
    assert any('day fractions' in w for w in read.warnings)


def test_cosmed_energy_column_disagreeing_is_warned(tmp_path):
    t, vo2, vco2 = series()
    path = write_cosmed_xlsx(tmp_path / 'cosmed.xlsx', t, vo2, vco2, energy_scale=1.08)
    read = read_analyser_file(path)
    assert read.energy_check['difference_pct'] == pytest.approx(-100 * (1 - 1 / 1.08), abs=1)
    assert len(read.warnings) == 1 and 'EEm' in read.warnings[0] and '3 %' in read.warnings[0]


# --------------------------------------------------------------------------- CORTEX
def cortex_lines(t, vo2, vco2, units_row=True, sep=';'):
    """MetaSoft Studio: ~52 rows of metadata, header, units row, decimal commas, '-'."""
    meta = [['MetaSoft Studio', '5.12.0'], ['Administrative Data'], ['Institution', 'Lab'],
            [], ['Patient data'], ['Last Name', 'Doe'], ['First Name', 'Jane'],
            ['Sex', 'female'], ['Date of Birth', '01.02.1991'], ['Height', '168', 'cm'],
            ['Weight', '70', 'kg'], [], ['Test data'], ['Device', 'MetaLyzer 3B'],
            ['Test date', '12.03.2025'], ['Test time', '10:31']]
    while len(meta) < 52:
        meta.append(['Ambient conditions' if len(meta) == 20 else '', ''])
    lines = [sep.join(row) for row in meta]
    lines.append(sep.join(['t', 'Phase', 'Marker', "V'O2", "V'O2/kg", "V'CO2", 'RER',
                           "V'E", 'BF', 'HR']))
    if units_row:
        lines.append(sep.join(['hh:mm:ss.z', '', '', 'l/min', 'ml/min/kg', 'l/min', '',
                               'l/min', '1/min', '1/min']))
    for i in range(t.size):
        lines.append(sep.join([hms(t[i], ','), 'Exercise', '-', comma(vo2[i] / 1000),
                               comma(vo2[i] / MASS, 1), comma(vco2[i] / 1000),
                               comma(vco2[i] / vo2[i], 2), comma(19.8, 1), '18', '-']))
    return lines


def test_cortex_csv(tmp_path):
    t, vo2, vco2 = series()
    lines = cortex_lines(t, vo2, vco2)
    # '-' where the analyser wrote nothing: that breath is skipped, with its line.
    dash = 52 + 2 + 5
    cells = lines[dash].split(';')
    cells[3] = '-'
    lines[dash] = ';'.join(cells)
    path = tmp_path / 'cortex.csv'
    path.write_text('\n'.join(lines) + '\n', encoding='cp1252')
    read = read_analyser_file(path)
    assert read.vendor == 'cortex'
    assert read.table.columns == ('t', "V'O2", "V'CO2")
    assert read.units['vo2'] == ('l/min', 'units row')
    keep = np.arange(t.size) != 5
    assert_series(read, t[keep], vo2[keep], vco2[keep])
    assert read.table.skipped == [(dash + 1, "empty cell: ['00:00:" + lines[dash][6:10]
                                   + "', '-', '" + cells[5] + "']")]


def test_cortex_xlsx(tmp_path):
    t, vo2, vco2 = series()
    book = openpyxl.Workbook()
    sheet = book.active
    for line in cortex_lines(t, vo2, vco2):
        cells = line.split(';')
        row = []
        for j, c in enumerate(cells):
            if j in (3, 4, 5, 6) and c not in ('', '-') and ',' in c:
                row.append(float(c.replace(',', '.')))  # Excel numbers; t stays text
            else:
                row.append(c)
        sheet.append(row)
    book.save(tmp_path / 'cortex.xlsx')
    read = read_analyser_file(tmp_path / 'cortex.xlsx')
    assert read.vendor == 'cortex' and read.units['vo2'][0] == 'l/min'
    assert_series(read, t, vo2, vco2)


def test_cortex_without_units_row_is_refused_with_the_option(tmp_path):
    """L/min values with nothing saying so: assumed mL/min -> refused, --unit l/min named."""
    t, vo2, vco2 = series()
    path = tmp_path / 'cortex.csv'
    path.write_text('\n'.join(cortex_lines(t, vo2, vco2, units_row=False)) + '\n')
    with pytest.raises(AnalyserFileError) as err:
        read_analyser_file(path)
    msg = str(err.value)
    assert "V'O2" in msg and 'ml/min (assumed)' in msg and '--unit l/min' in msg, msg
    read = read_analyser_file(path, unit='l/min')
    assert_series(read, t, vo2, vco2)


# --------------------------------------------------------------------------- Breeze
def breeze_lines(t, vo2, vco2, units_row):
    lines = ['MGC Diagnostics BreezeSuite 8.6', 'Name:\tDoe, Jane', 'Weight:\t70.0 kg', '']
    lines.append('\t'.join(['Time', 'Speed', 'Grade', 'VO2', 'VO2', 'VCO2', 'RER', 'VE',
                            'RR', 'HR', 'METS']))
    if units_row:
        lines.append('\t'.join(['min:sec', 'mph', '%', 'ml/kg/min', 'ml/min', 'ml/min', '',
                                'L/min', 'br/min', 'bpm', '']))
    for i in range(t.size):
        lines.append('\t'.join([hms(round(t[i]), hours=False), '2.0', '0.0',
                                f'{vo2[i] / MASS:.1f}', f'{vo2[i]:.0f}', f'{vco2[i]:.0f}',
                                f'{vco2[i] / vo2[i]:.2f}', '19.8', '18', '96',
                                f'{vo2[i] / MASS / 3.5:.1f}']))
    return lines


@pytest.mark.parametrize('units_row', [True, False], ids=['units-row', 'no-units-row'])
def test_breeze_double_vo2_takes_the_absolute_column(tmp_path, units_row):
    """VO2 named twice (per kg, then mL/min): the absolute one, RER ~0.86, not ~58."""
    t, vo2, vco2 = series()
    path = tmp_path / 'breeze.txt'
    path.write_text('\n'.join(breeze_lines(t, vo2, vco2, units_row)) + '\n')
    read = read_analyser_file(path)
    assert read.vendor == 'mgc-breeze'
    assert_series(read, np.round(t), vo2, vco2, atol_t=1e-6)
    assert read.summary()['rer_median'] == pytest.approx(0.86, abs=0.02)
    assert read.summary()['columns'] == ['Time', 'VO2', 'VCO2']
    if not units_row:
        assert any('column 4' in w and 'per kg' in w for w in read.warnings)


def test_breeze_only_per_kg_vo2_is_refused(tmp_path):
    t, vo2, vco2 = series()
    lines = [line.split('\t') for line in breeze_lines(t, vo2, vco2, True)]
    for row in lines[4:]:
        del row[4]  # only VO2 in ml/kg/min is left
    path = tmp_path / 'breeze.txt'
    path.write_text('\n'.join('\t'.join(r) for r in lines) + '\n')
    with pytest.raises(AnalyserFileError, match=r'per kg.*--vo2-column'):
        read_analyser_file(path)


def test_two_same_named_columns_that_cannot_be_told_apart_are_refused(tmp_path):
    t, vo2, vco2 = series()
    lines = ['Time\tVO2\tVO2\tVCO2'] + [f'{t[i]}\t{vo2[i]}\t{vo2[i] * 1.1:.0f}\t{vco2[i]}'
                                        for i in range(t.size)]
    path = tmp_path / 'two.tsv'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(AnalyserFileError, match='#N'):
        read_analyser_file(path)
    assert_series(read_analyser_file(path, vo2_column='#2'), t, vo2, vco2)


# --------------------------------------------------------------------------- Parvo
def parvo_lines(t_min, vo2, vco2):
    lines = ['Parvo Medics TrueOne 2400,,,,,,,,,,,,,', ',,,,,,,,,,,,,',
             'Date,2025,/,03,/,12,10,:,31,:,05,,,', 'Name,"Doe, Jane",,,,,,,,,,,,',
             'Age,34,,Sex,F,,,,,,,,,', 'Height,168,cm,Weight,,70,kg,,,,,,,',
             'Insp. temp,22.1,C,Baro. pressure,758,mmHg,Insp. humidity,40,%,,,,,',
             'STPD to BTPS,1.12,O2 Gain,0.98,CO2-NDIR gain,1.01,,,,,,,,', ',,,,,,,,,,,,,',
             'TIME,VO2,VO2/kg,METS,VCO2,VE,RER,RR,Vt,FEO2,FECO2,VE/,VE/,HR',
             'min,STPD,STPD,,STPD,BTPS,,bpm,BTPS,%,%,VO2,VCO2,',
             ',l/min,ml/kg/m,,l/min,l/min,,,l,,,,,bpm',
             '---------,---,---,---,---,---,---,---,---,---,---,---,---,---']
    for i in range(t_min.size):
        lines.append(f'{t_min[i]:.2f},{vo2[i] / 1000:.3f},{vo2[i] / MASS:.1f},'
                     f'{vo2[i] / MASS / 3.5:.1f},{vco2[i] / 1000:.3f},19.8,'
                     f'{vco2[i] / vo2[i]:.2f},18,1.10,16.4,4.1,24.7,28.7,96')
    lines += [',,,,,,,,,,,,,', 'Events,,,,,,,,,,,,,', 'TIME,Event,,,,,,,,,,,,',
              '2.00,Start exercise,,,,,,,,,,,,']
    return lines


def test_parvo_trueone_csv(tmp_path):
    """15-s averages, TIME in minutes, header over three rows, VE/VO2 not taken as VO2."""
    _, vo2, vco2 = series()
    t_min = 0.25 * np.arange(1, N + 1)
    path = tmp_path / 'parvo.csv'
    path.write_text('\n'.join(parvo_lines(t_min, vo2, vco2)) + '\n')
    read = read_analyser_file(path)
    assert read.vendor == 'parvo-trueone'
    assert read.units['time'] == ('min', 'units row') and read.units['vo2'][0] == 'l/min'
    assert_series(read, t_min * 60, vo2, vco2, atol_t=1e-6, rtol=2e-3)
    assert any('not read' in w for w in read.warnings)  # the events section


def test_averages_over_longer_intervals_need_max_interval(tmp_path):
    _, vo2, vco2 = series()
    t_min = 0.5 * np.arange(1, N + 1)
    path = tmp_path / 'parvo30.csv'
    path.write_text('\n'.join(parvo_lines(t_min, vo2, vco2)) + '\n')
    with pytest.raises(AnalyserFileError, match='30 s.*--max-interval'):
        read_analyser_file(path)
    assert read_analyser_file(path, max_interval_s=30.0).table.t.size == N


# --------------------------------------------------------------------------- Vyntus
def test_vyntus_text_export(tmp_path):
    """SentrySuite text: two lines of subject data (cp1252), header, units row, commas."""
    t, vo2, vco2 = series()
    lines = ['ID-nummer:\t0042\tNavn:\tDoe, Jane', 'Dato:\t12.03.2025\tV\u00e6gt:\t70 kg',
             "Tid\tFase\tV'O2\tV'O2/kg\tV'CO2\tRER\tV'E\tBF\tHF\tLast",
             'h:mm:ss\t\tL/min\tmL/min/kg\tL/min\t\tL/min\t1/min\t1/min\tW']
    for i in range(t.size):
        lines.append('\t'.join([hms(t[i])[1:], 'Belastning', comma(vo2[i] / 1000),
                                comma(vo2[i] / MASS, 1), comma(vco2[i] / 1000),
                                comma(vco2[i] / vo2[i], 2), comma(19.8, 1), '18', '96',
                                '0']))
    path = tmp_path / 'vyntus.txt'
    path.write_bytes(('\r\n'.join(lines) + '\r\n').encode('cp1252'))
    read = read_analyser_file(path)
    assert read.vendor == 'vyntus' and read.units['vo2'] == ('l/min', 'units row')
    assert_series(read, np.floor(t), vo2, vco2, atol_t=1e-6)


# --------------------------------------------------------------------------- own / generic
def test_own_csv_round_trip_and_headerless(tmp_path):
    t, vo2, vco2 = series()
    path = write_gas_csv(tmp_path / 'own.csv', [Breath(float(a), b / 60, c / 60)
                                                for a, b, c in zip(t, vo2, vco2, strict=True)])
    read = read_analyser_file(path)
    assert read.vendor == 'exo-vic' and read.units['vo2'] == ('ml/s', 'header')
    assert_series(read, t, vo2, vco2)
    bare = tmp_path / 'bare.csv'
    bare.write_text(''.join(f'{t[i]};{vo2[i]};{vco2[i]}\n' for i in range(t.size)))
    read = read_analyser_file(bare)
    assert read.units['vo2'] == ('ml/min', 'assumed')
    assert_series(read, t, vo2, vco2)


def test_time_in_minutes_without_unit_is_refused_then_read_with_time_unit(tmp_path):
    t, vo2, vco2 = series()
    path = tmp_path / 'minutes.csv'
    path.write_text('Time,VO2 (mL/min),VCO2 (mL/min)\n' + ''.join(
        f'{t[i] / 60:.4f},{vo2[i]},{vco2[i]}\n' for i in range(t.size)))
    with pytest.raises(AnalyserFileError) as err:
        read_analyser_file(path)
    msg = str(err.value)
    assert "'Time' (column 1)" in msg and 's (assumed)' in msg and '--time-unit min' in msg
    assert_series(read_analyser_file(path, time_unit_override='min'), t, vo2, vco2)


def test_implausible_rer_is_refused(tmp_path):
    t, vo2, vco2 = series()
    path = tmp_path / 'rer.csv'
    path.write_text('t,VO2,VCO2\n' + ''.join(f'{t[i]},{vo2[i]},{vo2[i] * 1.6:.0f}\n'
                                             for i in range(t.size)))
    with pytest.raises(AnalyserFileError, match=r'RER.*1\.6.*--unit'):
        read_analyser_file(path)


@pytest.mark.parametrize('name,content,match', [
    ('old.xls', b'\xd0\xcf\x11\xe0', 'xlsx'),
    ('none.csv', b'subject,Doe\nweight,70\n', 'no header row'),
    ('short.csv', b't,VO2,VCO2\n3,800,690\n', '1 usable rows'),
    ('text.csv', b't,VO2,VCO2\n' + b'3,abc,def\n' * 10 + b'6,800,690\n9,810,700\n',
     'only 2 of 12 rows usable'),
])
def test_unreadable_files_are_refused(tmp_path, name, content, match):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(AnalyserFileError, match=match):
        read_analyser_file(tmp_path / name)


# --------------------------------------------------------------------------- --check
def _check(args, code=None):
    cmd = [sys.executable, '-c', code] if code else [sys.executable, '-m',
                                                        'exo_metabolic.gas_replay']
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, ROS_DOMAIN_ID='231'))


def test_check_prints_one_json_object_without_ros(tmp_path):
    t, vo2, vco2 = series()
    path = write_cosmed_xlsx(tmp_path / 'cosmed.xlsx', t, vo2, vco2)
    proc = _check([path, '--check'])
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out['vendor'] == 'cosmed' and out['breaths'] == N and out['skipped'] == 0
    assert out['unit'] == 'ml/min' and out['columns'] == ['t', 'VO2', 'VCO2']
    assert out['vo2_ml_per_min_median'] == pytest.approx(np.median(vo2), abs=0.01)
    assert out['vco2_ml_per_min_median'] == pytest.approx(np.median(vco2), abs=0.01)
    assert out['rer_median'] == pytest.approx(np.median(vco2 / vo2), abs=1e-4)
    assert out['duration_s'] == pytest.approx(t[-1] - t[0], abs=1e-3)
    assert math.isfinite(out['energy_check']['difference_pct'])
    code = ('import sys; from exo_metabolic.gas_replay import main; rc = main(sys.argv[1:]); '
            "print('rclpy' in sys.modules, file=sys.stderr); sys.exit(rc)")
    proc = _check([path, '--check'], code=code)
    assert proc.returncode == 0 and proc.stderr.strip().endswith('False'), proc.stderr


def test_check_refuses_with_the_message_and_non_zero_exit(tmp_path):
    t, vo2, vco2 = series()
    path = tmp_path / 'breeze.txt'
    lines = [line.split('\t') for line in breeze_lines(t, vo2, vco2, True)]
    for row in lines[4:]:
        del row[4]
    path.write_text('\n'.join('\t'.join(r) for r in lines) + '\n')
    proc = _check([path, '--check'])
    assert proc.returncode == 2 and proc.stdout == ''
    assert 'refused' in proc.stderr and 'per kg' in proc.stderr and '--vo2-column' in \
        proc.stderr


def test_check_console_script(tmp_path):
    t, vo2, vco2 = series()
    path = tmp_path / 'cortex.csv'
    path.write_text('\n'.join(cortex_lines(t, vo2, vco2)) + '\n')
    script = Path(sys.prefix).parent / 'install' / 'exo_bringup' / 'lib' / 'exo_bringup' / \
        'exo_replay_gas'
    exe = [str(script)] if script.exists() else ['exo_replay_gas']
    proc = subprocess.run(exe + [str(path), '--check'], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)['vendor'] == 'cortex'



def test_per_kg_column_disagreeing_with_the_absolute_one_is_refused(tmp_path):
    """VO2 / (VO2 per kg) must be a body mass: 7 kg says a column is not what it claims."""
    t, vo2, vco2 = series()
    lines = cortex_lines(t, vo2, vco2)
    for k in range(54, len(lines)):
        cells = lines[k].split(';')
        cells[4] = comma(float(cells[4].replace(',', '.')) * 10, 1)
        lines[k] = ';'.join(cells)
    path = tmp_path / 'cortex.csv'
    path.write_text('\n'.join(lines) + '\n')
    with pytest.raises(AnalyserFileError, match=r'body mass of 7\.\d* kg.*--unit'):
        read_analyser_file(path)


def test_damaged_xlsx_is_refused(tmp_path):
    (tmp_path / 'broken.xlsx').write_bytes(b'PK\x03\x04 not really a workbook')
    with pytest.raises(AnalyserFileError, match='not a readable .xlsx'):
        read_analyser_file(tmp_path / 'broken.xlsx')
