"""Transforms for dataset pipelines (Tonic's ``Compose``, torchvision's): encode a sample, densify it.

Each transform is a frozen dataclass of its parameters, checked when it is made, hashable and
``dataclasses.replace``-able; calling it runs the matching function (:func:`eventcode.rate`,
:func:`eventcode.latency`, :func:`eventcode.delta`, :meth:`Events.dense <eventcode.Events.dense>`)
on one sample. A transform holds no state: the same call gives the same result in any process.

Randomness (the rate code only) comes from :func:`sample_generator`: a fresh generator per call,
seeded from ``(seed, sample index)`` alone. :class:`eventcode.datasets.EncodedDataset` knows each
sample's index; a seeded :class:`Encode` called on its own (in a plain ``Compose``, which passes
no index) uses the seed's stream with no index, the same stream at every call.

Examples
--------
>>> import torch
>>> import tonic
>>> from eventcode.transforms import Densify, Encode
>>> encode = Encode("latency", num_steps=20, options={"normalize": True})
>>> pipeline = tonic.transforms.Compose([encode, Densify()])
>>> pipeline(torch.rand(1, 28, 28)).shape  # one image in, [T, C, H, W] spikes out
torch.Size([20, 1, 28, 28])
"""

from __future__ import annotations

import math
import numbers
import operator
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from eventcode.dense import DenseLayout
from eventcode.encoders import delta, latency, rate
from eventcode.errors import EncodingError, OptionError, OptionTypeError
from eventcode.events import Events

Code = Literal["rate", "latency", "delta"]
"""The names of the encoders :class:`Encode` runs."""
ENCODERS: dict[str, Callable[..., Events]] = {"rate": rate, "latency": latency, "delta": delta}
"""Encoder functions by the name :class:`Encode` takes."""
NOT_SETTABLE = ("data", "batched", "generator", "return")
"""Encoder parameters that are not options: the input, the batch flag and the random stream."""
LEAST = {"num_steps": 1, "threshold": 0}
"""The smallest value these options take (snnTorch's ``delta`` fires every pixel below a
threshold of 0, and 0 steps encode nothing)."""
Options = Mapping[str, object] | tuple[tuple[str, object], ...]
"""Encoder options as a mapping, or as the ``(name, value)`` pairs :class:`Encode` stores."""


def option_types(code: Code) -> dict[str, object]:
    """The options of the encoder ``code`` by name, with the types of its signature.

    Raises
    ------
    OptionError
        ``code`` is not a name of :data:`ENCODERS`.

    Examples
    --------
    >>> from eventcode.transforms import option_types
    >>> option_types("delta")
    {'threshold': <class 'float'>, 'padding': <class 'bool'>, 'off_spike': <class 'bool'>}
    """
    if not isinstance(code, str) or code not in ENCODERS:
        raise OptionError(f"code must be one of {', '.join(sorted(ENCODERS))}, got {code!r}")
    hints = typing.get_type_hints(ENCODERS[code])
    return {name: kind for name, kind in hints.items() if name not in NOT_SETTABLE}


def checked_options(code: Code, options: Mapping[str, object]) -> dict[str, object]:
    """``options`` checked against the typed signature of the encoder ``code``.

    Every name must be an option of the encoder, every value of its annotated type (an integer
    for ``int``, a finite real for ``float``, ``True``/``False`` for ``bool``, one of the values
    of a ``Literal``, ``None`` where the type is optional) and at least its :data:`LEAST`.
    Values come back as plain Python values (``float`` for float options, ``int`` for numpy
    integers), so equal options compare and hash equal.

    Raises
    ------
    OptionError
        An unknown code, an unknown option (the message lists the valid ones), a value below
        its least value or a float that is not finite.
    OptionTypeError
        A value of the wrong type (the message says which types the option takes).

    Examples
    --------
    >>> from eventcode.transforms import checked_options
    >>> checked_options("latency", {"num_steps": 8, "tau": 5, "normalize": "per_sample"})
    {'num_steps': 8, 'tau': 5.0, 'normalize': 'per_sample'}
    """
    valid = option_types(code)
    settings: dict[str, object] = {}
    for name, value in options.items():
        if name not in valid:
            raise OptionError(f"{code} has no option {name!r}; valid options: {', '.join(sorted(valid))}")
        typed = _typed(code, name, value, valid[name])
        least = LEAST.get(name)
        if least is not None and isinstance(typed, int | float) and typed < least:
            raise OptionError(f"{name} must be at least {least}, got {value!r}")
        settings[name] = typed
    return settings


