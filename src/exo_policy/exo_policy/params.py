"""Typed, validated parameters of policy_node (declared in one place)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from exo_contract.checks import check_range
from exo_policy.reference_source import check_assist_bound, MAX_ASSIST_TORQUE_NM

POLICY_MODES = ('learned', 'promp', 'oracle')
#: Testing only (exo_policy.fault_injection): a policy that asks for K = 300, q_d = q + 1.
FAULT_INJECTION_MODES = ('fault_injection_pull',)
LANGUAGE_ENCODERS = ('auto', 'hybrid', 'minilm', 'lexical')


@dataclass(frozen=True)
class PolicyNodeParams:
    """Parameters of :class:`exo_policy.policy_node.PolicyNode`.

    Attributes:
        mode: reference source: 'learned' (the default bimodal policy: follows the task
            and assists, README "The default policy"), 'promp' (the fair ProMP baseline,
            same targets) or 'oracle' (task library reference + fitted stiffness);
            'fault_injection_pull' is for testing the controller's bounds only (a
            deliberately wrong policy, exo_policy.fault_injection).
        rate_hz: publication rate of /exo/impedance_reference, Hz.
        joint_name: exoskeleton joint in /joint_states and in the published reference.
        compliant_stiffness: stiffness at rest and for unknown text, N*m/rad.
        stiffness_table: path of an oracle stiffness table; '' = the shipped one.
        checkpoint: learned-policy checkpoint directory; '' = the shipped default.
        promp_model: ProMP model file; '' = the shipped one.
        language_encoder: sentence encoder of the task resolver ('auto' = MiniLM + lexical
            when the MiniLM package loads, else lexical).
        joint_state_timeout: age after which the measured angle is not trusted, s.
        max_assist_torque: bound on the assistance ``|K (q_d - q)|`` the learned policy and
            ProMP ask for, N*m, in (0, 100] (README "The default policy": the cuff's
            deflection against tracking).

    """

    mode: str = 'learned'
    rate_hz: float = 100.0
    joint_name: str = 'exo_elbow_joint'
    compliant_stiffness: float = 2.0
    stiffness_table: str = ''
    checkpoint: str = ''
    promp_model: str = ''
    language_encoder: str = 'auto'
    joint_state_timeout: float = 0.1
    max_assist_torque: float = MAX_ASSIST_TORQUE_NM

    def __post_init__(self) -> None:
        """Reject invalid values, quoting them."""
        if self.mode not in POLICY_MODES + FAULT_INJECTION_MODES:
            raise ValueError(f'mode must be one of {POLICY_MODES}, got {self.mode!r}')
        if self.language_encoder not in LANGUAGE_ENCODERS:
            raise ValueError(f'language_encoder must be one of {LANGUAGE_ENCODERS}, '
                             f'got {self.language_encoder!r}')
        check_range('rate_hz', self.rate_hz, 1.0, 1000.0, 'Hz')
        if not self.joint_name:
            raise ValueError(f'joint_name must not be empty, got {self.joint_name!r}')
        check_range('compliant_stiffness', self.compliant_stiffness, 1e-3, 1e3, 'N*m/rad')
        check_range('joint_state_timeout', self.joint_state_timeout, 1e-3, 10.0, 's')
        check_assist_bound(self.max_assist_torque)

    @classmethod
    def defaults(cls) -> dict[str, object]:
        """Field name -> default value, in declaration order."""
        return {f.name: f.default for f in fields(cls)}

    def to_dict(self) -> dict[str, object]:
        """Field name -> value."""
        return asdict(self)
