"""Positioned file I/O that finishes the job: ``pwrite`` and ``preadv`` may move fewer bytes than
asked, so the writers and readers that place bytes at known offsets (AEDAT 3.1, AEDAT 4.0, HDF5)
loop here until all are moved.

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from exporters import positional
>>> descriptor, path = tempfile.mkstemp()
>>> positional.write_at(descriptor, np.arange(4, dtype="<u2"), 2)
>>> back = np.zeros(4, "<u2")
>>> positional.read_at(descriptor, back, 2), back.tolist()
(True, [0, 1, 2, 3])
>>> os.close(descriptor); os.unlink(path)
"""

from __future__ import annotations

import os

import numpy as np


def write_at(descriptor: int, data: bytes | memoryview | np.ndarray, at: int) -> None:
    """Write all of ``data`` (a C-contiguous buffer) at byte ``at`` of the open file ``descriptor``.

    Raises
    ------
    OSError
        When the system writes nothing (a full disk that ``pwrite`` reports as 0 bytes).
    """
    view = (data.data if isinstance(data, np.ndarray) else memoryview(data)).cast("B")
    while view:
        done = os.pwrite(descriptor, view, at)
        if not done:
            raise OSError(f"writing {len(view)} bytes at byte {at} wrote none")
        view, at = view[done:], at + done


def read_at(descriptor: int, values: np.ndarray, at: int) -> bool:
    """Fill ``values`` (a C-contiguous array) with the bytes at byte ``at`` of the open file
    ``descriptor``; False if the file ends first."""
    view = values.data.cast("B")
    while view:
        done = os.preadv(descriptor, [view], at)
        if not done:
            return False
        view, at = view[done:], at + done
    return True
