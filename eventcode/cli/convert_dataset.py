"""``eventcode convert-dataset``: a whole dataset into sharded event files, on a Dask cluster, resumable.

The work is :func:`exporters.dataset.convert`'s (imported when the command runs, with dask); this
module reads the command line and names the source.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventcode.cli.common import COMPRESSION_HELP, progress
from eventcode.cli.encode import CODES
from eventcode.errors import OptionError

if TYPE_CHECKING:
    from eventcode.datasets import MapDataset
    from eventcode.transforms import Code

SOURCE_HELP = (
    "SOURCE is a folder of event files (one sample each, target: the path within the folder), "
    "mnist:[ROOT[:train|test]] (MNIST IDX files in ROOT; mnist: alone is the bundled 1,000 test digits; "
    "needs --encode), or tonic:NAME:ROOT[:train|test] (tonic.datasets.NAME(save_to=ROOT, train=...))."
)


@click.command("convert-dataset", epilog=SOURCE_HELP)
@click.argument("source")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "format_name", default="hdf5", show_default=True, help="Output format by name.")
@click.option(
    "--encode", "code", type=click.Choice(CODES), help="Encode each sample (images) with this code."
)
@click.option("--num-steps", type=click.IntRange(min=1), help="Time steps (rate, latency).")
@click.option("--threshold", type=click.FloatRange(min=0), help="Threshold, >= 0 (latency, delta).")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other encoder option, parsed by its type (e.g. gain=0.5, normalize=true).",
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of sample i's stream."
)
@click.option(
    "--shard-size", type=click.IntRange(min=1), default=1024, show_default=True, help="Samples per shard."
)
@click.option("--limit", type=click.IntRange(min=1), help="Convert only the first LIMIT samples.")
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    help="Worker processes of the local Dask cluster (default one per core); 0 converts in this process.",
)
@click.option("--scheduler", metavar="ADDRESS", help="Run on this Dask scheduler (tcp://host:8786) instead.")
@click.option("--compression", help=COMPRESSION_HELP)
@click.option(
    "--dt-us",
    type=click.IntRange(min=1),
    help="Microseconds per step in the files of step-time samples. Default: what the first file of a "
    "folder records, else 1000.",
)
@click.option("--per-sample", is_flag=True, help="One file per sample even in a batched format (HDF5, NIR).")
@click.option(
    "--overwrite", is_flag=True, help="Convert anew, removing an earlier conversion's files in OUT."
)
def convert_dataset(
    source: str,
    out: Path,
    format_name: str,
    code: Code | None,  # click.Choice(CODES) gives one of them
    num_steps: int | None,
    threshold: float | None,
    options: tuple[str, ...],
    seed: int,
    shard_size: int,
    limit: int | None,
    workers: int | None,
    scheduler: str | None,
    compression: str | None,
    dt_us: int | None,
    per_sample: bool,
    overwrite: bool,
) -> None:
    """Convert the dataset SOURCE into shards of event files in the folder OUT, with a manifest.

    Each shard is one task on a Dask cluster (local processes by default). A rerun with the same
    options skips the finished shards (their checksums match the manifest) and redoes the rest; a
    failing sample is named with its shard after the other shards finish. Read OUT back with
    exporters.dataset.EventDataset(OUT).
    """
    from exporters import dataset as sharded

    if workers is not None and scheduler is not None:
        raise OptionError("give --workers (a local cluster) or --scheduler (a running one), not both")
    explicit = {k: v for k, v in (("num_steps", num_steps), ("threshold", threshold)) if v is not None}
    if code is None and (explicit or options):
        raise OptionError("--num-steps, --threshold and --option set the encoder: give --encode too")
    encode: dict[str, Any] | None = None
    if code is not None:
        from eventcode.cli.encode import encoder_options

        encode = {"code": code, **encoder_options(code, options, explicit)}
    data = _source(source, out, encoded=code is not None)
    if dt_us is None and isinstance(data, sharded.EventFiles):
        import exporters

        dt_us = exporters.info(data.root / data.files[0]).dt_us
    if limit is not None and limit < len(data):
        import torch.utils.data

        data = torch.utils.data.Subset(data, range(limit))  # type: ignore[arg-type]
    client: Any = None
    if workers == 0:
        client = "sync"
    elif scheduler is not None:
        from distributed import Client

        client = Client(scheduler)  # type: ignore[no-untyped-call]
    try:
        with progress(math.ceil(len(data) / shard_size), "convert-dataset", "shard") as bar:
            summary = sharded.convert(
                data,
                out,
                encode,
                format=format_name,
                shard_size=shard_size,
                seed=seed,
                client=client,
                workers=workers or None,
                compression=compression,
                dt_us=dt_us or 1000,
                per_sample=True if per_sample else None,
                overwrite=overwrite,
                progress=lambda shard, status: bar.update(1),
            )
    finally:
        if scheduler is not None:
            client.close()
    click.echo(
        f"converted {summary.samples} samples ({summary.events:,} events) into {summary.shards} shards "
        f"in {out}: {len(summary.done)} written, {len(summary.skipped)} already done"
    )


def _source(text: str, out: Path, encoded: bool) -> MapDataset:
    """The dataset SOURCE names (see :data:`SOURCE_HELP`)."""
    kind, colon, rest = text.partition(":")
    if colon and kind == "mnist":
        if not encoded:
            raise OptionError("mnist: holds images: give --encode (rate, latency or delta) to make events")
        from eventcode.datasets import MNIST

        root, _, split = rest.partition(":")
        return MNIST(root or None, split or "test")  # type: ignore[arg-type]  # MNIST checks the split
    if colon and kind == "tonic":
        return _tonic(rest, encoded)
    folder = Path(text)
    if not folder.is_dir():
        raise OptionError(f"{text}: not a folder of event files; {SOURCE_HELP}")
    if encoded:
        raise OptionError(f"{folder} holds event files: they need no --encode")
    resolved, target = folder.resolve(), out.resolve()
    if target == resolved or resolved in target.parents:
        raise OptionError(f"{out} is inside the source folder {folder}: choose an output folder outside it")
    from exporters.dataset import EventFiles

    return EventFiles(folder)


def _tonic(spec: str, encoded: bool) -> MapDataset:
    name, _, rest = spec.partition(":")
    root, _, split = rest.partition(":")
    if not name or not root or split not in ("", "train", "test"):
        raise OptionError(f"tonic:{spec}: give tonic:NAME:ROOT or tonic:NAME:ROOT:train|test")
    if encoded:
        raise OptionError(f"tonic:{name} holds events: they need no --encode")
    try:
        import tonic.datasets
    except ImportError:
        from eventcode.errors import DependencyError

        raise DependencyError("tonic: sources need Tonic: pip install 'eventcode[tonic]'") from None
    factory = getattr(tonic.datasets, name, None)
    if factory is None:
        raise OptionError(f"tonic has no dataset {name!r} (tonic.datasets.{name})")
    extra = {} if not split else {"train": split == "train"}
    dataset: MapDataset = factory(save_to=root, **extra)
    return dataset
