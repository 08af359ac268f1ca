"""``python -m tests.fuzz --format NAME[,NAME...]|all --seconds N``: fuzz readers, print the table.

Run from the repository root. ``--seconds`` is per reader; several readers (or ``all``) run in
turn. Findings (inputs ending in outcome classes 2-6) go to ``--findings``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

from . import engine, sandbox
from .targets import READERS, reader


def main(argv: list[str] | None = None) -> int:
    """Run the campaign; return 1 if any reader had a defect outcome, else 0."""
    names = [r.name for r in READERS]
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--format",
        default="all",
        help=f"all, or readers separated by commas: {', '.join(names)} (default: all)",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="seconds per reader (default: 60)")
    parser.add_argument("--max-executions", type=int, default=None, help="stop a reader after this many")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--findings",
        type=Path,
        default=Path(tempfile.gettempdir()) / "eventcode-fuzz-findings",
        help="folder for findings (default: %(default)s)",
    )
    arguments = parser.parse_args(argv)
    try:
        chosen = READERS if arguments.format == "all" else tuple(map(reader, arguments.format.split(",")))
    except KeyError as err:
        parser.error(str(err))
    sandbox.warm()
    print(f"# python -m tests.fuzz {' '.join(sys.argv[1:] if argv is None else argv)}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {platform.node()}, {platform.platform()}")
    rows = []
    for target in chosen:
        stats = engine.campaign(
            target,
            arguments.seconds,
            max_executions=arguments.max_executions,
            seed=arguments.seed,
            findings=arguments.findings,
        )
        rows.append(stats)
        found = ", ".join(str(path) for path in stats.findings) or "none"
        print(
            f"{target.name}: {stats.executions} executions in {stats.seconds:.0f} s; findings: {found}",
            flush=True,
        )
    print(engine.table(rows))
    return 1 if any(row.outcomes[outcome] for row in rows for outcome in sandbox.DEFECTS) else 0


if __name__ == "__main__":
    sys.exit(main())
