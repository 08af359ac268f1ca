"""Tests of exporters/batches.py: one file per sample, never a silent merge."""

from __future__ import annotations

import pytest
import torch

from eventcode import Events
from eventcode.errors import ExportError
from exporters.batches import per_sample


def test_placeholders_name_one_file_per_sample() -> None:
    events = Events.from_dense(torch.eye(4)[:, :, None])  # 4 samples
    pairs = per_sample("out/{:03d}.aedat4", events)
    assert [str(path) for path, _ in pairs] == [f"out/{b:03d}.aedat4" for b in range(4)]
    assert [sample for _, sample in pairs] == [events[b] for b in range(4)]


def test_one_sample_needs_no_placeholder_and_several_refuse_a_plain_path() -> None:
    one = Events.from_dense(torch.ones(2, 1, 3))
    assert per_sample("a.aedat4", one)[0][1] == one
    with pytest.raises(ExportError, match="placeholder"):
        per_sample("a.aedat4", Events.from_dense(torch.ones(2, 2, 3)))
