"""Tests of exporters/dataset.py and exporters/manifest.py: sharded conversion on a real Dask
cluster, resuming, killed workers and runs, failing samples, and reading the result back."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import eventcode
import exporters
from eventcode import Events
from eventcode.datasets import EncodedDataset
from eventcode.errors import ExportError, FileFormatError, OptionError, OptionTypeError, SampleIndexError
from eventcode.tonic import from_tonic
from eventcode.transforms import Encode
from exporters import manifest
from exporters.dataset import ConversionError, EventDataset, EventFiles, convert

distributed = pytest.importorskip("distributed", reason="the dask extra")
cloudpickle = pytest.importorskip("cloudpickle")

RATE = {"code": "rate", "num_steps": 20}
SHARD = 8
COUNT = 40


class Images:
    """Shaped like torchvision's MNIST: ``data``, ``targets`` and ``(image [1, H, W] float, label)``
    items; ``fail_at`` raises on one sample, ``kill_at`` SIGKILLs the process loading that sample
    once (``marker`` records it, with the temporary files in ``out`` at that moment)."""

    def __init__(
        self,
        count: int = COUNT,
        fail_at: int | None = None,
        kill_at: int | None = None,
        marker: Path | None = None,
        out: Path | None = None,
    ) -> None:
        generator = torch.Generator().manual_seed(1234)
        self.data = (torch.rand(count, 8, 8, generator=generator) * 255).to(torch.uint8)
        self.targets = torch.arange(count) % 10
        self.fail_at, self.kill_at, self.marker, self.out = fail_at, kill_at, marker, out

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if index == self.fail_at:
            raise ValueError(f"image {index} is damaged")
        if index == self.kill_at and self.marker is not None and not self.marker.exists():
            assert self.out is not None
            self.marker.write_text(
                "\n".join(name for name in os.listdir(self.out) if name.endswith(".partial"))
            )
            os.kill(os.getpid(), signal.SIGKILL)
        return self.data[index][None].float() / 255, int(self.targets[index])


def tree(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` but the manifest, by relative path: the shard files."""
    return {
        path.relative_to(out).as_posix(): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != manifest.NAME
    }


def stable(out: Path) -> dict:
    """The manifest without what depends on the run."""
    found = json.loads((out / manifest.NAME).read_text())
    found.pop("run")
    return found


def leftovers(out: Path) -> list[str]:
    return [
        path.name
        for path in out.rglob("*")
        if path.name.endswith(".partial") or path.name == manifest.PENDING
    ]


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """A real local cluster: 2 worker processes of one thread each."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import this file
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as made,
    ):
        made.run(__import__, "exporters.dataset")  # import torch in the workers once
        yield made
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-process conversion every other run must equal, byte for byte."""
    out = tmp_path_factory.mktemp("reference")
    summary = convert(Images(), out, RATE, shard_size=SHARD, client="sync", progress=False)
    assert summary.done == tuple(range(5))
    assert summary.complete
    return out


# ---------------------------------------------------------------------- on a real cluster
def test_a_cluster_writes_the_bytes_of_one_process(
    client: distributed.Client, reference: Path, tmp_path: Path
) -> None:
    finished: list[tuple[int, str]] = []
    summary = convert(
        Images(),
        tmp_path,
        RATE,
        shard_size=SHARD,
        client=client,
        progress=lambda *shard: finished.append(shard),
    )
    assert summary.done == (0, 1, 2, 3, 4)
    assert summary.skipped == ()
    assert summary.failed == ()
    assert sorted(finished) == [(k, "done") for k in range(5)]
    assert tree(tmp_path) == tree(reference)
    assert stable(tmp_path) == stable(reference)
    assert (
        json.loads((tmp_path / manifest.NAME).read_text())["run"]["scheduler"]
        == "dask.distributed (2 workers)"
    )
    assert leftovers(tmp_path) == []
    encoded = EncodedDataset(Images(), Encode("rate", num_steps=20), seed=0)  # the same streams
    back = EventDataset(tmp_path)
    for i in (0, 7, 8, 39):
        assert back[i][0] == encoded[i][0]
        assert back[i][1] == encoded[i][1]


