"""CI's fuzzing pass: a short, deterministic run of every reader in forked workers.

- the harness itself: every registered format has a fuzzed reader, the corpus is small and every
  seed reads cleanly, and each outcome class can fire (a probe format that misbehaves on cue);
- mutated seeds, drawn by hypothesis with ``derandomize=True`` (the same inputs on every run):
  no call may end in classes 2-6 (foreign exception, hang, crash, memory, wrong data);
- the checked bytes of :mod:`.targets`: changing one must make ``read`` refuse the file;
- every regression file under ``regressions/<format>/`` replayed: no defect. A regression whose
  record says ``"status": "open"`` (a reader bug not fixed yet) is a strict xfail: it fails the
  suite once the bug is fixed, until the record says ``"fixed"``. Defects of open regressions
  are the only ones the mutated-seed pass tolerates, by signature.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import exporters
from eventcode import Events
from eventcode.errors import FileFormatError
from exporters import ranges

from . import mutations, sandbox
from .corpus import MAX_SEED
from .targets import CORPUS, READERS, Reader, reader

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
"""One folder per format: each defect's input file and a ``.json`` record of it."""

EXAMPLES = 100
"""Mutated inputs per reader in the CI pass."""

CHECKED_PER_SEED = 10
"""Checked-byte changes tried per seed in the CI pass."""


def _records() -> list[tuple[Path, dict[str, str]]]:
    return [(path, json.loads(path.read_text())) for path in sorted(REGRESSIONS.glob("*/*.json"))]


KNOWN = {
    (record["reader"], signature)
    for _, record in _records()
    if record["status"] == "open"
    for signature in record["signatures"]
}
"""(reader, signature) of the defects that open regressions record (not fixed yet)."""


def _unknown(target: Reader, result: sandbox.Result) -> list[sandbox.Call]:
    """The defects of ``result`` that no open regression of ``target`` records."""
    return [call for call in result.defects if (target.name, call.signature()) not in KNOWN]


