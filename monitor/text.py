"""Text for people to read, the same in the CLI and every channel: every cut, in the CLI, an
alert or an item's title, ends in "…", so a reader knows the text goes on ("Reported wit" reads
as a typo); a count names its noun in the singular or plural it needs."""

from __future__ import annotations


def cut(text: str | None, width: int) -> str:
    """``text`` in at most ``width`` characters, ending in "…" when it was cut."""
    text = text or ""
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """'1 item', '3 items'; ``nouns`` for a plural not made with "s" ('2 deliveries')."""
    return f"{count} {noun}" if count == 1 else f"{count} {nouns or noun + 's'}"
