"""``python -m eventcode``: the ``eventcode`` command."""

from eventcode.cli import main

main(prog_name="eventcode")
