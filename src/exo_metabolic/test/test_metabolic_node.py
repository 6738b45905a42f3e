"""metabolic_node and exo_sim_analyser over ROS (in-process, on a private domain).

A synthetic breath-by-breath series with a known EE goes through the node as
``GasExchange`` messages; the EC its ``~/report`` service returns is within 1 % of the
integral, garbage breaths are skipped without stopping it, and ``/exo/energy_expenditure``
carries eq. 15. The simulated analyser turns ``/exo/metabolic_power`` into breaths.
"""

import json
import math
import os
import subprocess
import sys
import time

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.time import Time
from std_srvs.srv import Trigger
from test_gas_exchange import known_ec, MASS, synthetic_breaths

from conftest import spin_until  # noqa: E402  (src/conftest.py, the shared helper)
from exo_contract.metabolics import brockway_power
from exo_contract.qos import STATE_QOS
from exo_contract.topics import (
    ENERGY_EXPENDITURE_TOPIC,
    GAS_EXCHANGE_TOPIC,
    METABOLIC_POWER_TOPIC,
)
from exo_interfaces.msg import GasExchange, MetabolicPower
from exo_metabolic.gas_exchange import Breath, MetabolicEstimator, MetabolicParams, read_gas_csv
from exo_metabolic.metabolic_node import MetabolicNode
from exo_metabolic.sim_analyser import SimAnalyserNode

DEADLINE_S = 30.0  # generous: the machine is shared; only a hang makes a test fail


@pytest.fixture
def ros(ros_context):
    context = ros_context
    executor = SingleThreadedExecutor(context=context)
    nodes = []

    def add(node):
        nodes.append(node)
        executor.add_node(node)
        return node

    yield context, executor, add
    for node in nodes:
        executor.remove_node(node)
        node.destroy_node()
    executor.shutdown()


def _spin_until(executor, predicate):
    spin_until(executor, predicate, DEADLINE_S, spin_timeout=0.02)


def _call(executor, client):
    future = client.call_async(Trigger.Request())
    _spin_until(executor, future.done)
    return future.result()


def test_node_reports_ec_within_1_percent_and_skips_garbage(ros):
    context, executor, add = ros
    node = add(MetabolicNode(context=context, parameter_overrides=[
        Parameter('body_mass_kg', value=MASS), Parameter('steady_start_s', value=180.0),
        Parameter('steady_end_s', value=600.0), Parameter('smoothing_window_s', value=30.0)]))
    source = add(rclpy.create_node('gas_source', context=context))
    pub = source.create_publisher(GasExchange, GAS_EXCHANGE_TOPIC, STATE_QOS)
    received = []
    source.create_subscription(MetabolicPower, ENERGY_EXPENDITURE_TOPIC, received.append,
                               STATE_QOS)
    report = source.create_client(Trigger, '/metabolic_node/report')
    _spin_until(executor, lambda: pub.get_subscription_count() >= 1
                and report.service_is_ready() and node.count_publishers(
                    ENERGY_EXPENDITURE_TOPIC) >= 1 and received is not None
                and source.count_subscribers(ENERGY_EXPENDITURE_TOPIC) >= 1)
    start = node.estimator.start
    breaths = synthetic_breaths()

    def send(t, vo2, vco2, duration=math.nan, name='synthetic'):
        msg = GasExchange(vo2_ml_per_s=vo2, vco2_ml_per_s=vco2, breath_duration=duration,
                          source=name)
        msg.header.stamp = Time(nanoseconds=int(round((start + t) * 1e9))).to_msg()
        seen = len(received) + node.estimator.rejected
        pub.publish(msg)
        _spin_until(executor, lambda: len(received) + node.estimator.rejected > seen)

    for i, b in enumerate(breaths):
        send(b.t, b.vo2, b.vco2, b.duration)
        if i == 20:  # garbage in the middle: NaN, negative, out of order, implausible
            send(b.t + 0.5, math.nan, 3.0)
            send(b.t + 0.5, 5.0, -3.0)
            send(b.t - 1.0, 5.0, 4.0)
            send(b.t + 0.5, 1e4, 4.0)
    assert len(received) == len(breaths)
    result = _call(executor, report)
    assert result.success
    energy = json.loads(result.message)
    assert energy['complete'] and energy['rejected'] == 4
    assert energy['ec_j'] == pytest.approx(known_ec(180.0, 600.0), rel=0.01)
    assert energy['ec_kj'] == pytest.approx(energy['ec_j'] / 1000.0)
    last = received[-1]
    assert last.body_mass == MASS and last.source == 'brockway:synthetic'
    assert last.power_per_kg == pytest.approx(brockway_power(last.vo2, last.vco2, MASS))
    assert last.power == pytest.approx(last.power_per_kg * MASS)

    # ~/restart starts a new trial: nothing in its window yet.
    restart = source.create_client(Trigger, '/metabolic_node/restart')
    assert _call(executor, restart).success
    after = _call(executor, report)
    assert not after.success and json.loads(after.message)['ec_j'] is None


