"""Hostile references replayed in-process: what the controller core lets reach the arm.

``python -m exo_experiments.reference_attacks`` runs the in-process rollout
(:func:`exo_sim.rollout.run_rollout`, the simulated human and exo of sim_node) with the arm
at rest (the human holds its rest posture, no task) and the controller core of
controller_node (:class:`~exo_impedance_controller.core.ImpedanceControllerCore`, default
parameters) fed, for ``ATTACK_S`` seconds, by a reference that no policy would send:

========================  ==============================================================
attack                    reference
========================  ==============================================================
pull_100hz, pull_1khz     1.6 rad, 300 N*m/rad, velocity 0 (a far angle, full stiffness)
lead_1rad_100hz           the measured angle + 1 rad, 300 N*m/rad (the wrong policy of
                          ``exo_faults`` m, at policy_node's rate)
hug_feedforward_1khz      the measured angle + 5/300 rad (the spring at its bound), velocity
                          +100 rad/s, 300 N*m/rad: the velocity feed-forward on top of the
                          bounded spring
oscillate_1khz            the rest angle + 0.1 sin(2 pi 20 t) rad, its own velocity (up to
                          12.6 rad/s), 300 N*m/rad: fast within the lead bound
========================  ==============================================================

For each: the largest |commanded torque|, the largest |exo angle - rest angle| to the end of
the second after the attack, the ticks whose reference the assistance bound changed and
those on which references were refused as not assistance (REFERENCE_REFUSED). No rclpy;
deterministic; no node names (the owner rule of controller_node is not in play: every
reference here counts as the owner's). The ROS-level replay of the first attacks (a second
publisher, policy_node alive or dead; the wrong policy) is ``exo_faults``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import math
import sys

from exo_contract.tasks import TASKS
from exo_impedance_controller.core import ImpedanceControllerCore
from exo_impedance_controller.params import ControllerParams
from exo_impedance_controller.safety import SafetyFlags
from exo_sim.rollout import run_rollout
from exo_sim.step_loop import ExoObservation

#: Seconds at rest before the attack, of attack, and observed after it.
SETTLE_S = 1.0
ATTACK_S = 1.5
AFTER_S = 1.0
#: Largest |command| and displacement that are safe, N*m and rad (as exo_faults).
ASSIST_TORQUE_BOUND_NM = 6.0
MAX_DISPLACEMENT_RAD = 0.1

#: (q, qd, t since the attack started, rest angle) -> (q_d, qd_d, K)
Reference = Callable[[float, float, float, float], tuple[float, float, float]]


def _pull(q, qd, t, rest):
    return 1.6, 0.0, 300.0


def _lead_1rad(q, qd, t, rest):
    return q + 1.0, 0.0, 300.0


def _hug(q, qd, t, rest):
    return q + 5.0 / 300.0, 100.0, 300.0


def _oscillate(q, qd, t, rest):
    w = 2.0 * math.pi * 20.0
    return rest + 0.1 * math.sin(w * t), 0.1 * w * math.cos(w * t), 300.0


#: name -> (reference, period of its messages in s).
ATTACKS: dict[str, tuple[Reference, float]] = {
    'pull_100hz': (_pull, 0.01),
    'pull_1khz': (_pull, 0.001),
    'lead_1rad_100hz': (_lead_1rad, 0.01),
    'hug_feedforward_1khz': (_hug, 0.001),
    'oscillate_1khz': (_oscillate, 0.001),
}


@dataclass
class AttackResult:
    """What one attack did (N*m, rad)."""

    name: str
    max_abs_command_nm: float
    displacement_rad: float
    bounded_ticks: int
    ticks: int
    refused_ticks: int = 0

    @property
    def safe(self) -> bool:
        """Within the assistance bound and the displacement bound."""
        return (self.max_abs_command_nm <= ASSIST_TORQUE_BOUND_NM
                and self.displacement_rad < MAX_DISPLACEMENT_RAD)


class _Attacker:
    """A rollout controller: the core, fed the hostile reference during the attack."""

    def __init__(self, reference: Reference, period: float, params: ControllerParams):
        self.core = ImpedanceControllerCore(params)
        self.reference, self.period = reference, period
        self.rest = math.nan
        self.next = 0.0
        self.commands: list[float] = []
        self.angles: list[float] = []
        self.bounded = 0
        self.refused = 0

    def reset(self, q0: float) -> None:
        self.core.reset(0.0, q0)
        self.rest = math.nan
        self.next = 0.0

    def __call__(self, obs: ExoObservation) -> float:
        since = obs.t - SETTLE_S
        if 0.0 <= since < ATTACK_S:
            if math.isnan(self.rest):
                self.rest = obs.q
            if obs.t >= self.next - 1e-9:
                self.core.set_reference(obs.t, *self.reference(obs.q, obs.qd, since, self.rest))
                self.next = obs.t + self.period
        self.core.set_interaction(obs.t, obs.tau_ext)
        out = self.core.update(obs.t, obs.q, obs.qd)
        if since >= 0.0:
            self.commands.append(out.torque)
            self.angles.append(obs.q)
            self.bounded += bool(out.flags & SafetyFlags.ASSISTANCE_BOUNDED)
            self.refused += bool(out.flags & SafetyFlags.REFERENCE_REFUSED)
        return out.torque


def replay(name: str, params: ControllerParams | None = None) -> AttackResult:
    """Replay attack ``name`` (:data:`ATTACKS`) against the core with ``params``."""
    reference, period = ATTACKS[name]
    attacker = _Attacker(reference, period, params or ControllerParams())
    # The task is never started within the rollout: the human rests for its whole length.
    run_rollout(TASKS[0], controller=attacker, rest_before=SETTLE_S + ATTACK_S + AFTER_S,
                duration=0.001, rest_after=0.0)
    rest = attacker.angles[0]
    return AttackResult(name, max(abs(c) for c in attacker.commands),
                        max(abs(q - rest) for q in attacker.angles), attacker.bounded,
                        len(attacker.commands), attacker.refused)


def format_table(results: list[AttackResult]) -> str:
    """One line per attack."""
    lines = [f'{"attack":<22} {"max|cmd| N*m":>12} {"move rad":>9} {"bounded":>8} '
             f'{"refused":>8} outcome']
    lines += [f'{r.name:<22} {r.max_abs_command_nm:12.2f} {r.displacement_rad:9.3f} '
              f'{r.bounded_ticks:>8} {r.refused_ticks:>8} {"SAFE" if r.safe else "UNSAFE"}'
              for r in results]
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    """Replay every attack; exit 1 if one is not safe."""
    parser = argparse.ArgumentParser(prog='exo_reference_attacks',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--only', default='', help='comma-separated attack names')
    opts = parser.parse_args(argv)
    names = [n for n in opts.only.split(',') if n] or list(ATTACKS)
    results = [replay(name) for name in names]
    print(format_table(results))
    return 0 if all(r.safe for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
