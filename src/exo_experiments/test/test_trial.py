"""exo_trial without running a graph: schedule, graph composition, analysis of recordings.

The recordings are synthetic MCAP files with the messages the trial's nodes publish (a
known breath-by-breath EE per condition), so EC, the reduction table and Fig. 6 are checked
against closed-form values.
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from rclpy.serialization import serialize_message
from rclpy.time import Time
from std_msgs.msg import String

from exo_contract.metabolics import gas_exchange_for_power, reduction_pct
from exo_contract.tasks import find_task
from exo_contract.topics import (
    ENERGY_EXPENDITURE_TOPIC,
    GAS_EXCHANGE_TOPIC,
    METABOLIC_POWER_TOPIC,
    TASK_TEXT_TOPIC,
    TOPIC_TYPES,
)
from exo_experiments import trial_analysis
from exo_experiments.mcap_io import McapRos2Writer
from exo_experiments.trial import build_graph, cycle_starts, main, run_compare
from exo_interfaces.msg import GasExchange, MetabolicPower

START_NS = 1_800_000_000 * 10**9
MASS = 70.0


def test_cycle_schedule_is_seeded_and_paced_like_the_paper():
    task = find_task('lift a heavy box')
    starts = cycle_starts(600.0, task.duration_s, seed=0)
    assert starts == cycle_starts(600.0, task.duration_s, seed=0)
    assert starts != cycle_starts(600.0, task.duration_s, seed=1)
    gaps = np.diff(starts)
    assert starts[0] == 0.0 and gaps.min() >= 8.0 and gaps.max() <= 10.0
    assert 60 <= len(starts) <= 75  # the paper's subject: 62-67 transfers in 10 minutes
    assert cycle_starts(20.0, 6.0, seed=0)[-1] < 20.0


def _opts(condition, **kw):
    values = dict(condition=condition, graph='sim', arg=[], duration=20.0,
                  body_mass_kg=72.0, steady_window=None, smoothing_s=30.0,
                  analyser='sim', seed=3)
    values.update(kw)
    return argparse.Namespace(**values)


@pytest.mark.parametrize('condition, mode', [('natural', None), ('promp', 'promp'),
                                             ('learned', 'learned')])
def test_conditions_compose_the_graph(tmp_path, condition, mode):
    graph = build_graph(_opts(condition), tmp_path)
    commands = dict(graph.commands)
    assert {'recorder', 'metabolic_node', 'sim_analyser', 'sim_node'} <= set(commands)
    if mode is None:  # no assistance: no policy, no controller
        assert 'policy_node' not in commands and 'controller_node' not in commands
    else:
        assert f'mode:={mode}' in commands['policy_node']
        assert 'controller_node' in commands
    assert 'body_mass_kg:=72.0' in commands['sim_node']
    metabolic = ' '.join(commands['metabolic_node'])
    assert 'body_mass_kg:=72.0' in metabolic and 'steady_start_s:=6.0' in metabolic
    assert 'steady_end_s:=20.0' in metabolic and 'metabolic.yaml' in metabolic
    assert 'seed:=3' in commands['sim_analyser']
    assert 'wait_for_power:=true' in commands['sim_analyser']  # sim_node's muscle power
    # Lockstep (simulated time) by default on the sim graph when a controller runs, for the
    # metabolic nodes too; natural runs in real time (nothing to step with).
    sim_time = 'false' if mode is None else 'true'
    assert f'use_sim_time:={sim_time}' in commands['sim_analyser']
    assert f'use_sim_time:={sim_time}' in commands['metabolic_node']
    realtime = dict(build_graph(_opts(condition, realtime=True), tmp_path).commands)
    assert 'use_sim_time:=false' in realtime['metabolic_node']
    assert f'output:={tmp_path / "recording"}' in commands['recorder']


def test_graph_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match='policy_mode'):
        build_graph(_opts('promp', arg=[('policy_mode', 'oracle')]), tmp_path)
    commands = dict(build_graph(_opts('learned', analyser='none'), tmp_path).commands)
    assert 'sim_analyser' not in commands and 'live_view' not in commands
    commands = dict(build_graph(_opts('learned', live_view=True), tmp_path).commands)
    assert 'exo_experiments.live_view' in commands['live_view']
    with pytest.raises(SystemExit):
        main(['--condition', 'learned', '--duration', '-1'])
    with pytest.raises(SystemExit):
        main(['--condition', 'learned', '--steady-window', '10', '5'])


def _stamp(seconds):
    return Time(nanoseconds=START_NS + int(round(seconds * 1e9))).to_msg()


def write_recording(path, level, total_s=60.0, seed=0):
    """A trial recording: EE = level (+ rise) W/kg breath by breath, texts every 9 s."""
    rng = np.random.default_rng(seed)
    with McapRos2Writer(path) as writer:
        def put(topic, msg, t):
            writer.write(topic, TOPIC_TYPES[topic], serialize_message(msg),
                         START_NS + int(t * 1e9))
        for t in np.arange(0.0, total_s, 9.0):
            put(TASK_TEXT_TOPIC, String(data='lift a heavy box'), t)
        for t in np.arange(0.0, total_s, 0.1):
            power = MetabolicPower(power=10.0 * level)
            power.header.stamp = _stamp(t)
            put(METABOLIC_POWER_TOPIC, power, t)
        t = 0.0
        while True:
            d = rng.uniform(3.0, 4.0)
            if t + d > total_s:
                break
            vo2, vco2 = gas_exchange_for_power(level * MASS, 0.85)
            msg = GasExchange(vo2_ml_per_s=vo2, vco2_ml_per_s=vco2, breath_duration=d,
                              source='sim_analyser')
            msg.header.stamp = _stamp(t + d)
            put(GAS_EXCHANGE_TOPIC, msg, t + d)
            ee = MetabolicPower(power_per_kg=level, power=level * MASS)
            ee.header.stamp = _stamp(t + d)
            put(ENERGY_EXPENDITURE_TOPIC, ee, t + d)
            t += d


def _trial_dir(root: Path, condition: str, level: float) -> Path:
    d = root / condition
    d.mkdir()
    write_recording(d / 'recording.mcap', level)
    window = trial_analysis.default_window(60.0)
    streams = trial_analysis.load_streams(d / 'recording.mcap', START_NS)
    trial = {'condition': condition, 'label': trial_analysis.LABELS[condition],
             'body_mass_kg': MASS, 'duration_s': 60.0, 'start_ns': START_NS,
             'recording': 'recording.mcap',
             'analysis': trial_analysis.analyse(streams, MASS, window, 30.0, 60.0)}
    (d / 'trial.json').write_text(json.dumps(trial))
    trial_analysis.plot_trial(trial, d / 'trial.png')
    return d


def test_analysis_of_a_recording_gives_eq_16(tmp_path):
    d = _trial_dir(tmp_path, 'natural', 4.0)
    a = json.loads((d / 'trial.json').read_text())['analysis']
    assert a['window_s'] == [18.0, 60.0] and a['complete']
    assert a['ec_j'] == pytest.approx(MASS * 4.0 * 42.0, rel=1e-9)
    assert a['mean_ee_w_per_kg'] == pytest.approx(4.0)
    assert a['cycles'] == 7 and a['rejected'] == 0 and a['breath_sources'] == ['sim_analyser']
    assert a['muscle_energy_j'] == pytest.approx(40.0 * 42.0, rel=0.01)
    assert a['curves']['node']['ee_w_per_kg'][-1] == 4.0
    assert len(a['curves']['muscle']['t_s']) == 60
    assert (d / 'trial.png').stat().st_size > 0
    # Without trial.json's start the trial starts with the first task text.
    streams = trial_analysis.load_streams(d / 'recording.mcap')
    assert streams.start_ns == START_NS and streams.text_t[1] == pytest.approx(9.0)


def test_compare_draws_fig6_and_the_reduction_table(tmp_path):
    dirs = [_trial_dir(tmp_path, 'learned', 3.6), _trial_dir(tmp_path, 'natural', 4.0),
            _trial_dir(tmp_path, 'gravity_share', 3.4), _trial_dir(tmp_path, 'promp', 3.8)]
    out = tmp_path / 'compare'
    rows = run_compare(dirs, out)
    assert [r['condition'] for r in rows] == ['natural', 'promp', 'learned', 'gravity_share']
    assert rows[3]['reduction_pct'] == pytest.approx(15.0, rel=1e-6)
    assert rows[0]['reduction_pct'] == pytest.approx(0.0)
    assert rows[1]['reduction_pct'] == pytest.approx(5.0, rel=1e-6)
    assert rows[2]['reduction_pct'] == pytest.approx(10.0, rel=1e-6)
    assert rows[2]['ec_kj'] == pytest.approx(MASS * 3.6 * 42.0 / 1000.0)
    assert (out / 'fig6.png').stat().st_size > 0
    table = (out / 'compare.md').read_text()
    assert '+10.0 %' in table and '+5.0 %' in table
    assert json.loads((out / 'compare.json').read_text())['rows'] == json.loads(
        json.dumps(rows))
    # Another window: [30, 60] s.
    rows = run_compare(dirs, out, (30.0, 60.0))
    assert rows[0]['ec_kj'] == pytest.approx(MASS * 4.0 * 30.0 / 1000.0)
    assert main(['compare', str(dirs[0]), '--out', str(out)]) == 0
    assert main(['compare', str(tmp_path / 'missing'), '--out', str(out)]) == 1


def test_reduction_needs_a_positive_reference():
    assert reduction_pct(90.0, 100.0) == pytest.approx(10.0)
    assert reduction_pct(90.0, None) is None
    assert reduction_pct(None, 100.0) is None
    assert math.isnan(reduction_pct(90.0, 0.0))
