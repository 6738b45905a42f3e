"""Physics baselines of the learned policy: reference sources of a few lines each.

They read only the resolved task (its payload) and the measured exo angle; none of them
learns anything. Each asks for an assistance torque ``tau_a`` and expresses it, like the
learned policy, as a virtual equilibrium ``q_d = q + tau_a / K`` at a stiffness ``K``,
bounded by ``max_assist_torque`` (:func:`exo_policy.reference_source.bound_assistance`):

* :class:`GravityShareReferenceSource` -- ``tau_a = share * G(q)``, ``G`` the gravity torque
  of the wearer's forearm + hand + the payload of the resolved task (per arm), at a fixed
  stiffness;
* :class:`ConstantAssistReferenceSource` -- a constant flexion torque on loaded tasks
  (payload per arm >= :data:`LOADED_MIN_PAYLOAD_KG`), none otherwise;
* :class:`ConstantStiffnessSource` -- any source's reference re-expressed at a constant
  stiffness with the same assistance torque ``K (q_d - q)``: the stiffness ablation.

The gravity model (:func:`arm_gravity_torque`) is the MyoSim elbow's (the simulator's arm),
identified once by least squares on the elbow's gravity torque at rest
(``exo_sim.human.identify_internal_model``; a test checks the constants against it): forearm
+ hand of de Leva's (1996) 2.23 % of body mass with its centre of mass
:data:`FOREARM_HAND_COM_M` from the elbow, the payload at the hand
(:data:`PAYLOAD_LEVER_SIN_M`, :data:`PAYLOAD_LEVER_COS_M`). A physical exoskeleton needs its
wearer's body mass (parameter) and the same two lengths measured on its own cuff and hand.
No rclpy here.
"""

from __future__ import annotations

import math

from exo_contract.tasks import ELBOW_MAX_RAD, ELBOW_MIN_RAD, Task
from exo_policy.reference_source import (
    bound_assistance,
    check_assist_bound,
    ImpedanceTarget,
    MAX_ASSIST_TORQUE_NM,
    ReferenceSource,
    ReferenceSourceBase,
    Resolver,
    SOURCE_FALLBACK,
)

GRAVITY_M_S2 = 9.81
FOREARM_HAND_MASS_FRACTION = 0.0223
"""Forearm + hand mass / body mass (de Leva 1996, J. Biomech. 29:1223, Table 4, males)."""
FOREARM_HAND_COM_M = 0.1815
"""Distance of the forearm + hand centre of mass from the elbow axis in the MyoSim elbow, m."""
PAYLOAD_LEVER_SIN_M = 0.3536
"""Payload gravity torque per kg per g on ``sin q`` (the hand's distance from the elbow), m."""
PAYLOAD_LEVER_COS_M = 0.0468
"""Payload gravity torque per kg per g on ``cos q`` (the hand's offset from the axis), m."""
LOADED_MIN_PAYLOAD_KG = 1.0
"""Payload per arm from which :class:`ConstantAssistReferenceSource` assists, kg."""
BASELINE_STIFFNESS = 40.0
"""Stiffness of the baselines and of the stiffness ablation, N*m/rad: the virtual equilibrium
leads the arm by at most 5 / 40 = 0.125 rad at the 5 N*m bound, the learned policy's lead
cap (0.12 rad)."""
GRAVITY_SHARE = 0.2
"""Default share of :class:`GravityShareReferenceSource`: the share ``make eval`` chose on its
calibration subjects (``exo_experiments.evaluation.calibration``: the largest of 0.2-0.5
whose mean exo RMSE stays within 0.05 rad in every loaded task; 0.3 and above miss it in
lift_heavy)."""
MAX_REFERENCE_SPEED = 10.0
"""Clip of the finite-difference reference velocity, rad/s (as the learned policy's)."""


def arm_gravity_torque(q: float, body_mass_kg: float, payload_kg: float) -> float:
    """Gravity torque of forearm + hand + payload about the elbow at angle ``q``, N*m.

    Positive: the flexion torque that holds the arm (what the elbow flexors supply at rest).
    """
    arm = FOREARM_HAND_MASS_FRACTION * body_mass_kg * FOREARM_HAND_COM_M
    return GRAVITY_M_S2 * (arm * math.sin(q) + payload_kg * (
        PAYLOAD_LEVER_SIN_M * math.sin(q) + PAYLOAD_LEVER_COS_M * math.cos(q)))


def _positive(name: str, value: float, hi: float = math.inf) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f'{name} must be a number, got {value!r}') from None
    if not (math.isfinite(v) and 0.0 < v <= hi):
        raise ValueError(f'{name} must be in (0, {hi:g}], got {value!r}')
    return v


