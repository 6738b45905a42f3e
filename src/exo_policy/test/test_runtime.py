"""Tests of the learned reference source (ONNX Runtime) and of the shipped checkpoint.

Golden outputs: ``exo_policy/data/policy_golden.json`` holds the shipped ``policy.onnx``'s
outputs on fixed inputs (:func:`exo_policy.runtime.golden_inputs`). After re-training the
shipped checkpoint (``exo_train --data data/exo_vic_v1 --out /tmp/policy`` then copy
``policy.onnx``, ``policy.pt``, ``policy_meta.json`` and ``metrics.json`` (as
``policy_metrics.json``) into ``src/exo_policy/exo_policy/data/``), regenerate them with
``python -m exo_policy.runtime --write-golden`` and commit the result.
"""

import json
import math

import numpy as np
import pytest
import torch

from exo_contract.dataset import write_dataset
from exo_language.resolver import TaskResolver
from exo_policy.configuration import quick_config
from exo_policy.dataset import synthetic_table
from exo_policy.reference_source import ReferenceSource, ReferenceSourceBase, SOURCE_FALLBACK
from exo_policy.runtime import (
    ablation_checkpoint_dir,
    default_checkpoint_dir,
    GOLDEN_FILE,
    golden_inputs,
    LearnedReferenceSource,
    measure_batched_inference,
    OnnxPolicy,
)
from exo_policy.train import train

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def resolver():
    return TaskResolver('lexical')


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    data = write_dataset(synthetic_table(episodes_per_task=2, seed=5),
                       tmp_path_factory.mktemp('data'))
    out = tmp_path_factory.mktemp('ckpt')
    train(data, out, quick_config(epochs=1, max_train_windows=500), progress=False)
    return out


@pytest.fixture()
def source(tiny_checkpoint, resolver):
    return LearnedReferenceSource(tiny_checkpoint, resolver=resolver)


def _finite(target):
    return all(math.isfinite(v) for v in (target.reference_angle, target.reference_velocity,
                                          target.stiffness, target.confidence))


def test_implements_reference_source_protocol(source):
    # The shared base holds the compliant fallback; the protocol's methods are all there.
    assert isinstance(source, ReferenceSourceBase)
    assert all(callable(getattr(source, name)) for name in ReferenceSource.__dict__
               if not name.startswith('_'))
    ref: ReferenceSource = source
    assert ref.set_task_text('lift a heavy box', 0.0).task_id == 'lift_heavy'
    target = ref.reference(0.01, 0.4, 0.0)
    assert target.source == 'learned' and target.task_id == 'lift_heavy'
    assert target.stiffness > 0 and _finite(target) and target.confidence == 1.0


def test_no_text_and_unknown_text_give_fallback(source):
    target = source.reference(0.0, 0.7, 0.1)
    assert target.source == SOURCE_FALLBACK and target.reference_angle == 0.7
    assert source.set_task_text('do a backflip', 1.0) is None
    target = source.reference(1.01, 0.5, 0.0)
    assert target.source == SOURCE_FALLBACK
    assert target.reference_angle == 0.5 and target.reference_velocity == 0.0
    assert target.confidence == 0.0 and target.task_id == '' and target.stiffness == 2.0
    # A known task, then unknown text again: back to fallback.
    source.set_task_text('wave hello', 2.0)
    assert source.reference(2.01, 0.5).source == 'learned'
    source.set_task_text('', 3.0)
    assert source.reference(3.01, 0.5).source == SOURCE_FALLBACK


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_input_never_gives_nan(source, bad):
    source.set_task_text('drink from a cup', 0.0)
    for n in range(40):
        source.reference(n / 100, 0.5 + 0.01 * n, 0.2)
    for q, qd in ((bad, 0.0), (0.5, bad), (bad, bad)):
        target = source.reference(0.5, q, qd)
        assert _finite(target) and target.source == SOURCE_FALLBACK
    assert source.reference(0.5, 'garbage', None).source == SOURCE_FALLBACK
    # The bad samples did not enter the history: the policy runs again.
    target = source.reference(0.51, 0.9, 0.2)
    assert target.source == 'learned' and _finite(target)
    assert np.all(np.isfinite(source.history()))


