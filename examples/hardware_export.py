"""Encode digits for hardware: events -> AEDAT 4.0 and HDF5 files -> read back -> densify.

Neuromorphic boards and their tool chains (iniVation's DV, dv-processing, faery, Tonic) read
AEDAT 4.0; datasets and pipelines ship HDF5. This writes one AEDAT 4.0 file per digit (1 ms a
step, zstd) and one HDF5 file for the whole batch (blosc), reads both back, checks them against
the events written, and densifies a batch for a network.

Run: ``python examples/hardware_export.py [--out hardware_export] [--digits 32]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import eventcode
import exporters
from eventcode.datasets import load_mnist
from exporters import aedat4, hdf5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("hardware_export"))
    parser.add_argument("--digits", type=int, default=32)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    images, labels = load_mnist()
    batch = images[: args.digits, None].float() / 255
    events = eventcode.latency(batch, num_steps=50, normalize=True, linear=True, clip=True)
    print(f"{events.num_samples} digits, {len(events):,} events")

    start = time.perf_counter()
    exporters.write(args.out / "digit_{:03d}.aedat4", events, compression="zstd", dt_us=1000)
    exporters.write(args.out / "digits.h5", events, compression="blosc", encoding={"code": "latency"})
    print(f"written in {time.perf_counter() - start:.2f} s:")
    first = args.out / "digit_000.aedat4"
    print(f"  {first.name}: {first.stat().st_size} bytes, {aedat4.info(first).compression}, 1 ms a step")
    stored = hdf5.info(args.out / "digits.h5")
    print(f"  digits.h5: {stored.path.stat().st_size} bytes, {stored.compression}, {stored.samples} samples")

    back = eventcode.Events.cat(
        [exporters.read(args.out / f"digit_{b:03d}.aedat4") for b in range(args.digits)]
    )
    whole = exporters.read(args.out / "digits.h5")
    print(f"read back equal: AEDAT 4.0 {back == events}, HDF5 {whole == events}")
    if back != events or whole != events:
        raise SystemExit("the files did not read back equal")
    early = exporters.read(args.out / "digits.h5", sample=5, t_start=0, t_end=10)
    print(f"digit 5 (a {labels[5].item()}), steps 0-9 only: {len(early)} events read")
    spikes = whole.dense(device="cuda" if torch.cuda.is_available() else "cpu")
    print(f"densified for a network: {list(spikes.shape)} on {spikes.device}")


if __name__ == "__main__":
    main()
