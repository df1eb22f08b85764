"""What the CLI prints: the JSON shapes of items, changes and versions (field names are a public
contract) and the rows of ``monitor status``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from alerts.base import happened_text
from monitor.models import Change, Item, ItemVersion, Source
from monitor.normalise.actiontext import latest_action_only
from monitor.normalise.meanings import meaning


def item_json(item: Item) -> dict[str, Any]:
    return {
        "key": item.key, "source": item.source_id, "kind": item.kind, "identity": item.identity,
        "title": item.title, "url": item.url, "jurisdiction": item.jurisdiction, "court": item.court,
        "status": item.status, "raw_status": item.raw_status, "raw_status_meaning": meaning(item.raw_status),
        "status_action": item.status_action, "status_date": item.status_date,
        "happened": happened_text(item.status, item.status_date, item.kind),
        "latest_action_only": latest_action_only(item.data),
        "published_at": item.published_at, "first_seen": item.first_seen,
        "last_changed": item.last_changed, "version": item.version,
    }


def change_json(change: Change) -> dict[str, Any]:
    return {
        "id": change.id, "item_key": change.item.key, "type": change.type, "field": change.field,
        "old": change.old, "new": change.new, "detected_at": change.detected_at, "poll_id": change.poll_id,
    }


def version_json(version: ItemVersion) -> dict[str, Any]:
    return {"version": version.version, "created_at": version.created_at, "content_hash": version.content_hash,
            "snapshot": version.snapshot}


@dataclass
class SourceHealth:
    """One row of ``monitor status``."""

    id: str
    kind: str
    enabled: bool
    last_outcome: str | None
    last_attempt: dt.datetime | None
    last_success: dt.datetime | None
    consecutive_failures: int
    last_error: str | None
    deferred_reason: str | None
    requests_today: int
    polls: int
    unchanged_ratio: float | None
    items_seen: int
    next_run: dt.datetime | None
    incident: str | None

    @property
    def failing(self) -> bool:
        return self.enabled and (self.consecutive_failures > 0 or self.incident is not None)


def source_health(row: Source, today: dt.date) -> SourceHealth:
    return SourceHealth(
        id=row.id, kind=row.kind, enabled=row.enabled, last_outcome=row.last_outcome,
        last_attempt=row.last_attempt_at, last_success=row.last_success_at,
        consecutive_failures=row.consecutive_failures, last_error=row.last_error,
        deferred_reason=row.deferred_reason if row.last_outcome == "deferred" else None,
        requests_today=row.requests_today if row.requests_day == today else 0, polls=row.polls_total,
        unchanged_ratio=round(row.polls_unchanged / row.polls_total, 3) if row.polls_total else None,
        items_seen=row.items_seen, next_run=row.next_run_at,
        incident=(row.incident_reason or "").split(" ", 1)[-1] if row.incident_open else None,
    )
