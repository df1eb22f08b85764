"""Watchlist queries: compile once, then test documents cheaply.

This is the keyword form: every whitespace-separated term must occur (case- and
accent-insensitive) in the document's text. ``compile_query`` is the seam the full query
language plugs into.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def fold(text: str) -> str:
    """Lower-case and strip accents, so ``Hernández`` matches ``hernandez``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass
class MatchDoc:
    """What a query can see of an item."""

    key: str
    kind: str
    source: str
    title: str = ""
    summary: str = ""
    text: str = ""
    identity: str | None = None
    jurisdiction: str | None = None
    court: str | None = None
    status: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    _folded: str | None = None

    def folded(self) -> str:
        if self._folded is None:
            self._folded = fold(" ".join(p for p in (self.title, self.summary, self.text) if p))
        return self._folded


Matcher = Callable[[MatchDoc], bool]


def compile_query(text: str) -> Matcher:
    terms = [fold(t) for t in text.split() if t.strip()]
    if not terms:
        return lambda doc: False
    return lambda doc: all(term in doc.folded() for term in terms)
