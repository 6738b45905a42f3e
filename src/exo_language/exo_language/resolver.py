"""Language robustness: map a free-text instruction to one of the nine tasks, or to none.

:class:`TaskResolver` resolves a command in these steps; every step after the first can only
refuse, because a wrong task is worse than a refusal:

1. an exact match after :func:`exo_contract.tasks.normalize_text` (canonical text, alias, id,
   name, 'mission N'; :func:`exo_contract.tasks.find_task`) -> that task, confidence 1;
2. rules on the words (:func:`exo_language.rules.rule_refusal`): a stop command
   (:func:`exo_contract.stop_words.is_stop_command`: handled elsewhere as an e-stop, never
   a task), a negation ('don't lift the box', 'quit waving'), a question or an offer ('how
   heavy is the box', 'do you drink coffee', 'can the box go on the shelf', 'want a
   drink'), a text about another body part than the arm and hand ('bend your knee') or one
   that opens with the verb of another action on the same objects ('open the crate', 'wash
   the mug') is refused, and so is a text that is not an instruction
   (:func:`exo_language.rules.mood_refusal`: narration 'the therapist waved at me', a
   statement 'the box on the shelf is blue', a question mark after a text that is not a
   request, an idiom 'shelve the idea'); discourse words and a condition clause ('um, step
   3, when you are ready, ...': :func:`exo_language.lexicon.instruction_words`) are dropped
   first;
3. the words are put in canonical form (:func:`exo_language.lexicon.canonical_words`):
   slang and short forms spelled out ('gimme', 'ur', gesture emoji), a typo of a task word
   corrected ('hevy', 'thunbs', 'shlef'), synonyms of the words that tell the tasks apart
   replaced by one of them ('crate', 'parcel' -> 'box'; 'mug' -> 'cup'; 'raise', 'hoist',
   'pick' -> 'lift'; 'sip', 'swig' -> 'drink'; 'lightweight' -> 'light'; '10 kg' ->
   'heavy'; ...);
4. the candidate tasks are those whose words the text says, with nothing that contradicts
   them (:func:`exo_language.rules.names_task`: a thumb and 'up', not 'down'; a lift verb
   and 'light', not 'heavy'; a box put *on* a shelf, not the shelf moved or a box taken
   off it; a carry of something, not 'carry a tune'). Similarity alone puts 'point your
   thumb upward' next to 'point your thumb down' and 'push the heavy box' next to 'lift a
   heavy box';
5. the canonical text is embedded by a frozen sentence encoder and compared (cosine
   similarity) with the embeddings of every task's canonical text, aliases, name and
   training paraphrases (:mod:`exo_language.paraphrases`), in canonical form, computed once
   at construction; the best similarity per task is that of its nearest reference. The most
   similar candidate task is kept when its similarity is at least ``threshold`` and beats
   every other candidate by at least ``margin`` (a sole candidate beats none: its margin is
   1);
6. anything else (no candidate, too far, ambiguous) -> None (unknown text is never
   guessed), confidence 0, with the reason in :attr:`Resolution.reason`.

The encoders are in :mod:`exo_language.encoders`, the threshold and margin per encoder
(:data:`CALIBRATION`) are chosen by :func:`exo_language.calibration.calibrate`. Input of
any kind (empty, garbage, huge, non-ASCII, not a string) never raises: it resolves to None.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import Any

import numpy as np

from exo_contract.stop_words import is_stop_command
from exo_contract.tasks import (
    find_task,
    MAX_COMMAND_CHARS,
    normalize_text,
    Task,
    TASKS,
    TASKS_BY_ID,
)
from exo_language.encoders import make_encoder, SentenceEncoder
from exo_language.lexicon import canonical_text, canonical_words, instruction_words, spell_emoji
from exo_language.paraphrases import training_texts
from exo_language.rules import mood_refusal, names_task, rule_refusal

LOGGER = logging.getLogger(__name__)

# (threshold, margin) per encoder, chosen by calibrate() on the calibration set only:
#   exo_calibrate_language --out language_report   (= python -m exo_language.calibration)
# Calibration set (534 paraphrases, 344 non-task sentences), with these values:
#   hybrid  532 right, 0 wrong task, 2 refused ('wve hello': no wave word; "thumb down if
#           you're not ready": a negation); 344/344 non-task refused. No non-task sentence of
#           the set passes the rules and names_task, so the threshold is the lowest
#           similarity of a paraphrase it accepts ('quench your thirst', 0.232): the rules and
#           the words decide whether a text names a task, the similarity which of the tasks
#           it names (a margin of 0.14 between two candidates).
#   minilm  532 right, 0 wrong task, 2 refused; 344/344 non-task refused.
#   lexical 532 right, 0 wrong task, 2 refused; 344/344 non-task refused (threshold 0:
#           'quench your thirst' shares no word or 3-gram with a drink reference).
# The test sets' numbers are written by exo_calibrate_language (docs/learning.md, Language).
CALIBRATION = {
    'hybrid': (0.232, 0.14),
    'minilm': (0.4242, 0.17),
    'lexical': (0.0, 0.105),
}
METHOD_EXACT = 'exact'
METHOD_NONE = 'none'

#: Refusal reasons of :class:`Resolution` (before the similarity test: invalid, stop,
#: negation, question, other_body_part, other_action; after it: threshold, margin, cue).
REASONS = ('invalid', 'stop', 'negation', 'question', 'other_body_part', 'other_action',
           'threshold', 'margin', 'cue', 'idiom', 'narration', 'statement')
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
        margin: similarity gap to the best other candidate task (1 when no other task's
            words are in the text; for a text that names no task, the gap between its two
            nearest tasks; 0 if none was computed).
        reason: why the text was refused ('' when accepted): one of :data:`REASONS`.

    """

    task: Task | None
    confidence: float
    method: str
    nearest_task_id: str = ''
    similarity: float = 0.0
    margin: float = 0.0
    reason: str = ''


