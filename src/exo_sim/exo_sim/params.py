"""Typed, validated parameters of sim_node (declared in one place)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from exo_contract.checks import MAX_DEVICE_TORQUE_NM
from exo_contract.parameters import check_fields, param
from exo_contract.parameters import defaults as param_defaults
from exo_language.encoders import ENCODERS

#: Values of ``clock_mode``: 'realtime' steps with the wall clock (``make bench``); 'lockstep'
#: publishes /clock and steps once the controller has answered the last state.
CLOCK_MODES = ('realtime', 'lockstep')
#: ``human_memory`` of a human who has never worn the exo.
NO_MEMORY = 'none'


@dataclass(frozen=True)
class SimNodeParams:
    """Parameters of :class:`exo_sim.sim_node.SimNode` (each field: description, unit, range).

    ``human_memory``: ``make demo`` writes one after practice. ``torque_limit`` is also
    checked against the model's motor clip (``ExoArmConfig.exo_torque_limit``) by sim_node.
    """

    body_mass_kg: float = param(
        70.0, 'Body mass of the simulated human.', 'kg', low=40.0, high=150.0)
    cuff_stiffness: float = param(
        150.0, 'Stiffness of the cuff coupling exo and forearm.', 'N*m/rad',
        low=1.0, high=1e4)
    cuff_damping: float = param(2.0, 'Damping of the cuff.', 'N*m*s/rad', low=0.0, high=100.0)
    rate_hz: float = param(1000.0, 'Physics and /joint_states rate (real time).', 'Hz',
                           low=100.0, high=2000.0)
    human_state_rate_hz: float = param(
        100.0, 'Rate of /exo/human_state (at most rate_hz).', 'Hz', low=1.0, high=2000.0)
    metabolic_rate_hz: float = param(
        10.0, 'Rate of /exo/metabolic_power (at most rate_hz).', 'Hz', low=0.1, high=2000.0)
    command_timeout: float = param(
        0.05, 'Age after which the last effort command is replaced by 0 N*m (wall time in '
        'realtime, simulated time in lockstep).', 's', low=1e-3, high=1.0)
    rest_angle: float = param(0.3, 'Elbow angle of the human at rest.', 'rad',
                              low=0.0, high=2.2)
    joint_name: str = param('exo_elbow_joint', 'Name of the exo joint in /joint_states.',
                            may_be_empty=False)
    max_catchup_steps: int = param(
        10, 'Most physics steps one tick may take to catch up with real time.', 'steps',
        low=1, high=100)
    language_encoder: str = param(
        'auto', "Sentence encoder of the human's task resolver (the same resolver as "
        "policy_node's).", choices=ENCODERS)
    torque_limit: float = param(
        25.0, "Every effort command is clamped to +-torque_limit: the actuator's rated limit "
        "(the controller's default), at most the model's motor clip.", 'N*m',
        low=0.0, high=MAX_DEVICE_TORQUE_NM, low_open=True)
    clock_mode: str = param(
        'realtime', "realtime: physics follows the wall clock; lockstep: publishes /clock and "
        "each step waits for the controller's command.", choices=CLOCK_MODES)
    lockstep_timeout: float = param(
        0.5, "In lockstep, the longest wall-clock wait for the controller's command (or the "
        "policy's reference, or the other readers of a new task text) before the step is "
        'taken anyway.', 's', low=1e-3, high=10.0)
    lockstep_reference_rate_hz: float = param(
        100.0, "In lockstep, the rate of policy_node's references (its rate_hz); 0 = do not "
        'wait for references (at most rate_hz).', 'Hz', low=0.0, high=2000.0)
    human_memory: str = param(
        NO_MEMORY, "The human's internal models adapted to the exo (a JSON file written by "
        "exo_sim.human.save_memory) or 'none' for a human who has never worn it.",
        may_be_empty=False)

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_fields(self)
        for name in ('human_state_rate_hz', 'metabolic_rate_hz', 'lockstep_reference_rate_hz'):
            if getattr(self, name) > self.rate_hz:
                raise ValueError(f'{name} must be at most rate_hz ({self.rate_hz!r} Hz), got '
                                 f'{getattr(self, name)!r}')

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Field name -> default value, in declaration order."""
        return param_defaults(cls)

    def to_dict(self) -> dict[str, object]:
        """Field name -> value."""
        return asdict(self)
