"""eventcode and Tonic together: encoded digits through Tonic transforms, and a recording both ways.

1. Encode digits with ``EncodedDataset``; hand the events to Tonic as its own structured arrays
   (``to_tonic``) and run Tonic transforms on them (``Denoise``, ``ToFrame``); eventcode's
   ``to_frames`` gives Tonic's frames with ``tonic_compat=True`` and keeps every event without.
2. Use eventcode's ``Encode`` and ``Densify`` inside ``tonic.transforms.Compose``.
3. Read a real DVXplorer recording with Tonic's ``read_aedat4`` and with eventcode's reader, and
   compare; then back from Tonic's array to ``Events`` with ``from_tonic``.

Run: ``python examples/tonic_interop.py [--recording path.aedat4]`` (default: the sample in
``../shared/data/real`` when present).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tonic
import torch

import eventcode
from eventcode.datasets import MNIST, EncodedDataset
from eventcode.tonic import from_tonic, to_tonic
from eventcode.transforms import Densify, Encode
from exporters import aedat4

RECORDING = Path(__file__).resolve().parents[1].parent / "shared/data/real/aedat4/tonic_sample.aedat4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recording", type=Path, default=RECORDING)
    args = parser.parse_args()

    digits = EncodedDataset(MNIST(), Encode("rate", num_steps=50), seed=0)
    events, label = digits[0]
    array = to_tonic(events)
    sensor = digits.sensor_size
    denoised = tonic.transforms.Denoise(filter_time=3)(array)
    frames = tonic.transforms.ToFrame(sensor_size=sensor, n_time_bins=5)(array)
    print(f"digit {label}: {len(array)} events as a Tonic array {array.dtype}")
    print(f"  Tonic Denoise kept {len(denoised)}; back in eventcode: {from_tonic(denoised, sensor)}")
    print(f"  Tonic ToFrame: {frames.shape}, {int(frames.sum())} events in frames")
    same = np.array_equal(eventcode.to_frames(events, n_time_bins=5, tonic_compat=True).numpy(), frames)
    ours = eventcode.to_frames(events, n_time_bins=5)
    print(f"  to_frames(tonic_compat=True) equals it: {same}; to_frames: {int(ours.sum())} events in frames")

    latency = Encode("latency", num_steps=20, options={"normalize": True})
    pipeline = tonic.transforms.Compose([latency, Densify()])
    print(f"Compose([Encode, Densify]) on an image: {list(pipeline(MNIST()[1][0]).shape)}")

    if args.recording.exists():
        theirs = tonic.io.read_aedat4(str(args.recording))
        ours = aedat4.read(args.recording)
        same = all(
            np.array_equal(theirs[k].astype(np.int64), getattr(ours, k).numpy().astype(np.int64))
            for k in "txy"
        )
        print(f"{args.recording.name}: Tonic read {len(theirs)} events, eventcode {len(ours)}; equal: {same}")
        back = from_tonic(theirs, sensor_size=ours.sensor_size)  # aedat's t uint64, p titled "on"
        first_10ms = ours.time_slice(None, int(ours.t[0]) + 10_000)
        print(f"  Tonic's array as Events equals ours: {back == ours}; first 10 ms: {len(first_10ms)} events")
    spikes = eventcode.collate([digits[i] for i in range(4)])[0].dense()
    print(
        f"a batch of 4 encoded digits densified: {list(spikes.shape)}, {torch.count_nonzero(spikes)} spikes"
    )


if __name__ == "__main__":
    main()
