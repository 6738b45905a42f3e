"""Typed, validated parameters of policy_node (declared in one place)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from exo_contract.parameters import check_fields, param
from exo_contract.parameters import defaults as param_defaults
from exo_policy.baselines import GRAVITY_SHARE
from exo_policy.reference_source import check_assist_bound, MAX_ASSIST_TORQUE_NM

POLICY_MODES = ('learned', 'promp', 'oracle', 'gravity_share', 'constant_assist')
DEFAULT_MODE = 'gravity_share'
"""The default reference source: the best-measured one on calibration subjects
(exo_experiments.evaluation.calibration; docs/learning.md). The graph's ``policy_mode``
launch argument and config/policy.yaml say the same (a test checks)."""
#: Testing only (exo_policy.fault_injection): a policy that asks for K = 300, q_d = q + 1.
FAULT_INJECTION_MODES = ('fault_injection_pull',)
LANGUAGE_ENCODERS = ('auto', 'hybrid', 'minilm', 'lexical')


@dataclass(frozen=True)
class PolicyNodeParams:
    """Parameters of :class:`exo_policy.policy_node.PolicyNode` (description, unit, range)."""

    mode: str = param(
        DEFAULT_MODE, "Reference source: 'gravity_share' (the default: a share of the "
        'forearm + hand + payload gravity torque at a fixed stiffness, exo_policy.baselines), '
        "'learned' (the simulation-trained text + proprioception policy: follows the task "
        "and assists), 'promp' (the ProMP baseline, same targets), 'oracle' (task library "
        "reference + fitted stiffness) or 'constant_assist' (a constant torque on loaded "
        "tasks); 'fault_injection_pull' only tests the controller's bounds (a deliberately "
        'wrong policy, exo_policy.fault_injection).',
        choices=POLICY_MODES + FAULT_INJECTION_MODES)
    rate_hz: float = param(100.0, 'Publication rate of /exo/impedance_reference.', 'Hz',
                           low=1.0, high=1000.0)
    joint_name: str = param('exo_elbow_joint', 'Exoskeleton joint in /joint_states and in the '
                            'published reference.', may_be_empty=False)
    compliant_stiffness: float = param(
        2.0, 'Stiffness at rest and for unknown text.', 'N*m/rad', low=1e-3, high=1e3)
    stiffness_table: str = param('', "Path of an oracle stiffness table; '' = the shipped one.")
    checkpoint: str = param('', "Learned-policy checkpoint directory; '' = the shipped "
                            'default.')
    promp_model: str = param('', "ProMP model file; '' = the shipped one.")
    language_encoder: str = param(
        'auto', "Sentence encoder of the task resolver ('auto' = MiniLM + lexical when the "
        'MiniLM package loads, else lexical).', choices=LANGUAGE_ENCODERS)
    joint_state_timeout: float = param(
        0.1, 'Age after which the measured angle is not trusted.', 's', low=1e-3, high=10.0)
    max_assist_torque: float = param(
        MAX_ASSIST_TORQUE_NM, 'Bound on the assistance |K (q_d - q)| the learned policy and '
        "ProMP ask for (the cuff's deflection against tracking).", 'N*m',
        low=0.0, high=100.0, low_open=True)
    wearer_body_mass_kg: float = param(
        70.0, "The wearer's body mass (mode gravity_share, the default: forearm + hand "
        'gravity); set it for every wearer.', 'kg', low=40.0, high=150.0)
    gravity_share: float = param(
        GRAVITY_SHARE, 'Share of the arm + payload gravity torque asked for (mode '
        'gravity_share).', '', low=0.0, high=1.0, low_open=True)

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        check_fields(self)
        check_assist_bound(self.max_assist_torque)

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Field name -> default value, in declaration order."""
        return param_defaults(cls)

    def to_dict(self) -> dict[str, object]:
        """Field name -> value."""
        return asdict(self)
