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
from pathlib import Path
from typing import TYPE_CHECKING

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
