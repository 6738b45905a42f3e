"""Build the reference source of policy_node / the evaluation from a mode name.

Modes: ``learned`` (the bimodal policy, default: trained on the bounded virtual equilibrium
of eq. 3 rollouts, it follows the task and assists; :mod:`exo_policy.configuration`),
``promp`` (the paper's baseline, fitted on the same targets and episodes), ``oracle`` (task
library reference + fitted stiffness), ``gravity_share`` and ``constant_assist`` (physics
baselines, :mod:`exo_policy.baselines`). The paper's literal formulation (the policy trained
on the human's own reference) is not a mode: it is an ablation of the evaluation
(:func:`exo_policy.runtime.ablation_checkpoint_dir`, loaded through an explicit
``checkpoint``).
Every source resolves task text with the same :class:`exo_language.resolver.TaskResolver`
(the one given, else :func:`exo_policy.reference_source.default_resolver`), so a paraphrase
means the same task whichever source runs, and text that names no task always gives the
compliant fallback (:class:`exo_policy.reference_source.ReferenceSourceBase`). No rclpy here.
"""

from __future__ import annotations

from pathlib import Path

from exo_policy.baselines import (
    ConstantAssistReferenceSource,
    GRAVITY_SHARE,
    GravityShareReferenceSource,
)
from exo_policy.oracle import OracleReferenceSource, StiffnessTable
from exo_policy.reference_source import MAX_ASSIST_TORQUE_NM, ReferenceSource, Resolver

SOURCE_MODES = ('learned', 'promp', 'oracle', 'gravity_share', 'constant_assist')
#: Modes that exist to test the controller's bounds (never a shipped configuration).
FAULT_INJECTION_MODES = ('fault_injection_pull',)


def make_source(mode: str, *, resolver: Resolver | None = None,
                compliant_stiffness: float = 2.0, checkpoint: str = '', promp_model: str = '',
                stiffness_table: str = '',
                max_assist_torque: float = MAX_ASSIST_TORQUE_NM, body_mass_kg: float = 70.0,
                gravity_share: float = GRAVITY_SHARE) -> ReferenceSource:
    """Return the reference source for ``mode`` ('' paths = the shipped files).

    Args:
        mode: one of :data:`SOURCE_MODES`, or of :data:`FAULT_INJECTION_MODES` (a
            deliberately wrong reference, :mod:`exo_policy.fault_injection`, for testing).
        resolver: a :class:`exo_language.resolver.TaskResolver` shared by the sources
            (None: the process-wide default one).
        compliant_stiffness: fallback stiffness, N*m/rad.
        checkpoint: learned-policy checkpoint directory ('' = the shipped default one).
        promp_model: ProMP model file (.npz).
        stiffness_table: oracle stiffness table (.npz).
        max_assist_torque: bound on ``|K (q_d - q)|`` of the learned policy and ProMP, N*m
            (:data:`exo_policy.reference_source.MAX_ASSIST_TORQUE_NM`), and of the baselines.
        body_mass_kg: the wearer's body mass (gravity_share), kg.
        gravity_share: share of the arm + payload gravity torque (gravity_share).

    Raises:
        ValueError: unknown mode or invalid files/values (message quotes them).

    """
    if mode == 'learned':
        from exo_policy.runtime import LearnedReferenceSource
        return LearnedReferenceSource(checkpoint or None, resolver=resolver,
                                      compliant_stiffness=compliant_stiffness,
                                      max_assist_torque=max_assist_torque)
    if mode == 'promp':
        from exo_policy.promp import ProMPModel, ProMPReferenceSource
        model = ProMPModel.load(Path(promp_model)) if promp_model else None
        return ProMPReferenceSource(model, resolver, compliant_stiffness, max_assist_torque)
    if mode == 'oracle':
        table = StiffnessTable.load(Path(stiffness_table) if stiffness_table else None)
        return OracleReferenceSource(table, compliant_stiffness, resolver=resolver)
    if mode == 'gravity_share':
        return GravityShareReferenceSource(gravity_share, body_mass_kg, resolver=resolver,
                                           compliant_stiffness=compliant_stiffness,
                                           max_assist_torque=max_assist_torque)
    if mode == 'constant_assist':
        return ConstantAssistReferenceSource(resolver=resolver,
                                             compliant_stiffness=compliant_stiffness,
                                             max_assist_torque=max_assist_torque)
    if mode == 'fault_injection_pull':
        from exo_policy.fault_injection import FaultInjectionPullSource
        return FaultInjectionPullSource(resolver, compliant_stiffness)
    raise ValueError(f'mode must be one of {SOURCE_MODES + FAULT_INJECTION_MODES}, '
                     f'got {mode!r}')