def test_a_worker_killed_mid_write_leaves_no_partial_shard(
    client: distributed.Client, reference: Path, tmp_path: Path
) -> None:
    out, marker = tmp_path / "out", tmp_path / "killed"
    dataset = Images(kill_at=13, marker=marker, out=out)  # shard 1, whose file is open by then
    summary = convert(dataset, out, RATE, shard_size=SHARD, client=client, progress=False)
    assert ".shard-00001.h5." in marker.read_text()  # the worker died while writing shard 1
    assert summary.complete
    assert len(summary.done) == 5
    assert tree(out) == tree(reference)
    assert stable(out) == stable(reference)
    assert leftovers(out) == []
    again = convert(dataset, out, RATE, shard_size=SHARD, client=client, progress=False)
    assert again.done == ()
    assert again.skipped == (0, 1, 2, 3, 4)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker


def test_a_run_killed_halfway_resumes_with_the_missing_shards_only(
    client: distributed.Client, reference: Path, tmp_path: Path
) -> None:
    out, marker = tmp_path / "out", tmp_path / "killed"
    script = (
        f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from pathlib import Path\nfrom test_dataset import Images, RATE, SHARD\n"
        "from exporters.dataset import convert\n"
        f"dataset = Images(kill_at=21, marker=Path({str(marker)!r}), out=Path({str(out)!r}))\n"
        f"convert(dataset, {str(out)!r}, RATE, shard_size=SHARD, client='sync', progress=False)\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert ended.returncode == -signal.SIGKILL, ended.stderr
    assert ".shard-00002.h5." in marker.read_text()  # killed while writing shard 2
    with pytest.raises(FileFormatError, match="unfinished conversion"):
        EventDataset(out)
    summary = convert(Images(), out, RATE, shard_size=SHARD, client=client, progress=False)
    assert summary.skipped == (0, 1)
    assert summary.done == (2, 3, 4)
    assert tree(out) == tree(reference)
    assert stable(out) == stable(reference)
    assert leftovers(out) == []


def test_a_failing_sample_is_named_and_only_its_shard_is_redone(
    client: distributed.Client, reference: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConversionError) as caught:
        convert(Images(fail_at=21), tmp_path, RATE, shard_size=SHARD, client=client, progress=False)
    message = str(caught.value)
    assert "sample 21 (shard 2): ValueError: image 21 is damaged" in message
    assert "run the same conversion again" in message
    summary = caught.value.summary
    assert summary.done == (0, 1, 3, 4)
    assert [(f.shard, f.sample) for f in summary.failed] == [(2, 21)]
    assert "image 21 is damaged" in summary.failed[0].traceback
    kept = tree(tmp_path)
    assert "shard-00002.h5" not in kept
    assert kept == {name: data for name, data in tree(reference).items() if name != "shard-00002.h5"}
    written = json.loads((tmp_path / manifest.NAME).read_text())
    assert not written["complete"]
    assert written["failed"][0]["sample"] == 21
    with pytest.raises(FileFormatError, match="4 of 5 shards"):
        EventDataset(tmp_path)
    fixed = convert(Images(), tmp_path, RATE, shard_size=SHARD, client=client, progress=False)
    assert fixed.done == (2,)
    assert fixed.skipped == (0, 1, 3, 4)
    assert tree(tmp_path) == tree(reference)
    assert stable(tmp_path) == stable(reference)


def test_a_dataset_that_does_not_pickle_is_refused_before_any_work(
    client: distributed.Client, tmp_path: Path
) -> None:
    import threading

    class Locked(Images):
        def __init__(self) -> None:
            super().__init__(4)
            self.lock = threading.Lock()

    with pytest.raises(OptionTypeError, match=r"must pickle .*cannot pickle '_thread.lock'.*client='sync'"):
        convert(Locked(), tmp_path, RATE, client=client, progress=False)
    assert tree(tmp_path) == {}


# ---------------------------------------------------------------------- resuming, in this process
def test_other_options_refuse_to_resume_unless_overwrite(reference: Path, tmp_path: Path) -> None:
    convert(Images(), tmp_path, RATE, shard_size=SHARD, client="sync", progress=False)
    with pytest.raises(OptionError, match=r"shard_size: 8 -> 10.*overwrite=True"):
        convert(Images(), tmp_path, RATE, shard_size=10, client="sync", progress=False)
    with pytest.raises(OptionError, match=r"seed: 0 -> 3"):
        convert(Images(), tmp_path, RATE, shard_size=SHARD, seed=3, client="sync", progress=False)
    assert tree(tmp_path) == tree(reference)  # a refused run changes nothing
    latency = Encode("latency", num_steps=10, options={"normalize": True})
    summary = convert(
        Images(),
        tmp_path,
        latency,
        format="aedat4",
        shard_size=10,
        client="sync",
        progress=False,
        overwrite=True,
    )
    assert summary.done == (0, 1, 2, 3)
    assert sorted(tree(tmp_path)) == [f"shard-{i // 10:05d}/{i:08d}.aedat4" for i in range(COUNT)]  # .h5 gone
    assert stable(tmp_path)["config"]["encode"] == {"code": "latency", "num_steps": 10, "normalize": True}


def test_a_changed_shard_file_is_redone(reference: Path, tmp_path: Path) -> None:
    convert(Images(), tmp_path, RATE, shard_size=SHARD, client="sync", progress=False)
    damaged = bytearray((tmp_path / "shard-00003.h5").read_bytes())
    damaged[-1] ^= 1
    (tmp_path / "shard-00003.h5").write_bytes(bytes(damaged))
    (tmp_path / "shard-00001.h5").unlink()
    unchecked = convert(
        Images(), tmp_path, RATE, shard_size=SHARD, client="sync", progress=False, verify=False
    )
    assert unchecked.done == (1,)  # verify=False compares sizes only
    summary = convert(Images(), tmp_path, RATE, shard_size=SHARD, client="sync", progress=False)
    assert summary.done == (3,)
    assert summary.skipped == (0, 1, 2, 4)
    assert tree(tmp_path) == tree(reference)


def test_the_manifest_records_options_versions_counts_and_checksums(reference: Path) -> None:
    written = stable(reference)
    assert written["complete"]
    assert written["shards_total"] == 5
    assert written["config"] == {
        "format": "hdf5",
        "files": "shard",
        "compression": "gzip",
        "dt_us": 1000,
        "encode": RATE,
        "seed": 0,
        "shard_size": SHARD,
        "samples": COUNT,
    }
    assert written["versions"]["eventcode"] == eventcode.__version__
    assert written["versions"]["python"]
    assert written["dataset"].endswith("Images")
    assert written["sample"] == {
        "shape": [1, 8, 8],
        "sensor_size": [8, 8, 2],
        "time_unit": "step",
        "num_steps": 20,
        "polarities": 2,
    }
    for record in written["shards"]:
        (item,) = record["files"]
        assert manifest.sha256(reference / item["name"]) == item["sha256"]
        events = exporters.read(reference / item["name"])
        assert np.diff(events.offsets.numpy()).tolist() == record["events"]
        assert record["targets"] == [i % 10 for i in range(*record["samples"])]
    info = exporters.info(reference / "shard-00000.h5")
    assert info.extras["encoding"] == {**RATE, "seed": 0}
    assert info.dt_us == 1000
    assert written["events"] == sum(sum(record["events"]) for record in written["shards"])


@settings(max_examples=12)
@given(count=st.integers(0, 17), shard_size=st.integers(1, 9), seed=st.integers(0, 2**32))
def test_any_shard_size_gives_the_samples_of_the_encoded_dataset(
    count: int, shard_size: int, seed: int
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        summary = convert(
            Images(count), out, RATE, shard_size=shard_size, seed=seed, client="sync", progress=False
        )
        assert summary.done == tuple(range(-(-count // shard_size)))
        encoded = EncodedDataset(Images(count), Encode("rate", num_steps=20), seed=seed)
        back = EventDataset(out)
        assert len(back) == count
        for i in range(count):
            assert back[i][0] == encoded[i][0]
            assert back[i][1] == encoded[i][1]
        first = tree(out)
        convert(
            Images(count),
            out,
            RATE,
            shard_size=shard_size,
            seed=seed,
            client="sync",
            progress=False,
            overwrite=True,
        )
        assert tree(out) == first  # a second conversion writes the same bytes


# ---------------------------------------------------------------------- sources, formats, reading back
@pytest.mark.parametrize(
    ("format", "per_sample"), [("aedat4", None), ("nir", None), ("nir", True), ("hdf5", True)]
)
def test_every_layout_reads_back_the_samples(format: str, per_sample: bool | None, tmp_path: Path) -> None:
    dataset = Images(12)
    convert(
        dataset,
        tmp_path,
        RATE,
        format=format,
        per_sample=per_sample,
        shard_size=5,
        client="sync",
        progress=False,
    )
    encoded = EncodedDataset(dataset, Encode("rate", num_steps=20), seed=0)
    back = EventDataset(tmp_path)
    assert [back[i][0] == encoded[i][0] for i in range(12)] == [True] * 12
    assert back[-1][1] == 1
    names = sorted(tree(tmp_path))
    if per_sample or format == "aedat4":
        suffix = exporters.for_writing("x", format).suffixes[0]
        assert names == [f"shard-{i // 5:05d}/{i:08d}{suffix}" for i in range(12)]
    else:
        assert names == ["shard-00000.nir", "shard-00001.nir", "shard-00002.nir"]


def test_tonic_datasets_and_folders_of_files_convert_as_they_are(tmp_path: Path) -> None:
    class Gestures:  # a Tonic dataset: structured arrays in microseconds, a sensor_size attribute
        sensor_size = (6, 4, 2)
        fields = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])

        def __len__(self) -> int:
            return 5

        def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
            rng = np.random.default_rng(index)
            count = 10 * index + 3
            events = np.zeros(count, self.fields)
            events["x"], events["y"] = rng.integers(0, 6, count), rng.integers(0, 4, count)
            events["t"], events["p"] = np.sort(rng.integers(0, 10**7, count)), rng.integers(0, 2, count)
            return events, index % 2

    convert(Gestures(), tmp_path / "tonic", shard_size=2, client="sync", progress=False)
    back = EventDataset(tmp_path / "tonic")
    for i in range(5):
        events, _target = Gestures()[i]
        assert back[i][0] == from_tonic(events, sensor_size=(6, 4, 2))
        assert back[i][1] == i % 2
    assert back.sensor_size == (6, 4, 2)
    assert back[3][0].time_unit == "us"
    folder = tmp_path / "files"
    for i in range(3):  # a folder of event files, converted into per-sample AEDAT 4.0 files
        (folder / f"class{i % 2}").mkdir(parents=True, exist_ok=True)
        exporters.write(folder / f"class{i % 2}/{i}.h5", back[i][0])
    files = EventFiles(folder)
    assert files.files == ["class0/0.h5", "class0/2.h5", "class1/1.h5"]
    assert [EventFiles(folder, targets="folder")[i][1] for i in range(3)] == [0, 0, 1]
    convert(files, tmp_path / "copy", format="aedat4", client="sync", progress=False)
    copy = EventDataset(tmp_path / "copy")
    assert [copy[i][1] for i in range(3)] == files.files
    assert copy[1][0] == back[2][0]


def test_the_dataset_fits_dataloader_workers_pickle_and_dask(reference: Path) -> None:
    from torch.utils.data import DataLoader

    dataset = EventDataset(reference)
    assert len(dataset) == COUNT
    assert dataset.targets[:3] == [0, 1, 2]
    copy = pickle.loads(pickle.dumps(dataset))
    assert copy[9][0] == dataset[9][0]
    loader = DataLoader(dataset, batch_size=16, num_workers=2, collate_fn=eventcode.collate)
    batches = list(loader)
    assert [events.num_samples for events, _ in batches] == [16, 16, 8]
    assert torch.equal(batches[1][1], torch.arange(16, 32) % 10)
    assert batches[2][0][3] == dataset[35][0]
    bag = dataset.to_dask()
    assert bag.npartitions == 5
    assert (
        bag.map(lambda sample: len(sample[0])).sum().compute(scheduler="sync") == stable(reference)["events"]
    )
    dense = EventDataset(reference, transform=eventcode.transforms.Densify(), target_transform=str)
    assert dense[2][0].shape == (20, 1, 8, 8)
    assert dense[2][1] == "2"
    with pytest.raises(SampleIndexError, match="out of range for the 40 samples"):
        dataset[40]


def test_bad_inputs_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ConversionError, match=r"sample 0 \(shard 0\): OptionTypeError: sample 0 is a Tensor, not events"
    ):
        convert(Images(3), tmp_path / "a", client="sync", progress=False)
    odd = [(Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(2, 2)), i) for i in range(2)]
    odd.append((Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(3, 2)), 2))
    with pytest.raises(ConversionError, match=r"sample 2 \(shard 0\).*shape \(2, 3\)"):
        convert(odd, tmp_path / "b", client="sync", progress=False)
    assert convert(odd, tmp_path / "c", per_sample=True, client="sync", progress=False).complete
    assert EventDataset(tmp_path / "c").sensor_size is None  # the samples differ
    objects = [(Events(t=[0], x=[0], y=[0], p=[1], sensor_size=(2, 2)), object())]
    with pytest.raises(ConversionError, match=r"target of sample 0 .* JSON"):
        convert(objects, tmp_path / "d", client="sync", progress=False)
    with pytest.raises(OptionError, match="rate has no option 'steps'"):
        convert(Images(3), tmp_path / "e", {"code": "rate", "steps": 3}, client="sync")
    with pytest.raises(OptionError, match="batched format"):
        convert(Images(3), tmp_path / "e", RATE, format="aedat4", per_sample=False, client="sync")
    with pytest.raises(ExportError, match="unknown format"):
        convert(Images(3), tmp_path / "e", RATE, format="png", client="sync")
    with pytest.raises(OptionError, match="client=None"):
        convert(Images(3), tmp_path / "e", RATE, client="sync", workers=2)
    with pytest.raises(FileNotFoundError):
        EventDataset(tmp_path / "nothing")
    (tmp_path / "e").mkdir(exist_ok=True)
    with manifest.locked(tmp_path / "e"), pytest.raises(ExportError, match="another conversion"):
        convert(Images(3), tmp_path / "e", RATE, client="sync", progress=False)
    empty = convert([], tmp_path / "f", client="sync", progress=False)
    assert empty.shards == 0
    assert len(EventDataset(tmp_path / "f")) == 0


def test_any_callable_encodes_with_the_sample_generator(tmp_path: Path) -> None:
    def noisy(image: torch.Tensor, generator: torch.Generator) -> Events:
        return eventcode.rate(image, num_steps=4, batched=False, generator=generator)

    summary = convert(Images(6), tmp_path, noisy, shard_size=4, seed=5, client="sync", progress=False)
    assert summary.events > 0
    config = stable(tmp_path)["config"]
    assert config["encode"] == {"callable": f"{__name__}.{noisy.__qualname__}"}
    assert config["seed"] == 5
    assert EventDataset(tmp_path)[4][0] == EncodedDataset(Images(6), noisy, seed=5)[4][0]
