"""``kind`` name -> class registries whose classes are imported on first lookup.

``SOURCE_KINDS`` and ``CHANNEL_KINDS`` name every kind without importing it: a run loads only
the source kinds sources.yaml names and only the channels a delivery uses (Apprise alone costs
~0.1 s to import).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import TypeVar

T = TypeVar("T", bound=type)


class KindRegistry(MutableMapping[str, T]):
    """``kind`` -> class, each class imported from its ``module:Class`` path on first use."""

    def __init__(self, paths: dict[str, str]) -> None:
        self._paths = dict(paths)
        self._loaded: dict[str, T] = {}

    def __getitem__(self, kind: str) -> T:
        if kind not in self._loaded:
            module, _, name = self._paths[kind].partition(":")
            self._loaded[kind] = getattr(importlib.import_module(module), name)
        return self._loaded[kind]

    def __setitem__(self, kind: str, cls: T) -> None:
        self._paths[kind] = f"{cls.__module__}:{cls.__qualname__}"
        self._loaded[kind] = cls

    def __delitem__(self, kind: str) -> None:
        del self._paths[kind]
        self._loaded.pop(kind, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)
