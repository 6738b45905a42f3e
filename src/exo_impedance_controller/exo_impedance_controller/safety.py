"""Safety layer: flags, saturation, rate limits, plausibility, fault latch, watchdog, e-stop.

No rclpy. Everything here is deterministic in the times it is given (float seconds on one
clock: the node passes receipt times from ``time.monotonic``, the in-process rollout passes
simulation time). A missing input counts as stale.

Invalid sensor input (non-finite or implausible, see :class:`InputPlausibility`) latches an
input fault (:class:`FaultLatch`); the controller then ramps its torque to zero under the
torque-rate limit (:class:`TorqueRateLimiter`) and resumes only after a run of valid samples.
More than one publisher on a sensor topic (:func:`topic_owner_conflicts`) is handled the same
way. The e-stop (:class:`StopLatch`) forces zero torque and compliant stiffness until an
explicit resume.
"""

from dataclasses import dataclass
import enum
import math
from typing import Iterable, Mapping, Optional, Sequence

from exo_contract.checks import plausible_joint_state


class SafetyFlags(enum.IntFlag):
    """Bits of ControllerState.safety_flags (values mirror the FLAG_* constants)."""

    NONE = 0
    STIFFNESS_RATE_LIMITED = 1
    STIFFNESS_CLAMPED = 2
    TORQUE_SATURATED = 4
    JOINT_LIMIT = 8
    REFERENCE_STALE = 16
    JOINT_STATE_STALE = 32
    NONFINITE_INPUT = 64
    INTERACTION_STALE = 128
    INACTIVE = 256
    INPUT_FAULT = 512
    ESTOP = 1024
    MULTIPLE_PUBLISHERS = 2048
    TORQUE_RATE_LIMITED = 4096
    REFERENCE_RATE_LIMITED = 8192
    ASSISTANCE_BOUNDED = 16384
    REFERENCE_REFUSED = 32768


def is_finite(*values: float) -> bool:
    """Return True when every value is a finite real number."""
    for v in values:
        if not math.isfinite(v):
            return False
    return True


def saturate_torque(tau: float, limit: float) -> tuple:
    """Return ``(clipped torque, saturated)``; a non-finite torque becomes 0 (saturated)."""
    if tau != tau or tau in (math.inf, -math.inf):
        return 0.0, True
    if tau > limit:
        return limit, True
    if tau < -limit:
        return -limit, True
    return tau, False


def clamp_reference(q_d: float, lower: float, upper: float, margin: float) -> tuple:
    """Return ``(q_d clamped into [lower + margin, upper - margin], clamped)``."""
    lo = lower + margin
    hi = upper - margin
    if q_d < lo:
        return lo, True
    if q_d > hi:
        return hi, True
    return q_d, False


def bound_assistance_lead(e: float, k: float, max_assist_torque: float,
                          max_lead: float) -> tuple:
    """Return ``(e bounded, bounded)``: ``|e| <= min(max_lead, max_assist_torque / k)``.

    ``e = q_d - q`` is the lead of the reference over the measured angle (rad) and ``k`` the
    stiffness applied this tick (N*m/rad, > 0, already under the eq. 13 bound). The bounded
    lead keeps its sign: the reference is moved toward the arm, never past it, so the spring
    pulls the same way, at most ``max_assist_torque`` (module docstring of core.py: why the
    angle is moved and not the stiffness).
    """
    limit = max_lead
    if k > 0.0 and k * limit > max_assist_torque:
        limit = max_assist_torque / k
    if e > limit:
        return limit, True
    if e < -limit:
        return -limit, True
    return e, False


def reference_is_assistance(q_d: float, q: float, max_lead: float, tolerance: float) -> bool:
    """Return True when ``q_d`` leads ``q`` by at most ``max_lead + tolerance`` (rad).

    A reference that asks for more is not assistance: ``max_lead`` is the lead an assisting
    policy sends (the bound it applies against the angle it measured); ``tolerance`` covers
    the arm's motion between that measurement and the controller's. A non-finite lead is
    not assistance.
    """
    return abs(q_d - q) <= max_lead + tolerance


