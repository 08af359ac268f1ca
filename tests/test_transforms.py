"""Tests of eventcode/transforms.py: Encode and Densify inside dataset pipelines."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import eventcode
from eventcode.errors import EncodingError
from eventcode.transforms import Densify, Encode


def test_encode_matches_the_encoder_functions() -> None:
    image = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert Encode("latency", num_steps=20, normalize=True)(image) == eventcode.latency(
        image[None], num_steps=20, normalize=True
    )
    frames = torch.rand(10, 1, 8, 8)
    assert Encode("delta", threshold=0.2, off_spike=True)(frames) == eventcode.delta(
        frames[:, None], threshold=0.2, off_spike=True
    )
    generator = torch.Generator().manual_seed(3)
    expected = eventcode.rate(image[None], num_steps=15, generator=torch.Generator().manual_seed(3))
    assert Encode("rate", num_steps=15)(image, generator=generator) == expected


def test_encode_takes_pixels_arrays_and_images() -> None:
    pixels = np.full((1, 4, 4), 255, dtype=np.uint8)
    assert len(Encode("rate", num_steps=5)(pixels)) == 80  # 255 -> p = 1: every pixel, every step
    pil = pytest.importorskip("PIL.Image")
    image = pil.fromarray(np.full((4, 4), 255, dtype=np.uint8))
    assert Encode("latency", num_steps=5, normalize=True)(image).shape == (4, 4)


def test_seeded_rate_is_reproducible_and_densify_gives_one_sample() -> None:
    image = torch.rand(1, 10, 10)
    first = Encode("rate", num_steps=30, seed=5)
    again = Encode("rate", num_steps=30, seed=5)
    a1, a2 = first(image), first(image)
    assert a1 != a2  # the stream moves on from call to call
    assert (again(image), again(image)) == (a1, a2)  # and replays from the seed
    spikes = Densify(polarity="on")(first(image))
    assert spikes.shape == (30, 1, 10, 10)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}


def test_errors() -> None:
    with pytest.raises(EncodingError, match="code must be one of"):
        Encode("phase")
    with pytest.raises(EncodingError, match="seed is for the rate code"):
        Encode("latency", seed=1)
    with pytest.raises(EncodingError, match="one sample"):
        Densify()(eventcode.Events.from_dense(torch.ones(2, 3, 4)))
