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


def test_where_names_this_process_or_the_schedulers_workers() -> None:
    class Client:
        def scheduler_info(self, n_workers: int) -> dict[str, dict[str, object]]:
            assert n_workers == -1  # all of them, not the first few
            return {"workers": {"tcp://a": {}, "tcp://b": {}}}

    assert cluster.where(None) == "this process"
    assert cluster.where(Client()) == "dask.distributed (2 workers)"


def test_results_in_this_process_run_the_jobs_in_order_with_the_shared_arguments() -> None:
    def task(job: int, scale: int) -> dict[str, object]:
        return {"job": job, "value": job * scale}

    def failed(job: int, error: BaseException) -> dict[str, object]:
        raise AssertionError("no task fails here")

    got = list(cluster.results(None, task, [3, 1, 2], failed, scale=10))
    assert got == [{"job": 3, "value": 30}, {"job": 1, "value": 10}, {"job": 2, "value": 20}]
