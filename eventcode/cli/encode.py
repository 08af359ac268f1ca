"""``eventcode encode``: images to events in any format, options parsed by the encoders' types."""

from __future__ import annotations

import contextlib
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

import eventcode
from eventcode.cli.common import (
    COMPRESSION_HELP,
    FORMAT_HELP,
    compression_option,
    progress,
    refuse_same,
    targets,
)
from eventcode.errors import OptionError

if TYPE_CHECKING:
    import torch

    from eventcode.events import Events
    from eventcode.transforms import Code


BATCH = 256
"""Images encoded at a time by ``eventcode encode``."""
CODES = ("delta", "latency", "rate")
"""The codes of :data:`eventcode.transforms.ENCODERS` (named here so that ``--help`` needs no torch)."""


@click.command()
@click.option("--code", type=click.Choice(CODES), required=True, help="The encoder.")
@click.argument("source", type=click.Path(exists=True, dir_okay=True, path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--num-steps", type=click.IntRange(min=1), help="Time steps (rate, latency).")
@click.option("--threshold", type=click.FloatRange(min=0), help="Threshold, >= 0 (latency, delta).")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other encoder option, parsed by its type (e.g. clip=False, normalize=true, tau=5).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the rate code.")
@click.option("--limit", type=click.IntRange(min=1), help="Encode only the first LIMIT images.")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    help="Pixel value of full intensity (e.g. 255 for float 0-255 images, 4095 for 12-bit ones). "
    "Default: uint8/uint16 by their range, other integers of 0-255 by 255; floats must be in [0, 1].",
)
@click.option("--compression", help=COMPRESSION_HELP)
@click.option("--format", "format_name", help=FORMAT_HELP)
@click.option(
    "--dt-us",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Microseconds per step in the file.",
)
def encode(
    code: Code,  # click.Choice(CODES) gives one of them
    source: Path,
    target: Path,
    num_steps: int | None,
    threshold: float | None,
    options: tuple[str, ...],
    seed: int,
    limit: int | None,
    scale: float | None,
    compression: str | None,
    format_name: str | None,
    dt_us: int,
) -> None:
    """Encode SOURCE (MNIST IDX, .npy/.npz, or an image folder) into TARGET (any supported format).

    For delta, SOURCE holds frame sequences ``[N, T, ...]`` (one sequence per sample). A TARGET
    format holding one stream per file needs a ``{}`` placeholder for one file per sample.
    """
    import exporters

    explicit = {k: v for k, v in (("num_steps", num_steps), ("threshold", threshold)) if v is not None}
    settings = encoder_options(code, options, explicit)
    fmt = exporters.for_writing(target, format_name)
    refuse_same(source, target)
    images = _images(source, scale)[:limit]
    if not fmt.batched and len(images) > 1 and "{" not in str(target):
        raise OptionError(f"{fmt.name} holds one sample per file: put a {{}} placeholder in {target}")
    recorded = {"code": code, **settings, **({"seed": seed} if code == "rate" else {})}
    extra = compression_option(fmt, compression)
    with contextlib.ExitStack() as stack, progress(len(images), f"encode {code}", "sample") as bar:
        writer = None
        for start in range(0, len(images), BATCH):
            events = _encoded(code, images[start : start + BATCH], settings, seed + start)
            if fmt.batched:
                if writer is None:
                    writer = stack.enter_context(
                        fmt.module.Writer(
                            target,
                            shape=events.shape,
                            polarities=events.polarities,
                            batched=True,
                            num_steps=events.num_steps,
                            dt_us=dt_us,
                            encoding=recorded,
                            **extra,
                        )
                    )
                writer.write(events)
            else:
                for b in range(events.num_samples):
                    name = str(target).format(start + b)
                    exporters.write(name, events[b], format=fmt.name, dt_us=dt_us, **extra)
            bar.update(events.num_samples)
    click.echo(f"encoded {len(images)} samples with {code} into {targets(target, len(images))}")


def _encoded(code: str, batch: torch.Tensor, settings: dict[str, Any], seed: int) -> Events:
    """A batch of images (frame sequences for delta) encoded into one batch of events."""
    import torch

    from eventcode.events import Events
    from eventcode.transforms import ENCODERS, Encode

    if code == "delta":
        encode = Encode("delta", options=settings)
        return Events.cat([encode(sequence) for sequence in batch])
    extra = {"generator": torch.Generator().manual_seed(seed)} if code == "rate" else {}
    return ENCODERS[code](batch, **extra, **settings)


def encoder_options(code: Code, texts: tuple[str, ...], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """``--option KEY=VALUE`` texts parsed against the encoder's typed signature, plus ``explicit``.

    Booleans take Python's and JSON's spellings (``True``/``true``/``1``...), ``None``/``null``
    fill optional options, numbers are checked, and literals must be one of their values.

    Raises
    ------
    OptionError
        A text without ``=``, an unknown key (the message lists the valid ones) or a value that
        does not parse as the option's type.

    Examples
    --------
    >>> from eventcode.cli.encode import encoder_options
    >>> encoder_options("latency", ("clip=False", "normalize=true", "tau=5"), {"num_steps": 8})
    {'clip': False, 'normalize': True, 'tau': 5.0, 'num_steps': 8}
    """
    from eventcode.transforms import checked_options, option_types

    valid = option_types(code)
    settings: dict[str, Any] = {}
    for text in texts:
        key, equals, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if not key or not equals:
            raise OptionError(f"--option takes KEY=VALUE, got {text!r}")
        if key not in valid:
            raise OptionError(
                f"--option {key}: {code} has no such option; valid keys: {', '.join(sorted(valid))}"
            )
        settings[key] = _parsed(key, value, valid[key])
    for key, value in explicit.items():
        if key not in valid:
            raise OptionError(f"--{key.replace('_', '-')} is not an option of {code}")
        settings[key] = value
    return checked_options(code, settings)


_TRUE, _FALSE, _NONE = ("true", "1", "yes"), ("false", "0", "no"), ("none", "null")


def _parsed(key: str, text: str, annotation: object) -> object:
    """``text`` as a value of ``annotation`` (a type, a union of types, or a Literal)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        kinds = typing.get_args(annotation)
    else:
        kinds = (annotation,)
    word = text.strip()
    for kind in kinds:
        if kind is type(None) and word.lower() in _NONE:
            return None
        if kind is bool and word.lower() in _TRUE + _FALSE:
            return word.lower() in _TRUE
        if typing.get_origin(kind) is typing.Literal and word in typing.get_args(kind):
            return word
        if kind in (int, float):
            with contextlib.suppress(ValueError):
                number = float(word)
                if math.isfinite(number) and (kind is float or number == int(number)):
                    return kind(number)
        if kind is str:
            return text
    expected = " or ".join(_type_name(kind) for kind in kinds)
    raise OptionError(f"--option {key}={text!r}: expected {expected}")


def _type_name(kind: object) -> str:
    if kind is type(None):
        return "None"
    if typing.get_origin(kind) is typing.Literal:
        return " or ".join(repr(v) for v in typing.get_args(kind))
    names: dict[object, str] = {bool: "true/false", int: "an integer", float: "a finite number"}
    return names.get(kind, str(getattr(kind, "__name__", kind)))


def _images(source: Path, scale: float | None) -> torch.Tensor:
    """Images as floats in [0, 1]: ``[N, ...]`` from IDX, numpy or an image folder (see ``--scale``)."""
    import numpy as np

    from eventcode.transforms import as_values

    if source.is_dir():
        from PIL import Image

        files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
        if not files:
            raise OptionError(f"{source}: no .png/.jpg/.bmp images in the folder")
        array = np.stack([np.asarray(Image.open(p).convert("L")) for p in files])[:, None]
    elif source.suffix in (".npy", ".npz"):
        loaded = np.load(source)
        array = loaded[loaded.files[0]] if hasattr(loaded, "files") else loaded
    else:
        array = eventcode.datasets.read_idx(source)
        if array.ndim == 3:
            array = array[:, None]
    if array.ndim < 1 or len(array) == 0:
        raise OptionError(f"{source}: holds no images (shape {array.shape})")
    if array.dtype.kind not in "biuf":
        raise OptionError(f"{source}: pixels of dtype {array.dtype}; expected integers, floats or bools")
    values = as_values(np.ascontiguousarray(array), scale)
    if array.dtype.kind == "f" and scale is None:
        low, high = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)) or low < 0 or high > 1:
            raise OptionError(
                f"{source}: float pixels span {low:g} to {high:g}, outside [0, 1]; pass --scale with the "
                "value of full intensity (e.g. --scale 255)"
            )
    return values
