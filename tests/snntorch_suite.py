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

import importlib
import pkgutil
import sys
from types import ModuleType

import peer_suite

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


def main(argv: list[str] | None = None) -> int:
    """Run the suite; the exit status is pytest's."""

    def swap() -> tuple[str, list]:
        from eventcode import spikegen

        return f"eventcode.spikegen swapped in: {', '.join(sorted(swap_spikegen(spikegen)))}", []

    return peer_suite.main(argv, __doc__.splitlines()[0], "snnTorch", SUITE, swap)


if __name__ == "__main__":
    sys.exit(main())
