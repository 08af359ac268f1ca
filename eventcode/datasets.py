"""Image datasets to encode: an MNIST IDX reader and a bundled sample of 1,000 test digits.

The bundled sample (the first 1,000 MNIST test digits, CC BY-SA 3.0, see
``eventcode/data/MNIST-NOTICE.md``) needs no download.

Examples
--------
>>> from eventcode import datasets
>>> images, labels = datasets.load_mnist()
>>> images.shape, images.dtype, labels[:5].tolist()
(torch.Size([1000, 28, 28]), torch.uint8, [7, 2, 1, 0, 4])
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.utils.data

from eventcode.errors import FileFormatError
from eventcode.events import Events

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MNIST_FILES = {"test": "t10k", "train": "train"}


def read_idx(path: str | os.PathLike[str] | resources.abc.Traversable) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    Raises
    ------
    FileFormatError
        Bad magic, unknown element type, or fewer bytes than the header announces.

    Examples
    --------
    >>> from importlib import resources
    >>> from eventcode.datasets import read_idx
    >>> path = resources.files("eventcode") / "data" / "mnist-test-1000-labels-idx1-ubyte.gz"
    >>> read_idx(path).shape
    (1000,)
    """
    data = (path if hasattr(path, "read_bytes") else Path(path)).read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise FileFormatError(f"{path}: corrupt gzip stream ({err})") from err
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _IDX_DTYPES:
        raise FileFormatError(
            f"{path}: not an IDX file (bytes 0-3 are {data[:4].hex()}, expected 0000 + type + rank)"
        )
    dtype, rank = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * rank
    if len(data) < header:
        raise FileFormatError(
            f"{path}: IDX header of rank {rank} needs {header} bytes, the file has {len(data)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=rank, offset=4))
    count = math.prod(dims)
    needed = header + count * dtype.itemsize
    if len(data) < needed:
        raise FileFormatError(
            f"{path}: IDX dims {dims} need {needed} bytes, the file has {len(data)} (truncated?)"
        )
    values = np.frombuffer(data, dtype, count=count, offset=header)
    return values.reshape(dims).astype(dtype.newbyteorder("="))


def load_mnist(
    root: str | os.PathLike[str] | None = None, split: Literal["test", "train"] = "test"
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images ``uint8 [N, 28, 28]`` and labels ``int64 [N]``.

    Parameters
    ----------
    root : path, optional
        Folder with the original IDX files (``t10k-images-idx3-ubyte[.gz]`` ...). Default:
        the bundled sample of the first 1,000 test digits.
    split : {"test", "train"}
        Which files to read from ``root``; the bundled sample is test digits only.

    Examples
    --------
    >>> from eventcode.datasets import load_mnist
    >>> images, labels = load_mnist()
    >>> float(images.float().mean() / 255) > 0.1
    True
    """
    if split not in _MNIST_FILES:
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    if root is None:
        if split != "test":
            raise ValueError("the bundled sample holds test digits only; pass root= for the train split")
        folder = resources.files("eventcode") / "data"
        images = read_idx(folder / "mnist-test-1000-images-idx3-ubyte.gz")  # type: ignore[arg-type]
        labels = read_idx(folder / "mnist-test-1000-labels-idx1-ubyte.gz")  # type: ignore[arg-type]
    else:
        prefix = _MNIST_FILES[split]
        images, labels = (
            read_idx(_find(Path(root), f"{prefix}-{kind}-ubyte")) for kind in ("images-idx3", "labels-idx1")
        )
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"no {stem} or {stem}.gz in {root}; point root= at the MNIST IDX files")


class MNIST(torch.utils.data.Dataset):
    """MNIST digits as a map-style dataset of ``(image float [1, 28, 28] in [0, 1], label)``.

    ``data`` (uint8 ``[N, 28, 28]``) and ``targets`` (int64 ``[N]``) are attributes, as in
    torchvision, so :func:`data_subset` and :func:`valid_split` work on it.

    Parameters
    ----------
    root : path, optional
        Folder with the IDX files; default the bundled 1,000 test digits.
    split : {"test", "train"}
        Which files to read from ``root``.
    transform : callable, optional
        Applied to each image (e.g. :class:`eventcode.transforms.Encode`).

    Examples
    --------
    >>> from eventcode.datasets import MNIST
    >>> digits = MNIST()
    >>> image, label = digits[0]
    >>> len(digits), image.shape, label
    (1000, torch.Size([1, 28, 28]), 7)
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: Literal["test", "train"] = "test",
        transform: Callable[[torch.Tensor], object] | None = None,
    ) -> None:
        self.data, self.targets = load_mnist(root, split)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[object, int]:
        image = self.data[index][None].float() / 255
        return (self.transform(image) if self.transform else image), int(self.targets[index])


class EncodedDataset(torch.utils.data.Dataset):
    """Any map-style ``(image, target)`` dataset as an event dataset: ``(Events, target)``.

    Follows Tonic's dataset contract (``dataset[i]`` is ``(events, target)``, ``sensor_size``
    is an attribute); ``eventcode.collate`` batches it for a DataLoader.

    Parameters
    ----------
    dataset : map-style dataset
        Yields ``(image, target)``; images as tensors, arrays or PIL images (integers are scaled
        to [0, 1]).
    encoder : callable
        Image -> ``Events``, typically :class:`eventcode.transforms.Encode`.
    seed : int, optional
        Makes random encoders reproducible per sample: sample ``i`` is encoded with a generator
        seeded from ``(seed, i)``, whichever worker loads it and in whatever order.

    Examples
    --------
    >>> from eventcode.datasets import MNIST, EncodedDataset
    >>> from eventcode.transforms import Encode
    >>> digits = EncodedDataset(MNIST(), Encode("rate", num_steps=25), seed=0)
    >>> events, label = digits[3]
    >>> events.num_steps, digits.sensor_size, label, digits[3][0] == events
    (25, (28, 28, 2), 0, True)
    """

    def __init__(self, dataset: object, encoder: Callable[..., Events], seed: int | None = None) -> None:
        self.dataset, self.encoder, self.seed = dataset, encoder, seed
        self._sensor_size: tuple[int, int, int] | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Events, object]:
        image, target = self.dataset[index]
        if self.seed is None:
            events = self.encoder(image)
        else:
            state = np.random.SeedSequence([self.seed, index]).generate_state(1, np.uint64)[0]
            events = self.encoder(image, generator=torch.Generator().manual_seed(int(state)))
        return events, target

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        """Tonic's ``(W, H, P)`` of the encoded samples (from the first one)."""
        if self._sensor_size is None:
            self._sensor_size = self[0][0].sensor_size
        return self._sensor_size


