"""What the ``eventcode`` commands share: progress bars, output paths, compression names."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventcode.errors import OptionError

if TYPE_CHECKING:
    pass


COMPRESSION_HELP = (
    "Compression of the output, any case: AEDAT 4.0 takes none, lz4, lz4_high, zstd, zstd_high "
    "(zstd-22); HDF5 takes none, gzip, lzf, zstd, blosc; AEDAT 2.0 and 3.1 and NIR take none. Default: "
    "the format's own default (convert: the source's, AEDAT 4.0 to AEDAT 4.0)."
)
"""The compression names of each registered format (a test checks them against the modules)."""

FORMAT_HELP = (
    "The output format by name, where the suffix does not tell: .aedat is aedat2 (AEDAT 2.0) or "
    "aedat3 (AEDAT 3.1)."
)


@contextlib.contextmanager
def progress(total: int | None, description: str, unit: str) -> Iterator[Any]:
    """A progress bar on stderr that appears after a second of work: a command that fails at
    once (a target format refusing the samples) prints its one-line error alone."""
    from tqdm import tqdm

    with tqdm(
        total=total, desc=description, unit=unit, unit_scale=unit == "event", file=sys.stderr, delay=1.0
    ) as bar:
        yield bar


CAMERA_HELP = (
    "AEDAT 2.0: the camera whose address layout to write (DVS128, DAVIS240, DAVIS346, DAVIS640), one "
    "whose sensor holds the events; default: the one of the events' sensor size."
)


def camera_option(fmt: Any, camera: str | None, target: Path) -> dict[str, str]:
    """``{"camera": camera}`` for a writer that takes one (AEDAT 2.0), ``{}`` when none is given;
    any other target format refuses the option at once."""
    if camera is None:
        return {}
    import inspect

    if "camera" not in inspect.signature(fmt.module.Writer).parameters:
        raise OptionError(f"--camera is for AEDAT 2.0 files; {target} is {fmt.name}")
    return {"camera": camera}


def compression_option(fmt: Any, name: str | None) -> dict[str, str]:
    """``{"compression": canonical name}`` for the writer, or ``{}`` for the format's default.

    Checked before any work starts, so a misspelt codec fails at once.
    """
    from exporters.compression import canonical

    return {} if name is None else {"compression": canonical(name, fmt.module.COMPRESSIONS, fmt.description)}


def targets(target: Path, count: int) -> str:
    """The file(s) a write made: the path, or the first and last of a ``{}`` series."""
    text = str(target)
    if "{" not in text:
        return text
    if count == 1:
        return text.format(0)
    return f"{count} files, {text.format(0)} ... {text.format(count - 1)}"


def refuse_same(source: Path, target: Path) -> None:
    """Refuse a TARGET that is the SOURCE file itself (the same inode, by any name)."""
    if target.exists() and source.exists() and os.path.samefile(source, target):
        raise OptionError(f"{target} is the source file itself; choose another output path")
