"""Tests of eventcode/datasets.py: the IDX reader and the bundled MNIST sample."""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import eventcode
from eventcode.datasets import MNIST, EncodedDataset, data_subset, load_mnist, read_idx, valid_split
from eventcode.errors import FileFormatError
from eventcode.transforms import Encode

BUNDLED_LABELS = (resources.files("eventcode") / "data" / "mnist-test-1000-labels-idx1-ubyte.gz").read_bytes()


def test_bundled_sample_is_the_first_thousand_test_digits(shared: Path) -> None:
    images, labels = load_mnist()
    full_images, full_labels = load_mnist(shared / "data/mnist", split="test")
    assert full_images.shape == (10000, 28, 28)
    assert full_labels.bincount().tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert float(full_images.double().mean()) == pytest.approx(33.791224489795916, abs=1e-9)
    assert (images == full_images[:1000]).all()
    assert (labels == full_labels[:1000]).all()


def test_reads_plain_idx_files(tmp_path: Path) -> None:
    raw = gzip.decompress(BUNDLED_LABELS)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(raw)
    assert read_idx(tmp_path / "t10k-labels-idx1-ubyte")[:5].tolist() == [7, 2, 1, 0, 4]
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path)


def test_multibyte_big_endian_elements(tmp_path: Path) -> None:
    values = np.array([[1, -2, 300]], dtype=">i4")
    path = tmp_path / "ints.idx"
    path.write_bytes(b"\0\0\x0c\x02" + np.array([1, 3], ">u4").tobytes() + values.tobytes())
    assert read_idx(path).tolist() == [[1, -2, 300]]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x01\x02\x08\x01", "not an IDX file"),
        (b"\0\0\x07\x01", "not an IDX file"),
        (b"\0\0\x08\x03\0\0", "needs 16 bytes"),
        (b"\0\0\x08\x01\0\0\0\x05abc", "truncated"),
        (BUNDLED_LABELS[:100], "corrupt gzip"),
    ],
)
def test_bad_files_raise_our_error(tmp_path: Path, data: bytes, match: str) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(FileFormatError, match=match):
        read_idx(path)


@given(st.data())
def test_corrupted_bytes_give_our_error_or_an_array(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    raw = bytearray(data.draw(st.sampled_from([BUNDLED_LABELS, gzip.decompress(BUNDLED_LABELS)])))
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    path = tmp_path_factory.mktemp("fuzz") / "labels.idx"
    path.write_bytes(bytes(raw))
    try:
        array = read_idx(path)
    except FileFormatError:
        return
    content = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else bytes(raw)
    rank = content[3]
    assert array.shape == tuple(np.frombuffer(content, ">u4", count=rank, offset=4))


def test_split_arguments() -> None:
    with pytest.raises(ValueError, match="test digits only"):
        load_mnist(split="train")
    with pytest.raises(ValueError, match="split must be"):
        load_mnist(split="valid")  # type: ignore[arg-type]


def test_mnist_dataset_and_encoded_dataset() -> None:
    digits = MNIST()
    image, label = digits[5]
    assert image.dtype == torch.float32
    assert float(image.max()) <= 1.0
    assert label == int(digits.targets[5])
    encoded = EncodedDataset(digits, Encode("latency", num_steps=10, normalize=True))
    events, target = encoded[5]
    assert target == label
    assert encoded.sensor_size == (28, 28, 2)
    assert events == eventcode.latency(image[None], num_steps=10, normalize=True)
    assert len(encoded) == 1000


@pytest.mark.parametrize(("subset", "idx"), [(1, 0), (10, 0), (10, 9), (7, 3)])
def test_data_subset_matches_snntorch(subset: int, idx: int) -> None:
    snn_utils = pytest.importorskip("snntorch.utils")
    ours, theirs = data_subset(MNIST(), subset, idx), snn_utils.data_subset(MNIST(), subset, idx)
    assert torch.equal(ours.data, theirs.data)
    assert torch.equal(ours.targets, theirs.targets)


@pytest.mark.parametrize(("split", "seed"), [(0.1, 0), (0.25, 3)])
def test_valid_split_matches_snntorch(split: float, seed: int) -> None:
    snn_utils = pytest.importorskip("snntorch.utils")
    ours = valid_split(MNIST(), MNIST(), split, seed)
    theirs = snn_utils.valid_split(MNIST(), MNIST(), split, seed)
    for mine, reference in zip(ours, theirs, strict=True):
        assert torch.equal(mine.data, reference.data)
        assert torch.equal(mine.targets, reference.targets)