def bound_reference_pull(qd_d: float, spring: float, damping: float,
                         max_assist_torque: float) -> tuple:
    """Return ``(qd_d bounded, bounded)``: ``|damping * qd_d + spring| <= max_assist_torque``.

    ``damping * qd_d + spring`` is what the reference sets in eq. 8's ``Dt ed + K e``: the
    velocity feed-forward ``Dt qd_d`` (N*m, ``damping`` = Dt > 0) plus the spring
    ``spring = K e`` (N*m, already within ``+-max_assist_torque``); the rest, ``-Dt qd``, is
    the damping of the wearer's own motion. Only the reference velocity is moved (toward 0,
    never past it: ``qd_d = 0`` satisfies the bound since ``|spring| <= max_assist_torque``),
    so a reference cannot add a feed-forward push on top of the bounded spring.
    """
    hi = (max_assist_torque - spring) / damping
    lo = (-max_assist_torque - spring) / damping
    if qd_d > hi:
        return max(hi, 0.0), True
    if qd_d < lo:
        return min(lo, 0.0), True
    return qd_d, False


def joint_limit_filter(tau: float, q: float, lower: float, upper: float) -> tuple:
    """Remove torque that pushes q further outside [lower, upper]; return (tau, active)."""
    if q > upper and tau > 0.0:
        return 0.0, True
    if q < lower and tau < 0.0:
        return 0.0, True
    return tau, q > upper or q < lower


class StalenessTimer:
    """Age of the last receipt against a timeout; missing or from the future is stale."""

    def __init__(self, timeout: float):
        """Create a timer that has never seen a message."""
        self.timeout = float(timeout)
        self.last = None

    def clear(self) -> None:
        """Forget the last receipt (the input is missing again)."""
        self.last = None

    def note(self, now: float) -> None:
        """Record a receipt at ``now``."""
        self.last = now

    def is_stale(self, now: float) -> bool:
        """Return True if nothing was received in [now - timeout, now]."""
        if self.last is None:
            return True
        age = now - self.last
        return not (0.0 <= age <= self.timeout)  # NaN age is stale too


class ReferenceSupervisor:
    """Watchdog state machine over the impedance reference.

    FRESH: the last valid reference (angle, velocity, raw stiffness) is used as is.
    STALE (timed out or never received): the last valid angle is returned as the hold
    angle, the reference velocity is 0, and the stiffness target ramps linearly from the
    stiffness applied when the reference went stale down to ``k_compliant`` over
    ``ramp_time``; the target never rises above that starting value. (The controller core
    replaces the hold angle by the measured angle while stale, so that no spring torque
    pushes against the wearer; see core.py.) A new valid reference returns to
    FRESH (the stiffness-rate limiter then bounds any rise).
    """

    def __init__(self, timeout: float, k_compliant: float, ramp_time: float):
        """Create a supervisor with no reference and no held angle."""
        self.timer = StalenessTimer(timeout)
        self.k_compliant = float(k_compliant)
        self.ramp_time = float(ramp_time)
        self.q_d = None
        self.qd_d = 0.0
        self.k_raw = k_compliant
        self._ramp_start = None  # (time, stiffness) when the current stale phase began

    def reset(self, q_hold) -> None:
        """Drop the reference; hold ``q_hold`` (None: the first measured angle)."""
        self.timer.clear()
        self.q_d = q_hold
        self.qd_d = 0.0
        self.k_raw = self.k_compliant
        self._ramp_start = None

    def accept(self, now: float, q_d: float, qd_d: float, k_raw: float) -> None:
        """Take a valid reference (finite q_d, qd_d; k_raw is bounded downstream)."""
        self.timer.note(now)
        self.q_d = q_d
        self.qd_d = qd_d
        self.k_raw = k_raw
        self._ramp_start = None

    def hold_if_unset(self, q: float) -> None:
        """Hold the measured angle when no reference or hold angle exists yet."""
        if self.q_d is None:
            self.q_d = q

    def target(self, now: float, k_current: float) -> tuple:
        """Return ``(q_d, qd_d, k_target, stale)`` for this tick.

        ``k_current`` is the stiffness applied on the previous tick.
        """
        if not self.timer.is_stale(now):
            return self.q_d, self.qd_d, self.k_raw, False
        if self._ramp_start is None:
            self._ramp_start = (now, k_current)
        t0, k0 = self._ramp_start
        if k0 <= self.k_compliant:
            k_target = k0
        elif self.ramp_time <= 0.0:
            k_target = self.k_compliant
        else:
            frac = (now - t0) / self.ramp_time
            if not frac >= 0.0:  # NaN or clock went backwards
                frac = 0.0
            elif frac > 1.0:
                frac = 1.0
            k_target = k0 + (self.k_compliant - k0) * frac
        return self.q_d, 0.0, k_target, True


