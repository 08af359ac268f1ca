"""Tests of exporters/cluster.py: where Dask tasks run (the local cluster itself is exercised by
tests/exporters/test_dataset.py and test_recording.py)."""

from __future__ import annotations

from exporters import cluster


def test_sync_runs_here_and_a_given_client_is_used_as_it_is() -> None:
    with cluster.scheduler("sync", 4) as client:
        assert client is None
    given = object()
    with cluster.scheduler(given, None) as client:  # type: ignore[arg-type]
        assert client is given


def test_workers_counts_the_schedulers_workers() -> None:
    class Client:
        def scheduler_info(self, n_workers: int) -> dict[str, dict[str, object]]:
            assert n_workers == -1  # all of them, not the first few
            return {"workers": {"tcp://a": {}, "tcp://b": {}}}

    assert cluster.workers(Client()) == 2
