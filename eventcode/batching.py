"""Batching for ``torch.utils.data.DataLoader``: samples of events into one batched ``Events``.

With ``collate_fn=eventcode.collate`` a DataLoader yields ``(events, targets)`` where ``events``
is one :class:`~eventcode.Events` holding the whole batch (on the CPU, pinned if the loader pins
memory), so the training loop moves it to the GPU and densifies there:
``spikes = events.to("cuda").dense()`` (``[T, B, ...]``, as snnTorch networks take it).

Examples
--------
>>> import torch
>>> from torch.utils.data import DataLoader
>>> import eventcode
>>> from eventcode.datasets import MNIST, EncodedDataset
>>> latency = eventcode.transforms.Encode("latency", num_steps=25, options={"normalize": True})
>>> digits = EncodedDataset(MNIST(), latency)
>>> events, targets = next(iter(DataLoader(digits, batch_size=8, collate_fn=eventcode.collate)))
>>> events.num_samples, events.dense().shape, targets.tolist()
(8, torch.Size([25, 8, 1, 28, 28]), [7, 2, 1, 0, 4, 1, 4, 9])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from torch.utils.data import default_collate

from eventcode.errors import OptionError, OptionTypeError
from eventcode.events import Events


def collate(batch: Sequence[object]) -> object:
    """Join a list of samples: ``Events`` into one batch, anything else by torch's default rule.

    Accepts a list of ``Events`` or of tuples whose items are ``Events`` or collatable by
    ``default_collate`` (targets, labels...).

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events, collate
    >>> one = Events.from_dense(torch.ones(2, 1, 3))
    >>> events, labels = collate([(one, 3), (one, 5)])
    >>> events.num_samples, labels.tolist()
    (2, [3, 5])
    """
    if not isinstance(batch, Sequence) or not batch:
        raise OptionError(f"collate takes a non-empty list of samples, got {batch!r:.60}")
    first = batch[0]
    if isinstance(first, Events):
        return Events.cat(cast(list[Events], list(batch)))
    if isinstance(first, tuple | list):
        samples = cast(Sequence[Sequence[object]], batch)
        return type(first)(collate([sample[i] for sample in samples]) for i in range(len(first)))
    try:
        return default_collate(list(batch))
    except TypeError as err:  # torch's message names what it cannot batch
        raise OptionTypeError(f"collate: {err}") from None
