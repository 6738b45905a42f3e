"""The controller core: eq. 8 law + eq. 13 bound + safety layer, used by node and rollout.

Two clocks, both float seconds:

* ``t`` of :meth:`ImpedanceControllerCore.update` is the sample time of the joint state
  (the JointState header stamp); the tick length ``h = t - t_prev`` clamped to
  ``[0, max_tick]`` drives the stiffness-rate bound and the reference rate limit (first
  tick: ``h = 0``).
* ``now`` is the receipt clock for staleness and for the torque-rate limit (the node passes
  ``time.monotonic()``; an in-process rollout passes simulation time and may omit it: it
  defaults to ``t``). ``set_reference``, ``set_interaction`` and ``check_timeouts`` take
  times on this clock.

Order of one tick: input checks (finite and plausible, else FAULT) -> reference (fresh:
clamped into the joint range and rate limited to ``max_reference_speed``; stale: the
measured angle, stiffness ramping down) -> eq. 13 limiter (with ``stability_margin``) ->
assistance bound -> eq. 8 -> joint-limit filter -> saturation -> torque-rate limit (last
layer).

Assistance bound: whatever publishes the reference (the shipped policy, a buggy checkpoint,
a wrong mode, another node), the spring of eq. 8 exerts at most ``max_assist_torque`` and
the reference leads the arm by at most ``max_lead``: with K the stiffness applied this tick
(after the eq. 13 limiter), ``e = q_d - q`` is clamped to
``+-min(max_lead, max_assist_torque / K)`` by moving ``q_d`` toward the measured angle
(flag ASSISTANCE_BOUNDED); the reference held at the bound moves with the arm
(``qd_d = qd``, so ``ed = 0``: no velocity feed-forward beyond it). The angle is moved, not
the stiffness nor the torque, because

* K stays the eq. 13 limiter's own sequence (the stability bound of eq. 13 is about how
  fast K grows; a K lowered by the bound and raised again later would have to climb under
  that rate bound, delaying assistance, and would make K depend on the error);
* a clamp of the reference is a change of reference like any new policy sample, and it
  only shortens the spring (the potential energy ``K e^2 / 2`` of V in eq. 9 decreases), so
  the Lyapunov argument of eq. 9-13 for the error dynamics is untouched;
* a clamp of the torque would cut the exo's own compensation terms (gravity, damping of the
  wearer's motion) too, and would not bound the pull toward a hostile angle at low K.

Within the lead bound, the reference velocity is bounded too: ``qd_d`` is moved toward 0
until ``|Dt qd_d + K e| <= max_assist_torque`` (same flag), since the velocity
feed-forward ``Dt qd_d`` (up to ``Dt * max_reference_speed`` = 6 N*m by the rate limit
alone) would otherwise add to the bounded spring: a reference hugging the arm with a large
velocity pushed about 7 N*m into the arm at rest. A velocity clip is a change of reference
like any new policy sample.

Terms of eq. 8 with these bounds, ``tau = C qd + g(q) + M/Mt (Dt ed + K e) - (1 - M/Mt)
tau_ext``: what the reference sets, ``Dt qd_d + K e``, is bounded by ``max_assist_torque``
(the wearer feels at most ``M/Mt * max_assist_torque`` from it; at the lead bound
``qd_d = qd`` and ``Dt ed + K e = K e``); ``-Dt qd`` is the damping of the wearer's own
motion; ``C qd + g(q)`` and the ``tau_ext`` term are the exo's compensation of its own
dynamics and do not depend on the reference. The sum is saturated at ``torque_limit`` and
rate limited as before.

Input fault (:class:`~exo_impedance_controller.safety.FaultLatch`): any invalid sensor
sample (joint angle/velocity or interaction torque: non-finite, outside its plausible
range, or an interaction torque changing too fast) latches FAULT. In FAULT the target torque
is ZERO, reached through the torque-rate limit within ``torque_limit / max_torque_rate`` s;
the stiffness drops to ``min(K, stiffness_compliant)``. Zero rather than a compliant spring
toward the measured angle: in a fault the measurement is what is in doubt, and zero is the
one command that does not depend on it; the wearer feels the passive exo (its inertia and
its own uncompensated weight, at most ``hypot(exo_gravity_sin, exo_gravity_cos)``). After
``fault_recovery_samples`` consecutive valid ticks the controller resumes: the reference
restarts at the measured angle, the stiffness rises from compliant under the eq. 13 bound
and the torque from zero under the rate limit. Invalid input during FAULT restarts the
count, so alternating good/bad samples keep the torque at zero. More than one publisher on
a sensor topic (:meth:`ImpedanceControllerCore.set_owner_conflict`, from the node's graph
check) makes every tick invalid in the same way: zero torque, and the recovery count starts
only when one publisher remains.

More than one publisher on the reference topic
(:meth:`ImpedanceControllerCore.set_reference_conflict`) refuses every reference instead:
the stiffness drops at once to ``min(K, stiffness_compliant)`` and the reference follows the
measured angle (the stale-reference path: a compliant exo, the wearer's arm free) with
MULTIPLE_PUBLISHERS set; once one publisher remains, references are taken again after
``fault_recovery_samples`` valid ticks (the resume rule of the sensors), the angle restarting
at the arm and the stiffness rising under the eq. 13 bound.

A reference that is not assistance is refused, not bounded: the assistance bound moves the
reference toward the arm, and a reference held at the bound moves with the arm, so a steady
far reference (1 rad ahead, or a fixed far angle) would keep pulling with up to
``max_assist_torque`` and walk a resting arm to it. An assisting policy leads the angle it
measured by at most ``max_lead``; a reference whose lead over the last measured angle,
``|q_d - q|`` as received, exceeds ``max_lead + reference_lead_tolerance`` (the tolerance
covers the arm's motion between the policy's measurement and the controller's) asks for
something else. It is refused and drops the current reference (flag REFERENCE_REFUSED):
the reference is stale at once (it follows the measured angle: no spring torque, the
stiffness ramping down to compliant as for a stale reference), and every reference is
refused until ``fault_recovery_samples`` valid ticks have passed without another such one,
so a source alternating far and near references stays refused. Then references are taken
again, the angle restarting at the arm and the stiffness rising under the eq. 13 bound.

E-stop (:class:`~exo_impedance_controller.safety.StopLatch`, ``core.stop``): while it holds,
the target torque is zero (through the torque-rate limit) and the stiffness
``min(K, stiffness_compliant)``; the reference restarts at the measured angle on resume. The
input checks keep running meanwhile. :meth:`ImpedanceControllerCore.reset` does not end a
stop: only an explicit resume does.

Flags: NONFINITE_INPUT marks a tick that received a non-finite value (sensor or
reference); INPUT_FAULT every tick of a latched input fault; ESTOP every tick while stopped;
MULTIPLE_PUBLISHERS every tick while a sensor topic or the reference topic has more than
one publisher (or, for the reference, a publisher other than its owner: the node's check);
REFERENCE_REFUSED every tick while references are refused as not assistance.
"""

