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
from torch.utils.data import DataLoader

import eventcode
from eventcode.datasets import MNIST, EncodedDataset, data_subset, load_mnist, read_idx, valid_split
from eventcode.errors import EventcodeError, FileFormatError, OptionError, OptionTypeError
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


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: load_mnist(split="train"), OptionError, "test digits only; pass root="),
        (lambda: load_mnist(split="valid"), OptionError, "split must be 'test' or 'train', got 'valid'"),
        (lambda: MNIST(transform=5), OptionTypeError, "transform must be callable"),
        (lambda: EncodedDataset(MNIST(), 5), OptionTypeError, "encoder must be callable"),
        (lambda: EncodedDataset(MNIST(), Encode("rate", num_steps=2), seed=-1), OptionError, "seed must be"),
        (
            lambda: EncodedDataset(MNIST(), Encode("rate", num_steps=2), seed="0"),
            OptionTypeError,
            "seed must",
        ),
        (lambda: data_subset(MNIST(), 10, idx=10), OptionError, "idx must be one of the 10 parts, 0 to 9"),
        (lambda: data_subset(MNIST(), 10, idx=-1), OptionError, "idx must be one of the 10 parts"),
        (lambda: data_subset(MNIST(), "10"), OptionTypeError, "subset must be an integer"),
        (lambda: data_subset([1, 2], 2), OptionTypeError, "data_subset takes a dataset with torchvision's"),
        (
            lambda: valid_split(MNIST(), MNIST(), 1.5),
            OptionError,
            r"split is the share .* in \[0, 1\]; got 1.5",
        ),
        (lambda: valid_split(MNIST(), MNIST(), "0.1"), OptionTypeError, "split must be a number"),
        (lambda: valid_split(MNIST(), MNIST(), 0.1, seed=-3), OptionError, "seed must be"),
        (lambda: valid_split(MNIST(), [], 0.1), OptionTypeError, "valid_split takes a dataset"),
    ],
)
def test_bad_arguments_raise_our_errors(call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match) as raised:
        call()  # type: ignore[operator]
    assert isinstance(raised.value, EventcodeError)


def test_mnist_dataset_and_encoded_dataset() -> None:
    digits = MNIST()
    image, label = digits[5]
    assert image.dtype == torch.float32
    assert float(image.max()) <= 1.0
    assert label == int(digits.targets[5])
    encoded = EncodedDataset(digits, Encode("latency", num_steps=10, options={"normalize": True}))
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


class SameImage(torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """Twelve copies of one image, labelled by index: encodings differ only by their random stream."""

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.full((1, 5, 5), 0.4), index


def documented_stream(seed: int, index: int) -> torch.Generator:
    """Sample ``index``'s generator as EncodedDataset documents it: numpy's SeedSequence child."""
    state = np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


@pytest.mark.parametrize("workers", [0, 1, 2])
@pytest.mark.parametrize("seeded", ["dataset", "encoder"])
def test_events_are_the_same_for_any_worker_count_and_order(workers: int, seeded: str) -> None:
    image = SameImage()[0][0]
    expected = [
        eventcode.rate(image[None], num_steps=20, generator=documented_stream(7, i)) for i in range(12)
    ]
    assert len({len(events) for events in expected}) > 1  # the samples' streams differ
    encode = Encode("rate", num_steps=20, seed=7 if seeded == "encoder" else None)
    dataset = EncodedDataset(SameImage(), encode, seed=7 if seeded == "dataset" else None)
    for order in (range(12), [5, 11, 0, 3, 3, 10, 1, 2, 4, 6, 7, 8, 9]):
        loader = DataLoader(dataset, batch_size=None, sampler=order, num_workers=workers)
        loaded = list(loader)
        assert [index for _, index in loaded] == list(order)
        assert all(events == expected[index] for events, index in loaded)


def test_negative_indexes_and_deterministic_codes_in_a_seeded_dataset() -> None:
    digits = EncodedDataset(MNIST(), Encode("rate", num_steps=10), seed=3)
    assert digits[-1][0] == digits[999][0]
    assert digits[-1][0] != digits[998][0]
    with pytest.raises(IndexError):
        digits[1000]
    image = MNIST()[4][0]
    latency = Encode("latency", num_steps=10, options={"normalize": True})
    seeded = EncodedDataset(MNIST(), latency, seed=3)  # the seed goes unused
    assert seeded[4][0] == eventcode.latency(image[None], num_steps=10, normalize=True)
