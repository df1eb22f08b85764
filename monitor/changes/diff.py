"""Change detection: compare the stored snapshot of an item with its new normalised record.

Pure: no database, no clock. A new item is one ``new`` change; a normalised status that
differs is one ``status`` change; every other tracked field that differs is a ``field`` change.
"""

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
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def diff(old: dict[str, Any] | None, new: ItemRecord) -> list[ChangeSpec]:
    if old is None:
        return [ChangeSpec(ChangeType.NEW, new=new.status)]
    snapshot = new.snapshot()
    changes: list[ChangeSpec] = []
    if old.get("status") != snapshot["status"]:
        changes.append(ChangeSpec(ChangeType.STATUS, "status", _text(old.get("status")),
                                  _text(snapshot["status"])))
    for name in ItemRecord.TRACKED_FIELDS:
        if old.get(name) != snapshot[name]:
            changes.append(ChangeSpec(ChangeType.FIELD, name, _text(old.get(name)),
                                      _text(snapshot[name])))
    return changes
