"""Tests of the tokenizer, the normaliser and the history windows."""

import json

import numpy as np
import pytest

from exo_contract.tasks import TASKS
from exo_policy.processing import (
    history_windows,
    Normalizer,
    PAD_ID,
    split_words,
    UNK_ID,
    WordTokenizer,
)


def _tokenizer(max_len=8):
    return WordTokenizer.from_texts([t.text for t in TASKS], max_len)


def test_split_words_normalises():
    assert split_words('  Lift, a HEAVY box!! ') == ['lift', 'a', 'heavy', 'box']
    assert split_words("Don't   café") == ['dont', 'cafe']
    assert split_words(None) == []
    assert split_words('x' * 10_000) == ['x' * 500]


def test_tokenizer_round_trip():
    tok = _tokenizer()
    for task in TASKS:
        ids = tok.encode(task.text)
        assert ids.shape == (8,) and ids.dtype == np.int64
        assert tok.decode(ids) == ' '.join(split_words(task.text))
    assert tok.decode(tok.encode('Lift a HEAVY box!')) == 'lift a heavy box'


def test_tokenizer_unknown_padding_truncation():
    tok = _tokenizer(max_len=4)
    ids = tok.encode('lift a zebra')
    assert ids[2] == UNK_ID and ids[3] == PAD_ID
    assert np.count_nonzero(tok.encode('lift a heavy box with both hands now')) == 4
    for empty in ('', '!!!', None, 42, '\u4f60\u597d'):
        ids = tok.encode(empty)
        assert ids[0] == UNK_ID and np.all(ids[1:] == PAD_ID)
    assert tok.encode_batch(['wave hello', 'drink']).shape == (2, 4)


def test_tokenizer_save_load():
    tok = _tokenizer()
    again = WordTokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again.itos == tok.itos and again.max_len == tok.max_len
    np.testing.assert_array_equal(again.encode('give a thumbs up'), tok.encode('give a thumbs up'))


def test_tokenizer_rejects_bad_vocab():
    with pytest.raises(ValueError, match='two words'):
        WordTokenizer(['two words'], 4)
    with pytest.raises(ValueError, match='0'):
        WordTokenizer(['a'], 0)


def test_normalizer_round_trip():
    rng = np.random.default_rng(0)
    q = rng.normal(0.8, 0.4, 500)
    qd = rng.normal(0.0, 1.0, 500)
    q_ref = q + rng.normal(0.01, 0.02, 500)
    k = rng.uniform(20, 200, 500)
    norm = Normalizer.fit(q, qd, q_ref, k)
    hist = np.stack([q, qd], axis=1)[:32]
    np.testing.assert_allclose(norm.denormalize_history(norm.normalize_history(hist)), hist,
                               atol=1e-5)
    target = norm.normalize_qref(q_ref, q)
    assert abs(float(target.mean())) < 0.2 and abs(float(target.std()) - 1.0) < 0.2
    np.testing.assert_allclose(norm.denormalize_qref(target, q), q_ref, atol=1e-5)
    np.testing.assert_allclose(norm.denormalize_k(norm.normalize_k(k)), k, rtol=1e-5)
    assert norm.k_scale == pytest.approx(k.std(), rel=1e-6)
    again = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert again == norm


def test_normalizer_validates():
    with pytest.raises(ValueError, match='q_std'):
        Normalizer(0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match='nan'):
        Normalizer(float('nan'), 1.0, 0.0, 1.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match='no finite'):
        Normalizer.fit(np.array([np.nan]), np.zeros(1), np.zeros(1), np.ones(1))


def test_history_windows_pad_with_first_sample():
    x = np.arange(10, dtype=np.float32)[:, None] * np.array([[1.0, -1.0]], dtype=np.float32)
    w = history_windows(x, np.array([0, 2, 9]), 4)
    assert w.shape == (3, 4, 2)
    np.testing.assert_array_equal(w[0, :, 0], [0, 0, 0, 0])
    np.testing.assert_array_equal(w[1, :, 0], [0, 0, 1, 2])
    np.testing.assert_array_equal(w[2, :, 0], [6, 7, 8, 9])
