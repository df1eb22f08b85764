"""The JSON shapes the CLI (and HTTP endpoints) print. Field names are a public contract."""

from __future__ import annotations

from typing import Any

from monitor.models import Change, Item, ItemVersion


def item_json(item: Item) -> dict[str, Any]:
    return {
        "key": item.key, "source": item.source_id, "kind": item.kind, "identity": item.identity,
        "title": item.title, "url": item.url, "jurisdiction": item.jurisdiction, "court": item.court,
        "status": item.status, "raw_status": item.raw_status, "status_action": item.status_action,
        "status_date": item.status_date, "published_at": item.published_at, "first_seen": item.first_seen,
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
