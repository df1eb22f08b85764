"""Request budgets per provider: concurrency in-process, rate limits shared through the database.

Every request a source sends spends its provider's budget first. The per-minute/hour/day
counters live in the ``budget_spend`` table so a restart does not reset them and several
worker processes on one PostgreSQL share them. A reservation is one conditional
``UPDATE … SET spent = spent + 1 WHERE spent + 1 <= limit`` per window (after an
``INSERT … ON CONFLICT DO NOTHING`` of the window's row): the database decides, so two
processes can never both take the last request. A request that does not fit is not sent;
the poll is *deferred* and says until when.

A 429/503 ``Retry-After`` blocks the whole provider (``blocked_until`` on a row with
window ``block``), because a quota is per key, not per URL; its polls are deferred, for a day
at most. A generic host (``web:<host>``) has no quota, only a site's mood: it is held an hour at
most, and the feed whose request got the 429 fails (``monitor status`` shows it failing) while
its neighbours on that host are deferred as "blocked".

Defaults follow each provider's published quota; ``providers:`` in sources.yaml overrides.
Hosts not claimed by a provider are budgeted per host as ``web:<host>`` with modest
concurrency and no rate limit (nothing is written to the database for them).
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.config import ProviderLimits
from monitor.db import Database
from monitor.errors import BudgetExceeded
from monitor.fetch import WEB
from monitor.models import BudgetSpend, utcnow

WINDOWS: dict[str, dt.timedelta] = {
    "minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
}
BLOCK_WINDOW = "block"
ASKED_TO_WAIT = "the server asked us to wait (Retry-After)"
BLOCKED = f"blocked: {ASKED_TO_WAIT}"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# Published quotas (free tiers). CourtListener: 5/min, 50/h, 125/day; api.data.gov keys
# (congress.gov, govinfo): 1,000/h; Open States: 10/min, 250/day; LegiScan: 30,000/month.
DEFAULT_PROVIDERS: dict[str, ProviderLimits] = {
    "courtlistener": ProviderLimits(hosts=["www.courtlistener.com", "courtlistener.com"], concurrency=1,
                                    per_minute=5, per_hour=50, per_day=125),
    "congress": ProviderLimits(hosts=["api.congress.gov"], concurrency=2, per_hour=1000),
    "govinfo": ProviderLimits(hosts=["api.govinfo.gov"], concurrency=2, per_hour=1000),
    "openstates": ProviderLimits(hosts=["v3.openstates.org"], concurrency=1, per_minute=10, per_day=250),
    "legiscan": ProviderLimits(hosts=["api.legiscan.com"], concurrency=1, per_day=1000),
    "federal_register": ProviderLimits(hosts=["www.federalregister.gov", "federalregister.gov"], concurrency=2,
                                       per_minute=60),
    "pacer": ProviderLimits(concurrency=4),  # every court's CM/ECF RSS: no published quota, so kept modest
    WEB: ProviderLimits(concurrency=4),  # per host: kind to small servers; more only costs CPU here
}


def window_start(window: str, now: dt.datetime) -> dt.datetime:
    if window == "minute":
        return now.replace(second=0, microsecond=0)
    if window == "hour":
        return now.replace(minute=0, second=0, microsecond=0)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _insert_ignore(session: Session, values: dict[str, object]) -> None:
    """INSERT the row unless it exists: the dialect's ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(BudgetSpend).values(**values).on_conflict_do_nothing())


def blocked_until(session: Session, provider: str, now: dt.datetime) -> dt.datetime | None:
    until = session.scalar(select(BudgetSpend.blocked_until).where(
        BudgetSpend.provider == provider, BudgetSpend.window == BLOCK_WINDOW, BudgetSpend.window_start == EPOCH))
    return until if until is not None and until > now else None


def block(session: Session, provider: str, until: dt.datetime) -> None:
    """Push the whole provider back until ``until`` (never shortens an existing block)."""
    _insert_ignore(session, {"provider": provider, "window": BLOCK_WINDOW, "window_start": EPOCH, "spent": 0})
    row = BudgetSpend.__table__.c
    session.execute(update(BudgetSpend).where(
        row.provider == provider, row.window == BLOCK_WINDOW, row.window_start == EPOCH,
        (row.blocked_until.is_(None)) | (row.blocked_until < until)).values(blocked_until=until))


