"""The evaluation's conditions, their reference sources, the language front end and safety.

Conditions: ``no_exo`` (no exoskeleton), ``transparent`` (exo attached, zero torque) and
the assisted ``promp``, ``learned`` (the default policy), ``oracle`` (a reference source of
:mod:`exo_policy.sources` + the stability-bounded impedance controller,
:class:`exo_experiments.harness.ImpedanceAssist`) and ``ablation_human_reference``: the paper's
literal formulation (the learned policy trained on the human's own reference,
:func:`exo_policy.runtime.ablation_checkpoint_dir`), an ablation and not a mode of
policy_node; the physics baselines ``gravity_share`` and ``constant_assist`` (modes of
policy_node, :mod:`exo_policy.baselines`) and ``learned_constant_stiffness`` (the stiffness
ablation: the learned policy's assistance at a constant stiffness).

One language front end: every condition and the simulated human resolve task text with
the same :class:`exo_language.resolver.TaskResolver`, built once per process (lazily, with
policy_node's ``language_encoder``) and handed to every reference source, so a paraphrase
means the same task in every mode and unknown text is refused in every mode.
"""

from __future__ import annotations

import functools

from exo_bringup.node_config import load_node_config, NodeConfig
from exo_contract.tasks import Task
from exo_experiments.harness import ImpedanceAssist
from exo_language.resolver import TaskResolver

ABLATION = 'ablation_human_reference'
STIFFNESS_ABLATION = 'learned_constant_stiffness'
BASELINES = ('gravity_share', 'constant_assist')
CONDITIONS = ('no_exo', 'transparent', 'promp', 'learned', 'oracle', ABLATION, *BASELINES,
              STIFFNESS_ABLATION)
ASSISTED = ('promp', 'learned', 'oracle', ABLATION, *BASELINES, STIFFNESS_ABLATION)
TRAINING_MASSES = (60.0, 70.0, 80.0)
UNSEEN_MASSES = (55.0, 65.0, 75.0, 90.0)
#: The answer to text that names no task, the same in every mode.
UNKNOWN_TEXT_ERROR = 'the text names no known task'


class SourceUnavailableError(RuntimeError):
    """A reference source (the learned policy) cannot be built here."""


@functools.lru_cache(maxsize=None)
def language_resolver(encoder: str = 'auto') -> TaskResolver:
    """The process's task resolver for ``encoder`` (built on first use, then shared)."""
    return TaskResolver(encoder)


@functools.lru_cache(maxsize=1)
def default_node_config() -> NodeConfig:
    """The nodes' configuration from the launch files' YAML (read once per process)."""
    return load_node_config()


def resolve_task(text: str, node_config: NodeConfig | None = None) -> Task | None:
    """The task ``text`` names for the simulated human (the shared resolver), or None."""
    config = node_config if node_config is not None else default_node_config()
    return language_resolver(config.policy.language_encoder).resolve(text).task