def test_ring_buffer_pads_with_first_sample_and_slides(source):
    source.set_task_text('give a thumbs up', 0.0)
    source.reference(0.0, 0.3, 0.1)
    hist = source.history()
    assert hist.shape == (source.policy.history_steps, 2)
    np.testing.assert_allclose(hist, np.tile([0.3, 0.1], (len(hist), 1)), atol=1e-7)
    for n in range(1, 3 * len(hist)):
        source.reference(n / 100, 0.3 + n, 0.1)
    hist = source.history()
    n_last = 3 * len(hist) - 1
    np.testing.assert_allclose(hist[:, 0], 0.3 + np.arange(n_last - len(hist) + 1, n_last + 1),
                               rtol=1e-6)


def test_outputs_match_onnx_on_buffer_and_velocity_is_finite_difference(source):
    from exo_policy.runtime import LEAD_SMOOTHING_S, STIFFNESS_SMOOTHING_S  # noqa: PLC0415
    source.set_task_text('lift a light box', 0.0)
    prev = None
    k_filtered = None
    lead_filtered = None
    alpha = 1.0 - math.exp(-0.01 / STIFFNESS_SMOOTHING_S)
    alpha_lead = 1.0 - math.exp(-0.01 / LEAD_SMOOTHING_S)
    for n in range(30):
        q = 0.3 + 0.01 * n
        target = source.reference(n / 100, q, 1.0)
        q_d, k = source.policy(source.history()[None], source.policy.tokenizer.encode(
            'lift a light box')[None])
        # the lead: bounded, then the first-order low-pass; the reference is q + lead
        bound = source.policy.max_lead
        lead = float(np.clip(q_d[0] - q, -bound, bound))
        lead_filtered = lead if lead_filtered is None else (
            lead_filtered + alpha_lead * (lead - lead_filtered))
        # the stiffness: the first prediction, then the first-order low-pass of the rest
        k_filtered = float(k[0]) if k_filtered is None else (
            k_filtered + alpha * (float(k[0]) - k_filtered))
        # the assistance bound saturates the smoothed lead: |K lead| <= max_assist_torque
        torque_bound = source.max_assist_torque / k_filtered
        expected_q = float(np.clip(q + np.clip(lead_filtered, -torque_bound, torque_bound),
                                   0.0, 2.26893))
        assert target.reference_angle == pytest.approx(expected_q, abs=1e-6)
        assert target.stiffness == pytest.approx(k_filtered, rel=1e-5)
        if prev is not None:
            expected = (target.reference_angle - prev) / 0.01
            assert target.reference_velocity == pytest.approx(
                float(np.clip(expected, -10, 10)), abs=1e-3)
        else:
            assert target.reference_velocity == 0.0
        prev = target.reference_angle


def test_missing_checkpoint_is_reported(tmp_path, resolver):
    with pytest.raises(FileNotFoundError, match='policy_meta.json'):
        LearnedReferenceSource(tmp_path, resolver=resolver)


@pytest.mark.parametrize('checkpoint', ['default', 'ablation'])
def test_shipped_checkpoint_golden_outputs(checkpoint):
    """Golden outputs of both shipped checkpoints (regeneration: test module docstrings)."""
    directory = (default_checkpoint_dir() if checkpoint == 'default'
                 else ablation_checkpoint_dir())
    golden = json.loads((directory / GOLDEN_FILE).read_text())
    policy = OnnxPolicy(directory)
    inputs = golden_inputs(policy.history_steps)
    assert [g['text'] for g in golden] == [text for text, _ in inputs]
    for case, (text, history) in zip(golden, inputs, strict=True):
        np.testing.assert_allclose(history, np.asarray(case['history'], dtype=np.float32),
                                   atol=1e-6)
        q_d, k = policy(history[None], policy.tokenizer.encode(text)[None])
        assert float(q_d[0]) == pytest.approx(case['q_d'], abs=1e-4)
        assert float(k[0]) == pytest.approx(case['K'], rel=1e-4, abs=1e-3)
        assert case['K'] > 0


def test_shipped_checkpoint_is_small_and_sane(resolver):
    directory = default_checkpoint_dir()
    assert (directory / 'policy.onnx').stat().st_size < 4_000_000
    source = LearnedReferenceSource(resolver=resolver)
    source.set_task_text('lift a heavy box', 0.0)
    for n in range(200):
        target = source.reference(n / 100, 0.3 + 0.5 * math.sin(n / 50) ** 2, 0.0)
        assert _finite(target) and 0.0 <= target.reference_angle <= 2.26893
        assert 0 < target.stiffness < 1000