def _typed(code: Code, name: str, value: object, annotation: object) -> object:
    """``value`` as a plain value of ``annotation`` (a type, a union of types or a Literal)."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    kinds = typing.get_args(annotation) if union else (annotation,)
    flag = isinstance(value, bool | np.bool_)
    number = _as_float(value) if isinstance(value, numbers.Real) and not flag else None
    for kind in kinds:
        if typing.get_origin(kind) is Literal:
            if isinstance(value, str) and value in typing.get_args(kind):
                return value
        elif kind is type(None):
            if value is None:
                return None
        elif kind is bool:
            if flag:
                return bool(value)
        elif kind is int:
            if isinstance(value, numbers.Integral) and not flag:
                return operator.index(value)
            if number is not None and number.is_integer():
                return int(number)
        elif kind is float:
            if number is not None and not math.isfinite(number):
                raise OptionError(f"{code} option {name}={value!r}: must be a finite number")
            if number is not None:
                return number
        elif isinstance(kind, type) and isinstance(value, kind):
            return value
    expected = " or ".join(_type_name(kind) for kind in kinds)
    raise OptionTypeError(f"{code} option {name}={value!r}: expected {expected}")


def _as_float(value: numbers.Real) -> float:
    """``value`` as a float; inf for an integer beyond the float range."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _type_name(kind: object) -> str:
    if typing.get_origin(kind) is Literal:
        return " or ".join(repr(v) for v in typing.get_args(kind))
    names: dict[object, str] = {
        type(None): "None",
        bool: "True/False",
        int: "an integer",
        float: "a finite number",
    }
    return names.get(kind, getattr(kind, "__name__", str(kind)))


def check_seed(seed: object, name: str = "seed") -> int | None:
    """``seed`` as an ``int`` (``None`` passes): a non-negative integer, as numpy's ``SeedSequence`` takes.

    Raises
    ------
    OptionTypeError
        Not an integer (a bool, a float, a string...), named ``name`` in the message.
    OptionError
        A negative integer.

    Examples
    --------
    >>> import numpy as np
    >>> from eventcode.transforms import check_seed
    >>> check_seed(np.int64(7)), check_seed(None)
    (7, None)
    """
    if seed is None:
        return None
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral):
        raise OptionTypeError(f"{name} must be a non-negative integer (or None), got {seed!r}")
    if seed < 0:
        raise OptionError(f"{name} must be a non-negative integer (or None), got {seed!r}")
    return int(seed)


def sample_generator(
    seed: int, index: int | None = None, device: torch.device | str = "cpu"
) -> torch.Generator:
    """A new generator whose stream derives from ``(seed, index)`` alone.

    It is seeded from numpy's ``SeedSequence(seed, spawn_key=(index,))`` (the ``index``-th child of
    ``SeedSequence(seed)``), or from ``SeedSequence(seed)`` without an index, so the streams of
    different samples are independent and the stream of one sample is the same in any process,
    worker or order. The same seed gives different streams on a CPU and a CUDA device.

    Raises
    ------
    OptionError
        ``seed`` or ``index`` is not a non-negative integer (see :func:`check_seed`).

    Examples
    --------
    >>> import torch
    >>> from eventcode.transforms import sample_generator
    >>> draws = [torch.rand(3, generator=sample_generator(0, i)) for i in (0, 1, 0)]
    >>> torch.equal(draws[0], draws[2]), torch.equal(draws[0], draws[1])
    (True, False)
    """
    entropy = check_seed(seed)
    position = check_seed(index, "index")
    key = () if position is None else (position,)
    state = np.random.SeedSequence(entropy, spawn_key=key).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state))