def rate_limit(prev: float, target: float, max_step: float) -> tuple:
    """Return ``(value, limited)``: ``target`` moved to within ``max_step`` of ``prev``.

    A non-finite or negative ``max_step`` allows no change (``prev`` is returned).
    """
    if not max_step >= 0.0:  # NaN or negative
        return prev, target != prev
    if target > prev + max_step:
        return prev + max_step, True
    if target < prev - max_step:
        return prev - max_step, True
    return target, False


class TorqueRateLimiter:
    """Torque-rate limit, the last layer before the actuator (after saturation).

    ``step(target, now)`` moves the output from the previous output toward ``target`` by at
    most ``rate * (now - previous now)`` and clamps it into ``[-limit, limit]``, so it never
    exceeds the torque limit (both ends of every step are within it). The time base is the
    receipt clock ``now`` (monotonic in the node, simulation time in a rollout), not the
    sensor stamps, so a frozen or hostile stamp cannot freeze the output. The first step
    after :meth:`reset`, and a step whose clock went backwards or is not finite, allows no
    change and restarts the clock there. A target of zero (fault, lost joint state) is
    therefore reached within ``limit / rate`` s of receipt time, plus one call.
    """

    def __init__(self, rate: float, limit: float):
        """Create the limiter at zero torque with no time."""
        self.rate = float(rate)
        self.limit = float(limit)
        self.value = 0.0
        self.last = None
        self.limited = False

    def reset(self, value: float = 0.0) -> None:
        """Set the output to ``value`` (the actuator's torque, normally 0) and forget time."""
        self.value = float(value)
        self.last = None
        self.limited = False

    def step(self, target: float, now: float) -> float:
        """Return the rate-limited output toward ``target`` (finite, within the limit)."""
        if target != target or target in (math.inf, -math.inf):
            target = 0.0
        last = self.last
        dt = now - last if last is not None else 0.0
        if not dt >= 0.0 or dt == math.inf:  # NaN, backwards or infinite: restart the clock
            dt = 0.0
        if now == now and now not in (math.inf, -math.inf):
            self.last = now
        value, self.limited = rate_limit(self.value, target, self.rate * dt)
        if value > self.limit:
            value = self.limit
        elif value < -self.limit:
            value = -self.limit
        self.value = value
        return value


