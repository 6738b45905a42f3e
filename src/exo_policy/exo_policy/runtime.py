"""Learned reference source: the trained policy behind the ``ReferenceSource`` protocol.

:class:`LearnedReferenceSource` resolves each task text once (:class:`TaskResolver`),
tokenises the resolved task's canonical text once, keeps the last T exo states ``(q, qd)``
in a ring buffer (filled with the first sample at start-up) and runs the exported ONNX
policy with ONNX Runtime (one intra-op thread) at every ``reference`` call. No torch import
here: the checkpoint's ``policy_meta.json`` holds the tokenizer and the configuration, and
the normalisation is folded into ``policy.onnx`` (physical units in and out).

Safety: unknown text, no text yet, and non-finite inputs or outputs give the fallback
target of :class:`exo_policy.reference_source.ReferenceSourceBase` (hold the measured angle,
compliant stiffness, source 'fallback', confidence 0); NaN never comes out.

``python -m exo_policy.runtime`` prints the per-call latency (p50/p99);
``python -m exo_policy.runtime --write-golden`` regenerates the golden outputs of the
shipped checkpoint (see ``test/test_runtime.py``; ``--checkpoint`` for another one, e.g.
the ablation in :func:`ablation_checkpoint_dir`).

Two checkpoints are shipped: the default one (``exo_policy/data``,
``reference_target='assist'``) predicts the bounded virtual equilibrium
``q_exo + clip(-tau_ext / k_int, +-max_lead)`` of the ``alpha = 0.5`` rollouts, with which
the impedance law reproduces the recorded assistance torque; the *ablation* one
(``exo_policy/data/ablation_human_reference``, ``reference_target='human'``) is the paper's
literal formulation, the human's own reference (the exo follows the wearer and gives no
net assistance), used only by the evaluation's ``ablation_human_reference`` condition.
At run time the reference never leads the measured angle by more than the checkpoint's
``max_lead``.
"""

from __future__ import annotations

import argparse
from importlib import resources
import json
import logging
import math
from pathlib import Path
import time
from typing import Any

import numpy as np

from exo_contract.tasks import ELBOW_MAX_RAD, ELBOW_MIN_RAD, Task
from exo_language.resolver import TaskResolver
from exo_policy.configuration import PolicyConfig
from exo_policy.processing import WordTokenizer
from exo_policy.reference_source import (
    bound_assistance,
    check_assist_bound,
    ImpedanceTarget,
    MAX_ASSIST_TORQUE_NM,
    ReferenceSourceBase,
    Resolver,
)

LOGGER = logging.getLogger(__name__)
SOURCE_LEARNED = 'learned'
GOLDEN_FILE = 'policy_golden.json'
MAX_REFERENCE_SPEED = 10.0  # rad/s, clip of the finite-difference reference velocity
LEAD_SMOOTHING_S = 0.05
"""Time constant of the first-order low-pass on the lead ``q_d - q`` (after its bound), s.

The reference is ``q + lead`` with the measured angle ``q`` of the same tick: the low-pass
smooths the assistance, never the following of the arm. Without it the policy's lead,
computed from the proprioceptive history it also drives, closed a loop with the wearer's
delayed reflexes: a limit cycle of 1.1-4.2 N*m RMS at 8.7 Hz (lift_heavy) to 14.9 Hz
(ok_gesture) in the commanded torque, a vibration the wearer feels and pays for in muscle
energy. Chosen on calibration seeds 100-102 (70 kg, all nine tasks, medians; 3-20 Hz band
RMS of the command / exo-angle RMSE / muscle energy against no exo): 0 s: 1.1-4.2 N*m,
RMSE <= 0.059 rad, loaded tasks -5.2..-12.5 %, drink +1.3 %; 0.03 s: 0.07-2.35 N*m; 0.05 s:
0.04-1.01 N*m, RMSE <= 0.062 rad (lift_heavy; the others <= 0.040), loaded tasks
-12.3..-20.0 %, no task above +0.1 %; 0.1 s: 0.03-0.39 N*m, but lift_light and shelf RMSE
0.050 and 0.049 rad. A fallback or a new text restarts the filter from the raw lead."""
STIFFNESS_SMOOTHING_S = 0.1
"""Time constant of the first-order low-pass on the predicted stiffness, s (0: none).

The eq. 4 targets the stiffness head learns are noisy, and so is its 100 Hz output: in the
heavy lift it swung between about 10 and 200 N*m/rad from one reference to the next, a
torque vibration the wearer feels. Chosen on calibration seeds 100-101 (70 kg, mean
|change of K| per 10 ms in lift_heavy: 17.4 unfiltered, 7.6 at 0.05 s, 4.1 at 0.1 s, 2.3 at
0.2 s; tracking unchanged within 0.01 rad except lift_light 0.025 -> 0.036 rad). The
filter restarts from the raw prediction after every fallback or new text; it never delays
a fallback (which bypasses it) and it slows stiffness falls as much as rises (the eq. 13
bound limits rises only)."""


