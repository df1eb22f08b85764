"""Requests a day, planned: what the current config will ask of each provider, against its limit.

Why: a free key is easy to exhaust (CourtListener's free tier is 125 requests a day; Open States'
250), and an exhausted key fails every source behind it until the next day. The plan counts, for
each enabled source, the requests one poll spends at most (per kind, below) times its polls a
day, and adds them up per provider the way the fetcher budgets them (a kind's declared provider,
or the provider owning the URL's host). A published quota is a hard limit: ``check`` refuses a
config that would exceed one, before anything starts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from monitor.config import AppConfig, ProviderLimits, cron_trigger, parse_duration
from monitor.errors import ConfigError
from monitor.sources.base import SourceConfig

# Requests one poll of a kind spends at most (default 1: one conditional GET).
PER_POLL: dict[str, Callable[[Any], int]] = {
    "govinfo_courts": lambda c: len(c.court_list()),
    "govinfo_billstatus": lambda c: len(c.bills),
    "congress_bill": lambda c: 4 * len(c.bills),  # bill, actions (one page), titles, committees
    "congress_recent": lambda c: 2,  # at most 2 pages of 250
    "courtlistener_search": lambda c: 2,  # a search and, rarely, its next page
    "courtlistener_docket": lambda c: 2,  # the docket and its entries
    "legiscan": lambda c: 1 + (len(c.bills) if c.bills else c.max_bills),  # the list, then getBill per changed bill
    "openstates": lambda c: c.max_pages,
}

# Where each provider publishes its limit, for the table and the doctor.
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
    limit: str = ""  # the limit as published

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
    return 86400 / parse_duration(source.interval or config.defaults.interval)


def daily_limit(limits: ProviderLimits) -> float | None:
    candidates = [n * per for n, per in ((limits.per_day, 1), (limits.per_hour, 24), (limits.per_minute, 1440))
                  if n is not None]
    return min(candidates) if candidates else None


def plan(config: AppConfig, sources: list[SourceConfig] | None = None) -> list[ProviderPlan]:
    """Planned requests per provider per day for ``sources`` (default: the enabled ones)."""
    from monitor.budget import Budgets
    from monitor.sources import SOURCE_KINDS

    budgets = Budgets(None, config.providers)
    plans: dict[str, ProviderPlan] = {}
    for source in config.enabled_sources() if sources is None else sources:
        declared = SOURCE_KINDS[source.kind].provider
        url = getattr(source, "url", None) or getattr(source, "base_url", None) or ""
        provider = budgets.provider_for(declared, urlsplit(url).hostname)
        entry = plans.setdefault(provider, ProviderPlan(provider))
        entry.per_day += PER_POLL.get(source.kind, lambda c: 1)(source) * polls_per_day(config, source)
        entry.sources.append(source.id)
    for entry in plans.values():
        entry.limit_per_day = daily_limit(budgets.limits_for(entry.provider))
        entry.limit = PUBLISHED.get(entry.provider, "no published limit" if entry.limit_per_day is None
                                    else "from sources.yaml providers:")
    return sorted(plans.values(), key=lambda p: (-p.per_day, p.provider))


def check(config: AppConfig) -> None:
    """Refuse a config whose plan exceeds a provider's published (hard) limit: one line, which
    provider, by how much, and what to do. A limit the operator set for another host in
    ``providers:`` is a throttle, not a quota: going over it defers polls, as it is meant to."""
    for entry in plan(config):
        if entry.over and entry.provider in PUBLISHED:
            assert entry.limit_per_day is not None
            raise ConfigError(
                f"{config.path.name}: provider '{entry.provider}' would get about {math.ceil(entry.per_day)} "
                f"requests a day from {len(entry.sources)} source(s), over its limit of "
                f"{math.floor(entry.limit_per_day)} ({entry.limit}); lengthen their intervals or disable some "
                "(see `monitor sources budget`)")
