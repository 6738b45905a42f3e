"""Tests of the metabolic-analyser pipeline core (exo_metabolic.gas_exchange), no ROS."""

import io
import math

import numpy as np
import pytest

from exo_contract.metabolics import brockway_power, gas_exchange_for_power
from exo_metabolic.gas_exchange import (
    AnalyserConfig,
    Breath,
    MetabolicEstimator,
    MetabolicParams,
    read_gas_csv,
    RESTING_W_PER_KG,
    SimulatedAnalyser,
    window_energy,
    write_gas_csv,
)

MASS = 72.0


def known_ee(t):
    """A Fig. 6-like EE (W/kg): rise over the first minutes, a slow oscillation."""
    t = np.asarray(t, dtype=float)
    return 2.0 + 1.5 * (1.0 - np.exp(-t / 60.0)) + 0.3 * np.sin(2 * np.pi * t / 90.0)


def known_ec(t1, t2, mass=MASS):
    """Body mass times the integral of known_ee over [t1, t2], J (closed form)."""
    def primitive(t):
        return (3.5 * t + 90.0 * np.exp(-t / 60.0)
                - 0.3 * 90.0 / (2 * np.pi) * np.cos(2 * np.pi * t / 90.0))
    return mass * float(primitive(t2) - primitive(t1))


def synthetic_breaths(total_s=600.0, seed=3, noise_cv=0.0, rer=0.85):
    """Breaths of 3-4 s whose values are the exact mean of known_ee over each breath."""
    rng = np.random.default_rng(seed)
    breaths, t = [], 0.0
    while True:
        d = rng.uniform(3.0, 4.0)
        if t + d > total_s:
            return breaths
        grid = np.linspace(t, t + d, 201)
        mean_ee = float(np.trapezoid(known_ee(grid), grid) / d)
        vo2, vco2 = gas_exchange_for_power(mean_ee * MASS, rer)
        f = 1.0 + noise_cv * rng.standard_normal()
        breaths.append(Breath(t + d, vo2 * f, vco2 * f, d))
        t += d


def test_ec_of_a_synthetic_breath_series_is_within_1_percent_of_the_integral():
    est = MetabolicEstimator(MetabolicParams(body_mass_kg=MASS), start=0.0)
    for b in synthetic_breaths():
        estimate, reason = est.add(b)
        assert reason is None and estimate is not None
    report = est.energy()
    expected = known_ec(180.0, 600.0)
    assert report.complete and report.window_s == (180.0, 600.0)
    assert report.ec_j == pytest.approx(expected, rel=0.01)
    assert report.ec_j == pytest.approx(expected, rel=0.002)  # what it actually achieves
    assert report.mean_ee_w_per_kg == pytest.approx(expected / MASS / 420.0, rel=0.01)
    assert report.rejected == 0 and report.breaths_in_window > 100


def test_ec_with_breath_noise_stays_close_and_unknown_durations_work():
    est = MetabolicEstimator(MetabolicParams(body_mass_kg=MASS), start=0.0)
    for b in synthetic_breaths(noise_cv=0.1):
        est.add(Breath(b.t, b.vo2, b.vco2))  # duration unknown: time since previous breath
    assert est.energy().ec_j == pytest.approx(known_ec(180.0, 600.0), rel=0.03)


def test_garbage_breaths_are_rejected_with_a_reason_and_change_nothing():
    est = MetabolicEstimator(MetabolicParams(body_mass_kg=MASS, steady_start_s=0.0,
                                             steady_end_s=30.0), start=0.0)
    good = synthetic_breaths(total_s=40.0)
    est.add(good[0])
    est.add(good[1])
    before = est.energy()
    bad = [Breath(good[1].t + 1, math.nan, 1.0), Breath(good[1].t + 1, 5.0, -1.0),
           Breath(good[1].t + 1, 500.0, 400.0), Breath(good[1].t, 5.0, 4.0),
           Breath(good[0].t, 5.0, 4.0), Breath(math.inf, 5.0, 4.0)]
    reasons = []
    for b in bad:
        estimate, reason = est.add(b)
        assert estimate is None
        reasons.append(reason)
    assert 'non-finite' in reasons[0] and 'negative' in reasons[1]
    assert 'implausible' in reasons[2] and 'not after' in reasons[3]
    assert 'not after' in reasons[4] and 'non-finite' in reasons[5]
    after = est.energy()
    assert after.ec_j == before.ec_j and after.rejected == len(bad)
    for b in good[2:]:
        assert est.add(b)[1] is None


