"""The controller core: eq. 8 law + eq. 13 bound + safety layer, used by node and rollout.

Two clocks, both float seconds:

* ``t`` of :meth:`ImpedanceControllerCore.update` is the sample time of the joint state
  (the JointState header stamp); the tick length ``h = t - t_prev`` clamped to
  ``[0, max_tick]`` drives the stiffness-rate bound (first tick: ``h = 0``).
* ``now`` is the receipt clock for staleness (the node passes ``time.monotonic()``; an
  in-process rollout passes simulation time and may omit it: it defaults to ``t``).
  ``set_reference``, ``set_interaction`` and ``check_timeouts`` take times on this clock.
"""

from dataclasses import dataclass, replace
import math
from typing import Optional

from exo_impedance_controller.law import ExoDynamics, impedance_torque
from exo_impedance_controller.params import ControllerParams
from exo_impedance_controller.safety import (
    clamp_reference,
    joint_limit_filter,
    ReferenceSupervisor,
    SafetyFlags,
    saturate_torque,
    StalenessTimer,
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


def _finite(x) -> bool:
    try:
        return math.isfinite(x)
    except TypeError:
        return False


@dataclass(frozen=True, slots=True)
class ControlOutput:
    """Result of one control tick (SI units; ``flags`` is a SafetyFlags bit set).

    ``torque`` is the command (always finite, |torque| <= torque_limit). ``q``, ``qd``
    are the measurement as given (NaN there only when NONFINITE_INPUT rejected it).
    ``k_raw`` is the stiffness requested of the limiter this tick (the policy's value
    when the reference is fresh, the ramp target when it is stale); ``k_bounded`` the
    stiffness applied. ``tick_period`` is h.
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


class ImpedanceControllerCore:
    """Stability-bounded variable impedance controller for one joint (eq. 8 + eq. 13)."""

    def __init__(self, params: ControllerParams):
        """Create an active core in the reset state (no reference, no measurement)."""
        self.params = params
        p = params
        self.dynamics = ExoDynamics(p.exo_inertia, p.exo_gravity_sin, p.exo_gravity_cos)
        self.limiter = StiffnessRateLimiter(p.stiffness_min, p.stiffness_max,
                                            p.target_inertia, p.target_damping)
        self.reference = ReferenceSupervisor(p.reference_timeout, p.stiffness_compliant,
                                             p.stiffness_ramp_down_time)
        self._joint_timer = StalenessTimer(p.joint_state_timeout)
        self._interaction_timer = StalenessTimer(p.interaction_timeout)
        self._tau_ext = 0.0
        self._t_prev = None
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
            # Start compliant: the stiffness rises again under the rate bound.
            self.limiter.reset(min(self.limiter.value, self.params.stiffness_compliant))
        self._active = value

    def reset(self, t: float, q: Optional[float] = None) -> None:
        """Forget all inputs; hold angle ``q`` (None/non-finite: the first measured angle).

        The stiffness restarts at ``stiffness_compliant``; the next ``update`` has h = 0.
        """
        p = self.params
        del t  # the next update starts a new tick sequence whatever its time
        hold = None
        if q is not None and _finite(q):
            hold = clamp_reference(float(q), p.joint_limit_lower, p.joint_limit_upper,
                                   p.joint_limit_margin)[0]
        self.reference.reset(hold)
        self.limiter.reset(p.stiffness_compliant)
        self._joint_timer.clear()
        self._interaction_timer.clear()
        self._tau_ext = 0.0
        self._t_prev = None
        self._pending_flags = 0
        self._last = None

    # ----------------------------------------------------------------- inputs
    def set_reference(self, t: float, q_d: float, qd_d: float, k_raw: float) -> bool:
        """Take a reference received at ``t`` (receipt clock); False if rejected.

        Non-finite ``q_d``, ``qd_d`` or ``k_raw`` reject the whole reference (flag
        NONFINITE_INPUT on the next tick); the previous valid one ages toward stale. A
        negative or out-of-range finite ``k_raw`` is accepted and clamped by the limiter.
        """
        if not (_finite(q_d) and _finite(qd_d) and _finite(k_raw) and _finite(t)):
            self._pending_flags |= _F_NAN
            return False
        self.reference.accept(t, float(q_d), float(qd_d), float(k_raw))
        return True

    def set_interaction(self, t: float, tau_ext: float) -> bool:
        """Take an interaction torque received at ``t``; False (and tau_ext = 0) if non-finite."""
        if not (_finite(tau_ext) and _finite(t)):
            self._pending_flags |= _F_NAN
            self._interaction_timer.clear()
            self._tau_ext = 0.0
            return False
        self._interaction_timer.note(t)
        self._tau_ext = float(tau_ext)
        return True

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

        if not (_finite(q) and _finite(qd)):
            flags |= _F_NAN
            last = self._last
            q_ref = last.q_ref if last is not None else self.reference.q_d
            if q_ref is None:
                q_ref = math.nan
            out = ControlOutput(
                0.0, q, qd, q_ref, 0.0, 0.0, self.reference.k_raw, self.limiter.value,
                p.target_damping, p.target_inertia, 0.0, 0.0, 0.0, 0.0, flags)
            return out
        q = float(q)
        qd = float(qd)

        # Tick length for the rate bound.
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

        # Reference (held and ramped down when stale).
        self.reference.hold_if_unset(q)
        k_prev = self.limiter.value
        q_d, qd_d, k_req, ref_stale = self.reference.target(now, k_prev)
        if ref_stale:
            flags |= _F_REF
        q_d, clamped = clamp_reference(q_d, p.joint_limit_lower, p.joint_limit_upper,
                                       p.joint_limit_margin)
        if clamped:
            flags |= _F_LIMIT
        k = self.limiter.step(k_req, h)
        if self.limiter.rate_limited:
            flags |= _F_RATE
        if self.limiter.clamped:
            flags |= _F_CLAMP

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
        if not self._active:
            tau = 0.0

        v = lyapunov_value(e, ed, k, p.target_inertia, p.target_damping)
        s = stiffness_term(k_prev, k, h, e, p.target_inertia, p.target_damping)
        out = ControlOutput(tau, q, qd, q_d, e, ed, k_req, k, p.target_damping,
                            p.target_inertia, tau_ext, v, s, h, flags)
        self._last = out
        return out

    def check_timeouts(self, now: float) -> Optional[ControlOutput]:
        """Return a zero-torque output if the joint state is stale at ``now``, else None.

        For the node's watchdog timer. The output repeats the last tick's values with
        torque 0, h = 0 and the JOINT_STATE_STALE flag (plus other current flags).
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
        last = self._last
        if last is None:
            q_ref = self.reference.q_d if self.reference.q_d is not None else math.nan
            return ControlOutput(0.0, math.nan, math.nan, q_ref, 0.0, 0.0,
                                 self.reference.k_raw, self.limiter.value, p.target_damping,
                                 p.target_inertia, 0.0, 0.0, 0.0, 0.0, flags)
        return replace(last, torque=0.0, tick_period=0.0, flags=flags)
