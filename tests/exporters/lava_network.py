"""Run a raster through Lava 0.10 and save what a sink ``RingBuffer`` recorded.

Run by the Lava venv's python (Python 3.10, lava-nc, numpy < 2: no eventcode, no torch) from
``test_lava.py``. Two networks, simulated with ``Loihi2SimCfg(select_tag="floating_pt")``:

- ``relay``: source ``RingBuffer(data=raster)`` -> sink ``RingBuffer``;
- ``coincidence``: source -> ``Dense(weights)`` -> ``LIF`` -> sink.

    python lava_network.py raster.npy out.npy --steps 9 --mode coincidence --weights w.npy --vth 1.5
"""

from __future__ import annotations

import argparse

import numpy as np


def main() -> None:
    # Lava is imported here: pytest's --doctest-modules imports this file in the main env too.
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raster", help=".npy of the source's data, [N, T]")
    parser.add_argument("output", help=".npy to write the sink's data to, [M, steps]")
    parser.add_argument("--steps", type=int, required=True, help="time steps to run (and the sink's buffer)")
    parser.add_argument("--mode", choices=("relay", "coincidence"), default="relay")
    parser.add_argument("--weights", help=".npy of the Dense weights, [M, N] (coincidence)")
    parser.add_argument("--num-message-bits", type=int, default=0, help="Dense: 0 binary, > 0 graded")
    parser.add_argument("--vth", type=float, default=10.0, help="LIF threshold: a spike when v > vth")
    parser.add_argument("--du", type=float, default=1.0, help="LIF current decay (1: nothing carried over)")
    parser.add_argument("--dv", type=float, default=1.0, help="LIF voltage decay (1: nothing carried over)")
    args = parser.parse_args()

    source = Source(data=np.load(args.raster))
    if args.mode == "relay":
        sink = Sink(shape=source.s_out.shape, buffer=args.steps)
        source.s_out.connect(sink.a_in)
    else:
        weights = np.load(args.weights)
        dense = Dense(weights=weights, num_message_bits=args.num_message_bits)
        lif = LIF(shape=(weights.shape[0],), du=args.du, dv=args.dv, vth=args.vth)
        sink = Sink(shape=(weights.shape[0],), buffer=args.steps)
        source.s_out.connect(dense.s_in)
        dense.a_out.connect(lif.a_in)
        lif.s_out.connect(sink.a_in)
    sink.run(condition=RunSteps(num_steps=args.steps), run_cfg=Loihi2SimCfg(select_tag="floating_pt"))
    try:
        np.save(args.output, sink.data.get())
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
