"""A stand-in for SynSense's ``samna``, so that Rockpool's ``XyloSim`` imports without it.

``rockpool.devices.xylo`` (Rockpool 3.1) imports ``samna`` unconditionally, down to
``from samna.xyloAudio3.configuration import XyloConfiguration`` and ``samna.xyloAudio3.event.Readout``
at module level, though ``XyloSim`` never uses it; every samna on the package registry is a stub
that downloads the real library at import. Inside :func:`installed`, a finder on
``sys.meta_path`` answers every ``samna.*`` import with an empty package whose attributes, at any
depth, are empty classes. It has no ``__version__``, so Rockpool's ``backend_available("samna")`` stays
``False`` and the device classes remain Rockpool's "missing backend" shims.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from typing import Any


class _Name(type):
    """A samna class or value: its attributes are more of the same."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Name(name, (), {"__module__": cls.__module__})


class _Module(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # __version__ stays missing: Rockpool then knows samna is absent
            raise AttributeError(name)
        return _Name(name, (), {"__module__": self.__name__})


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if fullname.split(".")[0] != "samna":
            return None
        return ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: ModuleSpec) -> types.ModuleType:
        return _Module(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []


@contextlib.contextmanager
def installed() -> Iterator[None]:
    """Answer ``import samna...`` with the stand-in inside the block, unless a samna is installed.

    Afterwards the stand-in leaves ``sys.modules`` and ``sys.meta_path`` (modules imported in the
    block keep their references), so no other test sees a samna that is not there.
    """
    if importlib.util.find_spec("samna") is not None:
        yield
        return
    finder = _Finder()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [name for name, module in sys.modules.items() if isinstance(module, _Module)]:
            del sys.modules[name]
