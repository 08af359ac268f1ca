"""The ``eventcode`` command: demo, encode, emulate, convert, convert-dataset, export-sim, info and view
(also ``python -m eventcode``).

File formats come from the :mod:`exporters` registry and codes from
:data:`eventcode.transforms.ENCODERS`. Errors, including bad option values, print one line
(``eventcode: error: ...``) and exit non-zero; warnings print one line too; ``--debug`` shows
the traceback instead. Each command has its module (``eventcode.cli.demo``, ``.encode``,
``.emulate``, ``.convert``, ``.convert_dataset``, ``.export_sim``, ``.info``, ``.view``); they import only
click at start-up, so ``eventcode --help`` and ``eventcode info`` never import torch.

Examples
--------
>>> from click.testing import CliRunner
>>> from eventcode.cli import main
>>> result = CliRunner().invoke(main, ["--help"])
>>> result.exit_code, "convert" in result.output
(0, True)
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

import eventcode
from eventcode.cli import convert, convert_dataset, demo, emulate, encode, export_sim, info, view
from eventcode.errors import EventcodeError, EventcodeWarning


class Commands(click.Group):
    """A command group that turns errors into one line and a non-zero exit (unless ``--debug``)."""

    def invoke(self, context: click.Context) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", EventcodeWarning)
                warnings.showwarning = _show_warning
                return super().invoke(context)
        except click.UsageError as err:
            if context.params.get("debug"):
                raise
            command = f"eventcode {err.ctx.command.name} --help" if err.ctx else "eventcode --help"
            click.echo(f"eventcode: error: {err.format_message()} (see {command})", err=True)
            sys.exit(err.exit_code)
        except (EventcodeError, OSError, ValueError, ImportError, KeyError, IndexError) as err:
            if context.params.get("debug"):
                raise
            click.echo(f"eventcode: error: {err}", err=True)
            sys.exit(1)


@click.group(cls=Commands)
@click.version_option(eventcode.__version__, prog_name="eventcode")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def main(debug: bool) -> None:
    """Sparse address-event streams: encode, emulate (video to DVS events), convert, inspect and view event
    files."""


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A warning as one line on stderr, like the errors."""
    click.echo(f"eventcode: warning: {message}", err=True)


for command in (
    demo.demo,
    encode.encode,
    emulate.emulate,
    convert.convert,
    convert_dataset.convert_dataset,
    export_sim.export_sim,
    info.info,
    view.view,
):
    main.add_command(command)