from dataclasses import dataclass, replace
import math
from typing import Optional

from exo_impedance_controller.law import ExoDynamics, impedance_torque
from exo_impedance_controller.params import ControllerParams
from exo_impedance_controller.safety import (
    bound_assistance_lead,
    bound_reference_pull,
    clamp_reference,
    FaultLatch,
    InputPlausibility,
    joint_limit_filter,
    rate_limit,
    reference_is_assistance,
    ReferenceSupervisor,
    SafetyFlags,
    saturate_torque,
    StalenessTimer,
    StopLatch,
    TorqueRateLimiter,
)
from exo_impedance_controller.stability import (
    lyapunov_value,
    stiffness_term,
    StiffnessRateLimiter,
)

_F_RATE = int(SafetyFlags.STIFFNESS_RATE_LIMITED)
_F_CLAMP = int(SafetyFlags.STIFFNESS_CLAMPED)
_F_SAT = int(SafetyFlags.TORQUE_SATURATED)
_F_LIMIT = int(SafetyFlags.JOINT_LIMIT)
_F_REF = int(SafetyFlags.REFERENCE_STALE)
_F_JS = int(SafetyFlags.JOINT_STATE_STALE)
_F_NAN = int(SafetyFlags.NONFINITE_INPUT)
_F_INT = int(SafetyFlags.INTERACTION_STALE)
_F_INACTIVE = int(SafetyFlags.INACTIVE)
_F_FAULT = int(SafetyFlags.INPUT_FAULT)
_F_ESTOP = int(SafetyFlags.ESTOP)
_F_OWNERS = int(SafetyFlags.MULTIPLE_PUBLISHERS)
_F_TRATE = int(SafetyFlags.TORQUE_RATE_LIMITED)
_F_REFRATE = int(SafetyFlags.REFERENCE_RATE_LIMITED)
_F_ASSIST = int(SafetyFlags.ASSISTANCE_BOUNDED)
_F_REFUSED = int(SafetyFlags.REFERENCE_REFUSED)