class InputPlausibility:
    """Plausibility of the sensor samples (beyond finiteness).

    Invalid: a joint angle outside ``[lower - angle_margin, upper + angle_margin]``; a joint
    velocity with ``|qd| > max_velocity``; an interaction torque with
    ``|tau_ext| > torque_range`` (beyond the sensor's range) or changing faster than
    ``max_torque_rate`` since the last VALID interaction sample:
    ``|tau - tau_valid| > max_torque_rate * (t - t_valid)``. Comparing with the last valid
    sample (not the previous raw one) makes a one-sample spike one invalid sample, and a
    genuine fast step is accepted once the allowance has grown enough. A sample time that is
    not after the last valid one allows no change at all. Non-finite values are invalid.
    """

    def __init__(self, lower: float, upper: float, angle_margin: float, max_velocity: float,
                 torque_range: float, max_torque_rate: float):
        """Create the checks; no interaction sample has been seen yet."""
        self.lower = float(lower)
        self.upper = float(upper)
        self.angle_margin = float(angle_margin)
        self.max_velocity = float(max_velocity)
        self.torque_range = float(torque_range)
        self.max_torque_rate = float(max_torque_rate)
        self._last_valid = None  # (sample time, tau_ext)

    def reset(self) -> None:
        """Forget the last valid interaction sample (the rate check restarts)."""
        self._last_valid = None

    def joint_state_valid(self, q: float, qd: float) -> bool:
        """Return True for a finite, plausible joint angle (rad) and velocity (rad/s)."""
        return plausible_joint_state(q, qd, self.lower, self.upper, self.angle_margin,
                                     self.max_velocity)

    def interaction_valid(self, t: float, tau_ext: float) -> bool:
        """Check an interaction torque (N*m) sampled at ``t`` (s); remember it if valid."""
        if not (-self.torque_range <= tau_ext <= self.torque_range) or not math.isfinite(t):
            return False
        last = self._last_valid
        if last is not None:
            dt = t - last[0]
            allowed = self.max_torque_rate * dt if dt > 0.0 else 0.0
            if not abs(tau_ext - last[1]) <= allowed:
                return False
        self._last_valid = (t, tau_ext)
        return True


class FaultLatch:
    """Input-fault state machine: NORMAL or FAULT (latched), counted in valid samples.

    NORMAL --(any invalid sensor sample)--> FAULT. FAULT --(``recovery_samples``
    consecutive valid control ticks)--> NORMAL. An invalid sample during FAULT restarts the
    count, so alternating valid/invalid input stays in FAULT (no alternation of torque).
    """

    def __init__(self, recovery_samples: int):
        """Create the latch in NORMAL."""
        self.recovery_samples = int(recovery_samples)
        self.latched = False
        self.valid_run = 0

    def reset(self) -> None:
        """Return to NORMAL (a deliberate reset of the controller)."""
        self.latched = False
        self.valid_run = 0

    def invalid(self) -> None:
        """Record an invalid sample: latch FAULT and restart the recovery count."""
        self.latched = True
        self.valid_run = 0

    def valid(self) -> bool:
        """Record a valid control tick; return True if it ends the FAULT (recovery)."""
        if not self.latched:
            return False
        self.valid_run += 1
        if self.valid_run >= self.recovery_samples:
            self.latched = False
            self.valid_run = 0
            return True
        return False


# ------------------------------------------------------------------ one owner per topic
@dataclass(frozen=True)
class OwnerConflict:
    """A topic with more than one publisher (``publishers``: one name per endpoint, sorted).

    ``owner``: the one node a topic with a named owner accepts ('' for the sensor topics);
    then a single publisher that is not the owner is a conflict too.
    """

    topic: str
    publishers: tuple
    owner: str = ''

    def describe(self) -> str:
        """Say which nodes publish, e.g. ``'2 publishers on /joint_states: /a, /b'``."""
        counts = {}
        for name in self.publishers:
            counts[name] = counts.get(name, 0) + 1
        names = ', '.join(name if n == 1 else f'{name} ({n} publishers)'
                          for name, n in sorted(counts.items()))
        n = len(self.publishers)
        text = f'{n} publisher{"s" if n != 1 else ""} on {self.topic}: {names}'
        return text + (f' (accepted only from {self.owner})' if self.owner else '')


