"""exo_sim_analyser: a simulated metabolic analyser, breath by breath, from the simulation.

Subscribes sim_node's ``/exo/metabolic_power`` (``exo_interfaces/MetabolicPower``, the
modelled muscle power in W, 10 Hz) and publishes ``/exo/gas_exchange``
(``exo_interfaces/GasExchange``) once per simulated breath: basal rate plus muscle power,
first-order VO2 kinetics, a jittered breath period (3-4 s) and multiplicative noise, turned
into VO2/VCO2 at an RER (0.85), seeded. The model is
:class:`exo_metabolic.gas_exchange.SimulatedAnalyser`; parameters are
:class:`exo_metabolic.gas_exchange.AnalyserConfig` plus ``update_rate_hz`` (how often the
model is advanced) and ``power_timeout_s`` (muscle power older than this counts as 0 W:
at rest, the analyser still breathes the basal rate; e.g. on the bridge graph, which has no
sim_node), and ``wait_for_power`` (true: the analyser starts breathing, in steady state,
with the first muscle power it receives, so that every trial starts from the same resting
state however long sim_node took to come up; false: at once, with the basal rate, for a
graph without sim_node).
``config/metabolic.yaml`` holds the defaults.

Only for simulation: on a real subject, the lab's analyser (or ``exo_replay_gas``)
publishes ``/exo/gas_exchange`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time

from rclpy.node import Node
from rclpy.time import Time

from exo_contract.parameters import check_fields, param, specs
from exo_contract.qos import STATE_QOS
from exo_contract.ros_parameters import declare_or_raise
from exo_contract.runtime import run_node
from exo_contract.topics import GAS_EXCHANGE_TOPIC, METABOLIC_POWER_TOPIC
from exo_interfaces.msg import GasExchange, MetabolicPower
from exo_metabolic.gas_exchange import AnalyserConfig, SimulatedAnalyser

SOURCE = 'sim_analyser'


@dataclass(frozen=True)
class SimAnalyserNodeParams:
    """Parameters of the node itself (the model's are :class:`AnalyserConfig`)."""

    update_rate_hz: float = param(10.0, 'How often the analyser model is advanced.', 'Hz',
                                  low=1.0, high=1000.0)
    power_timeout_s: float = param(
        1.0, 'Muscle power older than this counts as 0 W (the basal rate is still breathed).',
        's', low=0.01, high=60.0)
    wait_for_power: bool = param(
        True, 'true: start breathing, in steady state, with the first muscle power received; '
        'false: at once, with the basal rate (a graph without sim_node).')

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_fields(self)


class SimAnalyserNode(Node):
    """Breath-by-breath gas exchange from the simulated muscle power."""

    def __init__(self, **kwargs) -> None:
        super().__init__('sim_analyser', **kwargs)
        values = declare_or_raise(self, AnalyserConfig, SimAnalyserNodeParams)
        node_names = {s.name for s in specs(SimAnalyserNodeParams)}
        try:
            self.config = AnalyserConfig(
                **{k: v for k, v in values.items() if k not in node_names})
            node_params = SimAnalyserNodeParams(
                **{k: v for k, v in values.items() if k in node_names})
        except (TypeError, ValueError) as err:
            self.get_logger().fatal(f'invalid parameters: {err}')
            raise ValueError(str(err)) from None
        self._timeout = node_params.power_timeout_s
        self._wait_for_power = node_params.wait_for_power
        self.analyser = SimulatedAnalyser(self.config)
        self._power = 0.0
        self._power_time = -math.inf
        self._breathing = False
        self._stale_warned = False
        self._pub = self.create_publisher(GasExchange, GAS_EXCHANGE_TOPIC, STATE_QOS)
        self.create_subscription(MetabolicPower, METABOLIC_POWER_TOPIC, self._on_power,
                                 STATE_QOS)
        self.create_timer(1.0 / node_params.update_rate_hz, self._on_timer)
        c = self.config
        self.get_logger().info(
            f'simulated analyser: {c.body_mass_kg} kg, basal {c.basal_w_per_kg} W/kg, RER '
            f'{c.rer}, breaths {c.breath_period_min_s}-{c.breath_period_max_s} s, noise CV '
            f'{c.noise_cv}, VO2 kinetics tau {c.kinetics_tau_s} s, seed {c.seed}')

    def _on_power(self, msg: MetabolicPower) -> None:
        if math.isfinite(msg.power):
            self._power = float(msg.power)
            self._power_time = time.monotonic()

    def _on_timer(self) -> None:
        now_wall = time.monotonic()
        fresh = now_wall - self._power_time <= self._timeout
        if not self._breathing:
            # Start in steady state with the first muscle power (at rest: holding the
            # posture), or at once with the basal rate when not waiting for it.
            if self._wait_for_power and not fresh:
                return
            self._breathing = True
        if not fresh and not self._stale_warned:
            self.get_logger().warning(
                f'no muscle power on {METABOLIC_POWER_TOPIC} for {self._timeout} s: '
                'breathing the basal rate only')
        self._stale_warned = not fresh
        now = self.get_clock().now()
        for breath in self.analyser.update(now.nanoseconds * 1e-9,
                                           self._power if fresh else 0.0):
            msg = GasExchange()
            msg.header.stamp = Time(nanoseconds=int(round(breath.t * 1e9))).to_msg()
            msg.header.frame_id = ''
            msg.vo2_ml_per_s = breath.vo2
            msg.vco2_ml_per_s = breath.vco2
            msg.breath_duration = breath.duration
            msg.source = SOURCE
            self._pub.publish(msg)


def main(args=None) -> None:
    """Run SimAnalyserNode until shutdown."""
    run_node(SimAnalyserNode, args)


if __name__ == '__main__':
    main()