class _TorqueSource(ReferenceSourceBase):
    """A source that asks for an assistance torque; q_d = q + tau / K, bounded, rate-limited."""

    name = 'torque'

    def __init__(self, stiffness: float, resolver: Resolver | None,
                 compliant_stiffness: float, max_assist_torque: float) -> None:
        super().__init__(resolver, compliant_stiffness)
        self.stiffness = _positive('stiffness', stiffness, 1e3)
        self.max_assist_torque = check_assist_bound(max_assist_torque)
        self._prev: tuple[float, float] | None = None

    def on_task_text(self, text: str, task: Task | None) -> None:
        """A new text restarts the reference velocity."""
        self._prev = None

    def torque(self, task: Task, q: float) -> float:
        """Assistance torque the source asks for at angle ``q``, N*m."""
        raise NotImplementedError

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """Virtual equilibrium of :meth:`torque` at the source's stiffness."""
        try:
            q, t = float(q), float(t)
        except (TypeError, ValueError):
            return self.fallback(math.nan)
        if not math.isfinite(q) or self.task is None:
            self._prev = None
            return self.fallback(q)
        tau = self.torque(self.task, q)
        if not math.isfinite(tau):
            self._prev = None
            return self.fallback(q)
        k = self.stiffness
        q_d = bound_assistance(q, q + tau / k, k, self.max_assist_torque)
        q_d = min(max(q_d, ELBOW_MIN_RAD), ELBOW_MAX_RAD)
        qd_d = 0.0
        if self._prev is not None and math.isfinite(t) and 0.0 < t - self._prev[0] <= 0.1:
            qd_d = max(-MAX_REFERENCE_SPEED, min(MAX_REFERENCE_SPEED,
                                                 (q_d - self._prev[1]) / (t - self._prev[0])))
        self._prev = (t, q_d) if math.isfinite(t) else None
        return ImpedanceTarget(q_d, qd_d, k, self.task.task_id, self.confidence, self.name)


class GravityShareReferenceSource(_TorqueSource):
    """``share`` of the gravity torque of forearm + hand + payload at a fixed stiffness.

    Args:
        share: fraction of :func:`arm_gravity_torque` asked for, in (0, 1].
        body_mass_kg: the wearer's body mass, kg, in [40, 150].
        stiffness: K, N*m/rad.
        resolver: shared task resolver (None: the process default).
        compliant_stiffness: fallback stiffness, N*m/rad.
        max_assist_torque: bound on ``|K (q_d - q)|``, N*m.

    """

    name = 'gravity_share'

    def __init__(self, share: float = GRAVITY_SHARE, body_mass_kg: float = 70.0,
                 stiffness: float = BASELINE_STIFFNESS, resolver: Resolver | None = None,
                 compliant_stiffness: float = 2.0,
                 max_assist_torque: float = MAX_ASSIST_TORQUE_NM) -> None:
        super().__init__(stiffness, resolver, compliant_stiffness, max_assist_torque)
        self.share = _positive('share', share, 1.0)
        mass = _positive('body_mass_kg', body_mass_kg, 150.0)
        if mass < 40.0:
            raise ValueError(f'body_mass_kg must be in [40, 150], got {body_mass_kg!r}')
        self.body_mass_kg = mass

    def torque(self, task: Task, q: float) -> float:
        """``share * G(q)`` with the task's payload per arm."""
        return self.share * arm_gravity_torque(q, self.body_mass_kg, task.payload_per_arm_kg)


class ConstantAssistReferenceSource(_TorqueSource):
    """A constant flexion torque on loaded tasks, zero on the others.

    Args:
        torque_nm: the assistance, N*m, in (0, max_assist_torque] (default: the bound).
        stiffness, resolver, compliant_stiffness, max_assist_torque: as
            :class:`GravityShareReferenceSource`.

    """

    name = 'constant_assist'

    def __init__(self, torque_nm: float | None = None, stiffness: float = BASELINE_STIFFNESS,
                 resolver: Resolver | None = None, compliant_stiffness: float = 2.0,
                 max_assist_torque: float = MAX_ASSIST_TORQUE_NM) -> None:
        super().__init__(stiffness, resolver, compliant_stiffness, max_assist_torque)
        value = self.max_assist_torque if torque_nm is None else torque_nm
        self.torque_nm = _positive('torque_nm', value, self.max_assist_torque)

    def torque(self, task: Task, q: float) -> float:
        """The constant torque when the task's payload per arm is >= 1 kg, else 0."""
        return self.torque_nm if task.payload_per_arm_kg >= LOADED_MIN_PAYLOAD_KG else 0.0


class ConstantStiffnessSource:
    """``source``'s targets at a constant stiffness with the same assistance torque.

    ``q_d' = q + K_s (q_d - q) / K_c`` with ``K_s`` the source's stiffness and ``K_c`` the
    constant one: the controller's spring torque at the measured angle is unchanged, the
    impedance against any deviation from it is ``K_c``. Fallback targets pass unchanged.
    """

    def __init__(self, source: ReferenceSource, stiffness: float = BASELINE_STIFFNESS) -> None:
        self.source = source
        self.stiffness = _positive('stiffness', stiffness, 1e3)
        self._prev: tuple[float, float] | None = None

    def set_task_text(self, text: str, t: float) -> Task | None:
        """Forward the text; restart the reference velocity."""
        self._prev = None
        return self.source.set_task_text(text, t)

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """The source's target re-expressed at the constant stiffness."""
        target = self.source.reference(t, q, qd)
        if target.source == SOURCE_FALLBACK or not (
                math.isfinite(q) and math.isfinite(target.reference_angle)
                and math.isfinite(target.stiffness)):
            self._prev = None
            return target
        tau = target.stiffness * (target.reference_angle - q)
        q_d = min(max(q + tau / self.stiffness, ELBOW_MIN_RAD), ELBOW_MAX_RAD)
        qd_d = 0.0
        if self._prev is not None and math.isfinite(t) and 0.0 < t - self._prev[0] <= 0.1:
            qd_d = max(-MAX_REFERENCE_SPEED, min(MAX_REFERENCE_SPEED,
                                                 (q_d - self._prev[1]) / (t - self._prev[0])))
        self._prev = (t, q_d) if math.isfinite(t) else None
        return ImpedanceTarget(q_d, qd_d, self.stiffness, target.task_id, target.confidence,
                               target.source)
