"""Test scaffolding shared by every package: a private ROS domain, rclpy contexts, spinning.

Every test that talks over DDS runs on a domain of its own, never on 0 (the ROS default) nor
on 42 (the project's default domain, where a user's graph may be running): see
:func:`allocate_domain`, which also keeps two test runs on one machine apart. Nodes started
as processes inherit it through ``ROS_DOMAIN_ID``.
"""

from __future__ import annotations

from collections.abc import Callable
import fcntl
import itertools
import os
from pathlib import Path
import tempfile
import time

import pytest

#: Domains the tests use. Fast DDS maps domains 0-232 to ports; 42 is the project's default.
TEST_DOMAINS = tuple(d for d in range(100, 233) if d != 42)
_SEQUENCE = itertools.count()


#: Held domains: one lock file per domain, so that test runs side by side on one machine (two
#: checkouts, a developer's and CI's) never share a domain while a test holds it.
LOCK_DIR = Path(tempfile.gettempdir()) / 'exo-vic-test-domains'


def allocate_domain() -> tuple[int, object]:
    """A ROS domain for one test and the open lock file that holds it (close to release).

    Tried from an offset spread by the process id and a per-process counter (consecutive tests
    of one run take different domains: a node of the previous test can linger in discovery);
    a domain another process holds is skipped.
    """
    LOCK_DIR.mkdir(exist_ok=True)
    start = os.getpid() * 37 + next(_SEQUENCE)
    for i in range(len(TEST_DOMAINS)):
        domain = TEST_DOMAINS[(start + i) % len(TEST_DOMAINS)]
        handle = open(LOCK_DIR / f'{domain}.lock', 'w')  # noqa: SIM115 (held by the caller)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        return domain, handle
    raise RuntimeError(f'every test domain in {TEST_DOMAINS[0]}-{TEST_DOMAINS[-1]} is held')


@pytest.fixture
def ros_domain(monkeypatch):
    """A private domain, also exported as ROS_DOMAIN_ID (localhost discovery) for processes."""
    domain, lock = allocate_domain()
    monkeypatch.setenv('ROS_DOMAIN_ID', str(domain))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    yield domain
    lock.close()


@pytest.fixture
def ros_context(ros_domain):
    """An initialised rclpy context on the test's private domain, shut down afterwards."""
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ros_domain)
    yield context
    context.try_shutdown()


def spin_until(executor, predicate: Callable[[], bool], timeout: float, what: str = 'condition',
               spin_timeout: float = 0.01, each: Callable[[], None] | None = None) -> None:
    """Spin ``executor`` until ``predicate()`` holds, at most ``timeout`` seconds.

    AssertionError naming ``what`` when the time is over; ``each`` runs before every spin
    (e.g. to publish a sample). The timeouts are generous deadlines against a hang, not
    timing requirements.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f'not reached within {timeout} s: {what}'
        if each is not None:
            each()
        executor.spin_once(timeout_sec=spin_timeout)


@pytest.fixture(name='spin_until')
def spin_until_fixture() -> Callable[..., None]:
    """:func:`spin_until` for tests (``spin_until(executor, predicate, timeout, what)``)."""
    return spin_until
