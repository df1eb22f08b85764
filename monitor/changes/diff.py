"""Change detection, pure: a new item is one ``new`` change, a new normalised status one ``status``
change, and every other tracked field that differs one ``field`` change."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from monitor.sources.base import ItemRecord


class ChangeType(StrEnum):
    """What a change is; the text is what ``changes.type`` stores."""

    NEW = "new"
    STATUS = "status"
    FIELD = "field"


@dataclass(frozen=True)
class ChangeSpec:
    type: ChangeType
    field: str | None = None
    old: str | None = None
    new: str | None = None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def diff(old: dict[str, Any] | None, new: ItemRecord) -> list[ChangeSpec]:
    """The changes from the stored snapshot ``old`` (None: not stored yet) to the record ``new``."""
    if old is None:
        return [ChangeSpec(ChangeType.NEW, new=new.status)]
    snapshot = new.snapshot()
    return [ChangeSpec(ChangeType.STATUS if name == "status" else ChangeType.FIELD, name,
                       _text(old.get(name)), _text(snapshot[name]))
            for name in ("status", *ItemRecord.TRACKED_FIELDS) if old.get(name) != snapshot[name]]
