"""The manifest of a converted dataset (:func:`exporters.dataset.convert`): what each shard holds.

``OUT/manifest.json`` describes the whole dataset: the options it was converted with
(``config``: format, compression, encoder and its options, seed, shard size, sample count),
the library versions, the sample geometry, and one record per finished shard::

    {"shard": 3, "samples": [24, 32], "events": [512, 498, ...], "targets": [7, 2, ...],
     "files": [{"name": "shard-00003.h5", "bytes": 20480, "sha256": "9f86d0..."}],
     "sample": {"shape": [1, 8, 8], "sensor_size": [8, 8, 2], "time_unit": "step",
                "num_steps": 20, "polarities": 2}}

While a run goes on, each task writes its shard's record to ``OUT/.pending/shard-NNNNN.json``
(atomically, after the shard's files are in place), so that a killed run leaves a record of every
finished shard; the end of a run folds them into ``manifest.json`` and removes ``.pending``. A
shard counts as done when its record exists and its files have the recorded sizes and SHA-256
sums. Run-dependent facts (the finishing time, the scheduler) live under ``"run"`` only: the shard
files hold nothing that depends on the run, so equal options give byte-identical files.

Examples
--------
>>> import tempfile, pathlib
>>> from exporters import manifest
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> _ = (out / "shard-00000.h5").write_bytes(b"events")
>>> files = [manifest.entry(out / "shard-00000.h5", "shard-00000.h5")]
>>> record = {"shard": 0, "samples": [0, 1], "files": files}
>>> record["files"][0]["sha256"][:12], manifest.matches(out, record)
('862417b9e7c3', True)
>>> _ = (out / "shard-00000.h5").write_bytes(b"Events")
>>> manifest.matches(out, record)
False
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from eventcode.errors import ExportError, FileFormatError, OptionError
from exporters.atomic import atomic_path

NAME = "manifest.json"
"""The manifest's file name inside the output folder."""
PENDING = ".pending"
"""The folder of the records of shards finished during a run not yet folded into the manifest."""
LAYOUT = "eventcode-dataset"
"""The manifest's ``layout`` value."""
VERSION = 1
"""The manifest's ``version`` value: a reader refuses a later one."""
COMPARED = ("format", "files", "compression", "dt_us", "encode", "seed", "shard_size", "samples")
"""The ``config`` entries a rerun must repeat to resume (anything else is recorded only)."""
PACKAGES = ("eventcode", "torch", "numpy", "h5py", "dask", "distributed", "tonic", "nir")
"""The packages whose versions the manifest records (those installed)."""
_PARTIAL = re.compile(r"\..*\.partial")

Record = dict[str, Any]
"""One shard's record (see the module doc)."""


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def entry(path: Path, name: str) -> dict[str, Any]:
    """A file's entry in a shard record: ``name`` (its path relative to the output folder, which
    it may reach later: a shard folder is renamed into place after its files are hashed), size
    and SHA-256."""
    return {"name": name, "bytes": path.stat().st_size, "sha256": sha256(path)}


def matches(out: Path, record: Mapping[str, Any], verify: bool = True) -> bool:
    """Whether every file of a shard record is in ``out`` with its recorded size and (``verify``)
    SHA-256; a record that is not a dict of file entries does not match."""
    try:
        files = record["files"]
        for item in files:
            path = out / item["name"]
            if not path.is_file() or path.stat().st_size != item["bytes"]:
                return False
            if verify and sha256(path) != item["sha256"]:
                return False
    except (KeyError, TypeError, OSError):
        return False
    return bool(files)


def write_json(path: Path, data: object) -> None:
    """Write ``data`` as JSON at ``path`` atomically (a whole file or none)."""
    text = dumps(data) if isinstance(data, dict) and "shards" in data else json.dumps(data) + "\n"
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def dumps(manifest: Mapping[str, Any]) -> str:
    """The manifest as JSON text: each entry on one line, each shard record on one line."""
    lines = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in manifest.items() if key != "shards"]
    shards = ",\n  ".join(json.dumps(record, separators=(",", ":")) for record in manifest["shards"])
    lines.append(f' "shards": [\n  {shards}\n ]' if shards else ' "shards": []')
    return "{\n" + ",\n".join(lines) + "\n}\n"