def _low_pass(filtered: float, x: float, dt: float, tau: float) -> float:
    """One step of a first-order low-pass (time constant ``tau`` s; 0 or no state: ``x``)."""
    if tau > 0 and math.isfinite(filtered):
        return filtered + (1.0 - math.exp(-dt / tau)) * (x - filtered)
    return x


def default_checkpoint_dir() -> Path:
    """Directory of the shipped checkpoint (``exo_policy/data``)."""
    return Path(str(resources.files('exo_policy') / 'data'))


def ablation_checkpoint_dir() -> Path:
    """The shipped ablation (``exo_policy/data/ablation_human_reference``)."""
    return Path(str(resources.files('exo_policy') / 'data' / 'ablation_human_reference'))


class OnnxPolicy:
    """The exported policy: ``(history (B, T, 2) rad, rad/s; tokens (B, L)) -> (q_d, K)``.

    Args:
        checkpoint_dir: directory with ``policy.onnx`` and ``policy_meta.json``.
        threads: ONNX Runtime intra-op threads.

    """

    def __init__(self, checkpoint_dir: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        directory = Path(checkpoint_dir) if checkpoint_dir is not None else (
            default_checkpoint_dir())
        meta_path = directory / 'policy_meta.json'
        onnx_path = directory / 'policy.onnx'
        for path in (meta_path, onnx_path):
            if not path.is_file():
                raise FileNotFoundError(f'policy checkpoint file {str(path)!r} not found')
        self.meta: dict[str, Any] = json.loads(meta_path.read_text())
        self.tokenizer = WordTokenizer.from_dict(self.meta['tokenizer'])
        self.history_steps = int(self.meta['config']['history_steps'])
        # A checkpoint whose configuration names no max_lead gets the default one.
        self.max_lead = float(self.meta['config'].get('max_lead', PolicyConfig.max_lead))
        if not (math.isfinite(self.max_lead) and self.max_lead > 0):
            raise ValueError(f'policy checkpoint max_lead must be > 0 rad, got '
                             f'{self.max_lead!r}')
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path), options,
                                            providers=['CPUExecutionProvider'])

    def __call__(self, history: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, T, 2) float32, (B, L) int64 -> q_d (B,) rad, K (B,) N*m/rad."""
        q_d, k = self.session.run(None, {'history': history, 'tokens': tokens})
        return q_d, k


class LearnedReferenceSource(ReferenceSourceBase):
    """ReferenceSource backed by the learned policy.

    Args:
        checkpoint_dir: checkpoint directory (default: the shipped one in exo_policy/data).
        resolver: text -> task resolution (:class:`exo_language.resolver.TaskResolver`);
            default: :func:`exo_policy.reference_source.default_resolver` (slow to build,
            once per process).
        compliant_stiffness: stiffness of the fallback target, N*m/rad.
        feed_raw_text: give the policy the raw command's tokens instead of the resolved
            task's canonical text (the resolver still decides whether a task is known).

    """

    def __init__(self, checkpoint_dir: str | Path | None = None,
                 resolver: Resolver | None = None, compliant_stiffness: float = 2.0,
                 feed_raw_text: bool = False,
                 max_assist_torque: float = MAX_ASSIST_TORQUE_NM) -> None:
        super().__init__(resolver, compliant_stiffness)
        self.max_assist_torque = check_assist_bound(max_assist_torque)
        self.policy = OnnxPolicy(checkpoint_dir)
        self._feed_raw = bool(feed_raw_text)
        t = self.policy.history_steps
        self._t = t
        # Doubled ring buffer: sample k lives at k % T and k % T + T, so the last T samples
        # are always the contiguous slice [i + 1, i + 1 + T) after writing at i.
        self._ring = np.zeros((1, 2 * t, 2), dtype=np.float32)
        self._count = 0
        self._tokens: np.ndarray | None = None
        self._last_q = 0.0
        self._prev: tuple[float, float] | None = None
        self._k_filtered = math.nan
        self._lead_filtered = math.nan

    def on_task_text(self, text: str, task: Task | None) -> None:
        """Tokenise the resolved task's canonical text (or the raw text) once per message."""
        self._prev = None
        if task is None:
            self._tokens = None
            return
        source_text = text if self._feed_raw else task.text
        self._tokens = self.policy.tokenizer.encode(source_text)[None, :]

    def _push(self, q: float, qd: float) -> np.ndarray:
        t = self._t
        if self._count == 0:
            self._ring[0, :, 0] = q
            self._ring[0, :, 1] = qd
        i = self._count % t
        self._ring[0, i, 0] = self._ring[0, i + t, 0] = q
        self._ring[0, i, 1] = self._ring[0, i + t, 1] = qd
        self._count += 1
        return self._ring[:, i + 1:i + 1 + t, :]

    def _fallback(self, q: float) -> ImpedanceTarget:
        return self.fallback(q, self._last_q)

    def history(self) -> np.ndarray:
        """The current window (T, 2), oldest first (zeros before the first sample)."""
        i = (self._count - 1) % self._t
        return self._ring[0, i + 1:i + 1 + self._t, :].copy()

    def reference(self, t: float, q: float, qd: float = 0.0) -> ImpedanceTarget:
        """Reference at time ``t`` (s) from the exo angle ``q`` (rad) and velocity ``qd``."""
        try:
            q, qd, t = float(q), float(qd), float(t)
        except (TypeError, ValueError):
            return self._fallback(float('nan'))
        if not (math.isfinite(q) and math.isfinite(qd)):
            self._prev = None
            return self._fallback(q)
        self._last_q = q
        window = self._push(q, qd)
        if self._task is None or self._tokens is None:
            return self._fallback(q)
        try:
            q_d, k = self.policy(window, self._tokens)
            q_d, k = float(q_d[0]), float(k[0])
        except Exception as exc:  # noqa: BLE001 -- inference must never crash the loop
            LOGGER.warning('policy inference failed (%s); fallback target', exc)
            return self._fallback(q)
        if not (math.isfinite(q_d) and math.isfinite(k) and k > 0):
            self._prev = None
            return self._fallback(q)
        # The reference never leads the measured angle by more than the checkpoint's bound:
        # with K it bounds the torque the policy can ask for (K * max_lead).
        bound = self.policy.max_lead
        lead = min(max(q_d - q, -bound), bound)
        qd_d = 0.0
        dt = t - self._prev[0] if self._prev is not None and math.isfinite(t) else math.nan
        if 0.0 < dt <= 0.1:
            lead = _low_pass(self._lead_filtered, lead, dt, LEAD_SMOOTHING_S)
            k = _low_pass(self._k_filtered, k, dt, STIFFNESS_SMOOTHING_S)
        self._k_filtered = k
        self._lead_filtered = lead
        # The bound on the assistance torque (MAX_ASSIST_TORQUE_NM) saturates the smoothed
        # lead; the filter keeps the policy's own lead.
        q_d = bound_assistance(q, q + lead, k, self.max_assist_torque)
        q_d = min(max(q_d, ELBOW_MIN_RAD), ELBOW_MAX_RAD)
        if 0.0 < dt <= 0.1:
            qd_d = max(-MAX_REFERENCE_SPEED, min(MAX_REFERENCE_SPEED,
                                                 (q_d - self._prev[1]) / dt))
        self._prev = (t, q_d) if math.isfinite(t) else None
        return ImpedanceTarget(q_d, qd_d, k, self._task.task_id, self._confidence,
                               SOURCE_LEARNED)


