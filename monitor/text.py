"""Text shortened for people to read: every cut, in the CLI, an alert or an item's title, ends
in "…", so a reader knows the text goes on ("Reported wit" reads as a typo)."""

from __future__ import annotations


def cut(text: str | None, width: int) -> str:
    """``text`` in at most ``width`` characters, ending in "…" when it was cut."""
    text = text or ""
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"