def load(out: Path) -> dict[str, Any] | None:
    """The manifest in ``out``, or None where there is none.

    Raises
    ------
    FileFormatError
        A manifest that is not JSON, not eventcode's, or of a later version.
    """
    path = out / NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        manifest = json.loads(text)
    except ValueError as err:
        raise FileFormatError(
            f"{path}: not JSON ({err}); remove it, or convert with overwrite=True"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("layout") != LAYOUT:
        raise FileFormatError(f"{path}: not the manifest of an eventcode dataset (no layout {LAYOUT!r})")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise FileFormatError(
            f"{path}: manifest version {manifest.get('version')!r}; this eventcode reads version {VERSION}"
        )
    return manifest


def records(out: Path, manifest: Mapping[str, Any] | None) -> dict[int, Record]:
    """Every shard record known in ``out``: the manifest's, overridden by pending ones (newer)."""
    known: dict[int, Record] = {}
    for record in (manifest or {}).get("shards", []):
        if isinstance(record, dict) and isinstance(record.get("shard"), int):
            known[record["shard"]] = record
    folder = out / PENDING
    for path in sorted(folder.glob("shard-*.json")) if folder.is_dir() else ():
        try:
            record = json.loads(path.read_text())
        except (ValueError, OSError):
            continue  # unreadable: that shard is redone
        if isinstance(record, dict) and isinstance(record.get("shard"), int):
            known[record["shard"]] = record
    return known


def save_pending(out: Path, record: Record) -> None:
    """Record a finished shard in ``out/.pending`` (atomically)."""
    folder = out / PENDING
    folder.mkdir(exist_ok=True)
    write_json(folder / f"shard-{record['shard']:05d}.json", record)


def clear_pending(out: Path) -> None:
    """Remove ``out/.pending`` once the manifest holds its records."""
    shutil.rmtree(out / PENDING, ignore_errors=True)


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The :data:`COMPARED` options that differ, as ``name: old -> new`` texts."""
    return [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in COMPARED if old.get(key) != new.get(key)
    ]


def check_resumable(out: Path, manifest: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Raise unless ``config`` repeats the options ``out`` was converted with.

    Raises
    ------
    OptionError
        Naming each differing option, its recorded and its new value.
    """
    changed = differences(manifest.get("config", {}), config)
    if changed:
        raise OptionError(
            f"{out} was converted with other options ({'; '.join(changed)}): give the same options to "
            "resume it, or overwrite=True (--overwrite) to convert it anew"
        )


def remove_files(out: Path, known: Mapping[int, Record]) -> None:
    """Remove the files the records name (an overwrite), and the shard folders left empty."""
    for record in known.values():
        for item in record.get("files", []):
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and not Path(name).is_absolute() and ".." not in Path(name).parts:
                path = out / name
                path.unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    if path.parent != out:
                        path.parent.rmdir()
    clear_pending(out)


def remove_partials(out: Path) -> None:
    """Remove the temporary files and folders (``.*.partial``) of writes into ``out`` and
    ``out/.pending`` that never finished (a killed worker or run)."""
    for folder in (out, out / PENDING):
        for name in os.listdir(folder) if folder.is_dir() else ():
            if _PARTIAL.fullmatch(name):
                path = folder / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)


def versions() -> dict[str, str | None]:
    """Python's version and those of :data:`PACKAGES` (None: not installed)."""
    found: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on the folder ``out`` while a run writes it (released on exit,
    and by the system when the process dies).

    Raises
    ------
    ExportError
        Another process holds it: a conversion into ``out`` is running.
    """
    handle = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExportError(
                f"{out}: another conversion is writing this folder; wait for it, or choose another folder"
            ) from None
        yield
    finally:
        os.close(handle)