def test_moving_average_is_the_duration_weighted_mean_over_the_window():
    params = MetabolicParams(body_mass_kg=70.0, smoothing_window_s=10.0)
    est = MetabolicEstimator(params, start=0.0)
    values = [(3.0, 4.0, 3.0), (7.0, 8.0, 4.0), (10.0, 4.0, 3.0), (14.0, 8.0, 4.0)]
    outs = [est.add(Breath(t, v, 0.8 * v, d))[0] for t, v, d in values]
    assert outs[0].ee == pytest.approx(brockway_power(4.0, 3.2, 70.0))
    assert outs[0].ee_breath == outs[0].ee
    # At t=14 the window (4, 14] holds the breaths ending at 7, 10, 14 (durations 4, 3, 4).
    vo2 = (8.0 * 4 + 4.0 * 3 + 8.0 * 4) / 11.0
    assert outs[3].vo2 == pytest.approx(vo2)
    assert outs[3].ee == pytest.approx(brockway_power(vo2, 0.8 * vo2, 70.0))
    assert outs[3].power == pytest.approx(outs[3].ee * 70.0)
    raw = MetabolicEstimator(MetabolicParams(body_mass_kg=70.0, smoothing_window_s=0.0))
    assert [raw.add(Breath(t, v, 0.8 * v, d))[0].vo2 for t, v, d in values] == [
        4.0, 8.0, 4.0, 8.0]


def test_partial_window_and_restart():
    params = MetabolicParams(body_mass_kg=MASS, steady_start_s=10.0, steady_end_s=100.0)
    est = MetabolicEstimator(params, start=1000.0)
    assert est.energy().ec_j is None and not est.energy().complete
    for k in range(1, 11):  # 1 mL/s-ish constant breaths every 3 s: 1003 ... 1030
        est.add(Breath(1000.0 + 3.0 * k, 10.0, 8.5, 3.0))
    report = est.energy()
    assert not report.complete and report.covered_s[0] == 10.0
    ee = brockway_power(10.0, 8.5, MASS)
    assert report.ec_j == pytest.approx(MASS * ee * (report.covered_s[1] - 10.0))
    est.restart(1030.0)
    assert est.energy().breaths == 0 and est.energy().ec_j is None
    est.add(Breath(1040.0, 10.0, 8.5, 3.0))
    assert est.energy().breaths == 1


def test_window_energy_holds_the_edges_only_so_far():
    t = np.array([5.0, 10.0])
    ec, covered = window_energy(t, np.array([1.0, 1.0]), 2.0, 0.0, 20.0, edge_hold_s=3.0)
    assert covered == (2.0, 13.0) and ec == pytest.approx(2.0 * 11.0)
    assert window_energy(t, np.ones(2), 2.0, 30.0, 40.0, 3.0) == (None, None)
    assert window_energy(np.zeros(0), np.zeros(0), 2.0, 0.0, 1.0, 3.0) == (None, None)


def test_params_reject_invalid_values_quoting_them():
    with pytest.raises(ValueError, match='-3'):
        MetabolicParams(body_mass_kg=-3.0)
    with pytest.raises(ValueError, match='steady_end_s'):
        MetabolicParams(steady_start_s=100.0, steady_end_s=50.0)
    with pytest.raises(ValueError, match='rer'):
        AnalyserConfig(rer=2.0)
    with pytest.raises(ValueError, match='breath_period_max_s'):
        AnalyserConfig(breath_period_min_s=4.0, breath_period_max_s=3.0)


# --------------------------------------------------------------------------- CSV
GARBAGE_CSV = """# exported by an analyser
Time,VO2 (mL/min),VCO2 (mL/min),HR
00:03,300,255,80
00:06.5,320,270,81
00:06.5,330,280,81
00:05,330,280,81
00:10,nan,280,82
00:13,-5,280,82
00:16,abc,280,82
00:19,310
00:22,99999,280,82

00:25,315,268,83
"""


def test_csv_with_garbage_rows_keeps_the_good_ones_and_says_why():
    table = read_gas_csv(io.StringIO(GARBAGE_CSV))
    assert table.unit == 'ml/min'
    assert table.columns == ('Time', 'VO2 (mL/min)', 'VCO2 (mL/min)')
    np.testing.assert_allclose(table.t, [3.0, 6.5, 25.0])
    np.testing.assert_allclose(table.vo2, [5.0, 320 / 60, 315 / 60])
    np.testing.assert_allclose(table.vco2, [255 / 60, 4.5, 268 / 60])
    lines = [n for n, _ in table.skipped]
    assert lines == [5, 6, 7, 8, 9, 10, 11]
    reasons = ' | '.join(r for _, r in table.skipped)
    for word in ('not after', 'non-finite', 'negative', 'not a number', 'fields',
                 'implausible'):
        assert word in reasons
    breaths = table.breaths()
    assert math.isnan(breaths[0].duration) and breaths[1].duration == pytest.approx(3.5)


