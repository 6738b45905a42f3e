"""A population of simulated wearers: each subject draws its body and its motor control.

A subject is one seed: :func:`draw_subject` draws, independently and uniformly within the
ranges below, everything :class:`exo_sim.human.HumanConfig` and
:class:`exo_sim.model.ExoArmConfig` let differ between people. Calibration subjects (any
constant of a controller is chosen on them: bounds, filters, shares) and evaluation subjects
(the reported numbers) are disjoint by id range: :data:`CALIBRATION_IDS`,
:data:`EVALUATION_IDS`.

Ranges and their sources (uniform draws; the simulator's defaults lie inside every range):

* body mass 55-95 kg: the adult range around the paper's 60/70/80 kg subjects;
* forearm + hand mass 2.0-2.5 % of body mass: de Leva (1996), J. Biomech. 29:1223-1230
  (2.23 %, males) and Winter (2009), Biomechanics and Motor Control of Human Movement,
  Table 4.1 (2.2 %), +-1 SD-scale spread;
* strength 0.8-1.25 x the body-mass scaling: the residual spread of elbow-flexor strength
  after allometric normalisation, about 15-20 % CV (Jaric 2002, Sports Med. 32:615-631);
* sensory delay 25-35 ms and electromechanical delay 20-30 ms: a feedback latency of
  45-65 ms, within the 30-60 ms of the long-latency stretch response and the 35-65 ms from
  EMG to force (Cavanagh & Komi 1979, Eur. J. Appl. Physiol. 42:159-163); kept below the
  simulated human's stability limit (exo_sim.human, 9 rad/s bandwidth at 55 ms);
* motor noise CV 0.05-0.11: signal-dependent noise (Harris & Wolpert 1998, Nature
  394:780-784), a few per cent of force variability after activation filtering (Jones,
  Hamilton & Wolpert 2002, J. Neurophysiol. 88:1533-1544);
* effort weight 0.5-2 (log-uniform, eq. 2's w): people trade accuracy against effort
  differently (the stiffness they choose differs by about a factor 2, Franklin et al.
  2008, J. Neurosci. 28:11165-11173); an assumption of the range, not a measurement;
* adaptation time 1-4 s of movement: force-field adaptation within a few to tens of
  repetitions (Shadmehr & Mussa-Ivaldi 1994, J. Neurosci. 14:3208-3224), around the
  simulator's 2 s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import math

import numpy as np

from exo_sim.human import DEFAULT_HUMAN, HumanConfig
from exo_sim.model import ExoArmConfig

SUBJECT_BASE_SEED = 20_000
"""Base of the subjects' draw seeds (the dataset, calibration and timing seeds differ)."""
EVALUATION_IDS = range(0, 1000)
"""Ids of evaluation subjects (reported numbers)."""
CALIBRATION_IDS = range(1000, 2000)
"""Ids of calibration subjects (every constant chosen on them)."""
RANGES = {
    'body_mass_kg': (55.0, 95.0),
    'forearm_mass_fraction': (0.020, 0.025),
    'strength_factor': (0.8, 1.25),
    'feedback_delay_s': (0.025, 0.035),
    'electromechanical_delay_s': (0.020, 0.030),
    'noise_cv': (0.05, 0.11),
    'effort_weight': (0.5, 2.0),
    'adaptation_time_s': (1.0, 4.0),
}
LOG_UNIFORM = ('effort_weight', 'strength_factor')


@dataclass(frozen=True)
class Subject:
    """One simulated wearer: its id, its arm and its motor control."""

    subject_id: int
    arm: ExoArmConfig
    human: HumanConfig

    @property
    def body_mass_kg(self) -> float:
        """Body mass, kg."""
        return self.arm.body_mass_kg

    @property
    def calibration(self) -> bool:
        """Whether this is a calibration subject."""
        return self.subject_id in CALIBRATION_IDS

    def to_json(self) -> dict:
        """The drawn values (plain floats) and the id."""
        return {'subject_id': self.subject_id, 'calibration': self.calibration,
                'body_mass_kg': self.arm.body_mass_kg,
                'forearm_mass_fraction': self.arm.forearm_mass_fraction,
                'strength_factor': self.arm.strength_factor,
                **{k: float(getattr(self.human, k)) for k in RANGES
                   if hasattr(self.human, k)}}


def draw_subject(subject_id: int) -> Subject:
    """Subject ``subject_id`` (an id of :data:`EVALUATION_IDS` or :data:`CALIBRATION_IDS`)."""
    if not (isinstance(subject_id, (int, np.integer)) and not isinstance(subject_id, bool)
            and (subject_id in EVALUATION_IDS or subject_id in CALIBRATION_IDS)):
        raise ValueError(f'subject_id must be in [0, {CALIBRATION_IDS.stop}), got '
                         f'{subject_id!r}')
    rng = np.random.default_rng(SUBJECT_BASE_SEED + int(subject_id))
    v = {}
    for name, (lo, hi) in RANGES.items():
        if name in LOG_UNIFORM:
            v[name] = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        else:
            v[name] = float(rng.uniform(lo, hi))
    arm = ExoArmConfig(body_mass_kg=v['body_mass_kg'], strength_factor=v['strength_factor'],
                       forearm_mass_fraction=v['forearm_mass_fraction'])
    human = replace(DEFAULT_HUMAN, **{k: v[k] for k in (
        'feedback_delay_s', 'electromechanical_delay_s', 'noise_cv', 'effort_weight',
        'adaptation_time_s')})
    return Subject(int(subject_id), arm, human)


def subject_ids(n: int, calibration: bool = False) -> list[int]:
    """The first ``n`` evaluation (or calibration) subject ids."""
    ids = CALIBRATION_IDS if calibration else EVALUATION_IDS
    if not (isinstance(n, int) and 1 <= n <= len(ids)):
        raise ValueError(f'number of subjects must be in [1, {len(ids)}], got {n!r}')
    return list(ids[:n])