def topic_owner_conflicts(publishers: Mapping[str, Sequence[str]]) -> tuple:
    """Return the :class:`OwnerConflict` of every topic with more than one publisher.

    ``publishers`` maps a topic to the qualified node names of its publisher endpoints (one
    entry per endpoint: a node with two publishers on the topic appears twice, as it feeds
    two interleaved streams). Topics with zero or one publisher are fine (a missing
    publisher is the staleness watchdog's business). The result is sorted by topic.
    """
    conflicts = []
    for topic in sorted(publishers):
        names = tuple(sorted(publishers[topic]))
        if len(names) > 1:
            conflicts.append(OwnerConflict(topic, names))
    return tuple(conflicts)


def reference_owner_conflict(topic: str, publishers: Sequence[str],
                             owner: str) -> Optional[OwnerConflict]:
    """Return the :class:`OwnerConflict` of a topic accepted only from node ``owner``.

    ``publishers``: qualified node names of the topic's publisher endpoints (as for
    :func:`topic_owner_conflicts`; a matched publisher the ROS graph does not name yet is
    :data:`exo_contract.graph.UNDISCOVERED_PUBLISHER`, which is never the owner). None when
    the topic has no publisher or exactly one endpoint, of ``owner``; else a conflict: more
    than one publisher, or one that is another node or not named yet.
    """
    names = tuple(sorted(publishers))
    if not names or names == (owner,):
        return None
    return OwnerConflict(topic, names, owner)


# ------------------------------------------------------------------------------ e-stop
#: A stop held by a publisher the graph has never listed counts as held by a gone
#: publisher once its message is this old, s (graph discovery takes well under 1 s).
GRAPH_GRACE_S = 2.0


