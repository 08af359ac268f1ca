"""Video input for the DVS emulator: frame arrays checked, timestamps made, and frames read from
a folder of images (Pillow) or a video file (PyAV), chunk by chunk.

Reading files needs the ``video`` extra (``pip install "eventcode[video]"``: PyAV, whose wheels
carry FFmpeg, and Pillow). Colour is reduced to luma by the decoder (FFmpeg's ``gray``, Pillow's
``L``: ITU-R BT.601 weights).

Examples
--------
>>> import numpy as np
>>> from eventcode.dvs import video
>>> video.timestamps(3, None, 30.0, 0, None).tolist()
[0, 33333, 66667]
>>> video.as_frames(np.zeros((2, 4, 5), np.uint8)).shape
torch.Size([2, 4, 5])
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from eventcode.encoders.common import as_input
from eventcode.errors import DependencyError, EncodingError, OptionError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp")
"""Files of a folder that are its frames, in natural order of their names (``2.png`` before ``10.png``)."""


class VideoInfo(NamedTuple):
    """What a video file or folder of frames holds: ``frames`` (None where the container does
    not say), ``fps`` (None for a folder), ``size`` ``(W, H)``."""

    frames: int | None
    fps: float | None
    size: tuple[int, int]


def as_frames(frames: object) -> torch.Tensor:
    """``frames`` as a ``[T, H, W]`` or ``[T, H, W, 3]`` tensor, uint8 or float 0-1, checked.

    Raises
    ------
    EncodingError
        Another rank or channel count, another dtype, NaN or inf, floats outside 0-1.
    """
    if isinstance(frames, (str, os.PathLike)):
        raise EncodingError(
            f"emulate: {frames} is a path; Emulator.feed takes frame arrays (emulate() reads files)"
        )
    tensor = (
        frames
        if isinstance(frames, torch.Tensor)
        else torch.from_numpy(np.require(np.asarray(frames), requirements="W"))
    )
    shape = tuple(tensor.shape)
    if not (tensor.ndim == 3 or (tensor.ndim == 4 and shape[-1] == 3)):
        raise EncodingError(
            f"emulate: frames of shape {list(shape)}; give [T, H, W] grey or [T, H, W, 3] RGB frames "
            "(one frame is frames[None])"
        )
    if tensor.dtype == torch.uint8:
        return tensor
    if not tensor.is_floating_point():
        raise EncodingError(
            f"emulate: frames of dtype {tensor.dtype}; give uint8 0-255 or floats 0-1 (e.g. frames / 65535 "
            "for 16-bit frames)"
        )
    return as_input(tensor, "emulate", integers="keep", bounds=(0.0, 1.0))  # finite, and 0-1


def timestamps(
    count: int,
    given: Sequence[int] | np.ndarray | torch.Tensor | None,
    fps: float | None,
    index: int,
    last_us: int | None,
) -> np.ndarray:
    """Each of ``count`` frames' time in us: ``given``, checked, or frame ``index + i`` at
    ``round((index + i) * 1e6 / fps)``; increasing, after ``last_us`` (the previous frame's)."""
    stamps: np.ndarray
    if given is None:
        if fps is None:
            raise EncodingError("emulate: frames without timestamps_us need fps= (frames per second)")
        stamps = np.rint((index + np.arange(count)) * (1e6 / fps)).astype(np.int64)
    else:
        values = given.detach().cpu().numpy() if isinstance(given, torch.Tensor) else np.asarray(given)
        if values.shape != (count,):
            raise EncodingError(f"emulate: {count} frames but timestamps_us of shape {list(values.shape)}")
        if values.dtype.kind not in "iu" and (
            values.dtype.kind != "f" or not np.all(np.isfinite(values)) or np.any(values != np.rint(values))
        ):
            raise EncodingError(
                "emulate: timestamps_us must be whole microseconds (integers); got "
                f"{values.dtype} values such as {values[:3].tolist()}"
            )
        stamps = values.astype(np.int64)
    if count == 0:
        return stamps
    steps = np.diff(stamps)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise EncodingError(
            f"emulate: timestamps_us must increase: frame {index + i + 1} at {int(stamps[i + 1])} us follows "
            f"{int(stamps[i])} us"
        )
    if last_us is not None and int(stamps[0]) <= last_us:
        raise EncodingError(
            f"emulate: frame {index} at {int(stamps[0])} us does not follow the previous chunk's last "
            f"frame at {last_us} us"
        )
    return stamps


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, frame rate and size of a video file or a folder of images (a video's count
    is the container's, or its duration times its rate where the container keeps none).

    Raises
    ------
    EncodingError
        A folder without images, or a file that holds no video stream.
    DependencyError
        The ``video`` extra (PyAV, Pillow) is missing.
    """
    source = Path(path)
    if source.is_dir():
        files = _images(source)
        with _pillow().open(files[0]) as image:
            return VideoInfo(len(files), None, image.size)
    with _open_video(source) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        frames = stream.frames or None
        if frames is None and rate and container.duration:  # Matroska and others do not count frames
            frames = round(container.duration / 1e6 * float(rate))
        return VideoInfo(frames, float(rate) if rate else None, (stream.width, stream.height))


def read(
    path: str | os.PathLike[str], chunk_frames: int = 64, fps: float | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(frames, timestamps_us)`` chunks of a video file or a folder of images: uint8 luma
    ``[n, H, W]`` and int64 microseconds from 0 at the first frame.

    A video's times come from its frames' presentation times, or from ``fps`` where given (for
    footage whose file rate is not its capture rate, e.g. slow motion, or containers such as
    Matroska that keep times in whole milliseconds); a folder's frames need ``fps``.

    Raises
    ------
    EncodingError
        A folder without images or without ``fps``, images of different sizes, a file without a
        video stream.
    DependencyError
        The ``video`` extra (PyAV, Pillow) is missing.
    """
    if chunk_frames < 1:
        raise OptionError(f"chunk_frames must be 1 or more, got {chunk_frames}")
    source = Path(path)
    if source.is_dir():
        yield from _folder(source, chunk_frames, fps)
        return
    with _open_video(source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames: list[np.ndarray] = []
        times: list[float | None] = []
        index, first = 0, None
        for frame in container.decode(stream):
            frames.append(frame.to_ndarray(format="gray"))
            if fps is not None or frame.time is None:
                times.append(None)
            else:
                first = frame.time if first is None else first
                times.append(frame.time - first)
            if len(frames) == chunk_frames:
                yield _chunk(frames, times, index, fps, source)
                index += len(frames)
                frames, times = [], []
        if frames:
            yield _chunk(frames, times, index, fps, source)


def _chunk(
    frames: list[np.ndarray], times: list[float | None], index: int, fps: float | None, source: Path
) -> tuple[np.ndarray, np.ndarray]:
    if all(time is not None for time in times):
        stamps = np.rint(np.array(times, np.float64) * 1e6).astype(np.int64)
    elif fps is not None:
        stamps = np.rint((index + np.arange(len(frames))) * (1e6 / fps)).astype(np.int64)
    else:
        raise EncodingError(f"emulate: {source} has frames without times; pass fps=")
    return np.stack(frames), stamps


def _folder(folder: Path, chunk_frames: int, fps: float | None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    if fps is None:
        raise EncodingError(f"emulate: the frames in {folder} carry no times; pass fps= (frames per second)")
    files = _images(folder)
    image_module = _pillow()
    size = None
    for start in range(0, len(files), chunk_frames):
        frames = []
        for name in files[start : start + chunk_frames]:
            with image_module.open(name) as image:
                grey = np.asarray(image.convert("L"))
            if size is not None and grey.shape != size:
                raise EncodingError(
                    f"emulate: {name} is {grey.shape[1]}x{grey.shape[0]} pixels, the frames before it "
                    f"{size[1]}x{size[0]}; every frame of a video has one size"
                )
            size = grey.shape
            frames.append(grey)
        yield np.stack(frames), np.rint((start + np.arange(len(frames))) * (1e6 / fps)).astype(np.int64)


def _images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise EncodingError(f"emulate: {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return sorted(
        files, key=lambda p: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", p.name)]
    )


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise DependencyError('reading image folders needs Pillow: pip install "eventcode[video]"') from None
    return Image


def _open_video(source: Path) -> Any:
    try:
        import av
    except ImportError:
        raise DependencyError('reading video files needs PyAV: pip install "eventcode[video]"') from None
    if not source.exists():
        raise FileNotFoundError(f"emulate: {source} does not exist")
    try:
        container = av.open(str(source))
    except av.error.FFmpegError as err:
        raise EncodingError(f"emulate: {source} is not a video FFmpeg can read: {err}") from None
    if not container.streams.video:
        container.close()
        raise EncodingError(f"emulate: {source} holds no video stream")
    return container