def reserve(session: Session, provider: str, limits: ProviderLimits, now: dt.datetime, n: int = 1) -> None:
    """Spend ``n`` requests in every limited window or raise BudgetExceeded (caller rolls back)."""
    until = blocked_until(session, provider, now)
    if until is not None:
        raise BudgetExceeded(provider, BLOCKED, until)
    for window, length in WINDOWS.items():
        limit = getattr(limits, f"per_{window}")
        if limit is None:
            continue
        start = window_start(window, now)
        _insert_ignore(session, {"provider": provider, "window": window, "window_start": start, "spent": 0})
        row = BudgetSpend.__table__.c
        result = session.connection().execute(update(BudgetSpend).where(
            row.provider == provider, row.window == window, row.window_start == start,
            row.spent + n <= limit).values(spent=row.spent + n))
        if result.rowcount != 1:
            raise BudgetExceeded(provider, f"{limit} requests per {window} spent", start + length)


def has_rate_limit(limits: ProviderLimits) -> bool:
    return any(getattr(limits, f"per_{w}") is not None for w in WINDOWS)


def merged_limits(configured: dict[str, ProviderLimits]) -> dict[str, ProviderLimits]:
    """Defaults overlaid with sources.yaml ``providers:`` (a field set there wins)."""
    out = dict(DEFAULT_PROVIDERS)
    for name, limits in configured.items():
        base = out.get(name, ProviderLimits())
        out[name] = base.model_copy(update=limits.model_dump(exclude_unset=True))
    return out


MAX_BLOCK_SECONDS = 24 * 3600  # a Retry-After date in 2099 is a server bug, not a reason to stop for good
MAX_WEB_BLOCK_SECONDS = 3600  # a generic host: one feed's 429 holds its neighbours an hour at most


class Budgets:
    """The process's budgets: semaphores here, counters in the database."""

    def __init__(self, db: Database | None, configured: dict[str, ProviderLimits] | None = None) -> None:
        self.db = db
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._blocked: dict[str, dt.datetime] = self._load_blocks()  # Retry-After still in force
        self._block_reasons: dict[str, str] = {}  # what caused a block this process saw
        self.configure(configured or {})

    def _load_blocks(self) -> dict[str, dt.datetime]:
        """Blocks written by earlier runs: a restart must not re-ask a server that said "wait"."""
        if self.db is None:
            return {}
        now = utcnow()
        c = BudgetSpend.__table__.c
        with self.db.engine.connect() as conn:
            rows = conn.execute(select(c.provider, c.blocked_until).where(c.blocked_until > now))
            blocks: dict[str, dt.datetime] = {}
            for provider, until in rows:
                blocks[provider] = max(until, blocks.get(provider, until))
            return blocks

    def configure(self, configured: dict[str, ProviderLimits]) -> None:
        """Apply a reloaded ``providers:`` block (held concurrency slots keep their old semaphore)."""
        self.limits = merged_limits(configured)
        self._hosts = {host.lower(): name for name, lim in self.limits.items() for host in lim.hosts}
        self._semaphores.clear()

    def provider_for(self, declared: str, host: str | None) -> str:
        """A source's declared provider, or for generic kinds the provider owning the host."""
        if declared != WEB:
            return declared
        host = (host or "").lower()
        return self._hosts.get(host) or f"{WEB}:{host}"

    def limits_for(self, provider: str) -> ProviderLimits:
        return self.limits.get(provider) or self.limits.get(provider.split(":", 1)[0]) or self.limits[WEB]

    async def acquire(self, provider: str) -> asyncio.Semaphore:
        """Wait for a concurrency slot, then reserve one request (raises BudgetExceeded, unsent).
        The caller releases the returned semaphore when its request is done."""
        limits = self.limits_for(provider)
        slots = limits.concurrency or 4
        semaphore = self._semaphores.setdefault(provider, asyncio.Semaphore(slots))
        await semaphore.acquire()
        try:
            until = self._blocked.get(provider)
            if until is not None and until > utcnow():
                raise BudgetExceeded(provider, self._block_reasons.get(provider, BLOCKED), until)
            if self.db is not None and has_rate_limit(limits):
                with self.db.session() as session:
                    reserve(session, provider, limits, utcnow())
        except BaseException:
            semaphore.release()
            raise
        return semaphore

    async def block(self, provider: str, seconds: float, cause: str = ASKED_TO_WAIT) -> dt.datetime:
        """Retry-After: hold every request to ``provider`` for ``seconds`` (capped; persisted);
        ``cause`` (which answer asked) is the reason the held polls are deferred with."""
        cap = MAX_WEB_BLOCK_SECONDS if provider.startswith(f"{WEB}:") else MAX_BLOCK_SECONDS
        until = utcnow() + dt.timedelta(seconds=min(seconds, cap))
        self._blocked[provider] = max(until, self._blocked.get(provider, until))  # never shortened
        self._block_reasons[provider] = f"blocked: {cause}"
        if self.db is not None:
            with self.db.session() as session:
                block(session, provider, until)
        return until
