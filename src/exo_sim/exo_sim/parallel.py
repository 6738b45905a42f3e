"""Run independent jobs on local worker processes or on a Ray cluster.

:func:`map_jobs` is the one way data generation, the evaluation grid and parameter sweeps
spread their jobs: in this process (``workers == 1``), on a local ``multiprocessing`` pool
(spawn), or, given ``ray_address``, as Ray tasks on a cluster (``'auto'``: the cluster this
machine belongs to; ``'ray://host:10001'``: a remote one; ``'local'``: a fresh local
Ray instance). Ray is imported only when an address is given. Every job is a pure function
of its arguments, so the results do not depend on where, in which order or on how many
workers they ran; callers sort them by their own keys. How to start a cluster:
``docs/cluster.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
import multiprocessing
import os
from typing import Any


def _ray_tasks(fn: Callable[[Any], Any], jobs: list, ray_address: str,
               chunksize: int) -> Iterator[Any]:
    try:
        import ray  # noqa: PLC0415 -- optional: only with --ray-address
    except ImportError as err:
        raise RuntimeError(f'--ray-address {ray_address!r} needs Ray: pip install ray '
                           f'(the version of the cluster)') from err
    started = False
    if not ray.is_initialized():
        ray.init(address=None if ray_address == 'local' else ray_address,
                 include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(_run_chunk)
        chunks = [jobs[i:i + chunksize] for i in range(0, len(jobs), chunksize)]
        pending = [remote.remote(fn, chunk) for chunk in chunks]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield from ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


def _run_chunk(fn: Callable[[Any], Any], chunk: list) -> list:
    return [fn(job) for job in chunk]


def map_jobs(fn: Callable[[Any], Any], jobs: Iterable, workers: int | None = None,
             ray_address: str | None = None, chunksize: int = 1) -> Iterator[Any]:
    """``fn(job)`` of every job, yielded as they complete (any order).

    Args:
        fn: a module-level function (picklable; it runs in other processes).
        jobs: picklable arguments, one per call.
        workers: local processes (default: the CPU count; 1: in this process). Ignored
            with ``ray_address`` (the cluster's CPUs are used).
        ray_address: a Ray cluster address (``'auto'``, ``'ray://host:port'``,
            ``'host:port'``) or ``'local'``; None: no Ray.
        chunksize: consecutive jobs sent together (they share a worker's caches).

    """
    jobs = list(jobs)
    if not (isinstance(chunksize, int) and chunksize >= 1):
        raise ValueError(f'chunksize must be an integer >= 1, got {chunksize!r}')
    if ray_address is not None:
        if not (isinstance(ray_address, str) and ray_address.strip()):
            raise ValueError(f'ray_address must be a non-empty string, got {ray_address!r}')
        yield from _ray_tasks(fn, jobs, ray_address.strip(), chunksize)
        return
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f'workers must be an integer >= 1, got {workers!r}')
    workers = min(workers, max(len(jobs), 1))
    if workers == 1:
        for job in jobs:
            yield fn(job)
        return
    ctx = multiprocessing.get_context('spawn')
    with ctx.Pool(workers) as pool:
        yield from pool.imap_unordered(fn, jobs, chunksize=chunksize)
