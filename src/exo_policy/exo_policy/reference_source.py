"""What every reference source shares: the target type, the text resolution, the fallback.

A reference source turns the last task text and the exo state into an
:class:`ImpedanceTarget` (reference angle and stiffness) for the controller:
:class:`exo_policy.oracle.OracleReferenceSource`, :class:`exo_policy.promp.ProMPReferenceSource`
and :class:`exo_policy.runtime.LearnedReferenceSource` derive from
:class:`ReferenceSourceBase`, which

* resolves each task text through one :class:`exo_language.resolver.TaskResolver` (injected,
  shared by policy_node and the evaluation; default: :func:`default_resolver`), so a
  paraphrase means the same task whichever source runs and unknown text is refused by all;
* holds the resolved task, its confidence and the time the text arrived;
* gives the fallback target for unknown text and before any text: hold the measured
  angle with the compliant stiffness (no assistance), ``source='fallback'``, confidence 0.

No rclpy here.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import math
from typing import Any, Protocol

from exo_contract.tasks import Task
from exo_language.resolver import Resolution, TaskResolver

SOURCE_FALLBACK = 'fallback'
#: Bound on the lead of every source's reference over the angle it measured, ``|q_d - q|``,
#: rad: controller_node's ``max_lead`` (the learned policy's own bound), beyond which (plus
#: its ``reference_lead_tolerance``) the controller refuses a reference as not assistance.
MAX_LEAD_RAD = 0.12
MAX_ASSIST_TORQUE_NM = 5.0
"""Default bound on the assistance a source asks for, ``|K (q_d - q)|``, N*m.