def test_invalid_parameters_are_rejected_quoting_the_value(ros):
    context, _, _ = ros
    with pytest.raises(ValueError, match='-70'):
        MetabolicNode(context=context, parameter_overrides=[
            Parameter('body_mass_kg', value=-70.0)])


def test_sim_analyser_breathes_the_simulated_muscle_power(ros):
    context, executor, add = ros
    add(SimAnalyserNode(context=context, parameter_overrides=[
        Parameter('breath_period_min_s', value=0.5), Parameter('breath_period_max_s', value=0.6),
        Parameter('noise_cv', value=0.0), Parameter('rer_sd', value=0.0),
        Parameter('kinetics_tau_s', value=0.0), Parameter('update_rate_hz', value=50.0),
        Parameter('body_mass_kg', value=70.0)]))
    sim = add(rclpy.create_node('fake_sim_node', context=context))
    power_pub = sim.create_publisher(MetabolicPower, METABOLIC_POWER_TOPIC, STATE_QOS)
    breaths = []
    sim.create_subscription(GasExchange, GAS_EXCHANGE_TOPIC, breaths.append, STATE_QOS)
    _spin_until(executor, lambda: power_pub.get_subscription_count() >= 1)
    deadline = time.monotonic() + DEADLINE_S
    while len(breaths) < 6:
        assert time.monotonic() < deadline
        power_pub.publish(MetabolicPower(power=35.0, power_per_kg=0.5))
        executor.spin_once(timeout_sec=0.02)
    late = breaths[-3:]  # the first breath may straddle the first power sample
    for b in late:
        assert b.source == 'sim_analyser' and 0.4 < b.breath_duration < 0.7
        assert brockway_power(b.vo2_ml_per_s, b.vco2_ml_per_s, 70.0) * 70.0 == pytest.approx(
            1.2 * 70.0 + 35.0, rel=1e-6)


def test_replay_of_a_csv_export_feeds_the_node(ros, tmp_path):
    """exo_replay_gas (a process) -> metabolic_node: garbage rows skipped, EC as offline."""
    context, executor, add = ros
    rows = ['Time,VO2 (mL/min),VCO2 (mL/min)']
    breaths = synthetic_breaths(total_s=60.0)
    for i, b in enumerate(breaths):
        rows.append(f'{b.t:.3f},{b.vo2 * 60:.4f},{b.vco2 * 60:.4f}')
        if i == 3:
            rows += [f'{b.t + 0.1:.3f},nan,200', f'{b.t - 1:.3f},300,250', 'garbage',
                     f'{b.t + 0.2:.3f},-300,250']
    csv_path = tmp_path / 'export.csv'
    csv_path.write_text('\n'.join(rows) + '\n')
    node = add(MetabolicNode(context=context, parameter_overrides=[
        Parameter('body_mass_kg', value=MASS), Parameter('steady_start_s', value=0.0),
        Parameter('steady_end_s', value=breaths[-1].t - breaths[0].t),
        Parameter('edge_hold_s', value=0.0)]))
    env = dict(os.environ, ROS_DOMAIN_ID=str(context.get_domain_id()))
    proc = subprocess.Popen(
        [sys.executable, '-m', 'exo_metabolic.gas_replay', str(csv_path), '--speed', '0',
         '--timeout', str(DEADLINE_S)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        _spin_until(executor, lambda: proc.poll() is not None
                    and len(node.estimator.series()[0]) == len(breaths))
    finally:
        if proc.poll() is None:
            proc.kill()
    output = proc.communicate()[0]
    assert proc.returncode == 0, output
    assert 'skipped' in output and output.count(f'{csv_path}:') == 4, output
    assert node.estimator.rejected == 0
    offline = MetabolicEstimator(MetabolicParams(
        body_mass_kg=MASS, steady_start_s=0.0, steady_end_s=breaths[-1].t - breaths[0].t,
        edge_hold_s=0.0), start=0.0)
    for b in read_gas_csv(csv_path).breaths():
        offline.add(Breath(b.t - breaths[0].t, b.vo2, b.vco2, b.duration))
    assert node.estimator.energy().ec_j == pytest.approx(offline.energy().ec_j, rel=0.01)


@pytest.mark.parametrize('wait_for_power', [True, False])
def test_sim_analyser_without_muscle_power(ros, wait_for_power):
    """No sim_node: waits for it (default), or breathes the basal rate (a bridge graph)."""
    context, executor, add = ros
    add(SimAnalyserNode(context=context, parameter_overrides=[
        Parameter('breath_period_min_s', value=0.5), Parameter('breath_period_max_s', value=0.6),
        Parameter('noise_cv', value=0.0), Parameter('rer_sd', value=0.0),
        Parameter('update_rate_hz', value=50.0),
        Parameter('wait_for_power', value=wait_for_power)]))
    listener = add(rclpy.create_node('listener', context=context))
    breaths = []
    listener.create_subscription(GasExchange, GAS_EXCHANGE_TOPIC, breaths.append, STATE_QOS)
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.02)
    if wait_for_power:
        assert breaths == []
    else:
        assert len(breaths) >= 2
        assert all(brockway_power(b.vo2_ml_per_s, b.vco2_ml_per_s, 70.0) == pytest.approx(1.2)
                   for b in breaths)