@dataclass(frozen=True, kw_only=True)
class Encode:
    """Encode one sample (an image ``[C, H, W]`` / ``[H, W]``, or frames ``[T, ...]`` for delta).

    Parameters
    ----------
    code : {"rate", "latency", "delta"}
        The encoder (the one positional argument).
    num_steps : int, optional
        Steps ``T`` (rate, latency); at least 1. ``None`` (the encoders' default) leaves it out.
    threshold : float, optional
        Threshold (latency, delta); at least 0. ``None`` leaves it out: the encoder's default.
    options : mapping or tuple of (name, value) pairs
        Any other keyword argument of the encoder (``{"normalize": True}``, ``{"gain": 0.5}``...),
        checked and typed as :func:`checked_options` does. ``num_steps`` and ``threshold`` may
        come in here too; they are moved to their fields, and the rest is stored as sorted
        ``(name, value)`` pairs, so equal settings make equal (and equally hashed) transforms.
    seed : int, optional
        Rate only: the seed of the random stream. Called on its own (no ``generator``), a
        seeded ``Encode`` draws from ``sample_generator(seed)``, the same stream at every
        call: two equal images give equal events. :class:`~eventcode.datasets.EncodedDataset`
        takes this seed and draws sample ``i`` from ``sample_generator(seed, i)``. Without a
        seed, ``rate`` draws from torch's global generator (seeded differently in every
        DataLoader worker).

    Integer images are scaled to [0, 1] as :func:`as_values` says (uint8 by 255, uint16 by
    65,535, other integers of 0-255 by 255); numpy arrays and PIL images are accepted.

    Raises
    ------
    OptionError
        An unknown code, an option the encoder does not take (the message lists the valid
        ones), an option given both as a field and in ``options``, a value out of range, or a
        seed for a deterministic code.
    OptionTypeError
        A value of the wrong type, or ``options`` that are not a mapping of names to values.

    Examples
    --------
    >>> import dataclasses, torch
    >>> from eventcode.transforms import Encode
    >>> encode = Encode("rate", num_steps=10, seed=0)
    >>> len(encode(torch.full((1, 4, 4), 255, dtype=torch.uint8)))  # p = 1: every pixel fires at every step
    160
    >>> dataclasses.replace(encode, options={"gain": 0.5}).settings
    {'num_steps': 10, 'gain': 0.5}
    >>> Encode("latency", options={"num_steps": 8, "normalize": True}) == Encode(
    ...     "latency", num_steps=8, options={"normalize": True}
    ... )
    True
    """

    code: Code = field(kw_only=False)
    num_steps: int | None = None
    threshold: float | None = None
    options: Options = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        given = _as_dict(self.options)
        for name in ("num_steps", "threshold"):
            value = getattr(self, name)
            if value is not None and name in given:
                raise OptionError(
                    f"Encode: {name} given twice, as a field ({value!r}) and in options ({given[name]!r}); "
                    "give it once"
                )
            if value is not None:
                given[name] = value
        settings = checked_options(self.code, given)
        seed = check_seed(self.seed)
        if seed is not None and self.code != "rate":
            raise OptionError(f"Encode: seed is for the rate code; {self.code} is deterministic")
        object.__setattr__(self, "num_steps", settings.pop("num_steps", None))
        object.__setattr__(self, "threshold", settings.pop("threshold", None))
        object.__setattr__(self, "options", tuple(sorted(settings.items())))
        object.__setattr__(self, "seed", seed)

    @property
    def settings(self) -> dict[str, object]:
        """Every keyword argument the encoder gets, ``num_steps`` and ``threshold`` included when set."""
        fields = {"num_steps": self.num_steps, "threshold": self.threshold}
        return {**{k: v for k, v in fields.items() if v is not None}, **_as_dict(self.options)}

    def __call__(self, data: object, generator: torch.Generator | None = None) -> Events:
        """The sample's events; ``generator`` (rate only; the others ignore it) overrides the seed's."""
        x = as_values(data)
        extra: dict[str, object] = {}
        if self.code == "rate":
            if generator is None and self.seed is not None:
                generator = sample_generator(self.seed, device=x.device)
            extra["generator"] = generator
        return ENCODERS[self.code](x, batched=False, **extra, **self.settings)


def _as_dict(options: object) -> dict[str, object]:
    """Options given as a mapping or as ``(name, value)`` pairs, as a new dict."""
    if isinstance(options, Mapping):
        pairs = list(options.items())
    elif isinstance(options, tuple | list) and all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in options
    ):
        pairs = list(options)
    else:
        raise OptionTypeError(f"Encode: options must be a mapping of option names to values, got {options!r}")
    names = [name for name, _ in pairs]
    if not all(isinstance(name, str) for name in names):
        raise OptionTypeError(f"Encode: options must be named by strings, got {names!r}")
    if len(set(names)) < len(names):
        raise OptionError(f"Encode: options must name each option once, got {names!r}")
    return dict(pairs)


