"""Benchmark: how long the ``eventcode`` command takes to start, and whether it imports torch.

Each command runs in a fresh interpreter (``python -m eventcode ...``, the console script's code
path): each eventcode command once untimed (which tells whether ``torch`` was in ``sys.modules``
at exit), then every command in ``--repeat`` interleaved rounds of one run each (A, B, C, ..., A,
B, C, ...). The table gives the median and range of the wall time, and the time above a bare
Python start, median (and range) of the rounds' differences. For reference, and as the limit, it
also times a bare Python start and a bare ``import torch``. Inputs: the real DVXplorer recording
``../shared/data/real/aedat4/tonic_sample.aedat4`` (111,954 events, LZ4) and an HDF5 file of 64
rate-coded MNIST digits written here. Targets (issue 11): ``--help`` < 0.5 s, ``info`` < 1 s, met
only when every round meets them.

Run: ``python benchmarks/startup.py [--repeat 7] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import interleaved, spread, verdict

SHARED = Path(os.environ.get("EVENTCODE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
PROBE = (
    "import runpy, sys\n"
    "sys.argv = ['eventcode', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('eventcode', run_name='__main__')\n"
    "except SystemExit as end:\n    assert not end.code, end.code\n"
    "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
)
TARGETS = {
    "eventcode --help": 0.5,
    "eventcode info tonic_sample.aedat4": 1.0,
    "eventcode info digits.h5": 1.0,
}
"""Wall-time targets of issue 11, seconds."""


def wall(arguments: list[str]) -> tuple[float, str]:
    """Seconds one fresh interpreter takes, and the last line it printed on stderr."""
    start = time.perf_counter()
    result = subprocess.run(arguments, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, (result.stderr.strip().splitlines() or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    digits = folder / "digits.h5"
    subprocess.run(
        [sys.executable, "-m", "eventcode", "encode", "--code", "rate", "--num-steps", "100", "--limit", "64",
         str(SHARED / "data/mnist/t10k-images-idx3-ubyte.gz"), str(digits)],
        capture_output=True,
        check=True,
    )  # fmt: skip
    recording = SHARED / "data/real/aedat4/tonic_sample.aedat4"
    cases = {
        "python (bare start)": [sys.executable, "-c", "pass"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "eventcode --help": [sys.executable, "-c", PROBE, "--help"],
        "eventcode info tonic_sample.aedat4": [sys.executable, "-c", PROBE, "info", str(recording)],
        "eventcode info digits.h5": [sys.executable, "-c", PROBE, "info", str(digits)],
    }
    torch = dict.fromkeys(cases, "")
    for name, command in cases.items():  # untimed: whether eventcode imports torch (and a warm start)
        if PROBE in command:
            torch[name] = {"TORCH": "yes", "NO-TORCH": "no"}.get(wall(command)[1], "")
    times = interleaved({name: lambda c=command: wall(c) for name, command in cases.items()}, args.repeat)
    shutil.rmtree(folder)
    bare = times["python (bare start)"]
    rows = []
    for name, seconds in times.items():
        above = [a - b for a, b in zip(seconds, bare, strict=True)]
        rows.append(
            {
                "command": name,
                "median_s": statistics.median(seconds),
                "min_s": min(seconds),
                "max_s": max(seconds),
                "spread": spread(seconds),
                "above_bare_s": statistics.median(above),
                "above_bare_spread": f"{statistics.median(above):.3f} s ({min(above):.3f}-{max(above):.3f})",
                "torch": torch[name],
            }
        )
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"median of {args.repeat} interleaved rounds"
    )
    print("| command | wall time (range) | above a bare start (range) | imports torch |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['command']} | {row['spread']} | {row['above_bare_spread']} | {row['torch']} |")
    print()
    for name, target in TARGETS.items():
        met = verdict(times[name], target, at_most=True)
        print(f"- {name}: {spread(times[name])}, target < {target:g} s: {met}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
