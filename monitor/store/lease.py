"""The row lease that keeps one source to one poller, across processes, on SQLite and PostgreSQL.

A poller owns a source while ``sources.lease_owner`` names it and ``lease_until`` is in the
future. Taking the lease is one conditional UPDATE (``… WHERE lease_until IS NULL OR
lease_until < now``) whose rowcount says who won, so it needs no locking feature of either
backend. A poller that dies mid-poll simply stops renewing, and the source is free again once
``lease_until`` passes, or at once for a poller on this host whose process is gone. While a poll
runs the lease is renewed every third of its length (``kept``), so a slow poll of a live poller
is never taken over. The pipeline takes the lease in the transaction that reads the poll's
starting state and gives it back in the one that records the poll, so a lease costs no
transaction of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, or_, select, update

from monitor.db import Database
from monitor.durations import env_seconds
from monitor.models import Source, utcnow

log = logging.getLogger(__name__)

LEASE_ENV = "MONITOR_POLL_LEASE"
DEFAULT_LEASE = 120  # seconds


def lease_seconds() -> float:
    """How long a lease lasts without renewal: ``MONITOR_POLL_LEASE`` (e.g. ``90s``), default 2m;
    a bad value is one error line naming the variable."""
    return float(env_seconds(LEASE_ENV, DEFAULT_LEASE))


HOST = socket.gethostname()[:40]


def new_owner() -> str:
    """A name unique to this process, ``host:pid:start:tag`` (host and pid first, so an operator
    can find it; the start time, so a pid reused later is not taken for its dead owner)."""
    return f"{HOST}:{os.getpid()}:{process_start(os.getpid())}:{uuid.uuid4().hex[:8]}"


def process_start(pid: int) -> str | None:
    """When ``pid`` started ("-" without /proc), None if gone: a pid reused later is not its dead owner."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else fields[19]
    except (OSError, IndexError):
        pass
    try:  # no /proc: ask the kernel whether the pid exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # someone else's process
        pass
    return "-"


def owner_dead(owner: str) -> bool:
    """Whether a lease owner (``host:pid:start:tag``) is a process of this host known gone;
    another host's owner counts as alive (its lease or its worker's heartbeats decide)."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != HOST or not parts[1].isdigit():
        return False
    start = process_start(int(parts[1]))
    return start is None or (start != parts[2] and "-" not in (start, parts[2]))


@dataclass(frozen=True)
class Claim:
    """The answer to "may I poll this source?": won, or who holds it and until when."""

    won: bool
    owner: str | None = None
    until: dt.datetime | None = None


_UNTIL = bindparam("until", type_=Source.lease_until.type)
_FREE = or_(Source.lease_until.is_(None),
            Source.lease_until < bindparam("now", type_=Source.lease_until.type))
_OURS = Source.lease_owner == bindparam("owner")
_SID = Source.id == bindparam("sid")
_ACQUIRE = update(Source).where(_SID, _FREE).values(lease_owner=bindparam("owner"),
                                                   lease_until=_UNTIL)
_HOLDER = select(Source.lease_owner, Source.lease_until).where(_SID)
_RENEW = update(Source).where(_SID, _OURS).values(lease_until=_UNTIL)
_TAKE_BACK = update(Source).where(_SID, Source.lease_owner == bindparam("dead")).values(
    lease_owner=bindparam("owner"), lease_until=_UNTIL)
_RELEASE = update(Source).where(_SID, _OURS).values(lease_owner=None, lease_until=None)


def acquire(conn: Connection, source_id: str, owner: str, ttl: float,
            now: dt.datetime | None = None) -> Claim:
    now = now or utcnow()
    until = now + dt.timedelta(seconds=ttl)
    taken = conn.execute(_ACQUIRE, {"sid": source_id, "now": now, "owner": owner, "until": until})
    if taken.rowcount == 1:
        return Claim(True, owner, until)
    row = conn.execute(_HOLDER, {"sid": source_id}).first()
    if row is not None and row.lease_owner and owner_dead(row.lease_owner):
        # killed mid-poll on this host (cron's timeout, kill -9): its poll is not running, so waiting
        # out the lease would only skip the source while claiming it is being polled
        params = {"sid": source_id, "dead": row.lease_owner, "owner": owner, "until": until}
        if conn.execute(_TAKE_BACK, params).rowcount == 1:
            log.info("source %s: took back the lease of %s, which is gone", source_id, row.lease_owner)
            return Claim(True, owner, until)
    return Claim(False, row.lease_owner if row else None, row.lease_until if row else None)


def renew(conn: Connection, source_id: str, owner: str, ttl: float,
          now: dt.datetime | None = None) -> bool:
    """Extend our lease; False if it is no longer ours (it expired and someone else took it)."""
    until = (now or utcnow()) + dt.timedelta(seconds=ttl)
    return conn.execute(_RENEW, {"sid": source_id, "owner": owner, "until": until}).rowcount == 1


def release(conn: Connection, source_id: str, owner: str) -> None:
    conn.execute(_RELEASE, {"sid": source_id, "owner": owner})


def due_when_free(conn: Connection, source_id: str, now: dt.datetime | None = None, *,
                  leased_only: bool = False) -> None:
    """Make a source due again as soon as its current lease ends (now if it has none): the
    scheduler's way to re-run a lost poll, or (``leased_only``) one a live lease turned away."""
    now = now or utcnow()
    query = update(Source).where(Source.id == source_id)
    if leased_only:
        query = query.where(Source.lease_until > now)
    conn.execute(query.values(next_run_at=func.coalesce(Source.lease_until, now)))


@asynccontextmanager
async def kept(db: Database, source_id: str, owner: str, ttl: float) -> AsyncIterator[None]:
    """Renew our lease on ``source_id`` in the background while the block runs."""
    async def renew_every_third() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            with db.engine.begin() as conn:
                if not renew(conn, source_id, owner, ttl):
                    log.warning("source %s: lease lost while polling (held longer than %.0fs "
                                "without renewal)", source_id, ttl)
                    return

    renewer = asyncio.create_task(renew_every_third())
    try:
        yield
    finally:
        renewer.cancel()
