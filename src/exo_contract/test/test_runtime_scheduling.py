"""Real-time scheduling request of the 1 kHz nodes (exo_contract.runtime.request_realtime).

Each case runs in a fresh interpreter: a granted request changes the scheduling of the
whole process, which must not be pytest's.
"""

import os
import subprocess
import sys

PROBE = ('import os; from exo_contract.runtime import request_realtime, scheduling; '
         'granted, note = request_realtime({priority}); '
         'print(granted, os.sched_getscheduler(0) == os.SCHED_FIFO, scheduling(), "|", note)')


def _probe(priority: int, **env) -> tuple[bool, bool, str, str]:
    out = subprocess.run([sys.executable, '-c', PROBE.format(priority=priority)],
                         env={**os.environ, **env}, capture_output=True, text=True,
                         check=True, timeout=60).stdout.strip()
    head, note = out.split(' | ', 1)
    granted, fifo, sched = head.split(' ', 2)
    return granted == 'True', fifo == 'True', sched, note


def test_switched_off_by_the_environment():
    granted, fifo, sched, note = _probe(50, EXO_VIC_REALTIME='0')
    assert not granted and not fifo and sched == 'SCHED_OTHER'
    assert 'EXO_VIC_REALTIME=0' in note


def test_priority_zero_leaves_the_scheduling_alone():
    granted, fifo, sched, _ = _probe(0)
    assert not granted and not fifo and sched == 'SCHED_OTHER'


def test_the_report_says_what_the_process_got():
    """Granted (root, CAP_SYS_NICE) or refused: the note and the process agree, no raise."""
    granted, fifo, sched, note = _probe(10, EXO_VIC_REALTIME='1')
    assert granted == fifo
    if granted:
        assert sched == 'SCHED_FIFO 10' and note == 'SCHED_FIFO priority 10'
    else:
        assert sched == 'SCHED_OTHER' and 'normal priority' in note
