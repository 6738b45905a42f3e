"""Summary of a recorded exo-vic run (pure numpy over an MCAP file, no rclpy).

:func:`load_recording` decodes the streams of a recording into numpy arrays,
:func:`summarize` computes the demo summary, :func:`write_summary` writes it as JSON and
:func:`check_stiffness_bound` checks the discrete stiffness-rate bound (eq. 13) over a
whole recording.

Time base: every stream is placed on the recorder's receive time (MCAP ``log_time``), the
one clock common to all topics (``/task_text`` has no header, and simulated and real
publishers stamp headers with different clocks). Header stamps are used only for the
command latency, which compares two stamps of the same controller message.

Task segmentation: each ``/task_text`` message starts a segment that runs to the next one
(or to the end of the recording). The task id of a segment is the most frequent non-empty
``/exo/human_state.task_id`` in it (else ``/exo/impedance_reference.task_id``); its active
window runs from the first to the last human state with ``task_phase`` in [0, 1] (rest is
ignored). Without human states in a segment the whole segment is active. Without any
``/task_text``, segments are the runs of constant non-empty human-state task id.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from exo_contract import topics
from exo_contract.metrics import rmse
from exo_experiments.mcap_io import iter_decoded
from exo_impedance_controller import stability

SCHEMA_VERSION = 1
EXO_JOINT = 'exo_elbow_joint'


#: Relative and absolute slack of the stiffness-rate check (rounding of the limiter); the
#: one definition is :mod:`exo_impedance_controller.stability`.
STIFFNESS_RTOL = stability.BOUND_RTOL
STIFFNESS_ATOL = stability.BOUND_ATOL
#: Slack of the torque-limit check, N*m.
TORQUE_ATOL = 1e-9

PathLike = Union[str, 'os.PathLike[str]']


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def _joint_value(names: Sequence[str], values: Sequence[float], joint: str) -> float:
    """Value of ``joint`` in a per-joint array; the first entry when names are absent."""
    if not len(values):
        return math.nan
    if names:
        try:
            index = list(names).index(joint)
        except ValueError:
            return math.nan if len(names) > 1 else float(values[0])
        return float(values[index]) if index < len(values) else math.nan
    return float(values[0])


def elapsed_tick(tick_period: float, stamp_ns: int, prev_stamp_ns: int) -> float:
    """Time the bound may have grown over between two recorded controller states, s.

    The state's ``tick_period``, or the gap between the two states' stamps when it is
    longer: a recorder under load can miss states (reliable QoS, bounded depth), and the
    stiffness then legitimately grew over every tick in between.
    """
    if stamp_ns > 0 and prev_stamp_ns > 0:
        return max(float(tick_period), (stamp_ns - prev_stamp_ns) * 1e-9)
    return float(tick_period)


def stiffness_rate_violated(k_prev: np.ndarray, k_now: np.ndarray, tick_period: float,
                            damping: np.ndarray, inertia: np.ndarray) -> bool:
    """Whether one controller tick breaks the discrete eq. 13 bound on any joint.

    The bound and its slack are :func:`exo_impedance_controller.stability.
    stiffness_rate_violated`'s: ``K_k > K_{k-1} * exp(2 h D_k / M_k) * (1 + 1e-9) + 1e-12``.
    A non-finite bounded stiffness is a violation; ticks whose joint count differs from
    the previous tick's, and joints whose bound is undefined (NaN), are not judged. Arrays
    are ``(J,)``; ``damping`` and ``inertia`` hold one value or one per joint.
    """
    k_prev = np.asarray(k_prev, dtype=float)
    k_now = np.asarray(k_now, dtype=float)
    if k_now.size == 0 or k_prev.shape != k_now.shape:
        return False
    if not np.all(np.isfinite(k_now)):
        return True
    damping = np.broadcast_to(np.asarray(damping, dtype=float), k_now.shape) \
        if np.size(damping) in (1, k_now.size) else np.full(k_now.shape, np.nan)
    inertia = np.broadcast_to(np.asarray(inertia, dtype=float), k_now.shape) \
        if np.size(inertia) in (1, k_now.size) else np.full(k_now.shape, np.nan)
    return bool(np.any(stability.stiffness_rate_violated(
        k_prev, k_now, np.full(k_now.shape, float(tick_period)), inertia, damping,
        STIFFNESS_RTOL, STIFFNESS_ATOL)))


@dataclass
class Recording:
    """Streams of one recording as numpy arrays; times are log times in ns."""

    path: Path
    messages: Dict[str, int] = field(default_factory=dict)
    start_ns: int = 0
    end_ns: int = 0
    # /task_text
    task_text_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    task_texts: List[str] = field(default_factory=list)
    # /joint_states: exo joint angle
    joint_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exo_angle: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: header stamps of /joint_states, ns (simulated time in lockstep; 0 = unstamped)
    joint_stamp: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # /exo/human_state
    human_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    human_stamp: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    human_task_id: List[str] = field(default_factory=list)
    human_phase: np.ndarray = field(default_factory=lambda: np.zeros(0))
    human_angle: np.ndarray = field(default_factory=lambda: np.zeros(0))
    human_reference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # /exo/impedance_reference
    impedance_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    impedance_task_id: List[str] = field(default_factory=list)
    impedance_reference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    impedance_stiffness: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # /exo/controller_state (exo joint unless noted)
    control_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    control_latency_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control_reference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control_stiffness_raw: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control_stiffness_bounded: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control_commanded: np.ndarray = field(default_factory=lambda: np.zeros(0))
    control_interaction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Per tick (all joints): whether the eq. 13 bound is broken w.r.t. the previous tick.
    control_stiffness_violation: np.ndarray = field(
        default_factory=lambda: np.zeros(0, bool))
    # /exo_effort_controller/commands: one row per message
    command_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    command_values: List[np.ndarray] = field(default_factory=list)
    # /interaction_torque: torque.z
    interaction_t: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    interaction_torque: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def command_first(self) -> np.ndarray:
        """First commanded torque of every command message (NaN when empty)."""
        return np.array([v[0] if v.size else np.nan for v in self.command_values], float)

    def seconds(self, t_ns: np.ndarray) -> np.ndarray:
        """Return times in seconds since the start of the recording."""
        return (np.asarray(t_ns, dtype=np.int64) - self.start_ns) * 1e-9


def load_recording(mcap_path: PathLike, joint: str = EXO_JOINT) -> Recording:
    """Decode the exo-vic streams of ``mcap_path`` into a :class:`Recording`."""
    rec = Recording(path=Path(mcap_path))
    counts: Dict[str, int] = collections.Counter()
    cols: Dict[str, List[Any]] = collections.defaultdict(list)
    first = last = None
    prev_bounded: Optional[np.ndarray] = None
    prev_stamp = 0
    for topic, t, msg in iter_decoded(mcap_path):
        counts[topic] += 1
        first = t if first is None else min(first, t)
        last = t if last is None else max(last, t)
        if topic == topics.TASK_TEXT_TOPIC:
            cols['task_text_t'].append(t)
            rec.task_texts.append(str(msg.data))
        elif topic == topics.JOINT_STATES_TOPIC:
            cols['joint_t'].append(t)
            cols['joint_stamp'].append(_stamp_ns(msg.header.stamp))
            cols['exo_angle'].append(_joint_value(msg.name, msg.position, joint))
        elif topic == topics.HUMAN_STATE_TOPIC:
            cols['human_t'].append(t)
            cols['human_stamp'].append(_stamp_ns(msg.header.stamp))
            rec.human_task_id.append(str(msg.task_id))
            cols['human_phase'].append(float(msg.task_phase))
            cols['human_angle'].append(float(msg.elbow_angle))
            cols['human_reference'].append(float(msg.reference_angle))
        elif topic == topics.IMPEDANCE_REFERENCE_TOPIC:
            cols['impedance_t'].append(t)
            rec.impedance_task_id.append(str(msg.task_id))
            cols['impedance_reference'].append(
                _joint_value(msg.joint_names, msg.reference_angle, joint))
            cols['impedance_stiffness'].append(
                _joint_value(msg.joint_names, msg.stiffness, joint))
        elif topic == topics.CONTROLLER_STATE_TOPIC:
            names = msg.joint_names
            cols['control_t'].append(t)
            js_stamp = _stamp_ns(msg.joint_state_stamp)
            cols['control_latency_ms'].append(
                (_stamp_ns(msg.header.stamp) - js_stamp) * 1e-6 if js_stamp > 0 else math.nan)
            cols['control_reference'].append(_joint_value(names, msg.reference_angle, joint))
            cols['control_stiffness_raw'].append(_joint_value(names, msg.stiffness_raw, joint))
            cols['control_stiffness_bounded'].append(
                _joint_value(names, msg.stiffness_bounded, joint))
            cols['control_commanded'].append(_joint_value(names, msg.commanded_torque, joint))
            cols['control_interaction'].append(
                _joint_value(names, msg.interaction_torque, joint))
            bounded = np.asarray(msg.stiffness_bounded, dtype=float)
            stamp = _stamp_ns(msg.header.stamp)
            cols['control_stiffness_violation'].append(
                prev_bounded is not None and stiffness_rate_violated(
                    prev_bounded, bounded, elapsed_tick(msg.tick_period, stamp, prev_stamp),
                    msg.damping, msg.inertia))
            prev_bounded, prev_stamp = bounded, stamp
        elif topic == topics.EFFORT_COMMAND_TOPIC:
            cols['command_t'].append(t)
            rec.command_values.append(np.asarray(msg.data, dtype=float))
        elif topic == topics.INTERACTION_TORQUE_TOPIC:
            cols['interaction_t'].append(t)
            cols['interaction_torque'].append(float(msg.wrench.torque.z))
    for name, values in cols.items():
        if name.endswith('_t') or name.endswith('_stamp'):
            setattr(rec, name, np.asarray(values, dtype=np.int64))
        elif name == 'control_stiffness_violation':
            setattr(rec, name, np.asarray(values, dtype=bool))
        else:
            setattr(rec, name, np.asarray(values, dtype=float))
    rec.messages = dict(sorted(counts.items()))
    rec.start_ns = int(first or 0)
    rec.end_ns = int(last or 0)
    return rec


def check_stiffness_bound(mcap_path: PathLike) -> Tuple[int, int]:
    """Return ``(ticks, violations)`` of the eq. 13 bound over all controller states.

    ``ticks`` is the number of ``/exo/controller_state`` messages; a tick violates the
    bound when, on any joint, ``K_k > K_{k-1} exp(2 h_k D_k / M_k) (1 + 1e-9) + 1e-12``.
    """
    ticks = violations = 0
    prev: Optional[np.ndarray] = None
    prev_stamp = 0
    for _topic, _t, msg in iter_decoded(mcap_path, topics=[topics.CONTROLLER_STATE_TOPIC]):
        bounded = np.asarray(msg.stiffness_bounded, dtype=float)
        stamp = _stamp_ns(msg.header.stamp)
        if prev is not None and stiffness_rate_violated(
                prev, bounded, elapsed_tick(msg.tick_period, stamp, prev_stamp), msg.damping,
                msg.inertia):
            violations += 1
        prev, prev_stamp = bounded, stamp
        ticks += 1
    return ticks, violations


@dataclass
class TaskWindow:
    """One task segment: ``[start_ns, end_ns)`` in log time, with its instruction."""

    name: str
    start_ns: int
    end_ns: int
    text: str = ''


def _nearest(t_query: np.ndarray, t_ref: np.ndarray) -> np.ndarray:
    """Return indices into sorted ``t_ref`` of the nearest time to each of ``t_query``."""
    idx = np.searchsorted(t_ref, t_query)
    idx = np.clip(idx, 1, len(t_ref) - 1) if len(t_ref) > 1 else np.zeros_like(idx)
    if len(t_ref) > 1:
        left = t_ref[idx - 1]
        right = t_ref[idx]
        idx = np.where(np.abs(t_query - left) <= np.abs(right - t_query), idx - 1, idx)
    return idx


def _rmse(t: np.ndarray, values: np.ndarray, t_ref: np.ndarray, ref: np.ndarray
          ) -> Optional[float]:
    """RMSE of ``values`` (at ``t``) against the ``ref`` sample nearest in time; None if empty.

    The alignment is the recording's own (nearest log time); the RMSE is
    :func:`exo_contract.metrics.rmse` (non-finite errors skipped).
    """
    if len(t) == 0 or len(t_ref) == 0:
        return None
    value = rmse(values, ref[_nearest(t, t_ref)])
    return value if math.isfinite(value) else None


def _in(t: np.ndarray, start: int, end: int, inclusive: bool = True) -> np.ndarray:
    return (t >= start) & ((t <= end) if inclusive else (t < end))


def _most_common(values: Iterable[str]) -> str:
    counter = collections.Counter(v for v in values if v)
    return counter.most_common(1)[0][0] if counter else ''


def _coerce_windows(task_windows: Iterable[Any]) -> List[TaskWindow]:
    windows = []
    for item in task_windows:
        if isinstance(item, TaskWindow):
            windows.append(item)
        elif isinstance(item, dict):
            windows.append(TaskWindow(name=str(item.get('name', '')),
                                      start_ns=int(item['start_ns']),
                                      end_ns=int(item['end_ns']),
                                      text=str(item.get('text', ''))))
        else:
            name, start_ns, end_ns, *rest = item
            windows.append(TaskWindow(str(name), int(start_ns), int(end_ns),
                                      str(rest[0]) if rest else ''))
    return windows


def segment_tasks(rec: Recording) -> List[TaskWindow]:
    """Split a recording into task segments (see the module docstring)."""
    windows = []
    if len(rec.task_text_t):
        ends = list(rec.task_text_t[1:]) + [rec.end_ns + 1]
        for start, end, text in zip(rec.task_text_t, ends, rec.task_texts, strict=True):
            windows.append(TaskWindow('', int(start), int(end), text))
        return windows
    run_start = None
    run_id = ''
    for i, task_id in enumerate(rec.human_task_id + ['']):
        if task_id != run_id:
            if run_id:
                windows.append(TaskWindow(run_id, int(rec.human_t[run_start]),
                                          int(rec.human_t[i - 1]) + 1))
            run_id, run_start = task_id, i
    return windows


def _active_window(rec: Recording, seg: TaskWindow) -> Tuple[Optional[int], Optional[int]]:
    in_seg = _in(rec.human_t, seg.start_ns, seg.end_ns, inclusive=False)
    if not np.any(in_seg):
        return seg.start_ns, seg.end_ns - 1
    phase = rec.human_phase[in_seg]
    active = (phase >= 0.0) & (phase <= 1.0)
    if not np.any(active):
        return None, None
    times = rec.human_t[in_seg][active]
    return int(times[0]), int(times[-1])


def _fresh(ids: List[str], mask: np.ndarray, previous: str = '') -> List[str]:
    """The task ids under ``mask`` without the leading run carried over from before it.

    Messages sent before the new instruction took effect still carry the previous task's
    id (the human finishing it, the policy's last references): they do not name the
    segment. ``previous`` is that task (the last segment's name): only a leading run of it
    that began before the mask is dropped. A run of another task that began just before the
    mask is the segment's own task, seen before the recorder received its instruction.
    """
    if not len(ids):
        return []
    index = np.flatnonzero(mask)
    if not index.size:
        return []
    selected = [ids[i] for i in index]
    before = ids[index[0] - 1] if index[0] > 0 else ''
    k = 0
    while previous and before == previous and k < len(selected) and selected[k] == before:
        k += 1
    return selected[k:]


def _task_summary(rec: Recording, seg: TaskWindow, index: int, torque_limit: float,
                  previous: str = '') -> Dict[str, Any]:
    """One segment's summary; ``previous``: the task of the last named segment before it."""
    start, end = _active_window(rec, seg)
    in_seg = _in(rec.human_t, seg.start_ns, seg.end_ns, inclusive=False)
    name = seg.name
    if not name and start is not None:
        active = _in(rec.human_t, start, end) & in_seg
        name = _most_common(_fresh(rec.human_task_id, active, previous))
    if not name:
        name = _most_common(_fresh(rec.human_task_id, in_seg, previous))
    if not name and len(rec.impedance_t):
        in_imp = _in(rec.impedance_t, seg.start_ns, seg.end_ns, inclusive=False)
        name = _most_common(_fresh(rec.impedance_task_id, in_imp, previous))
    # Text that resolved to no task keeps an empty name (docs/reference.md: summary.json).
    result: Dict[str, Any] = {
        'name': name, 'text': seg.text,
        'segment_start_s': float((seg.start_ns - rec.start_ns) * 1e-9),
        'segment_end_s': float((min(seg.end_ns, rec.end_ns) - rec.start_ns) * 1e-9),
        'start_s': None, 'end_s': None, 'duration_s': 0.0,
        'rmse_rad': None, 'rmse_vs_policy_rad': None, 'max_abs_torque_nm': None,
        'stiffness_rate_violations': 0, 'controller_ticks': 0,
        'torque_limit_violations': 0, 'nonfinite_commands': 0, 'samples': 0,
    }
    if start is None:
        return result
    result['start_s'] = float((start - rec.start_ns) * 1e-9)
    result['end_s'] = float((end - rec.start_ns) * 1e-9)
    result['duration_s'] = float((end - start) * 1e-9)
    j_mask = _in(rec.joint_t, start, end)
    jt, angle = rec.joint_t[j_mask], rec.exo_angle[j_mask]
    result['samples'] = int(np.count_nonzero(np.isfinite(angle)))
    h_mask = _in(rec.human_t, start, end)
    js = rec.joint_stamp[j_mask]
    if js.size and rec.human_stamp.size and np.all(js > 0) and np.all(rec.human_stamp > 0):
        # Both streams stamped by sim_node's clock: align on the stamps, which do not
        # depend on when the recorder happened to receive the messages (lockstep: the
        # same numbers on an idle and on a loaded machine).
        h_sel = (rec.human_stamp >= js.min()) & (rec.human_stamp <= js.max())
        result['rmse_rad'] = _rmse(js, angle, rec.human_stamp[h_sel],
                                   rec.human_reference[h_sel])
    else:
        result['rmse_rad'] = _rmse(jt, angle, rec.human_t[h_mask],
                                   rec.human_reference[h_mask])
    result['rmse_vs_policy_rad'] = _rmse(jt, angle, rec.control_t, rec.control_reference)
    c_mask = _in(rec.control_t, start, end)
    result['controller_ticks'] = int(np.count_nonzero(c_mask))
    result['stiffness_rate_violations'] = int(
        np.count_nonzero(rec.control_stiffness_violation[c_mask]))
    cmd_idx = np.flatnonzero(_in(rec.command_t, start, end))
    if cmd_idx.size:
        values = np.concatenate([rec.command_values[i] for i in cmd_idx])
        finite = values[np.isfinite(values)]
        result['nonfinite_commands'] = int(values.size - finite.size)
        result['torque_limit_violations'] = int(
            np.count_nonzero(np.abs(finite) > torque_limit + TORQUE_ATOL))
        result['max_abs_torque_nm'] = float(np.max(np.abs(finite))) if finite.size else None
    elif np.any(c_mask):
        commanded = rec.control_commanded[c_mask]
        commanded = commanded[np.isfinite(commanded)]
        result['max_abs_torque_nm'] = float(np.max(np.abs(commanded))) \
            if commanded.size else None
    return result


def _percentile(values: np.ndarray, q: float) -> Optional[float]:
    values = values[np.isfinite(values)]
    return float(np.percentile(values, q)) if values.size else None


def summarize(mcap_path: Union[PathLike, Recording], torque_limit: float,
              task_windows: Optional[Iterable[Any]] = None) -> Dict[str, Any]:
    """Compute the demo summary of a recording.

    ``mcap_path`` is an MCAP file or an already loaded :class:`Recording`.
    ``torque_limit`` (N*m) is the actuator limit the commands must respect.
    ``task_windows`` replaces the ``/task_text`` segmentation: :class:`TaskWindow` objects,
    dicts with ``name``, ``start_ns``, ``end_ns`` (and ``text``), or tuples
    ``(name, start_ns, end_ns[, text])`` in log time; an empty name is resolved from the
    human state as usual.

    Returns a JSON-ready dict: ``schema_version``, ``recording``, ``torque_limit_nm``,
    ``duration_s``, ``messages`` (per topic), ``controller_rate_hz``,
    ``command_latency_ms_p50``/``_p99``, ``stiffness_rate_ticks``,
    ``stiffness_rate_violations_total``, ``torque_limit_violations_total``,
    ``nonfinite_commands_total`` and ``tasks``, a list of per-task dicts with ``name``,
    ``text``, ``rmse_rad``, ``rmse_vs_policy_rad``, ``max_abs_torque_nm``,
    ``stiffness_rate_violations``, ``torque_limit_violations``, ``nonfinite_commands``,
    ``samples``, the active window ``start_s``/``end_s`` (since the recording start) and a
    few more. Quantities that cannot be computed are ``None``.
    """
    if not (isinstance(torque_limit, (int, float)) and math.isfinite(torque_limit)
            and torque_limit > 0):
        raise ValueError(f'torque_limit must be a positive finite number, got {torque_limit!r}')
    rec = mcap_path if isinstance(mcap_path, Recording) else load_recording(mcap_path)
    segments = (_coerce_windows(task_windows) if task_windows is not None
                else segment_tasks(rec))
    tasks = []
    previous = ''
    for i, seg in enumerate(segments):
        tasks.append(_task_summary(rec, seg, i, float(torque_limit), previous))
        previous = tasks[-1]['name'] or previous

    # Controller rate over the active windows: sum(n_i - 1) / sum(span_i).
    intervals = 0
    span_ns = 0
    windows = [(int(rec.start_ns + t['start_s'] * 1e9), int(rec.start_ns + t['end_s'] * 1e9))
               for t in tasks if t['start_s'] is not None]
    if not windows and len(rec.control_t):
        windows = [(int(rec.control_t[0]), int(rec.control_t[-1]))]
    for start, end in windows:
        times = rec.control_t[_in(rec.control_t, start, end)]
        if len(times) >= 2:
            intervals += len(times) - 1
            span_ns += int(times[-1] - times[0])
    controller_rate = intervals / (span_ns * 1e-9) if span_ns > 0 else None

    all_commands = (np.concatenate(rec.command_values) if rec.command_values
                    else np.zeros(0))
    finite = all_commands[np.isfinite(all_commands)]
    return {
        'schema_version': SCHEMA_VERSION,
        'recording': str(rec.path),
        'torque_limit_nm': float(torque_limit),
        'duration_s': float((rec.end_ns - rec.start_ns) * 1e-9),
        'messages': dict(rec.messages),
        'controller_rate_hz': controller_rate,
        'command_latency_ms_p50': _percentile(rec.control_latency_ms, 50.0),
        'command_latency_ms_p99': _percentile(rec.control_latency_ms, 99.0),
        'stiffness_rate_ticks': int(len(rec.control_t)),
        'stiffness_rate_violations_total': int(np.count_nonzero(
            rec.control_stiffness_violation)),
        'torque_limit_violations_total': int(np.count_nonzero(
            np.abs(finite) > float(torque_limit) + TORQUE_ATOL)),
        'nonfinite_commands_total': int(all_commands.size - finite.size),
        'tasks': tasks,
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def write_summary(summary: Dict[str, Any], path: PathLike) -> Path:
    """Write ``summary`` as indented JSON (non-finite numbers as null); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_json_safe(summary), indent=2, allow_nan=False) + '\n',
                    encoding='utf-8')
    return path
