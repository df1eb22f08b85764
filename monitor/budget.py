"""Request budgets per provider: what a config plans to spend, and what the database lets it spend.

An exhausted key fails every source behind it until the next day, so a config planned over a
published quota is refused at load, and every request reserves its provider's budget first: the
counters live in ``budget_spend``, shared by restarts and by every worker on one database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from monitor.config import AppConfig, ProviderLimits
from monitor.db import Database
from monitor.durations import cron_trigger
from monitor.errors import BudgetExceeded, ConfigError
from monitor.fetch import WEB
from monitor.models import BudgetSpend, utcnow
from monitor.sources import SOURCE_KINDS, SourceConfig
from monitor.text import plural

WINDOWS: dict[str, dt.timedelta] = {
    "minute": dt.timedelta(minutes=1), "hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1),
}
BLOCK_WINDOW = "block"
ASKED_TO_WAIT = "the server asked us to wait (Retry-After)"
BLOCKED = f"blocked: {ASKED_TO_WAIT}"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_BLOCK_SECONDS = 24 * 3600  # a Retry-After date in 2099 is a server bug, not a reason to stop for good
MAX_WEB_BLOCK_SECONDS = 3600  # a generic host: one feed's 429 holds its neighbours an hour at most

# Published quotas (free tiers); ``providers:`` in sources.yaml overrides any field.
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

# Where each provider publishes its limit: a hard quota, which a config may not plan to exceed.
PUBLISHED: dict[str, str] = {
    "courtlistener": "free tier 125/day, 50/h",
    "congress": "api.data.gov key 1,000/h",
    "govinfo": "api.data.gov key 1,000/h",
    "openstates": "default tier 250/day",
    "legiscan": "public tier 30,000/month",
    "federal_register": "none; kept to 60/min",
}

@dataclass
class ProviderPlan:
    provider: str
    per_day: float = 0.0
    sources: list[str] = field(default_factory=list)
    limit_per_day: float | None = None  # the tightest of the provider's windows, as a day

    @property
    def over(self) -> bool:
        return self.limit_per_day is not None and self.per_day > self.limit_per_day


def polls_per_day(config: AppConfig, source: SourceConfig) -> float:
    if source.cron:
        trigger = cron_trigger(source.cron)
        start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # a Monday: weekday crons count a working day
        fires, moment = 0, trigger.get_next_fire_time(None, start)
        while moment is not None and moment < start + dt.timedelta(days=7):
            fires += 1
            moment = trigger.get_next_fire_time(moment, moment + dt.timedelta(seconds=1))
        return fires / 7
    return 86400 / config.interval_seconds(source)


def plan(config: AppConfig) -> list[ProviderPlan]:
    """Planned requests per provider per day for the enabled sources, worst case."""
    budgets = Budgets(None, config.providers)
    plans: dict[str, ProviderPlan] = {}
    for source in config.enabled_sources():
        url = getattr(source, "url", None) or getattr(source, "base_url", None) or ""
        provider = budgets.provider_for(SOURCE_KINDS[source.kind].provider, urlsplit(url).hostname)
        entry = plans.setdefault(provider, ProviderPlan(provider))
        entry.per_day += source.requests_per_poll() * polls_per_day(config, source)
        entry.sources.append(source.id)
    for entry in plans.values():
        limits = budgets.limits_for(entry.provider)
        per_day = [n * days for n, days in ((limits.per_day, 1), (limits.per_hour, 24), (limits.per_minute, 1440))
                   if n is not None]
        entry.limit_per_day = min(per_day, default=None)
    return sorted(plans.values(), key=lambda p: (-p.per_day, p.provider))


def check(config: AppConfig) -> None:
    """Refuse a plan over a published quota; a limit set in ``providers:`` is a throttle that defers polls."""
    for entry in plan(config):
        if entry.over and entry.provider in PUBLISHED:
            assert entry.limit_per_day is not None
            raise ConfigError(
                f"{config.path.name}: provider '{entry.provider}' would get about {math.ceil(entry.per_day)} "
                f"requests a day from {plural(len(entry.sources), 'source')}, over its limit of "
                f"{math.floor(entry.limit_per_day)} ({PUBLISHED[entry.provider]}); lengthen their intervals or "
                "disable some (see `monitor sources budget`)")


def window_start(window: str, now: dt.datetime) -> dt.datetime:
    """The fixed calendar window (UTC minute, hour or day) that ``now`` falls in."""
    return EPOCH + (now - EPOCH) // WINDOWS[window] * WINDOWS[window]


def _insert_ignore(session: Session, values: dict[str, object]) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(BudgetSpend).values(**values).on_conflict_do_nothing())


def reserve(session: Session, provider: str, limits: ProviderLimits, now: dt.datetime, n: int = 1) -> None:
    """Spend ``n`` requests in every limited window or raise BudgetExceeded (the caller rolls back).

    One conditional UPDATE per window: the database decides, so two processes never both take the last request.
    """
    row = BudgetSpend.__table__.c
    until = session.scalar(select(row.blocked_until).where(
        row.provider == provider, row.window == BLOCK_WINDOW, row.blocked_until > now))
    if until is not None:
        raise BudgetExceeded(provider, BLOCKED, until)
    for window, length in WINDOWS.items():
        limit = getattr(limits, f"per_{window}")
        if limit is None:
            continue
        start = window_start(window, now)
        _insert_ignore(session, {"provider": provider, "window": window, "window_start": start, "spent": 0})
        result = session.connection().execute(update(BudgetSpend).where(
            row.provider == provider, row.window == window, row.window_start == start,
            row.spent + n <= limit).values(spent=row.spent + n))
        if result.rowcount != 1:
            raise BudgetExceeded(provider, f"{limit} requests per {window} spent", start + length)


class Budgets:
    """The process's budgets: concurrency semaphores here, rate counters and Retry-After blocks in the database."""

    def __init__(self, db: Database | None, configured: dict[str, ProviderLimits] | None = None) -> None:
        self.db = db
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._blocked: dict[str, tuple[dt.datetime, str]] = {}  # Retry-After in force: (until, reason)
        if db is not None:  # a restart must not re-ask a server that said "wait"
            with db.session() as session:
                rows = session.execute(select(BudgetSpend.provider, func.max(BudgetSpend.blocked_until))
                                       .where(BudgetSpend.blocked_until > utcnow()).group_by(BudgetSpend.provider))
                self._blocked = {provider: (until, BLOCKED) for provider, until in rows if until is not None}
        self.configure(configured or {})

    def configure(self, configured: dict[str, ProviderLimits]) -> None:
        """Overlay sources.yaml ``providers:`` on the defaults (held slots keep their old semaphore)."""
        self.limits = dict(DEFAULT_PROVIDERS)
        for name, limits in configured.items():
            base = self.limits.get(name, ProviderLimits())
            self.limits[name] = base.model_copy(update=limits.model_dump(exclude_unset=True))
        self._hosts = {host.lower(): name for name, lim in self.limits.items() for host in lim.hosts}
        self._semaphores.clear()

    def provider_for(self, declared: str, host: str | None) -> str:
        """A source's declared provider, or for generic kinds the provider owning the host (else ``web:<host>``)."""
        if declared != WEB:
            return declared
        host = (host or "").lower()
        return self._hosts.get(host) or f"{WEB}:{host}"

    def limits_for(self, provider: str) -> ProviderLimits:
        return self.limits.get(provider) or self.limits.get(provider.split(":", 1)[0]) or self.limits[WEB]

    async def acquire(self, provider: str) -> asyncio.Semaphore:
        """Wait for a concurrency slot, then reserve one request (raises BudgetExceeded, unsent); the caller
        releases the returned semaphore when its request is done."""
        limits = self.limits_for(provider)
        if provider not in self._semaphores:  # made once per provider, not on every request
            self._semaphores[provider] = asyncio.Semaphore(limits.concurrency or 4)
        semaphore = self._semaphores[provider]
        await semaphore.acquire()
        try:
            until, reason = self._blocked.get(provider, (EPOCH, ""))
            if until > utcnow():
                raise BudgetExceeded(provider, reason, until)
            if self.db is not None and any(getattr(limits, f"per_{w}") for w in WINDOWS):
                with self.db.session() as session:
                    reserve(session, provider, limits, utcnow())
        except BaseException:
            semaphore.release()
            raise
        return semaphore

    async def block(self, provider: str, seconds: float, cause: str = ASKED_TO_WAIT) -> dt.datetime:
        """Retry-After: hold the whole provider (a quota is per key, not per URL), capped, persisted, never
        shortened; ``cause`` is the reason its held polls are deferred with."""
        cap = MAX_WEB_BLOCK_SECONDS if provider.startswith(f"{WEB}:") else MAX_BLOCK_SECONDS
        until = utcnow() + dt.timedelta(seconds=min(seconds, cap))
        held = self._blocked.get(provider, (until, ""))[0]
        self._blocked[provider] = (max(until, held), f"blocked: {cause}")
        if self.db is not None:
            with self.db.session() as session:
                _insert_ignore(session, {"provider": provider, "window": BLOCK_WINDOW, "window_start": EPOCH,
                                         "spent": 0})
                row = BudgetSpend.__table__.c
                session.execute(update(BudgetSpend).where(
                    row.provider == provider, row.window == BLOCK_WINDOW,
                    row.blocked_until.is_(None) | (row.blocked_until < until)).values(blocked_until=until))
        return until
