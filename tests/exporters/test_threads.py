"""Tests of exporters/threads.py: the pool's helpers keep order, report errors in order, and
leave no work running when the caller stops."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from exporters import threads


def test_ahead_gives_results_in_order_computing_the_next_meanwhile() -> None:
    running: list[str] = []

    def slow(i: int) -> int:
        running.append(threading.current_thread().name)
        time.sleep(0.01)
        return i * i

    with threads.ahead(slow, list(range(6))) as results:
        assert list(results) == [0, 1, 4, 9, 16, 25]
    assert all(name.startswith("exporters-ahead") for name in running)  # never the caller's thread


def test_ahead_may_use_the_pool_inside() -> None:
    """The function runs beside the pool, so a function that fills the pool never waits on itself."""

    def summed(n: int) -> int:
        return sum(threads.parallel(lambda k: k + 1, range(n)))

    with threads.ahead(summed, [3, 5, 7, 9]) as results:
        assert list(results) == [6, 15, 28, 45]


def test_ahead_raises_in_turn() -> None:
    def failing(i: int) -> int:
        if i == 2:
            raise ValueError("item 2")
        return i

    got = []
    with pytest.raises(ValueError, match="item 2"), threads.ahead(failing, [0, 1, 2, 3]) as results:
        got.extend(results)
    assert got == [0, 1]  # the items before the failing one all came first


def test_ahead_waits_for_the_running_call_when_the_caller_stops() -> None:
    finished: list[int] = []

    def slow(i: int) -> int:
        time.sleep(0.05)
        finished.append(i)
        return i

    with threads.ahead(slow, [0, 1, 2, 3]) as results:
        assert next(results) == 0  # item 1 is now being computed
    assert finished == [0, 1]  # done before the block was left; items 2 and 3 never started


def test_ahead_of_one_item_runs_it_here() -> None:
    with threads.ahead(lambda i: threading.current_thread().name, ["a"]) as results:
        assert list(results) == [threading.current_thread().name]


def test_a_forked_child_gets_a_pool_of_its_own() -> None:
    """A child forked after the parent used the pool (a ``DataLoader`` worker) inherits the pool
    object but not its threads; it must make its own, not wait forever on the parent's."""
    assert list(threads.parallel(lambda i: i * i, range(8))) == [i * i for i in range(8)]
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as children:
        answer = children.apply_async(_squares_on_the_pool, (8,))
        assert answer.get(timeout=30) == [i * i for i in range(8)]


def _squares_on_the_pool(n: int) -> list[int]:
    return list(threads.parallel(lambda i: i * i, range(n)))
