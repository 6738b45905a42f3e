"""Tests of the policy network, its loss, its ONNX export and its configuration."""

import json

import numpy as np
import pytest
import torch

from exo_policy.configuration import PolicyConfig, quick_config
from exo_policy.modeling import ExoPolicy, export_onnx, PhysicalPolicy, policy_loss
from exo_policy.processing import Normalizer

torch.set_num_threads(1)
VOCAB = 20
NORM = Normalizer(0.8, 0.5, 0.0, 0.8, -0.01, 0.03, 15.0, 150.0)


def _model(**overrides):
    torch.manual_seed(0)
    cfg = quick_config(**overrides)
    return ExoPolicy(cfg, VOCAB, k_init=10.0).eval(), cfg


def _inputs(cfg, batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    history = torch.randn(batch, cfg.history_steps, 2, generator=g)
    tokens = torch.randint(2, VOCAB, (batch, cfg.max_text_tokens), generator=g)
    tokens[:, 4:] = 0
    return history, tokens


def test_output_shapes():
    model, cfg = _model()
    history, tokens = _inputs(cfg, batch=5)
    q, k = model(history, tokens)
    assert q.shape == (5,) and k.shape == (5,)
    assert model.encode_proprio(history).shape == (5, cfg.history_steps, cfg.d_model)
    assert model.encode_text(tokens).shape == (5, cfg.max_text_tokens, cfg.d_model)


def test_stiffness_positive_even_for_extreme_inputs():
    model, cfg = _model()
    for scale in (1.0, 100.0, 1e4):
        history, tokens = _inputs(cfg, batch=8)
        with torch.no_grad():
            _, k = model(history * scale, tokens)
        assert torch.all(k > 0)


def test_stiffness_head_initialised_near_k_init():
    model, cfg = _model()
    with torch.no_grad():
        _, k = model(*_inputs(cfg))
    assert torch.allclose(k, torch.full_like(k, 10.0), rtol=0.5)


def test_convolutions_are_causal():
    model, cfg = _model()
    history, _ = _inputs(cfg, batch=1)
    changed = history.clone()
    cut = cfg.history_steps // 2
    changed[:, cut:] += 5.0
    with torch.no_grad():
        a = model.encode_proprio(history)
        b = model.encode_proprio(changed)
    assert torch.allclose(a[:, :cut], b[:, :cut], atol=1e-6)
    assert not torch.allclose(a[:, cut:], b[:, cut:], atol=1e-3)


def test_padding_tokens_do_not_change_the_output():
    model, cfg = _model()
    history, tokens = _inputs(cfg, batch=1)
    other = tokens.clone()
    other[:, 6:] = 0  # still padding from index 4 on: identical sequences of real tokens
    tokens[:, 4:] = 0
    with torch.no_grad():
        assert torch.allclose(model(history, tokens)[0], model(history, other)[0])
    all_pad = torch.zeros_like(tokens)
    with torch.no_grad():
        q, k = model(history, all_pad)
    assert torch.isfinite(q).all() and torch.isfinite(k).all()


def test_text_changes_the_output():
    model, cfg = _model()
    history, tokens = _inputs(cfg, batch=1)
    other = tokens.clone()
    other[:, 0] = (tokens[:, 0] + 1) % VOCAB + 2 * (tokens[:, 0] + 1 >= VOCAB)
    with torch.no_grad():
        assert not torch.allclose(model(history, tokens)[0], model(history, other)[0])


def test_loss_is_eq5():
    q = torch.tensor([1.0, 2.0])
    k = torch.tensor([3.0, 5.0])
    loss, parts = policy_loss(q, k, torch.tensor([0.0, 2.0]), torch.tensor([3.0, 3.0]), w1=0.5)
    assert parts['loss_q'] == pytest.approx(0.5)
    assert parts['loss_k'] == pytest.approx(2.0)
    assert float(loss) == pytest.approx(0.5 + 0.5 * 2.0)


def test_physical_wrapper_adds_current_angle():
    model, cfg = _model()
    history, tokens = _inputs(cfg, batch=2)
    wrapper = PhysicalPolicy(model, NORM)
    with torch.no_grad():
        q_norm, k_norm = model((history - wrapper.in_mean) / wrapper.in_std, tokens)
        q_d, k = wrapper(history, tokens)
    expected = history[:, -1, 0] + q_norm * NORM.dq_std + NORM.dq_mean
    assert torch.allclose(q_d, expected, atol=1e-6)
    assert torch.allclose(k, k_norm * NORM.k_scale)


def test_onnx_matches_torch(tmp_path):
    ort = pytest.importorskip('onnxruntime')
    model, cfg = _model()
    path = tmp_path / 'p.onnx'
    export_onnx(model, NORM, str(path))
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    names = [i.name for i in session.get_inputs()]
    assert names == ['history', 'tokens']
    for batch in (1, 4):
        history, tokens = _inputs(cfg, batch=batch, seed=batch)
        history = history * 0.3 + 0.8
        with torch.no_grad():
            q_t, k_t = PhysicalPolicy(model, NORM)(history, tokens)
        q_o, k_o = session.run(None, {'history': history.numpy(), 'tokens': tokens.numpy()})
        np.testing.assert_allclose(q_o, q_t.numpy(), atol=1e-5)
        np.testing.assert_allclose(k_o, k_t.numpy(), rtol=1e-5, atol=1e-4)


def test_config_json_round_trip(tmp_path):
    cfg = PolicyConfig(d_model=32, conv_dilations=(1, 3), attention_heads=2)
    again = PolicyConfig.from_json(cfg.to_json())
    assert again == cfg
    cfg.save(tmp_path / 'c.json')
    assert PolicyConfig.load(tmp_path / 'c.json') == cfg
    assert json.loads(cfg.to_json())['conv_dilations'] == [1, 3]


@pytest.mark.parametrize('bad, quoted', [
    ({'d_model': 30, 'attention_heads': 4}, '4'),
    ({'history_steps': 0}, '0'),
    ({'learning_rate': float('nan')}, 'nan'),
    ({'conv_dilations': ()}, '()'),
    ({'dropout': 1.5}, '1.5'),
    ({'epochs': 2.5}, '2.5'),
    ({'reference_target': 'virtual'}, "'virtual'"),
    ({'train_alphas': (1.0, float('nan'))}, 'nan'),
    ({'train_alphas': (-0.5,)}, '-0.5'),
    ({'train_alphas': (1.0, 1.0)}, '(1.0, 1.0)'),
    ({'train_alphas': '1'}, "'1'"),
])
def test_config_rejects_invalid_values_quoting_them(bad, quoted):
    with pytest.raises(ValueError, match=None) as err:
        PolicyConfig(**bad)
    assert quoted in str(err.value)


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match='bogus'):
        PolicyConfig.from_dict({'bogus': 1})


def test_config_reference_target_round_trips_and_defaults_to_the_assisting_target():
    default = PolicyConfig()
    assert default.reference_target == 'assist' and default.train_alphas == (0.5,)
    assert default.max_lead == pytest.approx(0.12)
    cfg = PolicyConfig(reference_target='human', train_alphas=(), max_lead=0.2)
    assert PolicyConfig.from_json(cfg.to_json()) == cfg
    # a checkpoint config written before the fields existed loads with the defaults
    old = cfg.to_dict()
    del old['reference_target'], old['train_alphas'], old['max_lead']
    assert PolicyConfig.from_dict(old) == PolicyConfig()
    for bad in (0.0, -0.1, float('nan'), 2.0):
        with pytest.raises(ValueError, match='max_lead'):
            PolicyConfig(max_lead=bad)
