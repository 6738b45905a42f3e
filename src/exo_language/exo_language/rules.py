"""Rules of the task resolver: refusals before the similarity test, and the cue check.

Rules checked before and after the similarity test. They only ever refuse: a wrong task
is worse than a refusal. Words are those of exo_contract.tasks.normalize_text (lowercase,
no punctuation, apostrophes dropped: "don't" -> 'dont', filler words removed).
"""

from __future__ import annotations

import re

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
    ABSTRACT_NOUNS,
    BASE_VERBS,
    canonical_words,
    DEFERRAL_WORDS,
    HEIGHT_WORDS,
    INSTRUCTION_SUBJECTS,
    INTENT_WORDS,
    MODALS,
    NEGATION_WORDS,
    OFFER_OPENERS,
    OTHER_ACTIONS,
    OTHER_BODY_PARTS,
    PAST_VERBS,
    PRONOUNS,
    PROTOCOL_SUBJECTS,
    QUESTION_OPENERS,
    STATEMENT_VERBS,
    TASK_BODY_PARTS,
    TASK_CONFLICTS,
    TASK_CUES,
    THIRD_PERSON,
    TOAST_WORDS,
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
    parts = [w for j, w in enumerate(words)  # 'to waist height' names a height, not a part
             if w in OTHER_BODY_PARTS and words[j + 1:j + 2] not in HEIGHT_PAIRS]
    if parts and not any(w in TASK_BODY_PARTS for w in words):
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



HEIGHT_PAIRS = tuple((w,) for w in HEIGHT_WORDS)
# A question mark ends a request when the text opens as one ('could you lift the box?').
_REQUEST = re.compile(r'^\W*(?:(?:hey|ok|okay|so|um|uh|er|now|please)\W+)*'
                      r'(?:please\b|(?:can|could|would|will)\s+(?:you|u|ya)\b'
                      r'|(?:can|could|may)\s+(?:i|we)\s+(?:get|have|see)\b)')
def mood_refusal(text: str, words: tuple[str, ...]) -> str:
    """Reason to refuse a text that is not an instruction, or ''.

    ``text`` is the raw text, ``words`` its
    :func:`exo_language.lexicon.instruction_words`. An instruction opens
    with the verb ('lift the box', 'give me a thumbs up'), with 'you' / 'we' / 'i' and the
    verb ('you lift the box', the wearer's 'i lift the heavy box'), or has no verb at all
    ('thumbs up for me'); a protocol step names its subject ('next, the participant lifts
    the box'). Refused:

    * 'question': a question mark after a text that does not open as a request ('you want
      i lift the box?', 'the box is heavy or light?'; not 'could you lift the box?');
    * 'idiom': a task's words about an idea, a plan or a mood (:data:`ABSTRACT_NOUNS`:
      'shelve the idea', 'give the plan a thumbs down'), or a toast ('drink to that');
    * 'narration': a subject and a past form before any instruction verb ('the therapist
      waved at me', 'i had a drink earlier');
    * 'statement': a subject and a present form ('the box on the shelf is blue', 'a thumbs
      down means no', 'he puts the box on the shelf'), or a task's noun used as a subject
      ('the carry task uses both hands').
    """
    if text.rstrip().endswith('?') and not _REQUEST.match(text.lower()):
        return 'question'
    if any(w in ABSTRACT_NOUNS for w in words) or any(
            (a, b) == ('drink', 'to') and c in TOAST_WORDS
            for a, b, c in zip(words, words[1:], words[2:], strict=False)):
        return 'idiom'
    if not words:
        return ''
    first = words[0]
    if first in BASE_VERBS:
        # 'the carry task uses both hands': a noun, then a present form.
        nxt = words[1:3]
        if (nxt[:1] and (nxt[0] in STATEMENT_VERBS or nxt[0] in PAST_VERBS)) or (
                len(nxt) == 2 and nxt[0] in _TASK_NOUNS
                and (nxt[1] in STATEMENT_VERBS or nxt[1] in PAST_VERBS)):
            return 'statement'
        return ''
    rest = words
    if first in INSTRUCTION_SUBJECTS or first in {'im', 'were', 'youre'}:
        rest = words[1:]
        while rest and rest[0] in INTENT_WORDS:
            rest = rest[1:]
        if rest and rest[0] in BASE_VERBS:
            return ''  # 'you lift the box', 'im going to lift the heavy box'
    for j, w in enumerate(words):
        if w in BASE_VERBS and first not in THIRD_PERSON:
            return ''  # 'with both hands carry the box'
        if w in PAST_VERBS:
            return 'narration'
        if w in STATEMENT_VERBS:
            protocol = any(x in PROTOCOL_SUBJECTS for x in words[:j])
            if protocol and w not in _COPULAS and j <= 2:
                return ''  # 'participant lifts the box': a protocol step
            return 'statement'
    return 'statement' if first in THIRD_PERSON else ''


_COPULAS = frozenset({'is', 'are', 'am', 'isnt', 'arent', 'youre', 'im', 'hes', 'shes',
                      'theyre', 'thats', 'theres'})
# Nouns a task's verb names when it is a noun ('the carry task', 'the lift test').
_TASK_NOUNS = frozenset({'task', 'tasks', 'test', 'tests', 'exercise', 'exercises', 'trial',
                         'trials', 'movement', 'movements', 'session', 'practice', 'step',
                         'steps', 'part', 'bit', 'gesture', 'sign'})
