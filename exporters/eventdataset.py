"""Converted datasets read back (:class:`EventDataset`) and folders of event files as datasets
(:class:`EventFiles`); both are map-style ``(events, target)`` datasets, as Tonic's are.

:class:`EventDataset` reads the manifest (:mod:`exporters.manifest`) of a folder that
:func:`exporters.dataset.convert` wrote, and each ``dataset[i]`` opens the one file holding
sample ``i`` and reads that sample's slice only. Both are importable from :mod:`exporters.dataset`.
"""

from __future__ import annotations

import bisect
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.utils.data

import exporters
from eventcode.errors import FileFormatError, OptionError, SampleIndexError
from eventcode.events import Events
from exporters import manifest

if TYPE_CHECKING:
    import dask.bag


class EventDataset(torch.utils.data.Dataset[tuple[Any, Any]]):
    """A converted dataset (:func:`convert`) read back lazily: ``dataset[i]`` is ``(events, target)``.

    Follows Tonic's dataset contract (``sensor_size``, ``transform``, ``target_transform``);
    ``eventcode.collate`` batches it for a ``DataLoader``. Each ``dataset[i]`` opens the one file
    holding sample ``i`` and reads that sample's slice only; nothing stays open, so the dataset
    pickles to ``DataLoader`` workers and Dask workers, and each process opens files itself.

    Parameters
    ----------
    out : path
        The folder :func:`convert` wrote (with a complete ``manifest.json``).
    transform, target_transform : callable, optional
        Applied to each sample's events and target (e.g. ``eventcode.transforms.Densify()``).

    Attributes
    ----------
    targets : list
        Every sample's target, as the manifest keeps it (JSON values).
    sensor_size : (W, H, P) or None
        The samples' sensor size; None if the samples differ.
    manifest : dict
        The manifest (:mod:`exporters.manifest`).

    Raises
    ------
    FileNotFoundError
        No manifest in ``out``.
    FileFormatError
        A manifest that is damaged, or of an unfinished conversion (run it again to finish).

    Examples
    --------
    >>> import tempfile, torch
    >>> from torch.utils.data import DataLoader
    >>> import eventcode
    >>> from exporters.dataset import EventDataset, convert
    >>> out = tempfile.mkdtemp()
    >>> images = [(torch.rand(1, 8, 8), i % 3) for i in range(6)]
    >>> _ = convert(images, out, {"code": "rate", "num_steps": 5}, client="sync", progress=False)
    >>> loader = DataLoader(EventDataset(out), batch_size=4, collate_fn=eventcode.collate)
    >>> [(events.num_samples, labels.tolist()) for events, labels in loader]
    [(4, [0, 1, 2, 0]), (2, [1, 2])]
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        transform: Callable[[Events], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.out = Path(out)
        found = manifest.load(self.out)
        path = self.out / manifest.NAME
        if found is None:
            raise FileNotFoundError(
                f"{path}: no such file; exporters.dataset.convert writes a dataset's manifest"
            )
        if not found.get("complete"):
            raise FileFormatError(
                f"{path}: an unfinished conversion ({len(found.get('shards', []))} of "
                f"{found.get('shards_total')} shards); run the same conversion again to finish it"
            )
        try:
            config = found["config"]
            shards = sorted(found["shards"], key=lambda record: record["shard"])
            self.format: str = config["format"]
            self.per_sample: bool = config["files"] == "sample"
            self._starts: list[int] = [record["samples"][0] for record in shards]
            self._files: list[list[str]] = [[item["name"] for item in record["files"]] for record in shards]
            self.targets: list[Any] = [target for record in shards for target in record["targets"]]
            ends = [record["samples"][1] for record in shards]
            self._count: int = config["samples"]
        except (KeyError, TypeError, IndexError) as err:
            raise FileFormatError(f"{path}: damaged manifest (no {err})") from None
        if (
            self._starts[:1] not in ([], [0])
            or self._starts[1:] != ends[:-1]
            or (ends[-1:] or [0])[0] != self._count
        ):
            raise FileFormatError(
                f"{path}: damaged manifest: its shards do not cover samples 0-{self._count - 1}"
            )
        sample = found.get("sample")
        self.sensor_size = tuple(sample["sensor_size"]) if isinstance(sample, dict) else None
        self.manifest = found
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        try:
            position = range(self._count)[index]
        except (IndexError, TypeError):
            raise SampleIndexError(
                f"sample {index!r} is out of range for the {self._count} samples of {self.out}"
            ) from None
        shard = bisect.bisect_right(self._starts, position) - 1
        return self._wrapped(self._read(shard, position - self._starts[shard]), self.targets[position])

    def _read(self, shard: int, local: int) -> Events:
        module = exporters.for_reading(self.out, self.format).module
        if self.per_sample:
            events: Events = module.read(self.out / self._files[shard][local])
        else:
            events = module.read(self.out / self._files[shard][0], sample=local)
        return events

    def _wrapped(self, events: Events, target: Any) -> tuple[Any, Any]:
        return (
            events if self.transform is None else self.transform(events),
            target if self.target_transform is None else self.target_transform(target),
        )

    def shard_samples(self, shard: int) -> list[tuple[Any, Any]]:
        """Every sample of one shard, read with one read of its file (batched formats)."""
        start = self._starts[shard]
        stop = self._starts[shard + 1] if shard + 1 < len(self._starts) else self._count
        if self.per_sample:
            batch = [self._read(shard, local) for local in range(stop - start)]
        else:
            whole: Events = exporters.for_reading(self.out, self.format).module.read(
                self.out / self._files[shard][0]
            )
            batch = [whole[b] for b in range(whole.num_samples)]
        return [self._wrapped(events, self.targets[start + b]) for b, events in enumerate(batch)]

    def to_dask(self) -> dask.bag.Bag:
        """The samples as a Dask bag of ``(events, target)``, one partition a shard.

        Examples
        --------
        >>> import tempfile, torch
        >>> from exporters.dataset import EventDataset, convert
        >>> out = tempfile.mkdtemp()
        >>> images = [(torch.rand(1, 8, 8), i) for i in range(6)]
        >>> rate = {"code": "rate", "num_steps": 5}
        >>> _ = convert(images, out, rate, shard_size=4, client="sync", progress=False)
        >>> bag = EventDataset(out).to_dask()
        >>> bag.npartitions, bag.map(lambda sample: sample[1]).compute(scheduler="sync")
        (2, [0, 1, 2, 3, 4, 5])
        """
        import dask.bag
        from dask.delayed import delayed

        data = delayed(self, name=f"eventdataset-{uuid.uuid4().hex}")
        parts = [delayed(_shard_samples, pure=False)(data, shard) for shard in range(len(self._starts))]
        bag: dask.bag.Bag = (
            dask.bag.from_delayed(parts)  # type: ignore[no-untyped-call]
            if parts
            else dask.bag.from_sequence([], npartitions=1)  # type: ignore[no-untyped-call]
        )
        return bag


def _shard_samples(dataset: EventDataset, shard: int) -> list[tuple[Any, Any]]:
    return dataset.shard_samples(shard)


class EventFiles(torch.utils.data.Dataset[tuple[Events, Any]]):
    """A folder of event files as a map-style dataset: ``dataset[i]`` is ``(events, target)``.

    Every file under ``root`` (recursively, hidden ones left out) with the suffix of a registered
    format is one sample, in sorted order of path; each is read whole with :func:`exporters.read`.

    Parameters
    ----------
    root : path
        The folder.
    targets : {"path", "folder"}
        A sample's target: its path relative to ``root`` (default), or the index of its first
        folder under ``root`` in ``classes`` (a folder per class, as torchvision's ``ImageFolder``).

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    OptionError
        No event files in it, an unknown ``targets``, or a file outside any class folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import exporters
    >>> from eventcode import Events
    >>> from exporters.dataset import EventFiles
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("cat/a.aedat4", "dog/b.h5"):
    ...     (root / name).parent.mkdir()
    ...     exporters.write(root / name, Events(t=[0, 5], x=[1, 2], y=[0, 1], p=[1, 0], sensor_size=(4, 2)))
    >>> files = EventFiles(root, targets="folder")
    >>> len(files), files.classes, files[1][1], len(files[1][0])
    (2, ['cat', 'dog'], 1, 2)
    """

    def __init__(self, root: str | os.PathLike[str], targets: Literal["path", "folder"] = "path") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root}: no such folder")
        if targets not in ("path", "folder"):
            raise OptionError(f"targets must be 'path' or 'folder', got {targets!r}")
        suffixes = {suffix for fmt in exporters.formats() for suffix in fmt.suffixes}
        self.files = sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.suffix.lower() in suffixes
            and path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(self.root).parts)
        )
        if not self.files:
            raise OptionError(f"{self.root}: no event files (suffixes {', '.join(sorted(suffixes))})")
        self.classes = sorted({name.split("/")[0] for name in self.files if "/" in name})
        if targets == "folder" and any("/" not in name for name in self.files):
            loose = next(name for name in self.files if "/" not in name)
            raise OptionError(f"{self.root / loose}: targets='folder' needs every file inside a class folder")
        self.target_kind = targets

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Events, Any]:
        name = self.files[index]
        target: Any = name if self.target_kind == "path" else self.classes.index(name.split("/")[0])
        return exporters.read(self.root / name), target
