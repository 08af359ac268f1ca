"""One file per sample: how writers of single-stream formats take a batch of samples.

A path holding a ``{}`` placeholder (any ``str.format`` field, e.g. ``{:04d}``) names one file
per sample; a batch of several samples and a plain path is an error, never a silent merge.

Examples
--------
>>> import torch
>>> from eventcode import Events
>>> from exporters.batches import per_sample
>>> events = Events.from_dense(torch.ones(2, 3, 4))  # 3 samples
>>> [str(path) for path, _ in per_sample("digit_{:02d}.aedat4", events)]
['digit_00.aedat4', 'digit_01.aedat4', 'digit_02.aedat4']
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventcode.errors import ExportError

if TYPE_CHECKING:
    from eventcode import Events


def per_sample(path: str | os.PathLike[str], events: Events) -> list[tuple[Path, Events]]:
    """``(path, one-sample events)`` for each sample to write.

    Raises
    ------
    ExportError
        Several samples and no ``{}`` placeholder in ``path``. (One sample and a placeholder is
        fine: the file gets index 0.)
    """
    text = os.fspath(path)
    if "{" not in text:
        if events.num_samples != 1:
            raise ExportError(
                f"{events.num_samples} samples but one path {text!r}: a file holds one stream; put a "
                "{} placeholder in the path (e.g. 'digit_{}.aedat4') for one file per sample, or "
                "pass events[b] for one sample"
            )
        return [(Path(text), events)]
    return [(Path(text.format(b)), events[b]) for b in range(events.num_samples)]


def write_samples(
    writer: Callable[..., Any], path: str | os.PathLike[str], events: Events, **options: Any
) -> None:
    """Write each sample to its file (:func:`per_sample`) through a format's ``Writer``: opened with
    the sample's shape, polarities and (for step time) ``num_steps``, plus ``options``.

    Examples
    --------
    >>> import pathlib, tempfile, torch
    >>> from eventcode import Events
    >>> from exporters import aedat4
    >>> from exporters.batches import write_samples
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write_samples(aedat4.Writer, folder / "s{}.aedat4", Events.from_dense(torch.ones(2, 3, 4)), dt_us=10)
    >>> sorted(path.name for path in folder.iterdir())
    ['s0.aedat4', 's1.aedat4', 's2.aedat4']
    """
    for target, sample in per_sample(path, events):
        steps = {} if sample.num_steps is None else {"num_steps": sample.num_steps}
        with writer(target, shape=sample.shape, polarities=sample.polarities, **steps, **options) as opened:
            opened.write(sample)