REFUSED = Resolution(None, 0.0, METHOD_NONE)

@dataclass(frozen=True)
class _Analysis:
    """What :meth:`TaskResolver.resolve` knows about a text before its threshold and margin."""

    exact: Task | None = None
    rule: str = ''
    nearest: str = ''
    similarity: float = 0.0
    gap: float = 0.0
    cue: bool = False


class TaskResolver:
    """Free text -> task or None with a confidence (see the module docstring).

    Args:
        encoder: an encoder object, or 'auto' / 'hybrid' / 'minilm' / 'lexical'.
        threshold: minimum cosine similarity (default: calibrated for the encoder).
        margin: minimum gap to the best other candidate task (default: calibrated).

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
            for text in dict.fromkeys(canonical_text(t) for t in refs):
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
        """Name of the encoder in use ('hybrid', 'minilm' or 'lexical')."""
        return self.encoder.name

    def scores(self, text: str) -> np.ndarray:
        """Best cosine similarity per task (9,), in mission order, for ``text``."""
        emb = self.encoder.encode([canonical_text(text)])[0]
        sims = self._embeddings @ emb
        best = np.full(len(self._task_ids), -1.0)
        np.maximum.at(best, self._label_index, sims)
        return best

    def _analyse(self, text: Any) -> _Analysis:
        """Exact match, rules, nearest task and its similarity; no threshold applied."""
        if not isinstance(text, str) or len(text) > MAX_COMMAND_CHARS:
            return _Analysis(rule='invalid')
        task = find_task(text)
        if task is not None:
            return _Analysis(exact=task)
        if is_stop_command(text):
            return _Analysis(rule='stop')
        words = instruction_words(tuple(normalize_text(spell_emoji(text)).split()))
        norm = ' '.join(words)
        rule = rule_refusal(words) or mood_refusal(spell_emoji(text), words)
        if rule:
            return _Analysis(rule=rule)
        best = self.scores(norm)
        if not np.all(np.isfinite(best)):
            return _Analysis(rule='invalid')
        canon = canonical_words(words)
        named = np.array([names_task(canon, tid) for tid in self._task_ids])
        if not named.any():  # no candidate: refused; the nearest task is reported
            order = np.argsort(best)[::-1]
            sim, second = float(best[order[0]]), float(best[order[1]])
            return _Analysis(nearest=self._task_ids[int(order[0])], similarity=sim,
                             gap=sim - second, cue=False)
        candidates = np.where(named, best, -np.inf)
        i = int(np.argmax(candidates))
        second = float(np.delete(candidates, i).max())
        sim = float(best[i])
        return _Analysis(nearest=self._task_ids[i], similarity=sim,
                         gap=sim - second if np.isfinite(second) else 1.0, cue=True)

    def _decide(self, a: _Analysis, threshold: float, margin: float) -> Resolution:
        """Apply ``threshold``, ``margin`` and the cue check to an analysis."""
        if a.exact is not None:
            return Resolution(a.exact, 1.0, METHOD_EXACT, a.exact.task_id, 1.0, 1.0)
        if a.rule:
            return Resolution(None, 0.0, METHOD_NONE, reason=a.rule)
        reason = ('cue' if not a.cue else 'threshold' if a.similarity < threshold
                  else 'margin' if a.gap < margin else '')
        if reason:
            return Resolution(None, 0.0, METHOD_NONE, a.nearest, a.similarity, a.gap, reason)
        return Resolution(TASKS_BY_ID[a.nearest], float(min(max(a.similarity, 0.0), 1.0)),
                          self.encoder.name, a.nearest, a.similarity, a.gap)

    def resolve(self, text: Any) -> Resolution:
        """Resolve ``text``; never raises (any failure -> refused)."""
        try:
            return self._decide(self._analyse(text), self.threshold, self.margin)
        except Exception as exc:  # noqa: BLE001 -- a bad command must never crash the caller
            LOGGER.warning('task resolution failed (%s); treating the text as unknown', exc)
            return REFUSED

    def __call__(self, text: Any) -> Task | None:
        """The resolved task or None."""
        return self.resolve(text).task
