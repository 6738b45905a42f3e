"""Tests of the stop-command recogniser shared by every node that reads /task_text."""

import pytest

from exo_contract.stop_words import (
    is_stop_command,
    MAX_STOP_TEXT_WORDS,
    MAX_TEXT_CHARS,
    normalize_words,
    stop_word,
)
from exo_contract.tasks import TASKS
from exo_language.paraphrases import HELDOUT_PARAPHRASES, NON_TASK_SENTENCES, TRAIN_PARAPHRASES


@pytest.mark.parametrize('text, word', [
    ('stop', 'stop'),
    ('STOP', 'stop'),
    ('Stop!', 'stop'),
    ('  stop.  ', 'stop'),
    ('halt', 'halt'),
    ('HALT!!!', 'halt'),
    ('emergency stop', 'emergency stop'),
    ('EMERGENCY STOP', 'emergency stop'),
    ('Emergency-Stop!', 'emergency stop'),
    ('stop now', 'stop now'),
    ('Stop now!', 'stop now'),
    ('freeze', 'freeze'),
    ('FREEZE.', 'freeze'),
    ('e-stop', 'e stop'),
    ('E-Stop', 'e stop'),
    ('E.STOP', 'e stop'),
    ('estop', 'estop'),
    ('ESTOP', 'estop'),
    ('abort', 'abort'),
    ('STOOOOP', 'stop'),
    ('stopp', 'stop'),
    ('haaalt', 'halt'),
    ('please stop the exo', 'stop'),
    ('stop it, it hurts', 'it hurts'),
    ('ouch', 'ouch'),
    ('let go', 'let go'),
    ("don't stop", 'stop'),  # negation is not parsed: a false stop is the safe error
    ('\uff33\uff34\uff2f\uff30', 'stop'),  # fullwidth STOP
    ('st\u200bop', 'stop'),  # zero-width space inside the word
    ('Stóp', 'stop'),  # accent
    ('stop' + '!' * 5000, None),  # too long to be a short command
])
def test_stop_commands(text, word):
    assert stop_word(text) == word
    assert is_stop_command(text) == (word is not None)


@pytest.mark.parametrize('text', [
    '', '   ', '!!!', 'lift a heavy box', 'wave hello', 'stopwatch', 'nonstop',
    'bus stops here', 'go', 'pause', 'cancel', 'shut down',
    'lift the box onto the shelf and then stop when your arm is level with it',  # long
])
def test_not_stop_commands(text):
    assert not is_stop_command(text)


@pytest.mark.parametrize('value', [None, b'stop', 42, 3.5, ['stop'], {'data': 'stop'}])
def test_non_text_is_not_a_stop_command(value):
    assert stop_word(value) is None and not is_stop_command(value)
    assert normalize_words(value) == ()


def test_short_means_at_most_max_words():
    filler = ' '.join(['please'] * (MAX_STOP_TEXT_WORDS - 1))
    assert is_stop_command(f'{filler} stop')
    assert not is_stop_command(f'{filler} now stop')
    assert not is_stop_command('stop' + ' ' * MAX_TEXT_CHARS)


def test_no_task_instruction_is_a_stop_command():
    texts = [t for task in TASKS for t in (task.text, task.name, *task.aliases)]
    texts += [t for group in (TRAIN_PARAPHRASES, HELDOUT_PARAPHRASES)
              for paraphrases in group.values() for t in paraphrases]
    assert len(texts) > 100
    assert [t for t in texts if is_stop_command(t)] == []


def test_stop_among_the_non_task_sentences():
    stops = [t for t in NON_TASK_SENTENCES if is_stop_command(t)]
    assert 'stop' in stops
    # Words that end a task without being an emergency stay instructions (compliant fallback).
    assert not {'pause', 'cancel', 'shut down'} & set(stops)
