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
import numbers
import os
import zlib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import numpy as np
import torch
import torch.utils.data

from eventcode.errors import FileFormatError, OptionError, OptionTypeError
from eventcode.events import Events
from eventcode.transforms import check_seed, sample_generator

if TYPE_CHECKING:
    from importlib.abc import Traversable

_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MNIST_FILES = {"test": "t10k", "train": "train"}


class MapDataset(Protocol):
    """A map-style dataset: ``len(dataset)`` samples, ``dataset[i]`` for each."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> Any: ...


class Labelled(Protocol):
    """A dataset with torchvision's ``data`` and ``targets`` (indexable arrays of one length)."""

    data: Any
    targets: Any


LabelledT = TypeVar("LabelledT", bound=Labelled)


def read_idx(path: str | os.PathLike[str] | Traversable) -> np.ndarray[Any, np.dtype[Any]]:
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
    data = (Path(path) if isinstance(path, str | os.PathLike) else path).read_bytes()
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

    Raises
    ------
    OptionError
        An unknown split, or the train split of the bundled sample.
    FileNotFoundError
        ``root`` lacks the split's IDX files.
    FileFormatError
        An IDX file is damaged (see :func:`read_idx`).

    Examples
    --------
    >>> from eventcode.datasets import load_mnist
    >>> images, labels = load_mnist()
    >>> float(images.float().mean() / 255) > 0.1
    True
    """
    if not isinstance(split, str) or split not in _MNIST_FILES:
        raise OptionError(f"split must be 'test' or 'train', got {split!r}")
    if root is None:
        if split != "test":
            raise OptionError("the bundled sample holds test digits only; pass root= for the train split")
        folder = resources.files("eventcode") / "data"
        images = read_idx(folder / "mnist-test-1000-images-idx3-ubyte.gz")
        labels = read_idx(folder / "mnist-test-1000-labels-idx1-ubyte.gz")
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


class MNIST(torch.utils.data.Dataset[tuple[object, int]]):
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
        if transform is not None and not callable(transform):
            raise OptionTypeError(f"MNIST: transform must be callable, got {transform!r}")
        self.data, self.targets = load_mnist(root, split)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[object, int]:
        image = self.data[index][None].float() / 255
        return (self.transform(image) if self.transform else image), int(self.targets[index])


class EncodedDataset(torch.utils.data.Dataset[tuple[Events, object]]):
    """Any map-style ``(image, target)`` dataset as an event dataset: ``(Events, target)``.

    Follows Tonic's dataset contract (``dataset[i]`` is ``(events, target)``, ``sensor_size``
    is an attribute); ``eventcode.collate`` batches it for a DataLoader.

    Parameters
    ----------
    dataset : map-style dataset
        Yields ``(image, target)``; images as tensors, arrays or PIL images (integers are scaled
        to [0, 1]).
    encoder : callable
        Image -> ``Events``, typically :class:`eventcode.transforms.Encode`. With a seed it is
        called as ``encoder(image, generator=...)``.
    seed : int, optional
        Makes random encoders reproducible per sample: sample ``i`` (a negative ``i`` counts
        from the end, as ``dataset[i]`` does) is encoded with
        ``eventcode.transforms.sample_generator(seed, i)``, a new CPU generator whose stream
        depends on ``(seed, i)`` alone, so the events are the same whichever DataLoader worker
        loads the sample, with any number of workers and in any order. Default: the encoder's
        own ``seed`` attribute (an :class:`~eventcode.transforms.Encode`'s), if it has one;
        without either, the encoder draws from torch's global generator, which DataLoader seeds
        differently in every worker and epoch.

    Raises
    ------
    OptionError
        A seed that is not a non-negative integer, or an encoder that is not callable.

    Examples
    --------
    >>> from eventcode.datasets import MNIST, EncodedDataset
    >>> from eventcode.transforms import Encode
    >>> digits = EncodedDataset(MNIST(), Encode("rate", num_steps=25), seed=0)
    >>> events, label = digits[3]
    >>> events.num_steps, digits.sensor_size, label, digits[3][0] == events
    (25, (28, 28, 2), 0, True)
    >>> EncodedDataset(MNIST(), Encode("rate", num_steps=25, seed=0))[3][0] == events  # the encoder's seed
    True
    """

    def __init__(self, dataset: MapDataset, encoder: Callable[..., Events], seed: int | None = None) -> None:
        if not callable(encoder):
            raise OptionTypeError(
                f"EncodedDataset: encoder must be callable (image -> Events), got {encoder!r}"
            )
        self.dataset, self.encoder = dataset, encoder
        self.seed = check_seed(getattr(encoder, "seed", None) if seed is None else seed)
        self._sensor_size: tuple[int, int, int] | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Events, object]:
        image, target = self.dataset[index]
        if self.seed is None:
            return self.encoder(image), target
        position = range(len(self))[index]
        return self.encoder(image, generator=sample_generator(self.seed, position)), target

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        """Tonic's ``(W, H, P)`` of the encoded samples (from the first one)."""
        if self._sensor_size is None:
            self._sensor_size = self[0][0].sensor_size
        return self._sensor_size


def data_subset(dataset: LabelledT, subset: int, idx: int = 0) -> LabelledT:
    """snnTorch's ``utils.data_subset``: keep the ``idx``-th of ``subset`` equal contiguous parts.

    Changes ``dataset.data`` and ``dataset.targets`` in place (``subset <= 1`` keeps all) and
    returns the dataset.

    Raises
    ------
    OptionError
        ``subset`` or ``idx`` is not an integer, ``idx`` is not one of the ``subset`` parts, or
        ``dataset`` has no ``data`` and ``targets``.

    Examples
    --------
    >>> from eventcode.datasets import MNIST, data_subset
    >>> len(data_subset(MNIST(), 10, idx=2)), MNIST().targets[200].item() == data_subset(MNIST(), 10, 2)[0][1]
    (100, True)
    """
    _check_torchvision_like(dataset, "data_subset")
    given: tuple[tuple[str, object], ...] = (("subset", subset), ("idx", idx))  # any object, as passed
    for name, value in given:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise OptionTypeError(f"data_subset: {name} must be an integer, got {value!r}")
    if subset > 1 and not 0 <= idx < subset:
        raise OptionError(f"data_subset: idx must be one of the {subset} parts, 0 to {subset - 1}; got {idx}")
    if subset > 1:
        size = len(dataset.data) // subset
        dataset.data = dataset.data[idx * size : (idx + 1) * size]
        dataset.targets = dataset.targets[idx * size : (idx + 1) * size]
    return dataset


def valid_split(
    ds_train: LabelledT, ds_val: LabelledT, split: float, seed: int = 0
) -> tuple[LabelledT, LabelledT]:
    """snnTorch's ``utils.valid_split``: move a random ``split`` share of a dataset to validation.

    ``ds_train`` keeps ``n - int(n * split)`` samples chosen by
    ``numpy.random.default_rng(seed).choice(n, ..., replace=False)`` (in that random order);
    ``ds_val`` (a second copy of the same data) keeps the rest in ascending order. Both are
    changed in place and returned.

    Raises
    ------
    OptionError
        ``split`` outside [0, 1], a seed that is not a non-negative integer, or datasets
        without ``data`` and ``targets``.

    Examples
    --------
    >>> from eventcode.datasets import MNIST, valid_split
    >>> train, val = valid_split(MNIST(), MNIST(), split=0.1)
    >>> len(train), len(val)
    (900, 100)
    """
    for dataset in (ds_train, ds_val):
        _check_torchvision_like(dataset, "valid_split")
    share: object = split  # checked as any object: callers pass what they have
    if isinstance(share, bool) or not isinstance(share, int | float | np.integer | np.floating):
        raise OptionTypeError(f"valid_split: split must be a number in [0, 1], got {split!r}")
    if not 0 <= share <= 1:
        raise OptionError(f"valid_split: split is the share moved to validation, in [0, 1]; got {split}")
    n = len(ds_train.data)
    keep = np.random.default_rng(check_seed(seed)).choice(n, n - int(n * split), replace=False)
    rest = np.setdiff1d(np.arange(n), keep)
    ds_train.data, ds_train.targets = ds_train.data[keep], ds_train.targets[keep]
    ds_val.data, ds_val.targets = ds_val.data[rest], ds_val.targets[rest]
    return ds_train, ds_val


def _check_torchvision_like(dataset: object, caller: str) -> None:
    """Refuse a dataset without torchvision's ``data`` and ``targets`` attributes."""
    if not (hasattr(dataset, "data") and hasattr(dataset, "targets")):
        raise OptionTypeError(
            f"{caller} takes a dataset with torchvision's .data and .targets "
            f"(e.g. eventcode.datasets.MNIST), got {type(dataset).__name__}"
        )