def golden_inputs(history_steps: int) -> list[tuple[str, np.ndarray]]:
    """Fixed (task text, (T, 2) history) pairs of the golden-output test."""
    steps = np.arange(history_steps, dtype=np.float64) / 100.0
    cases = []
    for i, text in enumerate(('lift a heavy box', 'wave hello', 'drink from a cup',
                              'give a thumbs down')):
        q = 0.3 + 0.4 * i * steps + 0.05 * np.sin(6.0 * steps + i)
        qd = np.gradient(q, 0.01)
        cases.append((text, np.stack([q, qd], axis=1).astype(np.float32)))
    return cases


def golden_outputs(policy: OnnxPolicy) -> list[dict[str, Any]]:
    """Outputs of ``policy`` on :func:`golden_inputs`."""
    out = []
    for text, history in golden_inputs(policy.history_steps):
        q_d, k = policy(history[None], policy.tokenizer.encode(text)[None])
        out.append({'text': text, 'history': history.tolist(), 'q_d': float(q_d[0]),
                    'K': float(k[0])})
    return out


def measure_latency(source: LearnedReferenceSource, calls: int = 2000) -> dict[str, float]:
    """Per-call latency of ``source.reference`` (a known task must be set), microseconds."""
    times = np.empty(calls)
    for n in range(calls):
        t = n / 100.0
        start = time.perf_counter()
        source.reference(t, 0.5 + 0.3 * math.sin(t), 0.3 * math.cos(t))
        times[n] = time.perf_counter() - start
    times *= 1e6
    return {'p50_us': float(np.percentile(times, 50)), 'p99_us': float(np.percentile(times, 99)),
            'max_us': float(times.max()), 'calls': calls}


