"""What the reliability tests share: feed bodies, configs, one poll, and what a user can see."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from monitor.config import load_config
from monitor.db import Database
from monitor.drivers.service import RunResult, run_once
from monitor.models import Change, Item, ItemVersion, Source


def rss(*entries: tuple[str, str] | tuple[str, str, str], title: str = "Opinions") -> str:
    items = "".join(
        f"<item><guid>{e[0]}</guid><title>{e[1]}</title><link>https://example.org/{e[0]}</link>"
        f"<description>{e[2] if len(e) > 2 else ''}</description>"
        f"<pubDate>Mon, 02 Feb 2026 10:00:00 GMT</pubDate></item>"
        for e in entries
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{items}</channel></rss>'


def write_sources(path: Path, urls: dict[str, str], extra: str = "") -> Path:
    lines = ["sources:"]
    for sid, url in urls.items():
        lines += [f"  - id: {sid}", "    kind: rss", f"    url: {url}"]
        if extra:
            lines.append(f"    {extra}")
    path.write_text("\n".join(lines) + "\n")
    return path


def poll(db: Database, config: Path, wait_limit: float = 2.0) -> RunResult:
    return asyncio.run(run_once(db, load_config(config), wait_limit=wait_limit))


def health(db: Database, source_id: str) -> dict[str, Any]:
    """What ``monitor status --json`` shows for one source."""
    with db.session() as s:
        row = s.get(Source, source_id)
        assert row is not None, f"source {source_id} was never recorded"
        return {"last_error": row.last_error, "consecutive_failures": row.consecutive_failures,
                "last_outcome": row.last_outcome}


def item_keys(db: Database, source_id: str | None = None) -> set[str]:
    with db.session() as s:
        query = select(Item.key)
        if source_id:
            query = query.where(Item.source_id == source_id)
        return set(s.scalars(query))


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def assert_versions_consistent(db: Database) -> None:
    """No half-written version: item.version == its number of versions, every change points at one."""
    with db.session() as s:
        per_item = dict(s.execute(select(ItemVersion.item_id, func.count()).group_by(ItemVersion.item_id)).all())
        for item_id, version in s.execute(select(Item.id, Item.version)):
            assert per_item.get(item_id, 0) == version, (f"item {item_id}: version {version} "
                                                         f"but {per_item.get(item_id, 0)} rows")
        dangling = s.scalar(select(func.count()).select_from(Change).where(
            Change.version_id.is_not(None), ~Change.version_id.in_(select(ItemVersion.id))))
        assert dangling == 0

