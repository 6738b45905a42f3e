"""Vocabulary of the task resolver: word lists, emoji, canonical words and typo correction.

The word lists name what the rules (:mod:`exo_language.rules`) look for: negations,
question openers, body parts, verbs of other actions, and per task the words that name it
(:data:`TASK_CUES`) and those that contradict it (:data:`TASK_CONFLICTS`). They live here,
next to :func:`canonical_words`, because a typo is corrected to a word of those lists and
no word of them is ever taken for a typo. Words are those of
:func:`exo_contract.tasks.normalize_text` (lowercase, no punctuation, apostrophes dropped:
"don't" -> 'dont', filler words removed).
"""

from __future__ import annotations

from functools import lru_cache
import re
from typing import Any

from exo_contract.tasks import normalize_text, TASKS
from exo_language.paraphrases import training_texts

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
    """:func:`canonical_words` of the :func:`instruction_words` of the normalised text.

    Emoji are spelled out first; the result is one string.
    """
    if not isinstance(text, str):
        return ''
    words = instruction_words(tuple(normalize_text(spell_emoji(text)).split()))
    return ' '.join(canonical_words(words))



# ---------------------------------------------------------------------------------------
# Instructions only: what tells an instruction from narration, a statement, a question or an
# idiom that uses the same words ('the therapist waved at me', 'the box on the shelf is
# blue', 'shelve the idea'), in the voices a wearer hears or speaks (a therapist's, a lab
# protocol's, a non-native speaker's, a speech-to-text transcript).

#: Words before the verb of an instruction that do not change it ('um', 'step 3',
#: 'procedure', 'next', 'lovely'): dropped before the rules and the cue check.
DISCOURSE_WORDS = frozenset({
    'um', 'umm', 'uh', 'uhh', 'er', 'erm', 'ehm', 'hmm', 'mm', 'ah', 'oh', 'so', 'and', 'then',
    'next', 'first', 'firstly', 'finally', 'also', 'step', 'procedure', 'instruction', 'task',
    'lovely', 'great', 'good', 'nice', 'wonderful', 'perfect', 'excellent', 'brilliant',
    'well', 'again', 'ready',
})
#: Opening words of a clause that sets a condition before the instruction ('when you are
#: ready, lift the box'); the clause ends at the first of :data:`CONDITION_ENDS`.
SUBORDINATORS = frozenset({'when', 'whenever', 'once', 'if', 'as'})
CONDITION_ENDS = frozenset({'ready', 'can', 'able', 'set', 'want', 'like', 'wish',
                            'comfortable'})
#: Verbs of an instruction, in the base form the imperative takes ('lift', 'give', 'carry').
BASE_VERBS = frozenset({
    'lift', 'raise', 'pick', 'hoist', 'heave', 'grab', 'put', 'place', 'set', 'stack', 'store',
    'stow', 'stick', 'pop', 'shelve', 'move', 'transfer', 'bring', 'take', 'get', 'give',
    'make', 'show', 'do', 'form', 'flash', 'signal', 'present', 'hold', 'keep', 'extend',
    'point', 'turn', 'drink', 'sip', 'have', 'swallow', 'wave', 'say', 'greet', 'carry',
    'transport', 'haul', 'lug', 'walk', 'use', 'try', 'go', 'help', 'let', 'start', 'begin',
    'practise', 'practice', 'repeat', 'return', 'reach', 'bend', 'flex', 'tote',
})
#: Past forms: a subject and one of these is narration ('she lifted the box').
PAST_VERBS = frozenset({
    'lifted', 'raised', 'picked', 'hoisted', 'grabbed', 'placed', 'stacked', 'stored', 'stowed',
    'stuck', 'shelved', 'moved', 'transferred', 'brought', 'took', 'got', 'gave', 'made',
    'showed', 'did', 'formed', 'flashed', 'signalled', 'signaled', 'presented', 'held', 'kept',
    'extended', 'pointed', 'turned', 'drank', 'sipped', 'had', 'swallowed', 'waved', 'said',
    'greeted', 'carried', 'transported', 'hauled', 'lugged', 'walked', 'used', 'tried', 'went',
    'helped', 'started', 'began', 'practised', 'practiced', 'repeated', 'returned', 'reached',
    'came', 'threw', 'dropped', 'saw', 'told', 'felt', 'managed', 'wanted', 'needed',
    'asked', 'was', 'were', 'been', 'wasnt', 'werent', 'hadnt', 'didnt',
})
#: A subject and one of these states something ('the box is blue', 'a thumbs down means
#: no', 'this exercise uses both hands').
STATEMENT_VERBS = frozenset({
    'is', 'are', 'am', 'isnt', 'arent', 'youre', 'im', 'hes', 'shes', 'theyre', 'thats',
    'theres', 'means', 'mean', 'uses', 'weighs', 'looks', 'seems', 'sits', 'stands', 'belongs',
    'contains', 'likes', 'has', 'does', 'makes', 'gives', 'shows',
    'takes', 'holds', 'brings', 'lifts', 'carries', 'puts', 'says', 'gets', 'keeps', 'feels',
    'works', 'helps', 'moves', 'raises', 'picks', 'loves', 'hates', 'knows', 'thinks',
})
#: Subjects of a protocol step, whose present tense is the instruction ('next, the subject
#: lifts the box').
PROTOCOL_SUBJECTS = frozenset({'participant', 'subject', 'patient', 'wearer', 'user', 'client',
                               'volunteer'})
