"""Rules of the task resolver: refusals before the similarity test, and the cue check.

Rules checked before and after the similarity test. They only ever refuse: a wrong task
is worse than a refusal. Words are those of exo_contract.tasks.normalize_text (lowercase,
no punctuation, apostrophes dropped: "don't" -> 'dont', filler words removed).
"""

from __future__ import annotations

from exo_language.lexicon import (
    _CUE_WORDS,
    _LEADING,
    _NEGATED_STEMS,
    _NOT_TYPOS,
    _ONE,
    _one_edit,
    _REQUEST_MODALS,
    _SHELF,
    _SHELF_PREPOSITIONS,
    canonical_words,
    DEFERRAL_WORDS,
    MODALS,
    NEGATION_WORDS,
    OFFER_OPENERS,
    OTHER_ACTIONS,
    OTHER_BODY_PARTS,
    PRONOUNS,
    QUESTION_OPENERS,
    TASK_BODY_PARTS,
    TASK_CONFLICTS,
    TASK_CUES,
)


def _has_cue(words: tuple[str, ...], group: frozenset[str]) -> bool:
    """True when a word of ``words`` is in ``group``, or is a typo of one of its words.

    A word that is itself a cue or a conflict word of any task is never a typo ('heavy' is
    not 'heave').
    """
    if any(w in group for w in words):
        return True
    return any(len(w) >= 4 and w not in _NOT_TYPOS and w not in _CUE_WORDS and _one_edit(w, cue)
               for w in words for cue in group if len(cue) >= 4 and cue[0] == w[0])



def rule_refusal(words: tuple[str, ...]) -> str:
    """Reason to refuse the normalised ``words`` before any similarity, or ''.

    'negation' (a negation word, 'hold off', or 'no' first), 'question' (opens with a
    question word, an offer such as 'want', 'do' and a pronoun, or a modal verb that is not
    a request), 'other_body_part' (about a body part other than the arm and hand),
    'other_action' (the verb is one of :data:`OTHER_ACTIONS`). Stop commands are checked on
    the raw text (:func:`exo_contract.stop_words.is_stop_command`).
    """
    if not words:
        return 'invalid'
    pairs = zip(words[:-1], words[1:], strict=True)
    if words[0] == 'no' or any(w in NEGATION_WORDS for w in words) or any(
            (a in _NEGATED_STEMS and b == 't') or (a, b) == ('hold', 'off') for a, b in pairs):
        return 'negation'
    if words[0] in QUESTION_OPENERS:
        return 'question'
    if words[0] in OFFER_OPENERS or (words[0] == 'do' and words[1:2] and words[1] in PRONOUNS):
        return 'question'  # 'do you drink coffee', 'want a drink'
    if words[0] in MODALS and not (words[0] in _REQUEST_MODALS and words[1:2]
                                   and words[1] in {'i', 'we', 'u', 'ya'}):
        return 'question'  # 'can the box go on the shelf', 'should i wave'
    if any(w in OTHER_BODY_PARTS for w in words) and not any(w in TASK_BODY_PARTS
                                                             for w in words):
        return 'other_body_part'
    verb = next((w for w in words if w not in _LEADING), '')
    if verb in OTHER_ACTIONS:
        return 'other_action'
    return ''


def names_task(words: tuple[str, ...], task_id: str) -> bool:
    """True when ``words`` name what tells ``task_id`` from its neighbours.

    That is, in :func:`canonical_words` form, one alternative of :data:`TASK_CUES` is
    complete, no word of :data:`TASK_CONFLICTS` or :data:`DEFERRAL_WORDS` is present, a shelf
    is where something goes (a word of ``_SHELF_PREPOSITIONS`` at most three words before
    it, or 'shelve') and a carry is not one-handed.
    """
    words = canonical_words(words)
    conflicts = TASK_CONFLICTS.get(task_id, frozenset()) | DEFERRAL_WORDS
    if any(w in conflicts for w in words):
        return False
    if task_id == 'shelf' and 'shelve' not in words and 'shelved' not in words and not any(
            w in _SHELF and any(p in _SHELF_PREPOSITIONS for p in words[max(j - 3, 0):j])
            for j, w in enumerate(words)):
        return False  # the shelf is not where something goes ('move the shelf to the left')
    pairs = zip(words[:-1], words[1:], strict=True)
    if task_id == 'carry_bimanual' and any(a in _ONE and b in {'hand', 'arm'} for a, b in pairs):
        return False  # 'carry the box in your left hand' is not a bimanual carry
    return any(all(_has_cue(words, group) for group in alternative)
               for alternative in TASK_CUES[task_id])


