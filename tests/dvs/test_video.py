"""Video input: frame arrays checked, timestamps from fps, image folders and video files read in
chunks, and emulate() on a path equal to emulate() on the decoded frames."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from eventcode.dvs import emulate, scenes, video
from eventcode.errors import EncodingError


def write_video(path: Path, frames: np.ndarray, fps: int) -> None:
    """Lossless grey video (FFV1 in Matroska): decoding gives the frames back exactly."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "gray"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    return scenes.rotating_bar(width=40, height=30, frames=23, fps=25)[0].numpy()


def test_video_file_reads_back_exactly_with_its_frame_times(tmp_path: Path, frames: np.ndarray) -> None:
    path = tmp_path / "bar.mkv"
    write_video(path, frames, 25)
    info = video.probe(path)
    assert info == video.VideoInfo(23, 25.0, (40, 30))  # Matroska keeps no count: duration x rate
    chunks = list(video.read(path, chunk_frames=10))
    assert [len(chunk) for chunk, _ in chunks] == [10, 10, 3]
    assert np.array_equal(np.concatenate([chunk for chunk, _ in chunks]), frames)
    stamps = np.concatenate([stamps for _, stamps in chunks])
    assert stamps.tolist() == [i * 40_000 for i in range(23)]
    faster = np.concatenate([s for _, s in video.read(path, chunk_frames=10, fps=1000)])
    assert faster.tolist() == [i * 1000 for i in range(23)]


def test_emulating_a_file_equals_emulating_its_frames(tmp_path: Path, frames: np.ndarray) -> None:
    path = tmp_path / "bar.mkv"
    write_video(path, frames, 25)
    options = {"seed": 7, "shot_noise_rate_hz": 2.0}
    from_file = emulate(path, chunk_frames=5, **options)
    assert len(from_file) > 0
    assert from_file == emulate(frames, fps=25, **options)


def test_image_folder_reads_in_natural_order(tmp_path: Path, frames: np.ndarray) -> None:
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"frame{i}.png")
    (tmp_path / "notes.txt").write_text("not a frame")
    assert video.probe(tmp_path) == video.VideoInfo(23, None, (40, 30))
    chunks = list(video.read(tmp_path, chunk_frames=8, fps=50))
    assert np.array_equal(np.concatenate([chunk for chunk, _ in chunks]), frames)  # 2 before 10
    assert np.concatenate([s for _, s in chunks]).tolist() == [i * 20_000 for i in range(23)]
    assert emulate(tmp_path, fps=50, seed=1) == emulate(frames, fps=50, seed=1)


def test_colour_images_become_luma(tmp_path: Path) -> None:
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "0.png")
    Image.fromarray(rgb).save(tmp_path / "1.png")
    ((chunk, _),) = video.read(tmp_path, fps=10)
    assert set(np.unique(chunk).tolist()) == {round(200 * 299 / 1000)}  # Pillow's L: ITU-R 601-2 luma


def test_folder_problems_raise(tmp_path: Path, frames: np.ndarray) -> None:
    with pytest.raises(EncodingError, match="no images"):
        list(video.read(tmp_path, fps=30))
    Image.fromarray(frames[0]).save(tmp_path / "0.png")
    with pytest.raises(EncodingError, match="fps"):
        list(video.read(tmp_path))
    Image.fromarray(frames[0][:, :20]).save(tmp_path / "1.png")
    with pytest.raises(EncodingError, match="one size"):
        list(video.read(tmp_path, fps=30))


def test_file_problems_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(video.read(tmp_path / "missing.mp4"))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01 not a video" * 100)
    with pytest.raises(EncodingError, match="not a video"):
        list(video.read(junk))
    text = tmp_path / "text.mkv"
    text.write_text("hello")
    with pytest.raises(EncodingError, match="not a video"):
        video.probe(text)


@pytest.mark.parametrize(
    "made",
    [
        lambda f: f,
        lambda f: torch.from_numpy(f),
        lambda f: f.astype(np.float32) / 255,
        lambda f: torch.from_numpy(f).double() / 255,
        lambda f: np.repeat(f[..., None], 3, axis=-1),
    ],
)
def test_frames_of_every_accepted_kind(frames: np.ndarray, made: object) -> None:
    tensor = video.as_frames(made(frames))  # type: ignore[operator]
    assert tensor.shape[:3] == frames.shape


def test_timestamps_from_fps_count_on() -> None:
    assert video.timestamps(3, None, 30.0, 4, 100_000).tolist() == [133_333, 166_667, 200_000]
    with pytest.raises(EncodingError, match="does not follow"):
        video.timestamps(2, None, 30.0, 0, 0)
