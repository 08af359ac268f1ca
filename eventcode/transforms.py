"""Transforms for dataset pipelines (Tonic's ``Compose``, torchvision's): encode a sample, densify it.

Each transform is a frozen dataclass holding its parameters and calling the matching function
(:func:`eventcode.rate`, :func:`eventcode.latency`, :func:`eventcode.delta`,
:meth:`Events.dense <eventcode.Events.dense>`) on one sample.

Examples
--------
>>> import torch
>>> import tonic
>>> from eventcode.transforms import Densify, Encode
>>> pipeline = tonic.transforms.Compose([Encode("latency", num_steps=20, normalize=True), Densify()])
>>> pipeline(torch.rand(1, 28, 28)).shape  # one image in, [T, C, H, W] spikes out
torch.Size([20, 1, 28, 28])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.utils.data

from eventcode.encoders import delta, latency, rate
from eventcode.errors import EncodingError
from eventcode.events import Events, Polarity

ENCODERS = {"rate": rate, "latency": latency, "delta": delta}
"""Encoder functions by the name :class:`Encode` takes."""


@dataclass(frozen=True)
class Encode:
    """Encode one sample (an image ``[C, H, W]`` / ``[H, W]``, or frames ``[T, ...]`` for delta).

    Parameters
    ----------
    code : {"rate", "latency", "delta"}
        The encoder.
    seed : int, optional
        For ``rate``: seed of the random stream. Each DataLoader worker derives its own stream
        from it (so workers never repeat each other); without a seed ``rate`` draws from torch's
        global generator, which DataLoader seeds differently in every worker.
    **options
        The encoder's keyword arguments (``num_steps``, ``threshold``, ...).

    Integer images are scaled to [0, 1] as :func:`as_values` says (uint8 by 255, uint16 by
    65,535, other integers of 0-255 by 255); numpy arrays and PIL images are accepted.

    Examples
    --------
    >>> import torch
    >>> from eventcode.transforms import Encode
    >>> events = Encode("rate", num_steps=10, seed=0)(torch.full((1, 4, 4), 255, dtype=torch.uint8))
    >>> len(events)  # p = 1 everywhere: every pixel fires at every step
    160
    """

    code: Literal["rate", "latency", "delta"]
    options: Mapping[str, object] = field(default_factory=dict)
    seed: int | None = None

    def __init__(
        self, code: Literal["rate", "latency", "delta"], seed: int | None = None, **options: object
    ) -> None:
        if code not in ENCODERS:
            raise EncodingError(f"code must be one of {sorted(ENCODERS)}, got {code!r}")
        if seed is not None and code != "rate":
            raise EncodingError(f"seed is for the rate code; {code} is deterministic")
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "options", dict(options))
        object.__setattr__(self, "seed", seed)
        object.__setattr__(self, "_generators", {})

    def __call__(self, data: object, generator: torch.Generator | None = None) -> Events:
        """The sample's events; ``generator`` (rate only) overrides the transform's own stream."""
        x = as_values(data)
        if self.code == "rate":
            return rate(x, batched=False, generator=generator or self._generator(), **self.options)
        return ENCODERS[self.code](x, batched=False, **self.options)

    def _generator(self) -> torch.Generator | None:
        """This process's (this worker's) generator, derived from the seed on first use."""
        if self.seed is None:
            return None
        info = torch.utils.data.get_worker_info()
        key = (os.getpid(), info.id if info else -1)
        if key not in self._generators:
            state = np.random.SeedSequence([self.seed, key[1] + 1]).generate_state(1, np.uint64)[0]
            self._generators[key] = torch.Generator().manual_seed(int(state))
        return self._generators[key]


@dataclass(frozen=True)
class Densify:
    """One sample's events as a dense ``[T, *shape]`` tensor (see :meth:`Events.dense`).

    Parameters
    ----------
    dtype, polarity, device
        As for :func:`eventcode.densify`.

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events
    >>> from eventcode.transforms import Densify
    >>> events = Events(t=[0, 2], x=[1, 0], y=[0, 0], p=[1, 0], shape=(2,), num_steps=3)
    >>> Densify()(events).tolist()
    [[0.0, 1.0], [0.0, 0.0], [-1.0, 0.0]]
    """

    dtype: torch.dtype = torch.float32
    polarity: Polarity = "signed"
    device: str | None = None

    def __call__(self, events: Events) -> torch.Tensor:
        if events.num_samples != 1:
            raise EncodingError(
                f"Densify takes one sample, got {events.num_samples}; densify a batch with events.dense()"
            )
        return events.dense(device=self.device, dtype=self.dtype, polarity=self.polarity)[:, 0]


def as_values(data: object, scale: float | None = None) -> torch.Tensor:
    """A sample as a float tensor, integer pixels scaled to [0, 1].

    ``uint8`` and ``uint16`` pixels are divided by their dtype's maximum (255, 65,535); other
    integer pixels (an ``int64`` array of 0-255 values, as ``numpy`` often makes) by 255 when
    none exceeds 255. Floats and bools pass as they are. ``scale`` divides any input by that
    value instead (e.g. ``scale=4095`` for 12-bit pixels stored as int32).

    Raises
    ------
    EncodingError
        Integer pixels beyond 255 in a dtype other than uint16, without ``scale``; or a scale
        that is not a positive number.

    Examples
    --------
    >>> import numpy as np
    >>> from eventcode.transforms import as_values
    >>> as_values(np.array([0, 51, 255], dtype=np.int64)).tolist()  # 0-255 in int64: by 255
    [0.0, 0.20000000298023224, 1.0]
    >>> as_values(np.array([0, 2048, 4096], dtype=np.int32), scale=4096).tolist()
    [0.0, 0.5, 1.0]
    """
    array = (
        data
        if isinstance(data, torch.Tensor)
        else torch.from_numpy(np.require(np.asarray(data), requirements="W"))
    )
    if scale is not None:
        if isinstance(scale, bool) or not float(scale) > 0 or not np.isfinite(float(scale)):
            raise EncodingError(
                f"scale must be a positive number (the value of full intensity), got {scale!r}"
            )
        return array.float() / float(scale)
    if array.dtype == torch.bool:
        return array.float()
    if array.is_floating_point():
        return array
    if array.dtype in (torch.uint8, torch.uint16):
        return array.float() / torch.iinfo(array.dtype).max
    if array.numel() and int(array.max()) > 255:
        raise EncodingError(
            f"{array.dtype} pixels up to {int(array.max())}: only uint8 and uint16 images have a known "
            "full-scale value; pass scale= (--scale on the command line), e.g. 4095 for 12-bit pixels"
        )
    return array.float() / 255