def measure_batched_inference(policy: OnnxPolicy, batch: int = 16, calls: int = 200,
                              seed: int = 0) -> dict[str, float]:
    """ONNX inference of ``batch`` windows in one call against one call per window.

    Random windows (rad, rad/s) with the tokens of one task. Returns the median time per
    window, microseconds, of ``calls`` calls each way (``single_us_per_row``,
    ``batch_us_per_row``), and ``max_abs_diff``: the largest difference between a window's
    outputs (rad; N*m/rad) in the batch and alone (float32 arithmetic in another order: 0
    only where the kernels do not depend on the batch size).
    """
    if not (isinstance(batch, int) and batch >= 1 and isinstance(calls, int) and calls >= 1):
        raise ValueError(f'batch and calls must be integers >= 1, got {batch!r}, {calls!r}')
    rng = np.random.default_rng(seed)
    window = np.empty((batch, policy.history_steps, 2), dtype=np.float32)
    window[..., 0] = rng.uniform(0.2, 2.0, (batch, policy.history_steps))
    window[..., 1] = rng.uniform(-2.0, 2.0, (batch, policy.history_steps))
    tokens = np.repeat(policy.tokenizer.encode('lift a heavy box')[None, :], batch, axis=0)
    rows = [(window[i:i + 1], tokens[i:i + 1]) for i in range(batch)]
    alone = [policy(w, t) for w, t in rows]  # also the warm-up
    together = policy(window, tokens)
    single, batched = np.empty(calls), np.empty(calls)
    for n in range(calls):
        start = time.perf_counter()
        for w, t in rows:
            policy(w, t)
        single[n] = time.perf_counter() - start
        start = time.perf_counter()
        policy(window, tokens)
        batched[n] = time.perf_counter() - start
    q_all, k_all = together
    diff = max(max(abs(float(q_all[i]) - float(q[0])), abs(float(k_all[i]) - float(k[0])))
               for i, (q, k) in enumerate(alone))
    return {'batch': batch, 'single_us_per_row': float(np.median(single)) * 1e6 / batch,
            'batch_us_per_row': float(np.median(batched)) * 1e6 / batch,
            'max_abs_diff': diff}


def main(argv: list[str] | None = None) -> int:
    """Latency benchmark, or ``--write-golden`` to regenerate the golden outputs."""
    parser = argparse.ArgumentParser(prog='python -m exo_policy.runtime')
    parser.add_argument('--checkpoint', type=Path, default=None)
    parser.add_argument('--write-golden', action='store_true')
    parser.add_argument('--calls', type=int, default=2000)
    opts = parser.parse_args(argv)
    directory = opts.checkpoint if opts.checkpoint is not None else default_checkpoint_dir()
    if opts.write_golden:
        path = directory / GOLDEN_FILE
        path.write_text(json.dumps(golden_outputs(OnnxPolicy(directory)), indent=1) + '\n')
        print(f'wrote {path}')
        return 0
    source = LearnedReferenceSource(directory, resolver=TaskResolver('lexical'))
    source.set_task_text('lift a heavy box', 0.0)
    measure_latency(source, 200)
    print(json.dumps(measure_latency(source, opts.calls)))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
