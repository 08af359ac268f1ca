"""Crash safety of every writer: SIGKILL at a random point of a write, and what the target holds.

One warmed parent (eventcode, exporters and torch imported once, torch on one thread, no writer
thread started) forks a child per write, so that each trial costs the write and not the imports.
For every writable format and four ways of writing (one ``write`` call; a streaming ``Writer``
fed three chunks; ``eventcode convert`` of an AEDAT 4.0 file, which AEDAT 4.0 copies with its
own ``transcode`` and every other format streams through its ``Writer``; and
``exporters.recording.convert_recording`` of that file in three time ranges, pieces and
assembly in the killed process, for every format but NIR, which holds samples and not one stream
cut in time), each trial:

1. writes an old file to the target (in a child, to its end);
2. starts a new write of other events in a child and kills it (``SIGKILL``) after a random delay
   between 0 and 1.2 times the time a whole write took, so that most kills land mid-write and some
   after it;
3. reads the target in another child: it must hold the old events or the new ones, whole
   (``damaged`` otherwise);
4. counts the killed write's leftover temporary files, which the next write to that path removes
   (the owner is dead): none may remain after it, nor ``convert_recording``'s work folder, which
   a killed conversion leaves to resume from.

Run: ``python tests/exporters/kill_trials.py --trials 50`` prints a table; ``--json`` prints the
counts for a test (``tests/exporters/test_atomic.py`` runs 5 trials per writer in CI).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import io
import json
import os
import random
import signal
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)  # no thread pool exists when children are forked

import exporters  # noqa: E402
from eventcode import Events, cli  # noqa: E402
from exporters.recording import convert_recording  # noqa: E402


def stream(seed: int, n: int) -> Events:
    """``n`` random DAVIS240-sized events in 8 s (the range every format holds, N-MNIST's too)."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.integers(0, 8_000_000, n))
    return Events(
        t, rng.integers(0, 240, n), rng.integers(0, 180, n), rng.random(n) < 0.5, sensor_size=(240, 180)
    )


def in_child(work: Callable[[], object]) -> tuple[int, int]:
    """Run ``work`` in a forked child: its process id and a pipe's end its result comes through."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns, whatever signal lands when
        status = 70
        try:
            os.close(read)
            try:
                result, status = work(), 0
            except BaseException as err:  # reported to the parent
                result, status = f"error: {type(err).__name__}: {err}", 1
            for stop in (signal.SIGINT, signal.SIGTERM):  # ignored from here on; before, it ends in os._exit
                signal.signal(stop, signal.SIG_IGN)
            # The exception is dropped here, as when it ends a program: a Ctrl-C that lands just
            # as a write's temporary file appears, before its cleanup is registered, leaves the
            # file to the finalizer of the suspended write, which runs once nothing holds the
            # traceback (test_atomic.py: test_a_ctrl_c_as_the_temporary_appears_...).
            gc.collect()
            os.write(write, json.dumps(result).encode())
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


def finish(pid: int, read: int) -> object:
    """The child's result (None if it was killed before giving one)."""
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    return json.loads(data) if data else None


def run(work: Callable[[], object]) -> object:
    return finish(*in_child(work))


WAYS = ("write", "Writer", "convert", "convert_recording")


def writing(fmt: exporters.Format, way: str, target: Path, events: Events) -> Callable[[], object]:
    """A write of ``events`` to ``target`` in one of the :data:`WAYS`; the two conversions read
    ``events`` from an AEDAT 4.0 file beside the target (written by :func:`sources`)."""
    source = target.parent / f"source-{len(events)}.aedat4"

    def one_call() -> object:
        exporters.write(target, events, format=fmt.name)
        return "written"

    def streaming() -> object:
        third = len(events) // 3
        with fmt.module.Writer(target, shape=events.shape, num_steps=None, polarities=2) as writer:
            for a in range(0, len(events), third):
                writer.write(_part(events, a, a + third))
        return "written"

    def command() -> object:
        with contextlib.redirect_stdout(io.StringIO()):  # its report; the parent's stdout is the table
            cli.main(
                ["--debug", "convert", str(source), str(target), "--format", fmt.name], standalone_mode=False
            )
        return "written"

    def in_ranges() -> object:
        convert_recording(source, target, format=fmt.name, parts=3, client="sync", progress=False)
        return "written"

    return {"write": one_call, "Writer": streaming, "convert": command, "convert_recording": in_ranges}[way]


def sources(folder: Path, *streams: Events) -> None:
    """The AEDAT 4.0 files the conversions read, one per stream (written in a child: no writer
    thread in this parent)."""
    for events in streams:
        path = folder / f"source-{len(events)}.aedat4"
        if run(functools.partial(exporters.write, path, events)) is not None:
            raise RuntimeError(f"writing the conversions' source {path.name} failed")


def _part(events: Events, a: int, b: int) -> Events:
    return Events(events.t[a:b], events.x[a:b], events.y[a:b], events.p[a:b], sensor_size=events.sensor_size)


def holds(fmt: exporters.Format, target: Path, old: Events, new: Events) -> Callable[[], object]:
    """What the target holds: "old", "new", "nothing" or "damaged"."""

    def check() -> object:
        warnings.simplefilter("ignore")  # N-MNIST's inferred sensor size
        if not target.exists():
            return "nothing"
        try:
            got = fmt.module.read(target)
        except Exception as err:  # a file that does not read is damaged
            return f"damaged: {type(err).__name__}: {err}"
        for name, events in (("old", old), ("new", new)):
            if len(got) == len(events) and np.array_equal(canonical(got), canonical(events)):
                return name
        return "damaged: other events"

    return check


def canonical(events: Events) -> np.ndarray:
    """The events as ``(t, y, x, p)`` rows sorted: a format may order events of one microsecond
    its own way (NIR by neuron)."""
    rows = np.stack([events.t.numpy(), events.y.numpy(), events.x.numpy(), events.p.numpy()], 1)
    return rows[np.lexsort(rows.T[::-1])]


def leftovers(target: Path) -> int:
    """The temporary files of writes to ``target``: its own partial files, and those of the
    pieces in ``convert_recording``'s work folder."""
    work = target.parent / f".{target.name}.ranges"
    return len(list(target.parent.glob(f".{target.name}.*.partial"))) + len(list(work.glob(".*.partial")))


def kept(target: Path) -> int:
    """What a finished write to ``target`` must have removed: the killed writers' partial files,
    and ``convert_recording``'s work folder (which a killed conversion leaves to resume from)."""
    return leftovers(target) + (target.parent / f".{target.name}.ranges").exists()


def trials(
    count: int, seed: int, folder: Path, sig: signal.Signals = signal.SIGKILL
) -> dict[str, dict[str, int]]:
    """``count`` trials per writer and way, each write stopped by ``sig``: the outcome counts of
    each. "left at exit" counts the temporary files there once the stopped writer is gone: a
    SIGKILL leaves its own (the next write removes it), SIGTERM and Ctrl-C (SIGINT) none."""
    chooser = random.Random(seed)
    old, new = stream(1, 20_000), stream(2, 400_000)
    table: dict[str, dict[str, int]] = {}
    sources(folder, old, new)
    for fmt in exporters.formats():
        if fmt.name == "es":  # reads only
            continue
        for way in WAYS:
            if way == "convert_recording" and fmt.name == "nir":  # NIR holds samples, not one stream in time
                continue
            target = folder / f"{fmt.name}-{way}{fmt.suffixes[0]}"
            names = (
                "trials",
                "stopped before done",
                "old",
                "new",
                "damaged",
                "left at exit",
                "leftovers kept",
            )
            counts = dict.fromkeys(names, 0)
            started = time.perf_counter()
            outcome = run(writing(fmt, way, target, new))
            whole = time.perf_counter() - started
            if outcome != "written":
                raise RuntimeError(f"{fmt.name} {way}: the write itself failed: {outcome}")
            for _ in range(count):
                if run(writing(fmt, way, target, old)) != "written":  # also removes dead writers' leftovers
                    raise RuntimeError(f"{fmt.name} {way}: writing the old file failed")
                counts["leftovers kept"] += kept(target)
                pid, read = in_child(writing(fmt, way, target, new))
                time.sleep(chooser.uniform(0, 1.2 * whole))
                os.kill(pid, sig)
                done = finish(pid, read)
                counts["stopped before done"] += done != "written"
                counts["left at exit"] += leftovers(target)
                found = str(run(holds(fmt, target, old, new)))
                counts["damaged" if found.startswith("damaged") or found == "nothing" else found] += 1
                counts["trials"] += 1
            run(writing(fmt, way, target, old))
            counts["leftovers kept"] += kept(target)
            table[f"{fmt.name} {way}"] = counts
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--signal", default="KILL", choices=["KILL", "TERM", "INT"], help="what stops the writes"
    )
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        table = trials(args.trials, args.seed, Path(folder), signal.Signals[f"SIG{args.signal}"])
    if args.json:
        print(json.dumps(table))
        return
    heads = list(next(iter(table.values())))
    machine = f"{sys.platform}, {os.cpu_count()} cores"
    print(f"# {args.trials} SIG{args.signal} trials per writer, seed {args.seed}, {machine}")
    print("| writer | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for name, counts in table.items():
        print(f"| {name} | " + " | ".join(str(counts[h]) for h in heads) + " |")


if __name__ == "__main__":
    main()