def make_source(condition: str, node_config: NodeConfig | None = None,
                body_mass_kg: float | None = None, gravity_share: float | None = None):
    """Reference source of an assisted ``condition``; None for no_exo / transparent.

    The physics baselines ``gravity_share`` and ``constant_assist``
    (:mod:`exo_policy.baselines`) run at the policy's ``max_assist_torque``; the gravity
    share knows the wearer's ``body_mass_kg`` (default: policy.yaml's
    ``wearer_body_mass_kg``) and its ``gravity_share`` (default: policy.yaml's).
    ``learned_constant_stiffness`` is the learned policy's reference at the baselines'
    constant stiffness with the same assistance torque (the stiffness ablation,
    :class:`exo_policy.baselines.ConstantStiffnessSource`).

    The source is built as policy_node builds it (:func:`exo_policy.sources.make_source`)
    from ``node_config.policy`` (default: the launch files' policy.yaml): the shared
    resolver, ``compliant_stiffness``, ``promp_model``, ``stiffness_table``,
    ``max_assist_torque`` and, for
    ``learned`` only, ``checkpoint`` (the ablation always runs its shipped checkpoint).

    Raises:
        SourceUnavailableError: the learned policy cannot be imported or constructed.
        ValueError: unknown condition.

    """
    if condition in ('no_exo', 'transparent'):
        return None
    if condition not in ASSISTED:
        raise ValueError(f'condition must be one of {CONDITIONS}, got {condition!r}')
    from exo_policy.sources import make_source as make_reference_source  # noqa: PLC0415
    config = node_config if node_config is not None else default_node_config()
    policy = config.policy
    kwargs = {'resolver': language_resolver(policy.language_encoder),
              'compliant_stiffness': policy.compliant_stiffness,
              'promp_model': policy.promp_model, 'stiffness_table': policy.stiffness_table,
              'max_assist_torque': policy.max_assist_torque,
              'checkpoint': policy.checkpoint if condition == 'learned' else ''}
    if condition in ('oracle', 'promp'):
        return make_reference_source(condition, **kwargs)
    if condition in BASELINES:
        kwargs['body_mass_kg'] = (policy.wearer_body_mass_kg if body_mass_kg is None
                                  else float(body_mass_kg))
        kwargs['gravity_share'] = (policy.gravity_share if gravity_share is None
                                   else float(gravity_share))
        return make_reference_source(condition, **kwargs)
    try:
        if condition == ABLATION:
            from exo_policy.runtime import ablation_checkpoint_dir  # noqa: PLC0415
            kwargs['checkpoint'] = str(ablation_checkpoint_dir())
            return make_reference_source('learned', **kwargs)
        if condition == STIFFNESS_ABLATION:
            from exo_policy.baselines import ConstantStiffnessSource  # noqa: PLC0415
            kwargs['checkpoint'] = policy.checkpoint
            return ConstantStiffnessSource(make_reference_source('learned', **kwargs))
        return make_reference_source(condition, **kwargs)
    except Exception as exc:  # noqa: BLE001 -- any failure skips the condition
        raise SourceUnavailableError(f'the {condition} policy is unavailable: '
                                     f'{type(exc).__name__}: {exc}') from exc


def check_condition(condition: str, node_config: NodeConfig | None = None) -> str | None:
    """None when ``condition`` can run here, else the reason it is skipped."""
    try:
        make_source(condition, node_config)
    except SourceUnavailableError as exc:
        return str(exc)
    return None


def assist_kwargs(node_config: NodeConfig | None = None) -> dict:
    """Keyword arguments of :class:`ImpedanceAssist`: controller params and policy period."""
    config = node_config if node_config is not None else default_node_config()
    return {'params': config.controller, 'policy_period': config.policy_period}


class RecordingSource:
    """Forwards a ReferenceSource and remembers the last resolution and fallback ticks."""

    def __init__(self, source) -> None:
        self.source = source
        self.resolved: Task | None = None
        self.confidence = 0.0
        self.references = 0
        self.fallbacks = 0

    def set_task_text(self, text: str, t: float) -> Task | None:
        """Forward the instruction; remember what the source resolved."""
        self.resolved = self.source.set_task_text(text, t)
        return self.resolved

    def reference(self, t: float, q: float, qd: float = 0.0):
        """Forward one reference request; count fallbacks, remember the confidence."""
        target = self.source.reference(t, q, qd)
        self.references += 1
        if target.source == 'fallback':
            self.fallbacks += 1
        else:
            self.confidence = float(target.confidence)
        return target


def safety_counts(assist: ImpedanceAssist | None) -> dict:
    """The ``safety`` dict of eval.json from an assist's counters (zeros without one)."""
    if assist is None:
        return {'ticks': 0, 'stiffness_rate_violations': 0, 'torque_limit_violations': 0,
                'nonfinite_commands': 0}
    c = assist.counters
    return {'ticks': c.ticks, 'stiffness_rate_violations': c.stiffness_rate_violations,
            'torque_limit_violations': c.torque_limit_violations,
            'nonfinite_commands': c.nonfinite_commands}


def safety_ok(safety: dict) -> bool:
    """True when a ``safety`` dict has no violation of any kind."""
    return (safety['stiffness_rate_violations'] == 0 and safety['torque_limit_violations'] == 0
            and safety['nonfinite_commands'] == 0)