#: A text that opens with one of these is about someone else or something ('he put the box
#: on the shelf', 'my arm is tired'): never an instruction.
THIRD_PERSON = frozenset({'he', 'she', 'they', 'it', 'someone', 'somebody', 'everyone',
                          'everybody', 'nobody', 'people', 'his', 'her', 'their', 'my', 'our',
                          'its'})
#: Words of the intent 'i am going to' / 'we are about to' (after 'im', 'were', 'youre').
INTENT_WORDS = frozenset({'going', 'about', 'to', 'gonna'})
#: Pronouns whose base-form verb is an instruction or the wearer's intent ('you lift the
#: box', 'we lift the box now', 'i lift the heavy box').
INSTRUCTION_SUBJECTS = frozenset({'you', 'u', 'ya', 'we', 'i'})
#: Nouns that make a task's words an idiom: what is shelved, waved goodbye to, lifted or
#: given a thumbs up is an idea, a plan or a mood, not a box or a hand ('shelve the idea',
#: 'give the plan a thumbs down', 'lift the mood').
ABSTRACT_NOUNS = frozenset({
    'idea', 'ideas', 'plan', 'plans', 'project', 'projects', 'proposal', 'proposals',
    'decision', 'decisions', 'suggestion', 'suggestions', 'scheme', 'policy', 'system', 'deal',
    'offer', 'thought', 'thoughts', 'dream', 'dreams', 'mood', 'moods', 'spirit', 'spirits',
    'morale', 'game', 'matter', 'issue', 'issues', 'topic', 'discussion', 'conversation',
    'meeting', 'app', 'website', 'video', 'comment', 'review', 'song', 'news', 'future',
    'grudge', 'burden', 'responsibility', 'blame', 'bill', 'world', 'career', 'relationship',
})
#: Words after 'drink to' of a toast ('drink to that'), as opposed to the mouth.
TOAST_WORDS = frozenset({'that', 'this', 'it', 'him', 'her', 'them', 'us', 'you', 'health',
                         'success', 'friendship', 'life', 'love'})
#: A body part named as a height or a place ('to waist height', 'at shoulder level'), not
#: moved.
HEIGHT_WORDS = frozenset({'height', 'level', 'high', 'width'})

_MAX_CONDITION_WORDS = 8


def _drop_condition(words: tuple[str, ...], start: int) -> tuple[str, ...]:
    """``words`` without a condition clause that opens at ``start`` ('when you are ready')."""
    if start >= len(words) or words[start] not in SUBORDINATORS:
        return words
    for end in range(start + 1, min(start + _MAX_CONDITION_WORDS, len(words))):
        if words[end] in CONDITION_ENDS:
            if any(w in NEGATION_WORDS for w in words[start:end]):
                return words  # 'if you are not ready': the negation stays for the rules
            return words[:start] + words[end + 1:]
    return words


def instruction_words(words: tuple[str, ...]) -> tuple[str, ...]:
    """The words of the instruction in normalised ``words``.

    Leading discourse words ('um', 'step 3', 'next', 'lovely': :data:`DISCOURSE_WORDS`,
    numbers) and a condition clause before or after it ('when you are ready', 'if you can',
    'whenever you feel ready'; one with a negation is kept) are dropped: 'um step 2 when
    youre ready lift heavy box' -> ('lift', 'heavy', 'box').
    """
    i = 0
    while i < len(words) and (words[i] in DISCOURSE_WORDS or words[i].isdigit()):
        i += 1
    words = _drop_condition(words[i:], 0)
    while words and words[0] in DISCOURSE_WORDS:
        words = words[1:]
    for start in range(len(words) - 1, 0, -1):  # a trailing condition
        if words[start] in SUBORDINATORS:
            dropped = _drop_condition(words, start)
            if len(dropped) == start:
                return dropped
    return words
