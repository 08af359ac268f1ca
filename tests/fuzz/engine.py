"""The coverage-guided campaign: mutate, run in a forked worker, keep what reaches new code.

Each reader starts from its seed corpus (:mod:`.corpus`). Every execution picks an input from
the queue (seeds, then inputs that reached new line transitions), stacks 1-6 random
:mod:`.mutations` on it (or, one time in eight, splices it with another input), and runs it in a
:class:`.sandbox.Worker` kept for many inputs, coverage on; an input with a defect outcome there
is run again in a worker of its own, and only that outcome counts (:func:`.sandbox.confirmed`).
One execution in ten instead changes one checked byte of a seed (:mod:`.targets`) and requires
``read`` to refuse the result. Inputs whose calls end in a
defect class are saved under the findings folder, one per distinct signature, with a ``.txt``
saying what happened.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from . import mutations, sandbox
from .targets import Reader


@dataclass
class Stats:
    """One reader's campaign: executions, calls per outcome, coverage and findings."""

    reader: str
    executions: int = 0
    outcomes: Counter[sandbox.Outcome] = field(default_factory=Counter)
    edges: int = 0
    queue: int = 0
    seconds: float = 0.0
    findings: list[Path] = field(default_factory=list)


def checked_mutation(reader: Reader, seed: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    """A seed with one checked byte changed to a value its reader must refuse, and the change
    in words; None for a reader without checked bytes."""
    ranges = reader.checked(seed)
    if not ranges:
        return None
    checked = rng.choice(ranges)
    at = rng.randrange(checked.start, checked.stop)
    value = rng.choice([v for v in range(256) if v != seed[at] and v not in checked.allowed])
    changed = seed[:at] + bytes([value]) + seed[at + 1 :]
    return changed, f"byte {at} ({checked.what}) changed from 0x{seed[at]:02X} to 0x{value:02X}"


def campaign(
    reader: Reader, seconds: float, *, max_executions: int | None = None, seed: int = 0, findings: Path
) -> Stats:
    """Fuzz ``reader`` for ``seconds`` (or ``max_executions``); saves findings under
    ``findings/<reader>/``."""
    rng = random.Random(seed)
    stats = Stats(reader.name)
    seeds = [path.read_bytes() for path in reader.seeds()]
    if not seeds:
        raise FileNotFoundError(f"no seeds for {reader.name}: run python -m tests.fuzz.corpus")
    queue: list[bytes] = []
    covered: set[int] = set()
    signatures: set[str] = set()
    start = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="eventcode-fuzz-", dir=_scratch()) as scratch,
        sandbox.Worker(reader.module) as worker,
    ):
        path = Path(scratch) / f"input{reader.suffix}"
        pending = list(seeds)
        while time.monotonic() - start < seconds and (
            max_executions is None or stats.executions < max_executions
        ):
            must_fail = None
            if pending:
                data = pending.pop(0)
            elif rng.random() < 0.1 and (mutated := checked_mutation(reader, rng.choice(seeds), rng)):
                data, must_fail = mutated
            else:
                data = _mutate(rng.choice(queue), queue, rng)
            result = worker.run(data, path, must_fail=must_fail, coverage=True)
            result = sandbox.confirmed(reader.module, result, data, path, must_fail=must_fail, coverage=True)
            stats.executions += 1
            stats.outcomes.update(call.outcome for call in result.calls)
            if result.edges - covered:
                covered |= result.edges
                queue.append(data)
            for call in result.defects:
                if call.signature(line=True) not in signatures:
                    signatures.add(call.signature(line=True))
                    stats.findings.append(_save(findings / reader.name, reader.suffix, data, call, must_fail))
    stats.edges, stats.queue, stats.seconds = len(covered), len(queue), time.monotonic() - start
    return stats


def _scratch() -> str | None:
    """A memory-backed folder for the input files where there is one."""
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


def _mutate(data: bytes, queue: list[bytes], rng: random.Random) -> bytes:
    """``data`` with 1-6 stacked mutations, or spliced with another queued input."""
    if rng.random() < 0.125 and len(queue) > 1:
        other = rng.choice(queue)
        cut = rng.randrange(len(data) + 1)
        return (data[:cut] + other[rng.randrange(len(other) + 1) :])[: mutations.MAX_SIZE]
    return mutations.apply(data, [mutations.draw(rng, len(data)) for _ in range(rng.randint(1, 6))])


def _save(folder: Path, suffix: str, data: bytes, call: sandbox.Call, must_fail: str | None) -> Path:
    """Write a finding and its description; return the input's path."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{call.outcome.name.lower()}-{call.operation}-{hashlib.sha1(data).hexdigest()[:12]}"
    path = folder / f"{name}{suffix}"
    path.write_bytes(data)
    note = f"{call.signature()}\n{call.detail}\n" + (f"checked byte: {must_fail}\n" if must_fail else "")
    (folder / f"{name}.txt").write_text(note)
    return path


COLUMNS = (
    ("executions", 10),
    ("calls", 7),
    *((outcome.value, max(len(outcome.value), 5)) for outcome in sandbox.Outcome),
    ("edges", 6),
    ("exec/s", 6),
)
"""The table's columns after the reader's name, and their widths."""


def table(rows: list[Stats]) -> str:
    """The campaign's table: executions and calls per reader, and the calls in each outcome class
    (1: ok + our error; 2-6: foreign exception, hang, crash, memory, wrong data)."""
    names = ["reader", *(name for name, _ in COLUMNS)]
    widths = [max(8, *(len(row.reader) for row in rows)), *(width for _, width in COLUMNS)]
    lines = [
        "| " + " | ".join(name.ljust(width) for name, width in zip(names, widths, strict=True)) + " |",
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
    ]
    for row in rows:
        cells = [
            row.reader,
            str(row.executions),
            str(sum(row.outcomes.values())),
            *(str(row.outcomes[outcome]) for outcome in sandbox.Outcome),
            str(row.edges),
            f"{row.executions / max(row.seconds, 1e-9):.1f}",
        ]
        padded = (cell.rjust(width) for cell, width in zip(cells, widths, strict=True))
        lines.append("| " + " | ".join(padded) + " |")
    return "\n".join(lines)