def test_csv_units_columns_and_headerless_files(tmp_path):
    # The documented export: time_s, VO2, VCO2 in mL/s (written by write_gas_csv).
    path = write_gas_csv(tmp_path / 'gas.csv', [Breath(1.0, 5.0, 4.0), Breath(4.5, 6.0, 5.0)])
    table = read_gas_csv(path)
    assert table.unit == 'ml/s' and list(table.vo2) == [5.0, 6.0]
    # No header: time, VO2, VCO2 in mL/min unless told otherwise; ';' delimiter.
    table = read_gas_csv(io.StringIO('0;300;240\n3;360;300\n'))
    np.testing.assert_allclose(table.vo2, [5.0, 6.0])
    table = read_gas_csv(io.StringIO('0;0.3;0.24\n3;0.36;0.3\n'), unit='l/min')
    np.testing.assert_allclose(table.vo2, [5.0, 6.0])
    # Named columns; VO2/kg is not taken for VO2.
    text = 't,VO2/kg,vo2,vco2\n1,4,5,4\n2,4,6,5\n'
    assert list(read_gas_csv(io.StringIO(text), unit='ml/s').vo2) == [5.0, 6.0]
    text = 'clock,oxygen,carbon\n1,5,4\n2,6,5\n'
    table = read_gas_csv(io.StringIO(text), unit='ml/s', time_column='clock',
                         vo2_column='oxygen', vco2_column='carbon')
    assert list(table.vco2) == [4.0, 5.0]
    with pytest.raises(ValueError, match='no time column'):
        read_gas_csv(io.StringIO(text))
    with pytest.raises(ValueError, match='no vco2 column'):
        read_gas_csv(io.StringIO('time,vo2,co2\n1,2,3\n'))
    with pytest.raises(ValueError, match='unit'):
        read_gas_csv(io.StringIO(text), unit='gallons')


# --------------------------------------------------------------------------- analyser
def test_simulated_analyser_breathes_the_simulated_power():
    config = AnalyserConfig(body_mass_kg=70.0, noise_cv=0.0, rer_sd=0.0, kinetics_tau_s=0.0,
                            seed=1)
    sim = SimulatedAnalyser(config)
    breaths = []
    for k in range(6001):  # 600 s at 10 Hz, 30 W of muscle power
        breaths += sim.update(0.1 * k, 30.0)
    periods = np.diff([0.0] + [b.t for b in breaths])
    assert 3.0 <= periods.min() and periods.max() <= 4.0 and periods.std() > 0.1
    assert 150 <= len(breaths) <= 200
    for b in breaths:
        assert b.vco2 == pytest.approx(0.85 * b.vo2)
        power = brockway_power(b.vo2, b.vco2, 70.0) * 70.0
        assert power == pytest.approx(RESTING_W_PER_KG * 70.0 + 30.0)


def test_simulated_analyser_noise_kinetics_and_seed():
    def run(seed, tau=40.0):
        sim = SimulatedAnalyser(AnalyserConfig(body_mass_kg=70.0, kinetics_tau_s=tau,
                                               seed=seed))
        out = []
        for k in range(3001):  # rest 0-60 s, then 100 W of muscle power until 300 s
            out += sim.update(0.1 * k, 100.0 if k >= 600 else 0.0)
        return out
    a, b, c = run(5), run(5), run(6)
    assert [x.vo2 for x in a] == [x.vo2 for x in b]
    assert [x.vo2 for x in a] != [x.vo2 for x in c]
    ee = np.array([brockway_power(x.vo2, x.vco2, 70.0) for x in a])
    t = np.array([x.t for x in a])
    rest, late = ee[t < 60].mean(), ee[t > 200].mean()
    assert rest == pytest.approx(1.2, rel=0.1)
    assert late == pytest.approx(1.2 + 100.0 / 70.0, rel=0.05)
    just_after = ee[(t > 60) & (t < 75)].mean()
    assert rest < just_after < late  # first-order kinetics, not a step
    assert np.std(ee[t > 200] / late) == pytest.approx(0.1, abs=0.04)
    assert all(x.vo2 >= 0 and x.vco2 >= 0 for x in a)


def test_simulated_analyser_ignores_invalid_power():
    sim = SimulatedAnalyser(AnalyserConfig(noise_cv=0.0, rer_sd=0.0, kinetics_tau_s=0.0))
    breaths = []
    for k in range(100):
        breaths += sim.update(0.1 * k, math.nan if k % 2 else -5.0)
    assert breaths and all(
        brockway_power(b.vo2, b.vco2, 70.0) == pytest.approx(1.2) for b in breaths)


def test_resting_rate_matches_the_muscle_model_basal_term():
    metabolic = pytest.importorskip('exo_sim.metabolic')
    assert RESTING_W_PER_KG == metabolic.BASAL_W_PER_KG


def test_report_is_json_ready_and_another_clock_moves_the_trial_start():
    import json
    est = MetabolicEstimator(MetabolicParams(steady_start_s=0.0, steady_end_s=20.0),
                             start=1.8e9)  # the node's clock: seconds since 1970
    est.add(Breath(3.0, 5.0, 4.0, 3.0))  # the analyser counts from its own start
    assert est.note and 'another clock' in est.note and est.start == 0.0
    est.add(Breath(6.0, 5.0, 4.0, 3.0))
    report = json.loads(json.dumps(est.energy().to_dict()))
    assert report['breaths'] == 2 and report['ec_kj'] == pytest.approx(report['ec_j'] / 1e3)
