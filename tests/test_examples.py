"""Every example runs (small sizes) and reports success."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_round_trips_real_digits() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--batch", "16", "--num-steps", "20"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [
        line.split()
        for line in result.stdout.splitlines()
        if line.split()[:1] in (["rate"], ["latency"], ["delta"])
    ]
    assert [row[0] for row in rows] == ["rate", "latency", "delta"]
    assert all(row[-1] == "True" for row in rows), result.stdout
    assert "T = 20" in result.stdout


def test_training_example_loss_falls() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_snn_on_events.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke: loss" in result.stdout


README_BLOCKS = re.findall(r"```python\n(.*?)```", (EXAMPLES.parent / "README.md").read_text(), re.S)


def test_the_readme_has_examples() -> None:
    assert len(README_BLOCKS) >= 3, "the README lost its examples"


@pytest.mark.parametrize("block", README_BLOCKS, ids=[f"block{i}" for i in range(len(README_BLOCKS))])
def test_each_readme_block_runs_on_its_own(block: str, tmp_path: Path) -> None:
    """Every Python block of the README runs in a fresh interpreter, needing nothing from the others."""
    result = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["tutorial_1", "hardware_export", "tonic_interop", "drive_simulators"])
def test_examples_run(name: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    pytest.importorskip("tonic")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "False" not in result.stdout  # every equality the example checks holds
    if name == "drive_simulators" and importlib.util.find_spec("brian2") is not None:
        assert "Brian2:" in result.stdout  # the same input drove a Brian2 layer too


def test_video_to_events_example(tmp_path: Path) -> None:
    """The DVS emulator's example, on a short video: events, AEDAT 4.0 read back, picture and GIF."""
    pytest.importorskip("matplotlib")
    command = [str(EXAMPLES / "video_to_events.py"), "--out", str(tmp_path), "--seconds", "0.25"]
    result = subprocess.run(
        [sys.executable, *command, "--fps", "100", "--gif-frames", "5"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "False" not in result.stdout  # dv-processing read the same events
    if importlib.util.find_spec("dv_processing") is not None:
        assert "every event equal True" in result.stdout
    for name in ("dvs.aedat4", "dvs_frame.png", "dvs.gif"):
        assert (tmp_path / name).stat().st_size > 0
