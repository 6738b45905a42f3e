"""Typed, validated parameters of sim_node (declared in one place)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from exo_contract.checks import check_range
from exo_language.encoders import ENCODERS

#: Values of ``clock_mode``: 'realtime' steps with the wall clock (``make bench``); 'lockstep'
#: publishes /clock and steps once the controller has answered the last state.
CLOCK_MODES = ('realtime', 'lockstep')
#: ``human_memory`` of a human who has never worn the exo.
NO_MEMORY = 'none'


@dataclass(frozen=True)
class SimNodeParams:
    """Parameters of :class:`exo_sim.sim_node.SimNode`.

    Attributes:
        body_mass_kg: body mass of the simulated human, kg (any value in [40, 150]).
        cuff_stiffness: stiffness of the cuff coupling exo and forearm, N*m/rad.
        cuff_damping: damping of the cuff, N*m*s/rad.
        rate_hz: physics and /joint_states rate, Hz (real time).
        human_state_rate_hz: rate of /exo/human_state, Hz.
        metabolic_rate_hz: rate of /exo/metabolic_power, Hz.
        command_timeout: age after which the last effort command is replaced by 0 N*m, s
            (wall time in 'realtime', simulated time in 'lockstep').
        torque_limit: every effort command is clamped to +-torque_limit, N*m: the
            actuator's rated limit, the controller's default; never above the model's motor
            clip (``ExoArmConfig.exo_torque_limit``, 30 N*m), checked by sim_node.
        clock_mode: 'realtime' (physics follows the wall clock, catching up if late) or
            'lockstep' (publishes /clock; each step waits for the controller's command).
        lockstep_timeout: in 'lockstep', the longest wall-clock wait for the controller's
            command (or the policy's reference, or the other readers of a new task text)
            before the step is taken anyway, s. Long enough to ride out a node stalled by
            a loaded machine (0.05 s was not: runs then differed), short enough that a dead
            node only slows the simulation down.
        lockstep_reference_rate_hz: in 'lockstep', the rate of policy_node's references
            (its ``rate_hz``): once the simulated time reaches the next reference's time,
            the step also waits for that reference; 0 = do not wait for references, Hz.
        rest_angle: elbow angle of the human at rest, rad.
        joint_name: name of the exo joint in /joint_states.
        max_catchup_steps: most physics steps one tick may take to catch up with real time.
        language_encoder: sentence encoder of the human's task resolver, the same resolver
            as policy_node's (``exo_language.encoders``): 'auto', 'hybrid', 'minilm' or
            'lexical'.
        human_memory: the human's internal models adapted to the exo (a JSON file written by
            :func:`exo_sim.human.save_memory`, e.g. after practice; ``make demo`` writes
            one) or 'none' for a human who has never worn it.

    """

    body_mass_kg: float = 70.0
    cuff_stiffness: float = 150.0
    cuff_damping: float = 2.0
    rate_hz: float = 1000.0
    human_state_rate_hz: float = 100.0
    metabolic_rate_hz: float = 10.0
    command_timeout: float = 0.05
    rest_angle: float = 0.3
    joint_name: str = 'exo_elbow_joint'
    max_catchup_steps: int = 10
    language_encoder: str = 'auto'
    torque_limit: float = 25.0
    clock_mode: str = 'realtime'
    lockstep_timeout: float = 0.5
    lockstep_reference_rate_hz: float = 100.0
    human_memory: str = NO_MEMORY

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_range('body_mass_kg', self.body_mass_kg, 40.0, 150.0, 'kg')
        check_range('cuff_stiffness', self.cuff_stiffness, 1.0, 1e4, 'N*m/rad')
        check_range('cuff_damping', self.cuff_damping, 0.0, 100.0, 'N*m*s/rad')
        check_range('rate_hz', self.rate_hz, 100.0, 2000.0, 'Hz')
        check_range('human_state_rate_hz', self.human_state_rate_hz, 1.0, self.rate_hz, 'Hz')
        check_range('metabolic_rate_hz', self.metabolic_rate_hz, 0.1, self.rate_hz, 'Hz')
        check_range('command_timeout', self.command_timeout, 1e-3, 1.0, 's')
        check_range('rest_angle', self.rest_angle, 0.0, 2.2, 'rad')
        check_range('max_catchup_steps', self.max_catchup_steps, 1, 100, 'steps')
        check_range('torque_limit', self.torque_limit, 1e-3, 500.0, 'N*m')
        check_range('lockstep_timeout', self.lockstep_timeout, 1e-3, 10.0, 's')
        check_range('lockstep_reference_rate_hz', self.lockstep_reference_rate_hz, 0.0,
                    self.rate_hz, 'Hz')
        if self.clock_mode not in CLOCK_MODES:
            raise ValueError(f'clock_mode must be one of {CLOCK_MODES}, got {self.clock_mode!r}')
        if not self.joint_name:
            raise ValueError(f'joint_name must not be empty, got {self.joint_name!r}')
        if not self.human_memory:
            raise ValueError(f"human_memory must be a file or '{NO_MEMORY}', got "
                             f'{self.human_memory!r}')
        if self.language_encoder not in ENCODERS:
            raise ValueError(f'language_encoder must be one of {ENCODERS}, '
                             f'got {self.language_encoder!r}')

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Field name -> default value, in declaration order."""
        return {f.name: f.default for f in fields(cls)}

    def to_dict(self) -> dict[str, object]:
        """Field name -> value."""
        return asdict(self)
