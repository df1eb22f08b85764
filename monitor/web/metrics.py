"""GET /metrics: the service's state in the Prometheus text format, for the monitoring a user
already runs (scrape it beside /healthz).

Every value is read from the database when scraped, so every process of a deployment (one
``monitor run``, or N workers) reports the same numbers, and a restart loses none of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Route

from monitor.config import AppConfig
from monitor.db import Database
from monitor.delivery.dispatcher import not_silenced
from monitor.errors import MonitorError
from monitor.models import Change, Delivery, Item, Poll, Source, utcnow
from monitor.outbox.states import DeliveryState
from monitor.pipeline import build_source, missing_env
from monitor.store.health import Outcome

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# due or being sent; not a digest row waiting for its hour (``queued``) nor an alert waiting for a
# second provider (``held``): those wait by design, and would make the depth climb every day
QUEUED_STATES = (DeliveryState.PENDING, DeliveryState.SENDING)


@dataclass
class Metric:
    """One metric family: its samples as (labels, value)."""

    name: str
    kind: str  # counter | gauge
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            shown = ",".join(f'{key}="{_escape(text)}"' for key, text in labels.items())
            yield f"{self.name}{{{shown}}} {_number(value)}" if shown else f"{self.name} {_number(value)}"


def _number(value: float) -> str:
    """Every digit: ``:g`` kept six, so a Unix time came out as 1.79665e+09 (off by up to an hour)
    and a counter past 999999 stopped counting."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def collect(session: Session, configured: set[str] | None = None, keyless: set[str] | None = None) -> list[Metric]:
    """Polls and their outcomes, failures in a row, items, changes, deliveries by state, the
    delivery queue's depth, each source's last success and whether it is watched at all. As in
    ``monitor status``, a source not in ``configured`` that never polled or stored anything (the
    push endpoint's row, made at start even without MONITOR_HOOK_SECRET) is left out. ``keyless``:
    the sources that cannot run here because a key they need is not set."""
    polls = Metric("remedy_polls_total", "counter", "Polls by source and outcome.")
    # a 304 or an unchanged body writes no poll row (health only), so unchanged polls are the
    # source's own count, which counts those too
    for source_id, outcome, count in session.execute(
            select(Poll.source_id, Poll.outcome, func.count()).where(Poll.outcome != Outcome.UNCHANGED)
            .group_by(Poll.source_id, Poll.outcome)):
        polls.samples.append(({"source": source_id, "outcome": outcome}, count))
    for source_id, count in session.execute(
            select(Source.id, Source.polls_unchanged).where(Source.polls_unchanged > 0)):
        polls.samples.append(({"source": source_id, "outcome": Outcome.UNCHANGED}, count))
    stored: dict[str, int] = {source_id: count for source_id, count in session.execute(
        select(Item.source_id, func.count()).group_by(Item.source_id))}
    failing = Metric("remedy_source_consecutive_failures", "gauge", "Failed polls in a row, by source.")
    last_success = Metric("remedy_source_last_success_timestamp_seconds", "gauge",
                          "Unix time of the source's last successful poll.")
    # one gauge to alert on: a source skipped for a missing key fails nothing, and a silent one
    # (no new item for longer than expected) may fail nothing either, yet neither is watched
    up = Metric("remedy_source_up", "gauge",
                "1 while the source is watched; 0 when its polls fail, it is silent (an incident is open) "
                "or it cannot run (a key it needs is not set).")
    for source in session.scalars(select(Source).where(Source.enabled).order_by(Source.id)):
        if configured is not None and source.id not in configured and not source.polls_total \
                and not stored.get(source.id):
            continue
        failing.samples.append(({"source": source.id}, source.consecutive_failures))
        down = source.consecutive_failures or source.incident_open or source.id in (keyless or set())
        up.samples.append(({"source": source.id}, 0 if down else 1))
        if source.last_success_at is not None:
            last_success.samples.append(({"source": source.id}, source.last_success_at.timestamp()))
    items = Metric("remedy_items", "gauge", "Stored items by source.",
                   [({"source": source_id}, count) for source_id, count in stored.items()])
    changes = Metric("remedy_changes_total", "counter", "Detected changes by type.")
    for change_type, count in session.execute(select(Change.type, func.count()).group_by(Change.type)):
        changes.samples.append(({"type": change_type}, count))
    deliveries = Metric("remedy_deliveries", "gauge", "Deliveries (alerts, digests, admin notices) by state.")
    for state, count in session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)):
        deliveries.samples.append(({"state": str(state)}, count))
    depth = session.scalar(select(func.count()).where(Delivery.state.in_(QUEUED_STATES), not_silenced(utcnow())))
    queue = Metric("remedy_delivery_queue_depth", "gauge", "Deliveries due to be sent or retried.",
                   [({}, depth or 0)])
    return [polls, failing, last_success, up, items, changes, deliveries, queue]


def render(db: Database, config: AppConfig | None = None) -> str:
    configured = {source.id for source in config.sources} if config is not None else None
    keyless = {source.id for source in config.enabled_sources()
               if missing_env(build_source(source))} if config is not None else None
    with db.session() as session:
        return "".join(line + "\n" for metric in collect(session, configured, keyless) for line in metric.lines())


async def metrics(request: Request) -> PlainTextResponse:
    try:
        text = await run_in_threadpool(render, request.app.state.db, request.app.state.config)
    except (SQLAlchemyError, MonitorError) as exc:  # the database is away: a failed scrape, said in one line
        log.warning("/metrics: the database is unavailable: %s", exc)
        return PlainTextResponse(f"database unavailable: {type(exc).__name__}\n", status_code=503)
    return PlainTextResponse(text, media_type=CONTENT_TYPE)


def routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics, methods=["GET"])]
