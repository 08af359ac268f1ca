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
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import distributed

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


def workers(client: Any) -> int:
    """The workers a Dask client has now."""
    return len(client.scheduler_info(n_workers=-1)["workers"])
