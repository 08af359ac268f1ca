"""Event-native spike encoders: dense values in, :class:`~eventcode.Events` out.

Each follows the semantics of the snnTorch ``spikegen`` function of the same name, but emits
address events instead of a dense ``[T x B x ...]`` tensor; :mod:`eventcode.spikegen` wraps them
into snnTorch's dense outputs.
"""

from eventcode.encoders.delta import delta
from eventcode.encoders.latency import latency
from eventcode.encoders.rate import rate

__all__ = ["delta", "latency", "rate"]
