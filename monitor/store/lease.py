"""The row lease that keeps one source to one poller, on SQLite and PostgreSQL alike.

A poller owns a source while ``sources.lease_owner`` names it and ``lease_until`` is in the
future. Taking the lease is one conditional UPDATE (``… WHERE lease_until IS NULL OR
lease_until < now``) whose rowcount says who won, so it needs no locking feature of either
backend. It is the second guard behind the queue's per-source lock: a worker that dies
mid-poll simply stops renewing, and the source is free again once ``lease_until`` passes.
While a poll runs the lease is renewed every third of its length, so a slow poll of a live
worker is never taken over.

``run --once`` leases every due source with one UPDATE per chunk of ids (``acquire_many``) and
gives them back in batches as their polls end (``release_many``), so an unchanged poll costs no
lease transaction of its own; the service and the workers lease one source at a time (``hold``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.orm import Session

from monitor.config import parse_duration
from monitor.db import Database
from monitor.models import Source, utcnow
from monitor.store.items import chunks

log = logging.getLogger(__name__)
T = TypeVar("T")

LEASE_ENV = "MONITOR_POLL_LEASE"
DEFAULT_LEASE = "2m"


def lease_seconds() -> float:
    """How long a lease lasts without renewal: ``MONITOR_POLL_LEASE`` (e.g. ``90s``), default 2m."""
    return float(parse_duration(os.environ.get(LEASE_ENV) or DEFAULT_LEASE))


def new_owner(prefix: str = "") -> str:
    """A name unique to this process (host and pid first, so an operator can find it)."""
    return f"{prefix}{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[-100:]


@dataclass(frozen=True)
class Claim:
    """The answer to "may I poll this source?": won, or who holds it and until when."""

    won: bool
    owner: str | None = None
    until: dt.datetime | None = None


def acquire(session: Session, source_id: str, owner: str, ttl: float, now: dt.datetime | None = None) -> Claim:
    now = now or utcnow()
    until = now + dt.timedelta(seconds=ttl)
    result = session.execute(
        update(Source)
        .where(Source.id == source_id, or_(Source.lease_until.is_(None), Source.lease_until < now))
        .values(lease_owner=owner, lease_until=until)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return Claim(True, owner, until)
    row = session.execute(select(Source.lease_owner, Source.lease_until).where(Source.id == source_id)).first()
    return Claim(False, row[0] if row else None, row[1] if row else None)


def acquire_many(conn: Connection | Session, source_ids: Sequence[str], owner: str, ttl: float,
                 now: dt.datetime | None = None) -> dict[str, Claim]:
    """``acquire`` for many sources at once: one conditional UPDATE and one SELECT per chunk.

    A row now naming ``owner`` was won by this UPDATE, provided the caller is not already
    polling any of ``source_ids`` (the pipeline's in-process guard sees to that).
    """
    now = now or utcnow()
    until = now + dt.timedelta(seconds=ttl)
    c = Source.__table__.c
    claims: dict[str, Claim] = {sid: Claim(False) for sid in source_ids}
    for ids in chunks(source_ids):
        conn.execute(update(Source.__table__).where(c.id.in_(ids), or_(c.lease_until.is_(None), c.lease_until < now))
                     .values(lease_owner=owner, lease_until=until))
        for row in conn.execute(select(c.id, c.lease_owner, c.lease_until).where(c.id.in_(ids))):
            claims[row.id] = Claim(row.lease_owner == owner, row.lease_owner, row.lease_until)
    return claims


def renew_many(conn: Connection | Session, source_ids: Sequence[str], owner: str, ttl: float) -> set[str]:
    """Extend our leases on ``source_ids``; returns the ids still ours."""
    until = utcnow() + dt.timedelta(seconds=ttl)
    c = Source.__table__.c
    kept: set[str] = set()
    for ids in chunks(source_ids):
        conn.execute(update(Source.__table__).where(c.id.in_(ids), c.lease_owner == owner).values(lease_until=until))
        kept.update(conn.scalars(select(c.id).where(c.id.in_(ids), c.lease_owner == owner)))
    return kept


def release_many(conn: Connection | Session, source_ids: Sequence[str], owner: str) -> None:
    c = Source.__table__.c
    for ids in chunks(source_ids):
        conn.execute(update(Source.__table__).where(c.id.in_(ids), c.lease_owner == owner)
                     .values(lease_owner=None, lease_until=None))


def renew(session: Session, source_id: str, owner: str, ttl: float, now: dt.datetime | None = None) -> bool:
    """Extend our lease; False if it is no longer ours (it expired and someone else took it)."""
    until = (now or utcnow()) + dt.timedelta(seconds=ttl)
    result = session.execute(update(Source).where(Source.id == source_id, Source.lease_owner == owner)
                             .values(lease_until=until))
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def release(session: Session, source_id: str, owner: str) -> None:
    session.execute(update(Source).where(Source.id == source_id, Source.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None))


def due_when_free(session: Session, source_id: str, now: dt.datetime | None = None, *,
                  leased_only: bool = False) -> None:
    """Make a source due again as soon as its current lease ends (now if it has none): the
    scheduler's way to re-run a lost poll, or (``leased_only``) one a live lease turned away."""
    now = now or utcnow()
    query = update(Source).where(Source.id == source_id)
    if leased_only:
        query = query.where(Source.lease_until > now)
    session.execute(query.values(next_run_at=func.coalesce(Source.lease_until, now)))


class LeaseKeeper:
    """Takes, renews and gives back source leases for one process.

    ``run`` executes a blocking database call (the pipeline passes its writer thread, so
    SQLite never sees a second writer).
    """

    def __init__(self, db: Database, run: Callable[[Callable[[], Any]], Any], *, owner: str | None = None,
                 ttl: float | None = None) -> None:
        self.db = db
        self.run = run
        self.owner = owner or new_owner()
        self.ttl = ttl if ttl is not None else lease_seconds()

        self._batch: set[str] = set()  # held by hold_many and not yet handed back
        self._done: list[str] = []

    def _tx(self, fn: Callable[[Session], T]) -> Callable[[], T]:
        def call() -> T:
            with self.db.session() as session:
                return fn(session)
        return call

    def _conn_tx(self, fn: Callable[[Connection], T]) -> Callable[[], T]:
        def call() -> T:
            with self.db.engine.begin() as conn:
                return fn(conn)
        return call

    @asynccontextmanager
    async def hold_many(self, source_ids: Sequence[str]) -> AsyncIterator[dict[str, Claim]]:
        """Lease every free source of ``source_ids`` at once and renew them together while held.

        A finished poll hands its lease back with ``done``; the caller releases those in its next
        transaction (``take_done`` + ``release_many``), so the release rides along with the
        poll's own batched write. Whatever is still held at the end is released here.
        """
        claims: dict[str, Claim] = await self.run(self._conn_tx(
            lambda conn: acquire_many(conn, source_ids, self.owner, self.ttl)))
        self._batch = {sid for sid, claim in claims.items() if claim.won}
        renewer = asyncio.create_task(self._renew_batch())
        try:
            yield claims
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            left, self._batch, self._done = sorted(self._batch), set(), []
            if left:
                await self.run(self._conn_tx(lambda conn: release_many(conn, left, self.owner)))

    def done(self, source_id: str) -> int:
        """The poll of ``source_id`` (leased by ``hold_many``) has written everything it will write;
        returns how many finished polls wait for their release."""
        self._done.append(source_id)
        return len(self._done)

    def take_done(self) -> list[str]:
        """The finished polls' leases, to release in the caller's next transaction; no longer renewed."""
        ids, self._done = self._done, []
        self._batch.difference_update(ids)
        return ids

    async def _renew_batch(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            ids = sorted(self._batch)
            kept = await self.run(self._conn_tx(lambda conn: renew_many(conn, ids, self.owner, self.ttl)))
            lost = self._batch.intersection(ids) - kept
            if lost:
                log.warning("%d source leases lost while polling (held longer than %.0fs without renewal): %s",
                            len(lost), self.ttl, ", ".join(sorted(lost)[:10]))
                self._batch -= lost

    @asynccontextmanager
    async def hold(self, source_id: str) -> AsyncIterator[Claim]:
        """Yield the claim; while it is won, renew it in the background and release it at the end."""
        claim: Claim = await self.run(self._tx(lambda s: acquire(s, source_id, self.owner, self.ttl)))
        if not claim.won:
            yield claim
            return
        renewer = asyncio.create_task(self._renew(source_id))
        try:
            yield claim
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            await self.run(self._tx(lambda s: release(s, source_id, self.owner)))

    async def _renew(self, source_id: str) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            if not await self.run(self._tx(lambda s: renew(s, source_id, self.owner, self.ttl))):
                log.warning("source %s: lease lost while polling (held longer than %.0fs without renewal)",
                            source_id, self.ttl)
                return