@dataclass(frozen=True, kw_only=True)
class Densify:
    """One sample's events as a dense ``[T, *shape]`` tensor (see :meth:`Events.dense`).

    Parameters
    ----------
    dtype : torch.dtype, default float32
        The output's dtype, any real one (see :func:`eventcode.densify` for which layouts take
        bool and unsigned dtypes).
    polarity : {"signed", "on", "split"}
        The dense polarity layout, as for :func:`eventcode.densify`.
    device : torch.device or str, optional
        Where to build the output (stored as a ``torch.device``); default the events' device.

    Raises
    ------
    OptionTypeError
        A dtype that is not a ``torch.dtype``; calling it on anything but ``Events``.
    OptionError
        A complex dtype, an unknown layout or device; calling it on several samples.

    Examples
    --------
    >>> import torch
    >>> from eventcode import Events
    >>> from eventcode.transforms import Densify
    >>> events = Events(t=[0, 2], x=[1, 0], y=[0, 0], p=[1, 0], shape=(2,), num_steps=3)
    >>> Densify()(events).tolist()
    [[0.0, 1.0], [0.0, 0.0], [-1.0, 0.0]]
    >>> Densify(device="cpu") == Densify(device=torch.device("cpu"))
    True
    """

    dtype: torch.dtype = torch.float32
    polarity: DenseLayout = "signed"
    device: torch.device | str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.dtype, torch.dtype):
            raise OptionTypeError(
                f"Densify: dtype must be a torch.dtype (torch.float32, torch.int8, torch.bool...), "
                f"got {self.dtype!r}"
            )
        if self.dtype.is_complex:
            raise OptionError(f"Densify: dtype must be real (a count per step and address), got {self.dtype}")
        layouts = typing.get_args(DenseLayout)
        if self.polarity not in layouts:
            raise OptionError(f"Densify: polarity must be one of {layouts}, got {self.polarity!r}")
        if self.device is not None:
            try:
                device = torch.device(self.device)
            except (RuntimeError, TypeError) as err:
                raise OptionError(f"Densify: device {self.device!r} is not a torch device ({err})") from err
            object.__setattr__(self, "device", device)

    def __call__(self, events: Events) -> torch.Tensor:
        """The dense ``[T, *shape]`` tensor of one sample's events."""
        if not isinstance(events, Events):
            raise OptionTypeError(f"Densify takes one sample's Events, got {type(events).__name__}")
        if events.num_samples != 1:
            raise OptionError(
                f"Densify takes one sample, got {events.num_samples}; densify a batch with events.dense()"
            )
        return events.dense(device=self.device, dtype=self.dtype, polarity=self.polarity)[:, 0]


def as_values(data: object, scale: float | None = None) -> torch.Tensor:
    """A sample as a float tensor, integer pixels scaled to [0, 1].

    ``uint8`` and ``uint16`` pixels are divided by their dtype's maximum (255, 65,535); other
    integer pixels (an ``int64`` array of 0-255 values, as ``numpy`` often makes) by 255 when
    none exceeds 255. Floats and bools pass as they are. ``scale`` divides any input by that
    value instead (e.g. ``scale=4095`` for 12-bit pixels stored as int32).

    Raises
    ------
    EncodingError
        Values that are not bools, integers or floats; integer pixels beyond 255 in a dtype
        other than uint16, without ``scale``.
    OptionError
        A scale that is not a positive finite number (``OptionTypeError``: not a number).

    Examples
    --------
    >>> import numpy as np
    >>> from eventcode.transforms import as_values
    >>> as_values(np.array([0, 51, 255], dtype=np.int64)).tolist()  # 0-255 in int64: by 255
    [0.0, 0.20000000298023224, 1.0]
    >>> as_values(np.array([0, 2048, 4096], dtype=np.int32), scale=4096).tolist()
    [0.0, 0.5, 1.0]
    """
    if isinstance(data, torch.Tensor):
        array = data
    else:
        values = np.asarray(data)
        if values.dtype.kind not in "biuf":
            raise EncodingError(
                f"cannot encode values of dtype {values.dtype}; pass bool, integer or float pixels"
            )
        array = torch.from_numpy(np.require(values, requirements="W"))
    if array.is_complex():
        raise EncodingError(
            f"cannot encode values of dtype {array.dtype}; pass bool, integer or float pixels"
        )
    full: object = scale  # checked as any object: callers pass what they have
    if full is not None:
        if isinstance(full, bool) or not isinstance(full, int | float | np.integer | np.floating):
            raise OptionTypeError(f"scale must be a number (the value of full intensity), got {full!r}")
        if not 0 < full < math.inf:
            raise OptionError(
                f"scale must be a positive finite number (the value of full intensity), got {full}"
            )
        return array.float() / float(full)
    if array.dtype == torch.bool:
        return array.float()
    if array.is_floating_point():
        return array
    if array.dtype in (torch.uint8, torch.uint16):
        return array.float() / torch.iinfo(array.dtype).max
    if array.numel() and int(array.max()) > 255:
        raise EncodingError(
            f"{array.dtype} pixels up to {int(array.max())}: only uint8 and uint16 images have a known "
            "full-scale value; pass scale= (--scale on the command line), e.g. 4095 for 12-bit pixels"
        )
    return array.float() / 255