def _finite(x) -> bool:
    try:
        return math.isfinite(x)
    except TypeError:
        return False


@dataclass(frozen=True, slots=True)
class ControlOutput:
    """Result of one control tick (SI units; ``flags`` is a SafetyFlags bit set).

    ``torque`` is the command (always finite, |torque| <= torque_limit, and changing by at
    most ``max_torque_rate`` per second of the receipt clock). ``q``, ``qd`` are the
    measurement as given (possibly non-finite or implausible during a FAULT). ``q_ref`` is
    the reference angle fed to the law (clamped, rate limited; the measured angle while the
    reference is stale). ``k_raw`` is the stiffness requested of the limiter this tick (the
    policy's value when the reference is fresh, the ramp target when it is stale);
    ``k_bounded`` the stiffness applied. ``tick_period`` is h.

    ``fault`` is True while the input FAULT is latched (module docstring; flag INPUT_FAULT),
    ``stopped`` while the e-stop holds (flag ESTOP).
    """

    torque: float
    q: float
    qd: float
    q_ref: float
    e: float
    ed: float
    k_raw: float
    k_bounded: float
    damping: float
    inertia: float
    tau_ext: float
    lyapunov_value: float
    lyapunov_stiffness_term: float
    tick_period: float
    flags: int
    fault: bool = False
    stopped: bool = False


