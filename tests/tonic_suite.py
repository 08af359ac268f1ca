"""Run Tonic's own representation tests with its frames and voxel grids swapped for eventcode's.

A script, not a test module (pytest collects ``test_*.py`` only). Tonic 1.7.0's source package
(``pip download --no-binary :all: --no-deps tonic==1.7.0``, unpacked) ships
``test/test_representations.py`` but not the ``utils.create_random_input`` it imports; this script
supplies its own (below), binds ``tonic.functional.to_frame_numpy`` and ``to_voxel_grid_numpy``
(what ``ToFrame``, ``ToSparseTensor``, ``ToImage`` and ``ToVoxelGrid`` call) to
:func:`eventcode.tonic.from_tonic` followed by :func:`eventcode.frames.to_frames` /
:func:`~eventcode.frames.to_voxel_grid` with ``tonic_compat``, and runs the file against the
installed Tonic. The cases with a sensor of 3 or more polarities, which eventcode does not hold,
must raise :class:`eventcode.errors.PolarityError` (strict expected failures); every other case
must pass. It prints the counts; ``--original`` runs Tonic's own functions instead.

Usage::

    python tests/tonic_suite.py /path/to/tonic-1.7.0 [--original] [-- extra pytest args]
"""

from __future__ import annotations

import sys
import types

import numpy as np
import peer_suite
import pytest

SUITE = "test/test_representations.py"
DEFAULT_SENSOR = (200, 100, 2)
"""The sensor of ``create_random_input`` when a test names none: two polarities, W != H."""


def create_random_input(
    sensor_size: tuple[int, int, int] = DEFAULT_SENSOR,
    n_events: int = 10_000,
    dtype: np.dtype | None = None,
) -> tuple[np.ndarray, tuple[int, int, int]]:
    """``n_events`` random events of a Tonic array of ``dtype`` (Tonic's ``events_struct`` by
    default) on ``sensor_size``, sorted by time over about 100 us per event, and the sensor size.

    Every field the dtype has is filled: ``x`` in ``[0, W)``, ``y`` in ``[0, H)``, ``p`` in
    ``[0, P)`` (so a 1-polarity sensor gets one polarity), ``t`` sorted.
    """
    import tonic

    rng = np.random.default_rng(n_events + sum(sensor_size))
    layout = np.dtype(tonic.io.events_struct if dtype is None else dtype)
    events = np.zeros(n_events, dtype=layout)
    bounds = {"x": sensor_size[0], "y": sensor_size[1], "p": sensor_size[2]}
    for name in layout.names:
        if name == "t":
            events[name] = np.sort(rng.integers(0, 100 * n_events, n_events))
        else:
            events[name] = rng.integers(0, bounds[name], n_events)
    return events, sensor_size


def frames_of(events: np.ndarray, sensor_size: tuple[int, ...] | None, **options: object) -> np.ndarray:
    """``tonic.functional.to_frame_numpy`` by eventcode: the same arguments, Tonic's numbers."""
    from eventcode.frames import to_frames
    from eventcode.tonic import from_tonic

    sample = from_tonic(events, sensor_size=sensor_size or None)
    window = {"t_start": options.pop("start_time", None), "t_end": options.pop("end_time", None)}
    return to_frames(sample, tonic_compat=True, **window, **options).numpy()  # type: ignore[arg-type]


def voxel_grid_of(events: np.ndarray, sensor_size: tuple[int, ...], n_time_bins: int = 10) -> np.ndarray:
    """``tonic.functional.to_voxel_grid_numpy`` by eventcode (a bool or integer polarity field)."""
    from eventcode.frames import to_voxel_grid
    from eventcode.tonic import from_tonic

    mode = "bool" if events["p"].dtype == bool else "int"
    return to_voxel_grid(from_tonic(events, sensor_size=sensor_size), n_time_bins, tonic_compat=mode).numpy()


def swap_representations() -> tuple[str, list]:
    """Bind Tonic's frame and voxel-grid functions to eventcode's: what was swapped, and the
    plugin expecting eventcode's error for 3-polarity sensors."""
    import tonic.functional

    tonic.functional.to_frame_numpy = frames_of
    tonic.functional.to_voxel_grid_numpy = voxel_grid_of
    names = "tonic.functional.to_frame_numpy, tonic.functional.to_voxel_grid_numpy"
    return f"swapped for eventcode's: {names}", [ThreePolarities()]


class ThreePolarities:
    """A pytest plugin: strict expected failures, raising PolarityError, for sensors of 3+ polarities."""

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Expect PolarityError where a case's sensor has 3 or more polarities."""
        from eventcode.errors import PolarityError

        for item in items:
            size = getattr(item, "callspec", None) and item.callspec.params.get("sensor_size")
            if size is not None and len(size) == 3 and size[2] >= 3:
                reason = f"sensor_size {size}: eventcode holds sensors of 1 or 2 polarities"
                item.add_marker(pytest.mark.xfail(raises=PolarityError, strict=True, reason=reason))


def main(argv: list[str] | None = None) -> int:
    """Run the suite; the exit status is pytest's."""
    sys.modules["utils"] = types.ModuleType("utils")
    sys.modules["utils"].create_random_input = create_random_input  # type: ignore[attr-defined]
    return peer_suite.main(argv, __doc__.splitlines()[0], "Tonic", [SUITE], swap_representations)


if __name__ == "__main__":
    sys.exit(main())
