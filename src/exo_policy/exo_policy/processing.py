"""Pre/post-processing of the policy: word tokenizer, normalisation statistics, windowing.

Everything here travels with the checkpoint (``policy.pt`` and ``policy_meta.json``) and
has no torch dependency, so :mod:`exo_policy.runtime` runs with numpy + onnxruntime only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import math
import re
from typing import Any, Iterable
import unicodedata

import numpy as np

PAD = '<pad>'
UNK = '<unk>'
PAD_ID = 0
UNK_ID = 1
MAX_INPUT_CHARS = 500


def split_words(text: Any) -> list[str]:
    """Lowercase, strip accents and punctuation, split on whitespace. Never raises.

    Unlike :func:`exo_contract.tasks.normalize_text` filler words are kept: the policy sees them.
    """
    if not isinstance(text, str):
        return []
    text = unicodedata.normalize('NFKD', text[:MAX_INPUT_CHARS])
    text = ''.join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("'", '')
    return re.sub(r'[^0-9a-z]+', ' ', text).split()


class WordTokenizer:
    """Word-level tokenizer with a fixed output length.

    Ids: 0 = ``<pad>``, 1 = ``<unk>``, then the vocabulary in sorted order. Text with no
    word gives a single ``<unk>`` so that a sequence is never all padding.

    Args:
        vocab: the words (without the special tokens).
        max_len: L, length of every encoded sequence.

    """

    def __init__(self, vocab: Iterable[str], max_len: int) -> None:
        if not (isinstance(max_len, int) and max_len >= 1):
            raise ValueError(f'max_len must be an integer >= 1, got {max_len!r}')
        words = sorted({w for w in vocab if w not in (PAD, UNK)})
        for w in words:
            if not w or split_words(w) != [w]:
                raise ValueError(f'vocabulary entries must be normalised single words, got {w!r}')
        self.max_len = max_len
        self.itos: list[str] = [PAD, UNK, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], max_len: int) -> 'WordTokenizer':
        """Build the vocabulary from every word of ``texts``."""
        vocab: set[str] = set()
        for text in texts:
            vocab.update(split_words(text))
        return cls(vocab, max_len)

    @property
    def vocab_size(self) -> int:
        """Number of ids including the special tokens."""
        return len(self.itos)

    def encode(self, text: Any) -> np.ndarray:
        """Token ids (L,) int64, right-padded with 0 and truncated to L."""
        ids = [self.stoi.get(w, UNK_ID) for w in split_words(text)][:self.max_len] or [UNK_ID]
        out = np.zeros(self.max_len, dtype=np.int64)
        out[:len(ids)] = ids
        return out

    def encode_batch(self, texts: Iterable[str]) -> np.ndarray:
        """Token ids (B, L) int64."""
        return np.stack([self.encode(t) for t in texts]) if texts else np.zeros(
            (0, self.max_len), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        """Words of the non-padding ids joined by spaces (unknown ids -> ``<unk>``)."""
        words = [self.itos[i] if 0 <= i < len(self.itos) else UNK for i in map(int, ids)
                 if i != PAD_ID]
        return ' '.join(words)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible state."""
        return {'max_len': self.max_len, 'vocab': self.itos[2:]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'WordTokenizer':
        """Inverse of :meth:`to_dict`."""
        return cls(data['vocab'], int(data['max_len']))


@dataclass(frozen=True)
class Normalizer:
    """Normalisation statistics of the policy's inputs and targets (training split).

    Inputs ``(q, qd)`` are standardised ``(x - mean) / std``. The angle target is the offset
    of the reference from the current exo angle, ``dq = q_ref(t) - q_exo(t)``, standardised
    (the reference stays within a few hundredths of a radian of the exo angle, so this is a
    far better conditioned target than q_ref itself; the exported graph adds q_exo(t) back).
    The stiffness is only scaled, ``K / k_scale``, so that positivity is preserved.

    Attributes:
        q_mean, q_std: exo angle, rad. qd_mean, qd_std: exo velocity, rad/s.
        dq_mean, dq_std: reference offset q_ref - q_exo, rad. k_scale: stiffness scale,
        N*m/rad. k_mean: mean stiffness, N*m/rad (initialises the stiffness head).

    """

    q_mean: float
    q_std: float
    qd_mean: float
    qd_std: float
    dq_mean: float
    dq_std: float
    k_scale: float
    k_mean: float = 1.0

    def __post_init__(self) -> None:
        """All finite, scales > 0."""
        for name, value in asdict(self).items():
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f'{name} must be finite, got {value!r}')
        for name in ('q_std', 'qd_std', 'dq_std', 'k_scale', 'k_mean'):
            if getattr(self, name) <= 0:
                raise ValueError(f'{name} must be > 0, got {getattr(self, name)!r}')

    @classmethod
    def fit(cls, q: np.ndarray, qd: np.ndarray, q_ref: np.ndarray, k: np.ndarray,
            k_scale: float = 0.0, eps: float = 1e-3) -> 'Normalizer':
        """Statistics of aligned 1-D arrays (non-finite entries ignored).

        ``k_scale`` 0 = the std of k.
        """
        def stats(x: np.ndarray) -> tuple[float, float]:
            x = np.asarray(x, dtype=float)
            x = x[np.isfinite(x)]
            if x.size == 0:
                raise ValueError('cannot fit normalisation statistics on no finite data')
            return float(x.mean()), max(float(x.std()), eps)

        q_m, q_s = stats(q)
        qd_m, qd_s = stats(qd)
        d_m, d_s = stats(np.asarray(q_ref, dtype=float) - np.asarray(q, dtype=float))
        k_m, k_s = stats(k)
        return cls(q_m, q_s, qd_m, qd_s, d_m, d_s, float(k_scale) if k_scale > 0 else k_s,
                   max(k_m, eps))

    def normalize_history(self, history: np.ndarray) -> np.ndarray:
        """(..., 2) physical ``(q, qd)`` -> (..., 2) normalised, float32."""
        mean = np.array([self.q_mean, self.qd_mean], dtype=np.float32)
        std = np.array([self.q_std, self.qd_std], dtype=np.float32)
        return ((np.asarray(history, dtype=np.float32) - mean) / std).astype(np.float32)

    def denormalize_history(self, history: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`normalize_history`."""
        mean = np.array([self.q_mean, self.qd_mean], dtype=np.float32)
        std = np.array([self.q_std, self.qd_std], dtype=np.float32)
        return (np.asarray(history, dtype=np.float32) * std + mean).astype(np.float32)

    def normalize_qref(self, q_ref: np.ndarray, q_now: np.ndarray) -> np.ndarray:
        """Reference angle (rad) given the current exo angle (rad) -> normalised target."""
        dq = np.asarray(q_ref, dtype=np.float32) - np.asarray(q_now, dtype=np.float32)
        return ((dq - self.dq_mean) / self.dq_std).astype(np.float32)

    def denormalize_qref(self, q_norm: np.ndarray, q_now: np.ndarray) -> np.ndarray:
        """Normalised target and current exo angle (rad) -> reference angle, rad."""
        return (np.asarray(q_now, dtype=np.float32) + np.asarray(q_norm, dtype=np.float32)
                * self.dq_std + self.dq_mean).astype(np.float32)

    def normalize_k(self, k: np.ndarray) -> np.ndarray:
        """Stiffness, N*m/rad -> units of ``k_scale``."""
        return (np.asarray(k, dtype=np.float32) / self.k_scale).astype(np.float32)

    def denormalize_k(self, k_norm: np.ndarray) -> np.ndarray:
        """Units of ``k_scale`` -> N*m/rad."""
        return (np.asarray(k_norm, dtype=np.float32) * self.k_scale).astype(np.float32)

    def to_dict(self) -> dict[str, float]:
        """JSON-compatible state."""
        return {key: float(val) for key, val in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'Normalizer':
        """Inverse of :meth:`to_dict`."""
        return cls(**{key: float(val) for key, val in data.items()})


def history_windows(x: np.ndarray, ends: np.ndarray, history_steps: int) -> np.ndarray:
    """Windows of an episode's samples ending at ``ends`` (inclusive), padded at the start.

    Args:
        x: (N, D) samples of one episode in time order.
        ends: (W,) indices in [0, N) of the last (current) step of each window.
        history_steps: T.

    Returns:
        (W, T, D): ``x[e-T+1 .. e]``; indices before 0 repeat the first sample (as the
        runtime's ring buffer does at start-up).

    """
    x = np.asarray(x)
    ends = np.asarray(ends, dtype=np.int64)
    idx = np.clip(ends[:, None] + np.arange(-history_steps + 1, 1)[None, :], 0, None)
    return x[idx]