class ImpedanceControllerCore:
    """Stability-bounded variable impedance controller for one joint (eq. 8 + eq. 13)."""

    def __init__(self, params: ControllerParams, stop: Optional[StopLatch] = None):
        """Create an active core in the reset state (no reference, no measurement).

        ``stop``: the e-stop latch to obey (the node keeps one across reconfigurations);
        None: a new one with ``params.estop_heartbeat_timeout``.
        """
        self.params = params
        p = params
        self.stop = stop if stop is not None else StopLatch(p.estop_heartbeat_timeout)
        self.dynamics = ExoDynamics(p.exo_inertia, p.exo_gravity_sin, p.exo_gravity_cos)
        self.limiter = StiffnessRateLimiter(p.stiffness_min, p.stiffness_max,
                                            p.target_inertia, p.target_damping,
                                            p.stability_margin)
        self.reference = ReferenceSupervisor(p.reference_timeout, p.stiffness_compliant,
                                             p.stiffness_ramp_down_time)
        self.plausibility = InputPlausibility(
            p.joint_limit_lower, p.joint_limit_upper, p.plausible_angle_margin,
            p.max_plausible_velocity, p.interaction_torque_range,
            p.max_interaction_torque_rate)
        self.fault = FaultLatch(p.fault_recovery_samples)
        # References refused while latched (more than one publisher on the reference topic).
        self.reference_latch = FaultLatch(p.fault_recovery_samples)
        self._reference_conflict = False
        # References refused while latched: one that was not assistance (its lead beyond
        # max_lead + reference_lead_tolerance) arrived less than fault_recovery_samples
        # valid ticks ago.
        self.lead_latch = FaultLatch(p.fault_recovery_samples)
        self._q_meas = None  # last valid tick's measured angle: judges a reference's lead
        self._ref_unjudged = False  # a reference taken without a valid angle to judge it
        self.torque_limiter = TorqueRateLimiter(p.max_torque_rate, p.torque_limit)
        self._joint_timer = StalenessTimer(p.joint_state_timeout)
        self._interaction_timer = StalenessTimer(p.interaction_timeout)
        self._tau_ext = 0.0
        self._t_prev = None
        self._q_d = None  # rate-limited reference angle of the previous tick
        self._interaction_invalid = False  # an invalid interaction sample since last tick
        self._owner_conflict = False  # more than one publisher on a sensor topic
        self._pending_flags = 0
        self._last: Optional[ControlOutput] = None
        self._active = True
        self.reset(0.0, None)

    # ------------------------------------------------------------------ state
    @property
    def active(self) -> bool:
        """Whether torque is output (inactive: zero torque and the INACTIVE flag)."""
        return self._active

    @active.setter
    def active(self, value: bool) -> None:
        value = bool(value)
        if value and not self._active:
            # Start compliant: the stiffness rises again under the rate bound, the torque
            # from zero under the rate limit.
            self.limiter.reset(min(self.limiter.value, self.params.stiffness_compliant))
            self.torque_limiter.reset(0.0)
        self._active = value

    def reset(self, t: float, q: Optional[float] = None) -> None:
        """Forget all inputs; hold angle ``q`` (None/non-finite: the first measured angle).

        The stiffness restarts at ``min(current, stiffness_compliant)`` (a reset never
        raises it); the next ``update`` has h = 0. The input fault is cleared (a deliberate
        reset is a new start; every later sample is checked again). The torque-rate limit
        restarts from zero: the node resets only while inactive (zero torque published), a
        rollout starts from rest. The e-stop and the publisher-conflict state are kept (only
        an explicit resume ends a stop; only the graph check ends a conflict).
        """
        p = self.params
        del t  # the next update starts a new tick sequence whatever its time
        hold = None
        if q is not None and _finite(q):
            hold = clamp_reference(float(q), p.joint_limit_lower, p.joint_limit_upper,
                                   p.joint_limit_margin)[0]
        self.reference.reset(hold)
        self.limiter.reset(min(self.limiter.value, p.stiffness_compliant))
        self.plausibility.reset()
        self.fault.reset()
        self.reference_latch.reset()
        if self._reference_conflict:
            self.reference_latch.invalid()
        self.lead_latch.reset()
        self._q_meas = float(q) if q is not None and _finite(q) else None
        self._ref_unjudged = False
        self.torque_limiter.reset(0.0)
        self._joint_timer.clear()
        self._interaction_timer.clear()
        self._tau_ext = 0.0
        self._t_prev = None
        self._q_d = None
        self._interaction_invalid = False
        self._pending_flags = 0
        self._last = None

    def _enter_fault(self) -> None:
        """Latch the input fault: compliant stiffness, reference restarts when it ends."""
        self.fault.invalid()
        self.limiter.reset(min(self.limiter.value, self.params.stiffness_compliant))
        self._q_d = None

    # ----------------------------------------------------------------- inputs
    def set_reference(self, t: float, q_d: float, qd_d: float, k_raw: float) -> bool:
        """Take a reference received at ``t`` (receipt clock); False if rejected.

        Non-finite ``q_d``, ``qd_d`` or ``k_raw`` reject the whole reference (flag
        NONFINITE_INPUT on the next tick); the previous valid one ages toward stale. A
        negative or out-of-range finite ``k_raw`` is accepted and clamped by the limiter;
        the angle is clamped into the joint range and rate limited in ``update``. A rejected
        reference is not an input fault (the reference watchdog handles it).

        A reference that is not assistance (module docstring: its lead over the last
        measured angle beyond ``max_lead + reference_lead_tolerance``) is refused and
        drops the current one (REFERENCE_REFUSED): the reference is stale from now on,
        and references are refused until ``fault_recovery_samples`` valid ticks have
        passed without another such one.
        """
        if not (_finite(q_d) and _finite(qd_d) and _finite(k_raw) and _finite(t)):
            self._pending_flags |= _F_NAN
            return False
        if self.reference_latch.latched:
            return False  # more than one publisher (set_reference_conflict): refused
        judge = self._q_meas is not None and not self.fault.latched
        if judge and not self._is_assistance(float(q_d), self._q_meas):
            self._refuse_reference()
            return False
        if self.lead_latch.latched:
            return False  # a reference that was not assistance, recently: refused
        self.reference.accept(t, float(q_d), float(qd_d), float(k_raw))
        # No valid measured angle to judge it by (none yet, or an input fault): judged on
        # the first valid tick's.
        self._ref_unjudged = not judge
        return True

    def _is_assistance(self, q_d: float, q: float) -> bool:
        p = self.params
        return reference_is_assistance(q_d, q, p.max_lead, p.reference_lead_tolerance)

    def _refuse_reference(self) -> None:
        """Drop the reference (stale from now: compliant, following the arm); latch."""
        self._pending_flags |= _F_REFUSED
        if not self.lead_latch.latched:
            self.reference.timer.clear()
            self._q_d = None
        self._ref_unjudged = False
        self.lead_latch.invalid()

    def set_interaction(self, t: float, tau_ext: float,
                        stamp: Optional[float] = None) -> bool:
        """Take an interaction torque received at ``t``; False if invalid.

        ``stamp`` is the sample time for the rate check (the message's header stamp;
        None or non-finite: ``t``). An invalid sample (non-finite, beyond
        ``interaction_torque_range`` or changing faster than ``max_interaction_torque_rate``)
        is dropped (tau_ext counts as 0 until a valid one arrives) and latches the fault.
        """
        try:
            value = float(tau_ext)
        except (TypeError, ValueError):
            value = math.nan
        sample_t = stamp if stamp is not None and _finite(stamp) else t
        if not (_finite(t) and _finite(sample_t)
                and self.plausibility.interaction_valid(float(sample_t), value)):
            if not (_finite(value) and _finite(t)):
                self._pending_flags |= _F_NAN
            self._interaction_timer.clear()
            self._tau_ext = 0.0
            self._interaction_invalid = True
            self._enter_fault()
            return False
        self._interaction_timer.note(t)
        self._tau_ext = value
        return True

    def set_owner_conflict(self, conflict: bool) -> None:
        """Say whether a sensor topic has more than one publisher (the node's graph check).

        While True every tick is invalid (input FAULT, zero torque, MULTIPLE_PUBLISHERS);
        once False the FAULT ends after ``fault_recovery_samples`` valid ticks.
        """
        self._owner_conflict = bool(conflict)
        if self._owner_conflict:
            self._enter_fault()

    def set_reference_conflict(self, conflict: bool) -> None:
        """Say whether the reference topic has more than one publisher (graph check).

        While True every reference is refused: compliant stiffness at once, the reference
        follows the arm (flags MULTIPLE_PUBLISHERS, REFERENCE_STALE). Once False, references
        are taken again after ``fault_recovery_samples`` valid ticks.
        """
        self._reference_conflict = bool(conflict)
        if self._reference_conflict:
            if not self.reference_latch.latched:
                self.reference.reset(None)
                self.limiter.reset(min(self.limiter.value, self.params.stiffness_compliant))
                self._q_d = None
            self.reference_latch.invalid()

    # ------------------------------------------------------------------ ticks
    def update(self, t: float, q: float, qd: float,
               now: Optional[float] = None) -> ControlOutput:
        """Run one control tick on a joint state sampled at ``t`` (received at ``now``)."""
        p = self.params
        if now is None:
            now = t
        flags = self._pending_flags
        self._pending_flags = 0
        if not self._active:
            flags |= _F_INACTIVE

        # A tick is valid when its joint sample is, no invalid interaction sample arrived
        # since the previous tick and each sensor topic has one publisher (only such ticks
        # count toward recovery).
        joint_finite = _finite(q) and _finite(qd)
        if not joint_finite:
            flags |= _F_NAN
        joint_ok = joint_finite and self.plausibility.joint_state_valid(float(q), float(qd))
        if self._owner_conflict or self._reference_conflict:
            flags |= _F_OWNERS
        valid = joint_ok and not self._interaction_invalid and not self._owner_conflict
        self._interaction_invalid = False
        if valid and not self._reference_conflict and self.reference_latch.latched:
            self.reference_latch.valid()
        if valid:  # a measurement in doubt (input fault) never judges a reference
            self._q_meas = float(q)
        if valid and self.lead_latch.latched:
            self.lead_latch.valid()
        if self.lead_latch.latched:
            flags |= _F_REFUSED
        if not valid:
            self._enter_fault()
        elif self.fault.latched:
            self.fault.valid()
        stopped = self.stop.stopped
        if stopped:
            flags |= _F_ESTOP
        if self.fault.latched:
            if joint_ok:  # a valid joint sample: the joint state is alive
                self._joint_timer.note(now)
                if _finite(t):
                    self._t_prev = t
            return self._fault_output(q, qd, now, flags | _F_FAULT)
        q = float(q)
        qd = float(qd)

        # Tick length for the rate bounds.
        t_prev = self._t_prev
        if t_prev is None or not _finite(t):
            h = 0.0
        else:
            h = t - t_prev
            if not h > 0.0:
                h = 0.0
            elif h > p.max_tick:
                h = p.max_tick
        if _finite(t):
            self._t_prev = t

        # Joint state: a tick after a gap (or the first) restarts compliant.
        if self._joint_timer.is_stale(now):
            self.limiter.reset(min(self.limiter.value, p.stiffness_compliant))
        self._joint_timer.note(now)
        if stopped:
            return self._stop_output(q, qd, h, now, flags)

        # Reference: fresh -> clamped and rate limited; stale -> the measured angle (no
        # spring torque against the wearer) while the stiffness ramps down.
        self.reference.hold_if_unset(q)
        if self._ref_unjudged:  # taken without a valid angle to judge it: judged on this one
            if not self._is_assistance(self.reference.q_d, q):
                self._refuse_reference()
                flags |= _F_REFUSED
            self._ref_unjudged = False
        k_prev = self.limiter.value
        q_d, qd_d, k_req, ref_stale = self.reference.target(now, k_prev)
        if ref_stale:
            flags |= _F_REF
            q_d = min(max(q, p.joint_limit_lower), p.joint_limit_upper)
            qd_d = 0.0
        else:
            q_d, clamped = clamp_reference(q_d, p.joint_limit_lower, p.joint_limit_upper,
                                           p.joint_limit_margin)
            if clamped:
                flags |= _F_LIMIT
            start = self._q_d
            if start is None:  # first tick, or after a fault: start at the arm
                start = min(max(q, p.joint_limit_lower), p.joint_limit_upper)
            vmax = p.max_reference_speed
            q_d, ref_limited = rate_limit(start, q_d, vmax * h)
            if ref_limited:
                flags |= _F_REFRATE
            qd_d = min(max(qd_d, -vmax), vmax)
        k = self.limiter.step(k_req, h)
        if self.limiter.rate_limited:
            flags |= _F_RATE
        if self.limiter.clamped:
            flags |= _F_CLAMP
        # Assistance bound (module docstring): the reference moves toward the arm until
        # |K e| <= max_assist_torque and |e| <= max_lead; held there, it moves with the arm.
        lead, bounded = bound_assistance_lead(q_d - q, k, p.max_assist_torque, p.max_lead)
        if bounded:
            flags |= _F_ASSIST
            q_d = q + lead
            qd_d = qd
        else:
            # Within the lead bound: the reference's velocity feed-forward plus the spring,
            # Dt qd_d + K e, stay within max_assist_torque too (module docstring).
            qd_d, pushed = bound_reference_pull(qd_d, k * lead, p.target_damping,
                                                p.max_assist_torque)
            if pushed:
                flags |= _F_ASSIST
        self._q_d = q_d

        # Interaction torque (0 when stale or missing).
        if self._interaction_timer.is_stale(now):
            tau_ext = 0.0
            flags |= _F_INT
        else:
            tau_ext = self._tau_ext

        e = q_d - q
        ed = qd_d - qd
        dyn = self.dynamics
        tau = impedance_torque(q, qd, q_d, qd_d, k, tau_ext, p.target_inertia,
                               p.target_damping, dyn.inertia_at(q), dyn.gravity(q),
                               dyn.coriolis(q, qd))
        tau, at_limit = joint_limit_filter(tau, q, p.joint_limit_lower, p.joint_limit_upper)
        if at_limit:
            flags |= _F_LIMIT
        tau, saturated = saturate_torque(tau, p.torque_limit)
        if saturated:
            flags |= _F_SAT
        tau = self._output_torque(tau, now)
        if self.torque_limiter.limited:
            flags |= _F_TRATE

        v = lyapunov_value(e, ed, k, p.target_inertia, p.target_damping)
        s = stiffness_term(k_prev, k, h, e, p.target_inertia, p.target_damping)
        out = ControlOutput(tau, q, qd, q_d, e, ed, k_req, k, p.target_damping,
                            p.target_inertia, tau_ext, v, s, h, flags)
        self._last = out
        return out

    def _output_torque(self, tau: float, now: float) -> float:
        """Last layer: zero when inactive (at once), else the torque-rate limit."""
        if not self._active:
            self.torque_limiter.reset(0.0)
            return 0.0
        return self.torque_limiter.step(tau, now)

    def _fault_output(self, q, qd, now, flags) -> ControlOutput:
        """Output of a FAULT tick: torque ramping to zero, the last reference, no error."""
        p = self.params
        last = self._last
        q_ref = last.q_ref if last is not None else self.reference.q_d
        if q_ref is None:
            q_ref = math.nan
        tau = self._output_torque(0.0, now)
        if self.torque_limiter.limited:
            flags |= _F_TRATE
        return ControlOutput(
            tau, q, qd, q_ref, 0.0, 0.0, self.reference.k_raw, self.limiter.value,
            p.target_damping, p.target_inertia, 0.0, 0.0, 0.0, 0.0, flags, True,
            bool(flags & _F_ESTOP))

    def _stop_output(self, q: float, qd: float, h: float, now: float,
                     flags: int) -> ControlOutput:
        """Output of an e-stop tick with valid input: torque ramping to zero, compliant.

        The reference is the measured angle (it restarts there on resume); no error.
        """
        p = self.params
        self.limiter.reset(min(self.limiter.value, p.stiffness_compliant))
        self._q_d = None
        q_ref = min(max(q, p.joint_limit_lower), p.joint_limit_upper)
        tau_ext = 0.0 if self._interaction_timer.is_stale(now) else self._tau_ext
        tau = self._output_torque(0.0, now)
        if self.torque_limiter.limited:
            flags |= _F_TRATE
        out = ControlOutput(
            tau, q, qd, q_ref, 0.0, 0.0, self.reference.k_raw, self.limiter.value,
            p.target_damping, p.target_inertia, tau_ext, 0.0, 0.0, h, flags, False, True)
        self._last = out
        return out

    def check_timeouts(self, now: float) -> Optional[ControlOutput]:
        """Return a zero-target output if the joint state is stale at ``now``, else None.

        For the node's watchdog timer. The output repeats the last tick's values with the
        torque ramping to 0 under the torque-rate limit (zero within
        ``torque_limit / max_torque_rate`` s after the last tick, plus one watchdog
        period), h = 0 and the JOINT_STATE_STALE flag (plus other current flags).
        """
        if not self._joint_timer.is_stale(now):
            return None
        p = self.params
        flags = _F_JS | self._pending_flags
        if not self._active:
            flags |= _F_INACTIVE
        if self.reference.timer.is_stale(now):
            flags |= _F_REF
        if self._interaction_timer.is_stale(now):
            flags |= _F_INT
        fault = self.fault.latched
        if fault:
            flags |= _F_FAULT
        if self._owner_conflict or self._reference_conflict:
            flags |= _F_OWNERS
        if self.lead_latch.latched:
            flags |= _F_REFUSED
        stopped = self.stop.stopped
        if stopped:
            flags |= _F_ESTOP
            self.limiter.reset(min(self.limiter.value, p.stiffness_compliant))
            self._q_d = None
        tau = self._output_torque(0.0, now)
        if self.torque_limiter.limited:
            flags |= _F_TRATE
        last = self._last
        if last is None:
            q_ref = self.reference.q_d if self.reference.q_d is not None else math.nan
            return ControlOutput(tau, math.nan, math.nan, q_ref, 0.0, 0.0,
                                 self.reference.k_raw, self.limiter.value, p.target_damping,
                                 p.target_inertia, 0.0, 0.0, 0.0, 0.0, flags, fault, stopped)
        return replace(last, torque=tau, tick_period=0.0, flags=flags, fault=fault,
                       stopped=stopped, k_bounded=self.limiter.value)