The exo reaches the arm through a compliant cuff (150 N*m/rad in the simulator), so every
N*m of assistance puts the exo angle 1/150 rad above the arm: the heavy lift's 12 N*m held
the exo 0.08 rad off the wearer's reference while the arm itself tracked it (0.03 rad),
against a 0.05 rad tracking target. The bound trades assistance for tracking on the loads
that need more; it is applied after the source's own shaping, to the learned policy and to
the ProMP baseline alike. Chosen on calibration seeds 100-102 as the largest bound whose
worst per-mass (55 / 70 / 90 kg) median exo-angle RMSE on lift_heavy is <= 0.048 rad:
7 N*m 0.054 (55 kg), 6 N*m 0.050, 5.5 N*m 0.048 (0.0484), 5 N*m 0.046; the energy saving
against no exo on lift_heavy goes from -20 % (no bound) to -11..-12 %, the 2-minute
repetitive session's from -21 % to -13 % (docs/design.md, "The default policy"). A
stiffer cuff allows a proportionally higher bound at the same tracking."""


@dataclass(frozen=True)
class ImpedanceTarget:
    """One reference sample for the controller (one joint).

    Attributes:
        reference_angle: q_d, rad.
        reference_velocity: dq_d/dt, rad/s.
        stiffness: K_hat, N*m/rad, before the controller's stability bound.
        task_id: resolved task, '' when none.
        confidence: confidence of the task resolution in [0, 1].
        source: the source's name ('oracle', 'promp', 'learned') or 'fallback'.

    """

    reference_angle: float
    reference_velocity: float
    stiffness: float
    task_id: str
    confidence: float
    source: str


class ReferenceSource(Protocol):
    """What policy_node and the evaluation harness drive: oracle, learned policy, ProMP.

    ``set_task_text`` is called once per /task_text message (text encoded once);
    ``reference`` at the policy rate with the latest exo joint state.
    """

    def set_task_text(self, text: str, t: float) -> Task | None:
        """Resolve ``text`` at time ``t`` (s); None when it names no known task."""

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """Reference angle and stiffness at time ``t`` given the exo state."""


class Resolver(Protocol):
    """Text -> :class:`exo_language.resolver.Resolution` (a :class:`TaskResolver`)."""

    def resolve(self, text: Any) -> Resolution:
        """Resolve ``text``; never raises."""


@functools.lru_cache(maxsize=1)
def default_resolver() -> TaskResolver:
    """The process-wide default :class:`TaskResolver` (``'auto'`` encoder), built once.

    Building it loads the sentence encoder (seconds); callers that build their own (e.g.
    policy_node with its ``language_encoder`` parameter) inject it instead.
    """
    return TaskResolver()


class ReferenceSourceBase:
    """Base of the reference sources: text resolution, task state and the fallback target.

    Subclasses implement :meth:`reference` (calling :meth:`fallback` when :attr:`task` is
    None) and may override :meth:`accepts` (tasks they cannot serve resolve to None) and
    :meth:`on_task_text` (per-text state, e.g. the encoded tokens).

    Args:
        resolver: text -> task resolution (:class:`exo_language.resolver.TaskResolver`);
            None: :func:`default_resolver`.
        compliant_stiffness: stiffness of the fallback target, N*m/rad, > 0.

    """

    def __init__(self, resolver: Resolver | None = None,
                 compliant_stiffness: float = 2.0) -> None:
        if not (isinstance(compliant_stiffness, (int, float))
                and math.isfinite(compliant_stiffness) and compliant_stiffness > 0):
            raise ValueError(f'compliant_stiffness must be > 0 N*m/rad, got {compliant_stiffness}')
        self.resolver = resolver if resolver is not None else default_resolver()
        self._compliant = float(compliant_stiffness)
        self._task: Task | None = None
        self._confidence = 0.0
        self._t0 = 0.0

    @property
    def task(self) -> Task | None:
        """The task being followed, or None at rest / after unknown text."""
        return self._task

    @property
    def confidence(self) -> float:
        """Confidence of the last resolution in [0, 1] (0 when no task)."""
        return self._confidence

    @property
    def compliant_stiffness(self) -> float:
        """Stiffness of the fallback target, N*m/rad."""
        return self._compliant

    def accepts(self, task: Task) -> bool:
        """Whether this source can follow ``task`` (default: every task)."""
        del task
        return True

    def on_task_text(self, text: str, task: Task | None) -> None:
        """Hook called after each resolution (``task`` None: unknown text); default: no-op."""

    def set_task_text(self, text: str, t: float) -> Task | None:
        """Resolve ``text`` at time ``t`` (s) and restart the task clock.

        Returns the task, or None (unknown, ambiguous or invalid text, or a task this source
        cannot follow): the source then gives the fallback target. Never raises.
        """
        try:
            resolution = self.resolver.resolve(text)
            task = resolution.task
            confidence = float(resolution.confidence)
        except Exception:  # noqa: BLE001 -- a bad command must never crash the caller
            task, confidence = None, 0.0
        if task is not None and not self.accepts(task):
            task = None
        self._task = task
        self._confidence = confidence if task is not None else 0.0
        try:
            self._t0 = float(t)
        except (TypeError, ValueError):
            self._t0 = 0.0
        self.on_task_text(text, task)
        return task

    def fallback(self, q: float, hold_if_unmeasured: float = math.nan) -> ImpedanceTarget:
        """Compliant hold of the measured angle ``q`` (``hold_if_unmeasured`` if not finite).

        NaN angle (no measurement, no default) tells policy_node to publish nothing.
        """
        hold = q if isinstance(q, (int, float)) and math.isfinite(q) else hold_if_unmeasured
        return ImpedanceTarget(float(hold), 0.0, self._compliant, '', 0.0, SOURCE_FALLBACK)

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """Reference at time ``t`` (s) given the exo angle ``q`` (rad) and velocity ``qd``."""
        raise NotImplementedError


def bound_assistance(q: float, q_d: float, k: float, max_torque: float,
                     max_lead: float = math.inf) -> float:
    """``q_d`` moved toward ``q`` so that ``|k (q_d - q)| <= max_torque`` (N*m).

    And ``|q_d - q| <= max_lead`` (rad). Non-finite ``q`` (no measured angle) or ``k <= 0``
    leave ``q_d`` as it is: the controller's own stale-input handling applies then.
    """
    if not (math.isfinite(q) and math.isfinite(q_d) and k > 0.0):
        return q_d
    bound = min(max_torque / k, max_lead)
    return q + min(max(q_d - q, -bound), bound)


def bound_lead(q: float, q_d: float, qd: float, qd_d: float, max_lead: float) -> tuple:
    """``(q_d, qd_d)`` with the lead ``|q_d - q|`` at most ``max_lead`` rad.

    A reference beyond the bound is moved toward the measured angle ``q`` and moves with the
    arm (``qd_d = qd``, the measured velocity), as controller_node does with its own bound;
    within it, it is returned as it is. Non-finite ``q`` or ``qd`` leave it as it is.
    """
    if not (math.isfinite(q) and math.isfinite(q_d)):
        return q_d, qd_d
    lead = q_d - q
    if -max_lead <= lead <= max_lead:
        return q_d, qd_d
    lead = max_lead if lead > 0.0 else -max_lead
    return q + lead, qd if math.isfinite(qd) else 0.0


def check_assist_bound(max_torque: float) -> float:
    """``max_torque`` as a float in (0, 100] N*m, else ValueError quoting it."""
    try:
        value = float(max_torque)
    except (TypeError, ValueError):
        raise ValueError(f'max_assist_torque must be a number of N*m, got {max_torque!r}') \
            from None
    if not (math.isfinite(value) and 0.0 < value <= 100.0):
        raise ValueError(f'max_assist_torque must be in (0, 100] N*m, got {max_torque!r}')
    return value