def data_subset(dataset: object, subset: int, idx: int = 0) -> object:
    """snnTorch's ``utils.data_subset``: keep the ``idx``-th of ``subset`` equal contiguous parts.

    Changes ``dataset.data`` and ``dataset.targets`` in place (``subset <= 1`` keeps all) and
    returns the dataset.

    Examples
    --------
    >>> from eventcode.datasets import MNIST, data_subset
    >>> len(data_subset(MNIST(), 10, idx=2)), MNIST().targets[200].item() == data_subset(MNIST(), 10, 2)[0][1]
    (100, True)
    """
    if subset > 1:
        size = len(dataset.data) // subset
        dataset.data = dataset.data[idx * size : (idx + 1) * size]
        dataset.targets = dataset.targets[idx * size : (idx + 1) * size]
    return dataset


def valid_split(ds_train: object, ds_val: object, split: float, seed: int = 0) -> tuple[object, object]:
    """snnTorch's ``utils.valid_split``: move a random ``split`` share of a dataset to validation.

    ``ds_train`` keeps ``n - int(n * split)`` samples chosen by
    ``numpy.random.default_rng(seed).choice(n, ..., replace=False)`` (in that random order);
    ``ds_val`` (a second copy of the same data) keeps the rest in ascending order. Both are
    changed in place and returned.

    Examples
    --------
    >>> from eventcode.datasets import MNIST, valid_split
    >>> train, val = valid_split(MNIST(), MNIST(), split=0.1)
    >>> len(train), len(val)
    (900, 100)
    """
    n = len(ds_train.data)
    keep = np.random.default_rng(seed).choice(n, n - int(n * split), replace=False)
    rest = np.setdiff1d(np.arange(n), keep)
    ds_train.data, ds_train.targets = ds_train.data[keep], ds_train.targets[keep]
    ds_val.data, ds_val.targets = ds_val.data[rest], ds_val.targets[rest]
    return ds_train, ds_val
