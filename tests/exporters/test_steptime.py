"""exporters.steptime: the step time eventcode records in microsecond files, checked on reading."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import exporters
from eventcode import Events
from eventcode.errors import FileFormatError
from exporters import ranges, steptime

RECORDING = [
    ("evt", ".raw"),
    ("dat", ".dat"),
    ("aedat2", ".aedat"),
    ("aedat3", ".aedat"),
    ("aedat4", ".aedat4"),
]
"""The formats that record step time in eventcode's header line or attributes."""


@pytest.mark.parametrize(
    ("steps", "why"), [((-1, 1000, 0), "num_steps"), ((3, 0, 0), "dt_us"), ((3, 10, -5), "reaches")]
)
def test_read_back_refuses_what_no_writer_records(steps: tuple[int, int, int], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        steptime.read_back(*steps, times=(0, 1 << 62))


def test_read_back_keeps_the_last_step_inside_the_times() -> None:
    assert steptime.read_back(3, 10, 5, times=(0, 26)).last_us == 25
    with pytest.raises(ValueError, match="reaches 25 us"):
        steptime.read_back(3, 10, 5, times=(0, 25))


@pytest.mark.parametrize(("name", "suffix"), RECORDING)
def test_a_recorded_step_of_zero_microseconds_is_refused_by_every_call(
    name: str, suffix: str, tmp_path: Path
) -> None:
    """The fuzz finding regressions/evt/evt3-header-dt-us-zero: EVT took ``dt_us=0`` as given, and
    its ``info`` and time ranges divided by zero."""
    path = tmp_path / f"steps{suffix}"
    events = Events(t=[0, 1, 2], x=[0, 1, 2], y=[0, 0, 1], p=[1, 0, 1], sensor_size=(128, 128), num_steps=3)
    exporters.write(path, events, format=name, dt_us=1000)
    data = path.read_bytes()
    damaged = data.replace(b"dt_us=1000", b"dt_us=0000").replace(b'type="long">1000<', b'type="long">0000<')
    assert damaged != data
    path.write_bytes(damaged)
    calls: dict[str, Callable[[], object]] = {
        "read": lambda: exporters.read(path, format=name),
        "read_chunks": lambda: list(exporters.for_reading(path, name).module.read_chunks(path)),
        "info": lambda: exporters.info(path, format=name),
        "ranges": lambda: ranges.split(path, parts=2, format=name),
    }
    for call in calls.values():
        with pytest.raises(FileFormatError, match=r"(?i)dt_?us"):
            call()
