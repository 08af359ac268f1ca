"""Event-native spike encoders: dense values in, :class:`~eventcode.Events` out.

Each follows the semantics of the snnTorch ``spikegen`` function of the same name, but emits
address events instead of a dense ``[T x B x ...]`` tensor; :mod:`eventcode.spikegen` wraps them
into snnTorch's dense outputs.

All follow one batch contract: the first dim of the input after the time dim, if any, is the
batch (``[B, ...]`` for :func:`rate` and :func:`latency`, ``[T, B, ...]`` for :func:`delta` and
time-varying :func:`rate`), and ``batched=False`` reads the input as one sample. A flattened
image ``img.flatten()`` is therefore 784 samples of shape ``()``; one sample of shape
``(784,)`` is ``img.flatten()[None]`` or ``batched=False``. Input without the batch dim raises
:class:`~eventcode.errors.EncodingError` saying how to add it.

Examples
--------
>>> import torch
>>> from eventcode import delta, latency, rate
>>> img = torch.rand(28, 28)
>>> [(e.num_samples, e.shape) for e in (rate(img.flatten(), 4), latency(img.flatten(), 25, normalize=True))]
[(784, ()), (784, ())]
>>> [(e.num_samples, e.shape) for e in (rate(img.flatten()[None], 4), rate(img.flatten(), 4, batched=False))]
[(1, (784,)), (1, (784,))]
>>> frames = img.flatten().repeat(3, 1)  # [T=3, 784]: 784 sequences; [:, None] makes one of (784,)
>>> (delta(frames).num_samples, delta(frames[:, None]).shape, delta(frames, batched=False).shape)
(784, (784,), (784,))
"""

from eventcode.encoders.delta import delta
from eventcode.encoders.latency import latency
from eventcode.encoders.rate import rate

__all__ = ["delta", "latency", "rate"]
