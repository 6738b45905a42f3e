"""Recognise a spoken/typed stop command in a short text (pure Python, no rclpy).

Every node that reads ``/task_text`` and can drive or shape an actuator uses this one
recogniser, so 'stop' means the same everywhere: controller_node latches its e-stop on it,
and a hardware bridge or policy_node may do the same.

A text is a stop command when, after normalisation, it is short (at most
:data:`MAX_STOP_TEXT_WORDS` words) and contains a stop word (:data:`STOP_WORDS`) or a stop
phrase (:data:`STOP_PHRASES`) as whole words. Normalisation: Unicode NFKC, invisible format
characters (zero-width space, soft hyphen, ...) removed, accents stripped, case folded,
every run of other characters than letters and digits turned into one space; a word also
matches when a letter is repeated ('STOOOP', 'stopp', 'haaalt'). So 'stop', 'STOP!!!',
'Halt.', 'emergency stop', 'stop now', 'freeze', 'e-stop', 'E-Stop', 'ESTOP' and
'please stop the exo' are stop commands.

Deliberate choices (a missed stop is worse than a false one):

* negations are not parsed: "don't stop" stops (a false stop only removes assistance);
* a long text (more than :data:`MAX_STOP_TEXT_WORDS` words, or more than
  :data:`MAX_TEXT_CHARS` characters) is an instruction, not a stop command, even when it
  mentions a stop word ('lift the box to the shelf and stop when ...');
* non-text input (None, bytes, numbers) is not a stop command.

None of the nine task texts, aliases or paraphrases contains a stop word (the tests check
it), so no task instruction is ever taken for a stop.
"""

from __future__ import annotations

import re
from typing import Any, Optional
import unicodedata

#: Single words that make a short text a stop command (compared after normalisation).
STOP_WORDS: frozenset[str] = frozenset({
    'stop', 'halt', 'freeze', 'abort', 'estop', 'emergency', 'ouch',
})
#: Multi-word phrases that make a short text a stop command ('e stop' is 'e-stop' after
#: normalisation; it also contains 'stop' but stays listed as the canonical spelling).
STOP_PHRASES: tuple[tuple[str, ...], ...] = (
    ('emergency', 'stop'), ('stop', 'now'), ('e', 'stop'), ('it', 'hurts'), ('let', 'go'),
)
#: A stop command is at most this many words long (after normalisation).
MAX_STOP_TEXT_WORDS = 12
#: Texts longer than this many characters are never stop commands (and are not scanned).
MAX_TEXT_CHARS = 4096

_NON_ALNUM = re.compile(r'[^0-9a-z]+')
_REPEATS = re.compile(r'(.)\1+')


def _squeeze(word: str) -> str:
    """``word`` with every run of one repeated character reduced to one ('stooop' -> 'stop')."""
    return _REPEATS.sub(r'\1', word)


_SQUEEZED_WORDS = {_squeeze(w): w for w in STOP_WORDS}
_SQUEEZED_PHRASES = {tuple(_squeeze(w) for w in p): ' '.join(p) for p in STOP_PHRASES}


def normalize_words(text: Any) -> tuple[str, ...]:
    """Return the lowercase ASCII words of ``text`` (empty for non-text or too long text).

    Never raises.
    """
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
        return ()
    text = unicodedata.normalize('NFKC', text)
    text = ''.join(ch for ch in text if unicodedata.category(ch) != 'Cf')
    text = unicodedata.normalize('NFKD', text)
    text = ''.join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = text.replace("'", '').replace('\u2019', '')
    return tuple(_NON_ALNUM.sub(' ', text).split())


def stop_word(text: Any) -> Optional[str]:
    """Return the stop word or phrase found in ``text`` if it is a stop command, else None.

    The returned value is the canonical spelling ('stop', 'emergency stop', ...), for logs.
    Never raises.
    """
    words = normalize_words(text)
    if not words or len(words) > MAX_STOP_TEXT_WORDS:
        return None
    squeezed = tuple(_squeeze(w) for w in words)
    for phrase, canonical in _SQUEEZED_PHRASES.items():
        n = len(phrase)
        for i in range(len(squeezed) - n + 1):
            if squeezed[i:i + n] == phrase:
                return canonical
    for word in squeezed:
        if word in _SQUEEZED_WORDS:
            return _SQUEEZED_WORDS[word]
    return None


def is_stop_command(text: Any) -> bool:
    """Return True when ``text`` is a short text containing a stop word or phrase."""
    return stop_word(text) is not None