def test_the_assistance_torque_is_bounded(resolver):
    """A stiff policy leading by its whole max_lead asks for at most max_assist_torque.

    Stub head: K = 200 N*m/rad and q_d = q + 1 rad (clipped to max_lead = 0.12 rad, i.e.
    24 N*m); the reference comes out at q + 7 / 200 rad once the lead filter has risen, and
    the default bound is the documented MAX_ASSIST_TORQUE_NM.
    """
    from exo_policy.reference_source import MAX_ASSIST_TORQUE_NM  # noqa: PLC0415
    source = LearnedReferenceSource(resolver=resolver)
    assert source.max_assist_torque == MAX_ASSIST_TORQUE_NM
    real = source.policy

    class Stiff:
        history_steps, tokenizer, max_lead = real.history_steps, real.tokenizer, real.max_lead

        def __call__(self, history, tokens):
            q = float(history[0, -1, 0])
            return (np.array([q + 1.0], dtype=np.float32),
                    np.array([200.0], dtype=np.float32))

    source.policy = Stiff()
    source.set_task_text('lift a heavy box', 0.0)
    torques = []
    for n in range(100):
        q = 0.4 + 0.005 * n
        target = source.reference(n / 100, q, 0.5)
        torques.append(target.stiffness * (target.reference_angle - q))
    assert max(torques) <= MAX_ASSIST_TORQUE_NM + 1e-6
    assert torques[-1] == pytest.approx(MAX_ASSIST_TORQUE_NM, rel=1e-3)  # saturated
    with pytest.raises(ValueError, match='max_assist_torque'):
        LearnedReferenceSource(resolver=resolver, max_assist_torque=math.inf)


def test_the_predicted_stiffness_is_low_pass_filtered(resolver):
    """The stiffness reaches the controller low-pass filtered.

    A head that jumps between 10 and 200 N*m/rad every call gives a smooth first-order
    response (STIFFNESS_SMOOTHING_S), restarted after a fallback.
    """
    from exo_policy import runtime  # noqa: PLC0415
    source = LearnedReferenceSource(resolver=resolver)
    real = source.policy

    class Jumping:
        history_steps, tokenizer, max_lead = real.history_steps, real.tokenizer, real.max_lead

        def __init__(self):
            self.calls = 0

        def __call__(self, history, tokens):
            self.calls += 1
            q_d, _ = real(history, tokens)
            return q_d, np.array([10.0 if self.calls % 2 else 200.0], dtype=np.float32)

    source.policy = Jumping()
    source.set_task_text('lift a heavy box', 0.0)
    ks = [source.reference(n / 100, 0.5, 0.0).stiffness for n in range(200)]
    alpha = 1.0 - math.exp(-0.01 / runtime.STIFFNESS_SMOOTHING_S)
    steps = np.abs(np.diff(ks))
    assert ks[0] == pytest.approx(10.0)  # the first prediction passes unfiltered
    assert np.max(steps) <= alpha * 190.0 + 1e-3  # never the raw 190 N*m/rad jump
    assert 90.0 < np.mean(ks[100:]) < 120.0  # settles around the mean of the two values
    # a fallback (non-finite angle) bypasses the filter and restarts it
    assert source.reference(2.0, math.nan, 0.0).source == 'fallback'
    assert source.reference(2.01, 0.5, 0.0).stiffness in (pytest.approx(10.0),
                                                          pytest.approx(200.0))


def test_batched_inference_gives_the_policy_of_one_window_at_a_time():
    """The shipped policy on 8 windows in one call: each within float32 rounding of alone.

    A batch of one is the same call (no difference); the benchmark reports the times.
    """
    policy = OnnxPolicy()
    one = measure_batched_inference(policy, batch=1, calls=2)
    assert one['max_abs_diff'] == 0.0
    eight = measure_batched_inference(policy, batch=8, calls=2)
    assert 0.0 <= eight['max_abs_diff'] < 1e-3
    assert eight['single_us_per_row'] > 0.0 and eight['batch_us_per_row'] > 0.0
    with pytest.raises(ValueError, match='batch and calls'):
        measure_batched_inference(policy, batch=0)
