"""Benchmark: how long the ``eventcode`` command takes to start, and whether it imports torch.

Each command runs ``--repeat`` times in a fresh interpreter (``python -m eventcode ...``, the
console script's code path); the table gives the median and the fastest wall time, and whether
``torch`` was in ``sys.modules`` at exit. For reference it also times a bare ``import torch``
and a bare Python start. Inputs: the real DVXplorer recording
``../shared/data/real/aedat4/tonic_sample.aedat4`` (111,954 events, LZ4) and an HDF5 file of 64
rate-coded MNIST digits written here. Targets (issue 11): ``--help`` < 0.5 s, ``info`` < 1 s.

Run: ``python benchmarks/startup.py [--repeat 7] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(os.environ.get("EVENTCODE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
PROBE = (
    "import runpy, sys\n"
    "sys.argv = ['eventcode', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('eventcode', run_name='__main__')\n"
    "except SystemExit as end:\n    assert not end.code, end.code\n"
    "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
)


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
    rows = []
    for name, command in cases.items():
        runs = [wall(command) for _ in range(args.repeat)]
        times = [t for t, _ in runs]
        torch = {"TORCH": "yes", "NO-TORCH": "no"}.get(runs[-1][1], "")
        rows.append(
            {"command": name, "median_s": statistics.median(times), "min_s": min(times), "torch": torch}
        )
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("\n| command | median (s) | fastest (s) | imports torch |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['command']} | {row['median_s']:.3f} | {row['min_s']:.3f} | {row['torch']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
