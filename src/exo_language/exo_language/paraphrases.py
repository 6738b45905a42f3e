"""Hand-written paraphrases of the nine task commands, and sentences that name no task.

* :data:`TRAIN_PARAPHRASES`: used for text augmentation during training, in the policy's
  vocabulary and in the :class:`~exo_language.resolver.TaskResolver`'s reference set.
* The resolver is measured on two disjoint sets, written separately and kept in
  ``exo_language/data/language_sets.json`` (:func:`load_language_sets`):

  - ``'calibration'``: the only texts :func:`exo_language.resolver.calibrate` reads to choose
    the threshold and margin;
  - ``'test'``: the only texts the reported accuracy comes from (written in one pass, in
    another voice, before anything was tuned, and not edited after seeing results).

  Each holds at least 10 paraphrases per task and at least 60 sentences that name no task,
  grouped by kind (other body parts, negations, other actions on the same objects,
  questions, stop commands, gibberish, unrelated commands); every one of those must be
  refused.
* Two more disjoint sets measure whether the resolver takes only instructions, on sentences
  written in other voices (a therapist's, a lab protocol's, a non-native speaker's,
  speech-to-text transcripts): instructions that name a task, and narration, statements,
  questions, idioms and other actions that must be refused (:data:`VOICE_SPLITS`, one file
  each in ``exo_language/data/``):

  - ``'voices_calibration'``: the only one of the two the rules were developed against;
  - ``'voices_test'``: written first, in one pass, and not edited after seeing results.

* :data:`HELDOUT_PARAPHRASES` and :data:`NON_TASK_SENTENCES`: the first held-out lists,
  kept for importers; they are part of the calibration set (the tests check it), never of
  the test set.

No paraphrase of either set equals a training paraphrase, canonical text or alias of the
task library (``exo_contract.tasks``), and no normalised text is in both sets; the tests
check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
import json
import random

TRAIN_PARAPHRASES: dict[str, tuple[str, ...]] = {
    'ok_gesture': (
        'show the okay sign', 'make an okay sign with your hand', 'do the ok hand sign',
        'form an ok with your fingers', 'give an ok signal', 'signal ok',
        'make the okay gesture', 'show me the ok hand gesture', 'gesture okay',
    ),
    'thumbs_up': (
        'thumbs up please', 'put your thumb up', 'raise your thumb',
        'show me a thumbs up sign', 'give me the thumbs up', 'do a thumbs up',
        'give a thumb up', 'make a thumbs up gesture', 'signal approval with your thumb',
    ),
    'thumb_down': (
        'put your thumb down', 'show a thumbs down sign', 'give me the thumbs down',
        'do a thumbs down', 'point your thumb down', 'make a thumbs down gesture',
        'signal disapproval with your thumb', 'thumbs down please',
    ),
    'drink': (
        'take a sip from the cup', 'drink some water', 'have a drink',
        'bring the cup to my mouth', 'sip from a mug', 'drink from a glass',
        'lift the cup and drink', 'have some water from the cup', 'take a drink of water',
    ),
    'wave': (
        'wave to someone', 'say goodbye with your hand', 'give a wave',
        'wave hi', 'wave at them', 'greet with a wave', 'wave your arm',
        'do a hello wave', 'say hi by waving',
    ),
    'lift_light': (
        'pick up the light crate', 'raise a light box', 'help me lift this light box',
        'lift the small light package', 'pick up a box that is light',
        'lift a lightweight box', 'raise the light package', 'grab and lift the light box',
        'lift an empty box',
    ),
    'shelf': (
        'place the box on the shelf', 'put the crate on the shelf',
        'lift the box onto the shelf', 'put a package up on the shelf',
        'store the box on a shelf', 'set the box on the rack', 'move the box onto the shelf',
        'stack the box on the shelf', 'help me put this box on the shelf',
    ),
    'lift_heavy': (
        'pick up the heavy crate', 'raise a heavy box', 'help me lift this heavy box',
        'lift the heavy package', 'pick up a box that is heavy', 'lift a weighty box',
        'raise the heavy crate', 'lift a big heavy box', 'grab and lift the heavy box',
    ),
    'carry_bimanual': (
        'carry the box using both arms', 'hold a box with both hands and carry it',
        'carry a crate with two hands', 'transport the box with both hands',
        'use both hands to carry the box', 'carry the package with both arms',
        'bring the box over with both hands', 'carry this box in both hands',
    ),
}

HELDOUT_PARAPHRASES: dict[str, tuple[str, ...]] = {
    'ok_gesture': ('signal that everything is ok', 'make an okay symbol with your fingers',
                   'show the ok hand signal', 'form the okay sign'),
    'thumbs_up': ('show your thumb pointing up', 'give the thumbs-up sign',
                  'hold your thumb up', 'thumbs up for me'),
    'thumb_down': ('show your thumb pointing down', 'give the thumbs-down sign',
                   'hold your thumb down', 'thumbs down for me'),
    'drink': ('drink from the mug', 'sip some water from a cup', 'bring the glass to your mouth',
              'have a drink from the cup'),
    'wave': ('wave hello to them', 'wave goodbye to me', 'give a friendly wave',
             'wave your hand to say hi'),
    'lift_light': ('lift up the light box', 'pick up the lightweight crate',
                   'raise the light box up', 'lift this light carton'),
    'shelf': ('put the box up onto the shelf', 'place the crate on a shelf',
              'put that box on the top shelf', 'shelve this box'),
    'lift_heavy': ('lift up the heavy box', 'pick up the heavy carton',
                   'raise the heavy box up', 'lift this heavy crate'),
    'carry_bimanual': ('carry the box in both hands', 'carry a box using two hands',
                       'hold the box with both hands and walk', 'carry the crate with both arms'),
}

NON_TASK_SENTENCES: tuple[str, ...] = (
    'do a backflip', 'what time is it', 'stop', 'play music', 'lift your leg',
    'turn on the lights', 'tell me a joke', 'open the door', 'go to sleep', 'run faster',
    'kick the ball', 'sit down', 'stand up', 'jump', 'write an email', 'call my mother',
    'what is the weather today', 'turn left', 'close the window', 'read a book',
    'cook dinner', 'walk forward', 'climb the stairs', 'dance', 'sing a song',
    'nod your head', 'blink twice', 'take a photo', 'type on the keyboard',
    'brush your teeth', 'tie your shoes', 'rotate your wrist', 'bend your knee',
    'open the fridge', 'how are you', 'shut down', 'pause', 'cancel', 'lorem ipsum dolor sit amet',
    'the quick brown fox jumps over the lazy dog',
)

FILLERS_BEFORE = ('please', 'can you', 'could you', 'hey exo', 'now', 'i want to', 'ok')
FILLERS_AFTER = ('please', 'now', 'for me', 'thanks')


def training_texts(task_id: str, canonical: str, aliases: tuple[str, ...] = ()) -> list[str]:
    """Canonical text, aliases and training paraphrases of one task (no held-out text)."""
    return [canonical, *aliases, *TRAIN_PARAPHRASES.get(task_id, ())]


def augment_text(rng: random.Random, task_id: str, canonical: str,
                 aliases: tuple[str, ...] = ()) -> str:
    """A random training variant of a task command.

    Picks the canonical text, an alias or a training paraphrase, then randomly adds filler
    words, changes the casing and adds punctuation.
    """
    text = rng.choice(training_texts(task_id, canonical, aliases))
    if rng.random() < 0.3:
        text = f'{rng.choice(FILLERS_BEFORE)} {text}'
    if rng.random() < 0.2:
        text = f'{text} {rng.choice(FILLERS_AFTER)}'
    r = rng.random()
    if r < 0.15:
        text = text.upper()
    elif r < 0.35:
        text = text.capitalize()
    if rng.random() < 0.3:
        text += rng.choice(('.', '!', '?', ' !', '...'))
    return text


#: Data file of the calibration and test sets (package data of exo_language).
LANGUAGE_SETS_FILE = 'data/language_sets.json'
#: Names of the two sets in :data:`LANGUAGE_SETS_FILE`.
SPLITS = ('calibration', 'test')


@dataclass(frozen=True)
class LanguageSet:
    """One set of texts that measures the resolver.

    Attributes:
        name: 'calibration' or 'test'.
        paraphrases: task id -> paraphrases of that task.
        non_task: kind ('negation', 'other_body_part', 'stop', ...) -> sentences that name
            no task and must be refused.

    """

    name: str
    paraphrases: dict[str, tuple[str, ...]]
    non_task: dict[str, tuple[str, ...]]

    def pairs(self) -> list[tuple[str, str]]:
        """(text, task_id) of every paraphrase."""
        return [(t, tid) for tid, texts in self.paraphrases.items() for t in texts]

    def non_task_sentences(self) -> list[tuple[str, str]]:
        """(text, kind) of every non-task sentence."""
        return [(t, kind) for kind, texts in self.non_task.items() for t in texts]

    def texts(self) -> list[str]:
        """Every text of the set (paraphrases, then non-task sentences)."""
        return [t for t, _ in self.pairs()] + [t for t, _ in self.non_task_sentences()]


@lru_cache(maxsize=None)
def load_language_sets() -> dict[str, LanguageSet]:
    """Read the calibration and the test set from :data:`LANGUAGE_SETS_FILE`."""
    raw = json.loads(resources.files('exo_language').joinpath(LANGUAGE_SETS_FILE)
                     .read_text(encoding='utf-8'))
    return {name: LanguageSet(
        name,
        {tid: tuple(texts) for tid, texts in raw[name]['paraphrases'].items()},
        {kind: tuple(texts) for kind, texts in raw[name]['non_task'].items()},
    ) for name in SPLITS}


#: Names of the two sets in other voices, each in its own file ``data/<name>.json``.
VOICE_SPLITS = ('voices_calibration', 'voices_test')


@lru_cache(maxsize=None)
def _load_voice_set(name: str) -> LanguageSet:
    """Read one set of :data:`VOICE_SPLITS` from its own file."""
    raw = json.loads(resources.files('exo_language').joinpath(f'data/{name}.json')
                     .read_text(encoding='utf-8'))
    return LanguageSet(name, {tid: tuple(texts) for tid, texts in raw['paraphrases'].items()},
                       {kind: tuple(texts) for kind, texts in raw['non_task'].items()})


def language_set(name: str) -> LanguageSet:
    """The 'calibration' or the 'test' set, or one of :data:`VOICE_SPLITS`."""
    if name in VOICE_SPLITS:
        return _load_voice_set(name)
    if name not in SPLITS:
        raise ValueError(f'language set must be one of {SPLITS + VOICE_SPLITS}, got {name!r}')
    return load_language_sets()[name]
