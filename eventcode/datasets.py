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
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from eventcode.errors import FileFormatError

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
