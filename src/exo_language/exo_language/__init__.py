"""The text front end of exo-vic: an instruction -> one of the nine tasks, or a refusal.

Modules by purpose: :mod:`~exo_language.encoders` (sentence encoders),
:mod:`~exo_language.lexicon` (word lists, emoji, canonical words and typo correction),
:mod:`~exo_language.rules` (refusals before the similarity test, the cue check),
:mod:`~exo_language.resolver` (:class:`TaskResolver`), :mod:`~exo_language.calibration`
(threshold and margin on the calibration set, report on the test set,
``exo_calibrate_language``) and :mod:`~exo_language.paraphrases` (the texts). Importing the
package loads neither torch nor sentence-transformers: MiniLM is loaded when an encoder
that needs it is built.
"""

from exo_language.encoders import ENCODERS, make_encoder, SentenceEncoder
from exo_language.lexicon import canonical_text
from exo_language.resolver import (
    CALIBRATION,
    METHOD_EXACT,
    METHOD_NONE,
    REASONS,
    REFUSED,
    Resolution,
    TaskResolver,
)

__all__ = ['CALIBRATION', 'canonical_text', 'ENCODERS', 'make_encoder', 'METHOD_EXACT',
           'METHOD_NONE', 'REASONS', 'REFUSED', 'Resolution', 'SentenceEncoder',
           'TaskResolver']
