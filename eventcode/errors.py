"""Exceptions raised by eventcode.

Every error eventcode raises derives from :class:`EventcodeError` and from the
built-in exception a caller would naturally catch (``ValueError`` for bad data,
``TypeError`` for bad dtypes), so ``except ValueError`` keeps working.

Examples
--------
>>> import torch, eventcode
>>> try:
...     eventcode.Events(t=[0], x=[40], y=[0], p=[True], shape=(28, 28), num_steps=1)
... except eventcode.errors.AddressError as err:
...     print(type(err).__name__)
AddressError
"""

from __future__ import annotations


class EventcodeError(Exception):
    """Base class of every error raised by eventcode."""


class EventsError(EventcodeError, ValueError):
    """Event columns or metadata that do not form a valid :class:`~eventcode.Events`."""


class AddressError(EventsError):
    """An event address (x, y or channel) lies outside the sample shape."""


class PolarityError(EventsError):
    """Polarities a sensor cannot give: both ON and OFF in one sample of a 1-polarity sensor, or a
    sensor of 3 or more polarities (eventcode's polarity is a bool: fold more kinds of event into
    the channel column instead)."""


class TimeOrderError(EventsError):
    """Timestamps decrease within a sample, or lie outside ``[0, num_steps)``."""


class OffsetsError(EventsError):
    """The per-sample ``offsets`` do not partition the event columns."""


class EventsDtypeError(EventsError, TypeError):
    """A column or input has a dtype eventcode cannot store losslessly, or an ``Events`` is given
    where a dense tensor is expected (pass ``events.dense()``)."""


class DenseInputError(EventcodeError, ValueError):
    """A dense tensor given to ``from_dense`` has a bad rank or bad values (NaN, inf, fractions)."""


class FileFormatError(EventcodeError, OSError):
    """A file is truncated, corrupt or not in the format it was read as."""


class EncodingError(EventcodeError, ValueError):
    """Input or options an encoder cannot encode (NaN, out-of-range values, bad num_steps...)."""


class EncodingRuntimeError(EncodingError, RuntimeError):
    """Encoder input that snnTorch refuses with a ``RuntimeError`` (``except RuntimeError`` keeps
    working with :mod:`eventcode.spikegen`): a ``rate_interpolate`` ramp without a valid step."""


class ExportError(EventcodeError, ValueError):
    """Events or options a file format cannot take as given (several samples, channels, step time...)."""


class EventcodeWarning(UserWarning):
    """Base class of every warning eventcode gives."""


class DataLossWarning(EventcodeWarning):
    """Data was left out on purpose and counted: a damaged file salvaged, or streams that the
    target format cannot hold dropped in a conversion."""


class UndersampledVideoWarning(EventcodeWarning):
    """A video fed to the DVS emulator changes faster than its frame rate resolves: some pixel
    needs more than :data:`eventcode.dvs.emulator.MANY_EVENTS` events between two frames."""


class AllocationError(EventcodeError, MemoryError):
    """An output larger than the memory available, refused before it is allocated; the message
    names its size and how to make it in pieces."""


class OptionError(EventcodeError, ValueError):
    """An argument or command-line option with a value the function cannot take."""


class OptionTypeError(OptionError, TypeError):
    """An argument of a type the function cannot take (also a ``TypeError``)."""


class SampleIndexError(EventcodeError, IndexError):
    """A sample index outside the batch (also an ``IndexError``, so iteration stops at the end)."""


class DependencyError(EventcodeError, ImportError):
    """An optional dependency the call needs is missing: a package extra, or a program such as
    ffmpeg; the message names what to install."""
