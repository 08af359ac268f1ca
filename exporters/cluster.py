"""Where the Dask tasks of :mod:`exporters.dataset` and :mod:`exporters.recording` run: a local
cluster made for the call (one single-threaded worker process per core), a ``Client`` the caller
passes, or this process (``"sync"``).

Examples
--------
>>> from exporters import cluster
>>> with cluster.scheduler("sync", None) as client:
...     client is None  # "sync": the tasks run here, in order
True
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    import distributed

Job = TypeVar("Job")

Sync = Literal["sync"]
"""Run the tasks in this process, one after another, without Dask."""


@contextlib.contextmanager
def scheduler(client: distributed.Client | Sync | None, workers: int | None) -> Iterator[Any]:
    """The client to run on (None: this process for ``"sync"``). With ``client=None``, a
    ``LocalCluster`` of ``workers`` (default: one per core) single-threaded worker processes, made
    here and closed on leaving the block; a ``Client`` given is used as it is and left open."""
    if client == "sync":
        yield None
        return
    if client is not None:
        yield client
        return
    from distributed import Client as DaskClient
    from distributed import LocalCluster

    count = workers or os.cpu_count() or 1
    with (
        LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=count,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        DaskClient(cluster) as made,  # type: ignore[no-untyped-call]
    ):
        yield made


def where(client: Any) -> str:
    """Where :func:`scheduler`'s ``client`` runs the tasks, in words, with its workers now."""
    if client is None:
        return "this process"
    return f"dask.distributed ({len(client.scheduler_info(n_workers=-1)['workers'])} workers)"


def results(
    client: Any,
    task: Callable[..., dict[str, Any]],
    jobs: Sequence[Job],
    failed: Callable[[Job, BaseException], dict[str, Any]],
    **shared: Any,
) -> Iterator[dict[str, Any]]:
    """Each job's result, ``task(job, **shared)``, as it finishes: in order in this process for
    ``client=None``, as completed on Dask. A task never raises (its failure is a result); one
    whose worker died every time (``KilledWorker``), or that was cancelled, becomes
    ``failed(job, error)``, its error saying to run the conversion again. The tasks left are
    cancelled when the caller stops early."""
    if client is None:
        for job in jobs:
            yield task(job, **shared)
        return
    from distributed import as_completed

    futures = client.map(task, jobs, pure=False, **shared)
    job_of = {future.key: job for future, job in zip(futures, jobs, strict=True)}
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            job = job_of[future.key]
            try:
                result = future.result()
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as err:  # the worker died every time (KilledWorker), or a cancel
                result = failed(job, err)
                result["error"] += " (the task's worker died or was restarted; run the conversion again)"
            future.release()
            yield result
    finally:
        client.cancel(futures)
