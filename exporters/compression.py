"""Compression names: one spelling per codec, whatever case or separator a user types.

Each format module declares its codecs as a mapping from every accepted spelling (lower case,
``_`` for ``-``) to its canonical name; :func:`canonical` resolves what a user wrote, so
``"LZ4"`` (what ``eventcode info`` prints for a DV file), ``"lz4"``, ``"zstd-22"`` and
``None`` / ``"none"`` work alike in the API, the CLI and the README.

Examples
--------
>>> from exporters.compression import canonical
>>> names = {"none": "none", "lz4": "lz4", "zstd_22": "zstd_high", "zstd_high": "zstd_high"}
>>> canonical("LZ4", names, "AEDAT 4.0"), canonical("zstd-22", names, "AEDAT 4.0")
('lz4', 'zstd_high')
>>> canonical(None, names, "AEDAT 4.0")
'none'
"""

from __future__ import annotations

from collections.abc import Mapping

from eventcode.errors import ExportError

Compression = str | None
"""A compression name in any spelling a format's ``COMPRESSIONS`` accepts, or None for none."""


def canonical(value: str | None, names: Mapping[str, str], format_name: str) -> str:
    """The canonical codec name for ``value`` (None means ``"none"``).

    Parameters
    ----------
    value : str or None
        A codec name in any case, with ``-`` or ``_``.
    names : mapping
        Every accepted spelling (lower case, ``_`` separators) to its canonical name.
    format_name : str
        The format, for the error message.

    Raises
    ------
    ExportError
        ``value`` is not a codec of this format; the message lists the canonical names.
    """
    key = "none" if value is None else str(value).strip().lower().replace("-", "_")
    if key not in names:
        valid = ", ".join(dict.fromkeys(names.values()))
        raise ExportError(f"{format_name} has no compression {value!r}; choose one of: {valid}")
    return names[key]