def _report(name: str, data: bytes, calls: list[sandbox.Call], folder: Path) -> str:
    """A failure message, with the input saved where a regression file can be made of it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-failing-input"
    path.write_bytes(data)
    lines = [f"{call.outcome.value} in {call.operation}: {call.detail}" for call in calls]
    return f"{name}: input saved at {path}\n" + "\n".join(lines)


# --------------------------------------------------------------------------- the harness
def test_every_registered_format_is_fuzzed() -> None:
    assert {target.format for target in READERS} == {fmt.name for fmt in exporters.formats()}


def test_corpus_is_small() -> None:
    sizes = [path.stat().st_size for path in CORPUS.rglob("*") if path.is_file()]
    assert max(sizes) <= MAX_SEED
    assert sum(sizes) <= 2 * 10**6


@pytest.mark.parametrize("target", READERS, ids=lambda target: target.name)
def test_seeds_read_cleanly(target: Reader, tmp_path: Path) -> None:
    seeds = target.seeds()
    assert seeds, f"no seeds for {target.name}: run python -m tests.fuzz.corpus"
    for seed in seeds:
        result = sandbox.run(target.module, seed.read_bytes(), tmp_path / f"input{target.suffix}")
        assert [call.operation for call in result.calls] == list(sandbox.operations(target.module))
        assert all(call.outcome is sandbox.Outcome.OK for call in result.calls), (seed, result.calls)


class _Probe:
    """A format module that misbehaves as its file says: every outcome class on cue."""

    @staticmethod
    def read(path: Path, **window: object) -> Events:
        cue = Path(path).read_bytes()
        if cue == b"ours":
            raise FileFormatError(f"{path}: refused")
        if cue == b"foreign":
            raise KeyError("a library's error let through")
        if cue == b"hang":
            time.sleep(60)
        if cue == b"crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        if cue == b"rss":
            np.ones(300 * 10**6 // 8).sum()  # RSS grows past the 100 MB budget, under RLIMIT_AS
        if cue == b"address-space":
            bytearray(64 << 30)  # refused by RLIMIT_AS: MemoryError
        if cue == b"wrong":
            x = torch.tensor([9], dtype=torch.int16)  # outside the 4 x 4 sensor, unchecked
            return Events.from_columns(
                torch.tensor([0]), x, x, torch.tensor([True]), shape=(4, 4), check="none"
            )
        return Events(t=[0, 1], x=[1, 2], y=[0, 1], p=[1, 0], shape=(4, 4))

    @staticmethod
    def read_chunks(path: Path, chunk_events: int) -> list[Events]:
        return [_Probe.read(path)]

    @staticmethod
    def info(path: Path) -> object:
        raise FileFormatError(f"{path}: the probe describes nothing")


_CUES = [
    (b"fine", sandbox.Outcome.OK),
    (b"ours", sandbox.Outcome.OURS),
    (b"foreign", sandbox.Outcome.FOREIGN),
    (b"hang", sandbox.Outcome.HANG),
    (b"crash", sandbox.Outcome.CRASH),
    (b"rss", sandbox.Outcome.MEMORY),
    (b"address-space", sandbox.Outcome.MEMORY),
    (b"wrong", sandbox.Outcome.WRONG),
]


@pytest.mark.parametrize(("cue", "outcome"), _CUES)
def test_every_outcome_class_can_fire(cue: bytes, outcome: sandbox.Outcome, tmp_path: Path) -> None:
    limit = 1.0 if cue == b"hang" else sandbox.TIME_LIMIT
    result = sandbox.run(_Probe, cue, tmp_path / "input.probe", time_limit=limit)  # type: ignore[arg-type]
    assert result.calls[0].operation == "read"
    assert result.calls[0].outcome is outcome, result.calls[0]


def test_a_kept_worker_tells_every_outcome_class_input_after_input(tmp_path: Path) -> None:
    """One :class:`sandbox.Worker` fed every cue twice, each followed by a plain input: the same
    classes as a worker per input (the memory one too, after an earlier input's peak), and a
    worker that hung or crashed is replaced for the next input."""
    with sandbox.Worker(_Probe) as worker:  # type: ignore[arg-type]
        for cue, outcome in _CUES * 2:
            limit = 1.0 if cue == b"hang" else sandbox.TIME_LIMIT
            result = worker.run(cue, tmp_path / "input.probe", time_limit=limit)
            assert result.calls[0].outcome is outcome, (cue, result.calls[0])
            after = worker.run(b"fine", tmp_path / "input.probe")
            assert after.calls[0].outcome is sandbox.Outcome.OK, (cue, after.calls[0])


def test_a_checked_byte_that_reads_is_wrong_data(tmp_path: Path) -> None:
    seed = reader("nmnist").seeds()[0].read_bytes()
    result = sandbox.run(reader("nmnist").module, seed, tmp_path / "input.bin", must_fail="byte 0 changed")
    assert result.calls[0].outcome is sandbox.Outcome.WRONG
    assert "byte 0 changed, yet read gave" in result.calls[0].detail


@pytest.mark.parametrize("format_name", ["aedat4", "hdf5", "evt3", "aedat3"])  # index, checkpoints, a pass
def test_time_ranges_that_lose_an_event_are_wrong_data(
    format_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = reader(format_name)
    streams = (path for path in target.seeds() if target.module.read(path).num_samples == 1)
    seed = next(path for path in streams if len(target.module.read(path)) > 10)
    honest = ranges.read

    def losing(path: Path, cut: Any) -> Events:  # each range without the events of its first time
        piece: Events = honest(path, cut)
        return piece.time_slice(int(piece.t[0]) + 1, None) if len(piece) else piece

    monkeypatch.setattr(ranges, "read", losing)  # the forked worker's too
    result = sandbox.run(target.module, seed.read_bytes(), tmp_path / f"input{target.suffix}")
    outcomes = {call.operation: call for call in result.calls}
    assert outcomes["read"].outcome is sandbox.Outcome.OK
    assert outcomes["ranges"].outcome is sandbox.Outcome.WRONG, outcomes["ranges"]
    assert "ranges gave" in outcomes["ranges"].detail


# --------------------------------------------------------------------------- mutated seeds
_MUTATIONS = st.lists(
    st.builds(
        mutations.Mutation,
        kind=st.sampled_from(mutations.KINDS),
        at=st.one_of(st.integers(0, 1024), st.integers(0, mutations.MAX_SIZE)),
        size=st.integers(1, 64),
        value=st.integers(-(2**31), 2**31),
    ),
    min_size=1,
    max_size=4,
)


@pytest.mark.parametrize("target", READERS, ids=lambda target: target.name)
def test_mutated_seeds(target: Reader, tmp_path: Path) -> None:
    seeds = [path.read_bytes() for path in target.seeds()]
    path = tmp_path / f"input{target.suffix}"

    @settings(
        derandomize=True,
        database=None,
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(index=st.integers(0, len(seeds) - 1), edits=_MUTATIONS)
    def check(index: int, edits: list[mutations.Mutation]) -> None:
        data = mutations.apply(seeds[index], edits)
        unknown = _unknown(target, sandbox.run(target.module, data, path))
        assert not unknown, _report(target.name, data, unknown, tmp_path / "failing")

    check()


# --------------------------------------------------------------------------- checked bytes
@pytest.mark.parametrize("target", [t for t in READERS if t.name != "nmnist"], ids=lambda target: target.name)
def test_checked_bytes_are_refused(target: Reader, tmp_path: Path) -> None:
    rng = random.Random(19)
    tried = 0
    for seed_path in target.seeds():
        seed = seed_path.read_bytes()
        changes = [
            (at, seed[at] ^ flip, checked)
            for checked in target.checked(seed)
            for at in range(checked.start, checked.stop)
            for flip in (0x01, 0x80, 0xFF)
            if seed[at] ^ flip not in checked.allowed
        ]
        for at, value, checked in rng.sample(changes, min(CHECKED_PER_SEED, len(changes))):
            data = seed[:at] + bytes([value]) + seed[at + 1 :]
            change = (
                f"{seed_path.name}: byte {at} ({checked.what}) changed from 0x{seed[at]:02X} to 0x{value:02X}"
            )
            run = sandbox.run(target.module, data, tmp_path / f"input{target.suffix}", must_fail=change)
            unknown = _unknown(target, run)
            assert not unknown, _report(target.name, data, unknown, tmp_path / "failing")
            tried += 1
    assert tried


# --------------------------------------------------------------------------- regressions
def _regression_params() -> list[Any]:
    params: list[Any] = []
    for path, record in _records():
        marks = (
            [pytest.mark.xfail(strict=True, reason=record["defect"])] if record["status"] == "open" else []
        )
        params.append(pytest.param(path, record, marks=marks, id=f"{path.parent.name}/{path.stem}"))
    return params


@pytest.mark.parametrize(("path", "record"), _regression_params())
def test_regression(path: Path, record: dict[str, str], tmp_path: Path) -> None:
    target = reader(record["reader"])
    data = (path.parent / record["input"]).read_bytes()
    result = sandbox.run(
        target.module, data, tmp_path / f"input{target.suffix}", must_fail=record.get("must_fail")
    )
    assert not result.defects, [
        f"{call.outcome.value} in {call.operation}: {call.detail}" for call in result.defects
    ]
