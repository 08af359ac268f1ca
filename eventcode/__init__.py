"""eventcode: sparse address-event (AER) streams for spiking networks and event cameras.

Examples
--------
>>> import torch, eventcode
>>> spikes = (torch.rand(100, 8, 1, 28, 28) < 0.1).float()  # [T, B, C, H, W]
>>> events = eventcode.Events.from_dense(spikes)
>>> torch.equal(eventcode.densify(events), spikes)
True
"""

from eventcode import datasets, errors, spikegen, transforms
from eventcode.collate import collate
from eventcode.densify import densify
from eventcode.encoders import delta, latency, rate
from eventcode.events import Events
from eventcode.frames import to_frames, to_voxel_grid
from eventcode.spikegen import rate_conv

__version__ = "0.1.0"

__all__ = [
    "Events",
    "__version__",
    "collate",
    "datasets",
    "delta",
    "densify",
    "errors",
    "latency",
    "rate",
    "rate_conv",
    "spikegen",
    "to_frames",
    "to_voxel_grid",
    "transforms",
]
