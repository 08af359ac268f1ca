"""What ``snntorch_suite.py`` and ``tonic_suite.py`` share: run a peer's own test files from its
checkout with its functions swapped for eventcode's, and print the outcome counts of each file.

Not a test module (pytest collects ``test_*.py`` only).
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


class Counts:
    """A pytest plugin counting outcomes per test file (strict expected failures as ``xfailed``)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count a test once: its call, or the setup or teardown that failed or skipped it."""
        path = report.nodeid.split("::")[0]
        if report.when == "call" or (report.when == "setup" and not report.passed):
            if hasattr(report, "wasxfail"):
                outcome = "xfailed"
            elif report.when == "setup" and report.failed:
                outcome = "error"
            else:
                outcome = report.outcome
            self.outcomes[path][outcome] += 1
        elif report.when == "teardown" and report.failed:
            self.outcomes[path]["error"] += 1


def main(
    argv: list[str] | None,
    description: str,
    peer: str,
    files: Sequence[str],
    swap: Callable[[], tuple[str, Sequence[object]]],
) -> int:
    """Parse ``CHECKOUT [--original] [-- pytest args]``, call ``swap`` (unless ``--original``; it
    returns what it swapped, to print, and pytest plugins for the swapped run), run ``files`` of
    the checkout; the exit status is pytest's."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("checkout", type=Path, help=f"the root of {peer}'s source, holding {files[0]}")
    parser.add_argument("--original", action="store_true", help=f"keep {peer}'s own functions")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    paths = [args.checkout / file for file in files]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        parser.error(f"not in the checkout: {', '.join(missing)}; pass the root of {peer}'s source")
    swapped, plugins = (f"{peer}'s own functions", ()) if args.original else swap()
    print(swapped)
    counts = Counts()
    options = ["-q", "-p", "no:cacheprovider", "--import-mode=importlib", f"--rootdir={args.checkout}"]
    status = pytest.main([*options, *args.pytest_args, *map(str, paths)], plugins=[counts, *plugins])
    for path, outcome in sorted(counts.outcomes.items()):
        detail = ", ".join(f"{count} {kind}" for kind, count in sorted(outcome.items()))
        print(f"{path}: {outcome['passed']} of {sum(outcome.values())} passed ({detail})")
    return int(status)
