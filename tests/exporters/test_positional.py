"""Tests of exporters/positional.py: every byte moved however few the system moves a call."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from exporters import positional


def test_short_writes_and_reads_are_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_pwrite, real_preadv = os.pwrite, os.preadv
    monkeypatch.setattr(os, "pwrite", lambda fd, data, at: real_pwrite(fd, bytes(data[:3]), at))
    monkeypatch.setattr(os, "preadv", lambda fd, views, at: real_preadv(fd, [views[0][:5]], at))
    values = np.arange(100, dtype="<i8")
    descriptor = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        positional.write_at(descriptor, values, 16)
        positional.write_at(descriptor, b"head", 0)
        back = np.zeros(100, "<i8")
        assert positional.read_at(descriptor, back, 16)
        assert np.array_equal(back, values)
        assert not positional.read_at(descriptor, np.zeros(101, "<i8"), 16)  # the file ends first
    finally:
        os.close(descriptor)
    assert (tmp_path / "f").read_bytes()[:4] == b"head"


def test_a_write_that_moves_nothing_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "pwrite", lambda fd, data, at: 0)
    descriptor = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        with pytest.raises(OSError, match="wrote none"):
            positional.write_at(descriptor, b"abc", 0)
    finally:
        os.close(descriptor)
