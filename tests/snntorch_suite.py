"""Run snnTorch's own spikegen and loss tests with ``snntorch.spikegen`` swapped for ``eventcode.spikegen``.

A script, not a test module (pytest collects ``test_*.py`` only): give it the path of an snnTorch
source checkout (``git archive HEAD tests | tar -x -C DIR`` of github.com/jeshraghian/snntorch
is enough) and it runs ``tests/test_spikegen.py`` and
``tests/test_snntorch/functional/test_loss.py`` from it against the installed snnTorch, with
``sys.modules["snntorch.spikegen"]``, ``snntorch.spikegen`` and the ``spikegen`` that
``snntorch.functional`` modules imported all bound to :mod:`eventcode.spikegen`, then prints the
pass/fail counts of each file. ``--original`` runs them against snnTorch's own module instead.

Usage::

    python tests/snntorch_suite.py /path/to/snntorch [--original] [-- extra pytest args]
"""

from __future__ import annotations

import argparse
import collections
import importlib
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SUITE = ("tests/test_spikegen.py", "tests/test_snntorch/functional/test_loss.py")


def swap_spikegen(replacement: ModuleType) -> list[str]:
    """Bind every reference to ``snntorch.spikegen`` to ``replacement``; the modules patched."""
    import snntorch
    import snntorch.functional

    original = importlib.import_module("snntorch.spikegen")
    for info in pkgutil.walk_packages(snntorch.functional.__path__, "snntorch.functional."):
        importlib.import_module(info.name)
    sys.modules["snntorch.spikegen"] = replacement
    patched = []
    for name, module in list(sys.modules.items()):
        if name.startswith("snntorch") and getattr(module, "spikegen", None) is original:
            module.spikegen = replacement
            patched.append(name)
    return patched


class Counts:
    """A pytest plugin counting outcomes per test file."""

    def __init__(self) -> None:
        self.outcomes: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count a test once: its call, or the setup or teardown that failed or skipped it."""
        path = report.nodeid.split("::")[0]
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
            self.outcomes[path][outcome] += 1
        elif report.when == "teardown" and report.failed:
            self.outcomes[path]["error"] += 1


def main(argv: list[str] | None = None) -> int:
    """Run the suite; the exit status is pytest's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", type=Path, help="an snnTorch source checkout (with its tests/)")
    parser.add_argument("--original", action="store_true", help="keep snnTorch's own spikegen")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    files = [args.checkout / path for path in SUITE]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        parser.error(f"not in the checkout: {', '.join(missing)}; pass the root of an snnTorch checkout")
    if args.original:
        print("snntorch.spikegen: snnTorch's own")
    else:
        from eventcode import spikegen

        patched = swap_spikegen(spikegen)
        print(f"snntorch.spikegen -> eventcode.spikegen in: {', '.join(sorted(patched))}")
    counts = Counts()
    options = ["-q", "-p", "no:cacheprovider", "--import-mode=importlib", f"--rootdir={args.checkout}"]
    status = pytest.main([*options, *args.pytest_args, *map(str, files)], plugins=[counts])
    for path, outcome in sorted(counts.outcomes.items()):
        total = sum(outcome.values())
        detail = ", ".join(f"{count} {kind}" for kind, count in sorted(outcome.items()))
        print(f"{path}: {outcome['passed']} of {total} passed ({detail})")
    return int(status)


if __name__ == "__main__":
    sys.exit(main())
