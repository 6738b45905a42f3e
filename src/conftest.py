"""Test scaffolding shared by every package: a private ROS domain, rclpy contexts, spinning.

Every test that talks over DDS runs on a domain of its own, never on 0 (the ROS default) nor
on 42 (the project's default domain, where a user's graph may be running): see
:func:`allocate_domain`. Nodes started as processes inherit it through ``ROS_DOMAIN_ID``.
"""

from __future__ import annotations

from collections.abc import Callable
import itertools
import os
import time

import pytest

#: Domains the tests use. Fast DDS maps domains 0-232 to ports; 42 is the project's default.
TEST_DOMAINS = tuple(d for d in range(100, 233) if d != 42)
_SEQUENCE = itertools.count()


def allocate_domain() -> int:
    """A ROS domain for one test.

    Spread by the process id, so that test runs side by side on one machine use different
    domains, and by a counter, so that consecutive tests of one run never share one (a node of
    the previous test can linger in discovery).
    """
    return TEST_DOMAINS[(os.getpid() * 37 + next(_SEQUENCE)) % len(TEST_DOMAINS)]


@pytest.fixture
def ros_domain(monkeypatch) -> int:
    """A private domain, also exported as ROS_DOMAIN_ID (localhost discovery) for processes."""
    domain = allocate_domain()
    monkeypatch.setenv('ROS_DOMAIN_ID', str(domain))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    return domain


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
