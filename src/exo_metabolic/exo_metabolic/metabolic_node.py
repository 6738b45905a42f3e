"""metabolic_node: breath-by-breath gas exchange -> energy expenditure (eq. 15) and EC (eq. 16).

Subscribes ``/exo/gas_exchange`` (``exo_interfaces/GasExchange``: VO2, VCO2 in mL/s, stamped
at the end of each breath) from a lab's analyser, ``exo_replay_gas`` or
``exo_sim_analyser``; for every valid breath publishes ``/exo/energy_expenditure``
(``exo_interfaces/MetabolicPower``: ``power_per_kg`` = eq. 15 EE in W/kg, smoothed by a
time-based moving average over ``smoothing_window_s``; ``power`` = EE * m in W; ``vo2`` /
``vco2`` the smoothed mL/s; ``body_mass``; ``source`` = ``brockway:<analyser>``).

EC (eq. 16) over ``[steady_start_s, steady_end_s]`` after the trial start (the node's start,
or the last ``~/restart`` call) is integrated from the unsmoothed breaths and reported

* by the service ``~/report`` (``std_srvs/Trigger``; ``message`` is the JSON of
  :class:`exo_metabolic.gas_exchange.EnergyReport`, with ``ec_kj``),
* on ``/diagnostics`` once per second (``exo_bringup: metabolic``), and
* in the log when the node stops.

``~/restart`` (``std_srvs/Trigger``) starts a new trial now. Invalid breaths (NaN, negative,
implausible, stamp not after the previous breath) are skipped with a warning. The maths is
in :mod:`exo_metabolic.gas_exchange`. Parameters:
:class:`exo_metabolic.gas_exchange.MetabolicParams` (``config/metabolic.yaml``).
"""

from __future__ import annotations

import json

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from std_srvs.srv import Trigger

from exo_contract.qos import STATE_QOS
from exo_contract.ros_parameters import declare_or_raise
from exo_contract.runtime import run_node
from exo_contract.topics import ENERGY_EXPENDITURE_TOPIC, GAS_EXCHANGE_TOPIC
from exo_interfaces.msg import GasExchange, MetabolicPower
from exo_metabolic.gas_exchange import Breath, EnergyReport, MetabolicEstimator, MetabolicParams

DIAGNOSTICS_PERIOD_S = 1.0


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def report_text(report: EnergyReport) -> str:
    """One line for the log."""
    if report.ec_j is None:
        return (f'EC (eq. 16) over {list(report.window_s)} s: no breaths in the window yet '
                f'({report.breaths} breaths, {report.rejected} rejected)')
    covered = f'{report.covered_s[0]:.1f}-{report.covered_s[1]:.1f} s'
    return (f'EC (eq. 16) = {report.ec_j / 1000.0:.3f} kJ over {covered} '
            f'({"complete" if report.complete else "partial"} window '
            f'{list(report.window_s)} s; mean EE {report.mean_ee_w_per_kg:.3f} W/kg, '
            f'{report.breaths_in_window} breaths in the window, {report.rejected} rejected)')


class MetabolicNode(Node):
    """Gas exchange in, EE (eq. 15) out, EC (eq. 16) on request (see the module docstring)."""

    def __init__(self, **kwargs) -> None:
        super().__init__('metabolic_node', **kwargs)
        values = declare_or_raise(self, MetabolicParams)
        try:
            self.params = MetabolicParams(**values)
        except (TypeError, ValueError) as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise ValueError(str(err)) from None
        self.estimator = MetabolicEstimator(self.params, start=self._now())
        self._msg = MetabolicPower()
        self._msg.body_mass = float(self.params.body_mass_kg)
        self._pub = self.create_publisher(MetabolicPower, ENERGY_EXPENDITURE_TOPIC, STATE_QOS)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_subscription(GasExchange, GAS_EXCHANGE_TOPIC, self._on_breath, STATE_QOS)
        self.create_service(Trigger, '~/report', self._on_report)
        self.create_service(Trigger, '~/restart', self._on_restart)
        self.create_timer(DIAGNOSTICS_PERIOD_S, self._on_diagnostics)
        p = self.params
        self.get_logger().info(
            f'metabolic_node ready: body mass {p.body_mass_kg} kg, moving average '
            f'{p.smoothing_window_s} s, EC window [{p.steady_start_s}, {p.steady_end_s}] s')

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_breath(self, msg: GasExchange) -> None:
        breath = Breath(_seconds(msg.header.stamp), float(msg.vo2_ml_per_s),
                        float(msg.vco2_ml_per_s), float(msg.breath_duration))
        estimate, reason = self.estimator.add(breath)
        if estimate is None:
            self.get_logger().warning(f'skipping breath from {msg.source!r}: {reason}')
            return
        if self.estimator.note:
            self.get_logger().warning(self.estimator.note)
            self.estimator.note = None
        m = self._msg
        m.header.stamp = msg.header.stamp
        m.power = estimate.power
        m.power_per_kg = estimate.ee
        m.vo2 = estimate.vo2
        m.vco2 = estimate.vco2
        m.source = f'brockway:{msg.source}' if msg.source else 'brockway'
        self._pub.publish(m)

    def _on_report(self, _request, response):
        report = self.estimator.energy()
        response.success = report.ec_j is not None
        response.message = json.dumps(report.to_dict())
        return response

    def _on_restart(self, _request, response):
        self.estimator.restart(self._now())
        response.success = True
        response.message = f'trial restarted at {self.estimator.start:.3f} s'
        self.get_logger().info(response.message)
        return response

    def _on_diagnostics(self) -> None:
        report = self.estimator.energy()
        status = DiagnosticStatus(name='exo_bringup: metabolic', hardware_id='metabolic_node')
        status.level = DiagnosticStatus.OK
        status.message = report_text(report)
        status.values = [KeyValue(key=k, value=json.dumps(v))
                         for k, v in report.to_dict().items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self._diag_pub.publish(msg)

    def log_report(self) -> None:
        """Log the EC of the trial so far (called when the node stops)."""
        self.get_logger().info(report_text(self.estimator.energy()))


def main(args=None) -> None:
    """Run MetabolicNode until shutdown; log the EC on the way out."""
    run_node(MetabolicNode, args, on_stop=lambda node: node.log_report())


if __name__ == '__main__':
    main()