class StopLatch:
    """E-stop state machine: STOPPED while any stop holds, else RUNNING.

    What stops (each forces zero assistance torque and compliant stiffness in the core):

    * **topic level**: the latest message of each e-stop topic publisher (``source``: its
      publisher id); ``True`` holds the stop for as long as that publisher's latest message
      is ``True`` (a pressed button), also after the publisher has gone;
    * **latched stops** (:data:`SERVICE`, :data:`TASK_TEXT`, :data:`HEARTBEAT`): held until
      a resume command. Each remembers when it was issued (``stamp``, wall-clock seconds of
      its publisher, or None).

    Resume commands (never a new task text):

    * a ``False`` message from ``source`` always ends that source's own level. It is also a
      resume command for the latched stops and for the levels of publishers that have gone
      (:meth:`update_live`), when the heartbeat is off (every message is a command), or when
      it is a release (that source's previous message was ``True``) with the heartbeat on
      (then a repeated ``False`` is a heartbeat, not a command). A latched stop issued after
      the resume message (both stamps known) is not cleared, whatever the delivery order;
    * :meth:`resume` (the controller's service): clears every latched stop and the levels of
      gone publishers, but is refused while a live publisher still holds ``True`` (the
      button must be released where it was pressed) or while the heartbeat is lost.

    Heartbeat (``heartbeat_timeout`` > 0 s, 0 = off): once any e-stop message has been
    received, no message for longer than the timeout latches :data:`HEARTBEAT`
    (:meth:`check_heartbeat`). The latch never ends by itself; every resume needs one of the
    commands above. ``now`` is the receipt clock of the caller.
    """

    SERVICE = 'service'
    TASK_TEXT = 'task_text'
    HEARTBEAT = 'heartbeat'

    def __init__(self, heartbeat_timeout: float = 0.0):
        """Create the latch RUNNING, with no publisher seen."""
        self.heartbeat_timeout = float(heartbeat_timeout)
        self._levels = {}  # source -> latest value (bool)
        self._latched = {}  # reason -> (stamp or None, detail)
        self._seen_live = set()  # sources listed by the last graph updates
        self._gone = set()  # sources that were listed and are no longer
        self._last_message = None  # receipt time of the last e-stop message
        self._level_time = {}  # source -> receipt time of its latest message

    # ------------------------------------------------------------------- state
    @property
    def stopped(self) -> bool:
        """True while any stop holds."""
        return bool(self._latched) or any(self._levels.values())

    def holders(self) -> tuple:
        """``(source, gone)`` of every topic publisher whose latest message is ``True``."""
        return tuple((s, s in self._gone) for s, v in sorted(self._levels.items()) if v)

    def latched(self) -> dict:
        """Latched stops: reason -> detail (e.g. the stop word)."""
        return {reason: detail for reason, (_, detail) in self._latched.items()}

    def heartbeat_expired(self, now: float) -> bool:
        """True when the heartbeat is on, a message was seen, and none for > timeout."""
        if self.heartbeat_timeout <= 0.0 or self._last_message is None:
            return False
        age = now - self._last_message
        return not age <= self.heartbeat_timeout  # NaN age counts as expired

    # ------------------------------------------------------------------ inputs
    def on_message(self, source: str, value: bool, now: float,
                   stamp: Optional[float] = None) -> bool:
        """Take an e-stop topic message from ``source``; return True if it was a resume command.

        ``now``: receipt time (heartbeat clock); ``stamp``: the publisher's wall-clock time
        of the message (None: unknown).
        """
        self._last_message = now
        self._level_time[source] = now
        previous = self._levels.get(source)
        if value:
            self._levels[source] = True
            return False
        self._levels[source] = False
        if self.heartbeat_timeout > 0.0 and previous is not True:
            return False  # a repeated False is a heartbeat, not a command
        self._drop_gone_levels()
        for reason, (issued, _) in list(self._latched.items()):
            if issued is None or stamp is None or issued <= stamp:
                del self._latched[reason]
        return True

    def request_stop(self, reason: str, stamp: Optional[float] = None,
                     detail: str = '') -> None:
        """Latch a stop (:data:`SERVICE`, :data:`TASK_TEXT`, ...) issued at ``stamp``."""
        old = self._latched.get(reason)
        if old is not None and old[0] is not None and (stamp is None or old[0] > stamp):
            stamp = old[0]  # a resume must be newer than the latest stop of this reason
        self._latched[reason] = (stamp, detail)

    def resume(self, now: float) -> tuple:
        """Explicit resume (the service): return ``(accepted, message)``."""
        live = [s for s, gone in self.holders() if not gone]
        if live:
            return False, ('refused: an e-stop topic publisher still holds the stop '
                           '(latest data: true); release it there (data: false)')
        if self.heartbeat_expired(now):
            return False, (f'refused: no e-stop message for more than the heartbeat timeout '
                           f'({self.heartbeat_timeout} s); bring the e-stop device back')
        was = self.stopped
        self._latched.clear()
        self._drop_gone_levels()
        return True, 'resumed' if was else 'not stopped'

    def check_heartbeat(self, now: float) -> bool:
        """Latch :data:`HEARTBEAT` when the heartbeat is lost; True when newly latched."""
        if self.HEARTBEAT in self._latched or not self.heartbeat_expired(now):
            return False
        self._latched[self.HEARTBEAT] = (None, '')
        return True

    def update_live(self, sources: Iterable[str], now: Optional[float] = None) -> None:
        """Take the e-stop publishers now in the graph (``now``: receipt clock).

        A source listed before and missing now has gone: its ``True`` keeps the stop until a
        resume command, which then also forgets it. So has a source never listed whose
        latest message is older than :data:`GRAPH_GRACE_S` (a short-lived publisher, e.g.
        ``ros2 topic pub --once``, that left before the graph check saw it): an operator
        can always release a stop once its holder is gone.
        """
        live = set(sources)
        self._gone -= live
        gone = self._seen_live - live
        self._seen_live = (self._seen_live - gone) | live
        if now is not None:
            gone |= {s for s, v in self._levels.items()
                     if v and s not in live and s not in self._seen_live
                     and now - self._level_time.get(s, now) > GRAPH_GRACE_S}
        for source in gone:
            if self._levels.get(source):
                self._gone.add(source)
            else:
                self._levels.pop(source, None)
                self._level_time.pop(source, None)

    def _drop_gone_levels(self) -> None:
        for source in self._gone:
            self._levels.pop(source, None)
        self._gone.clear()
