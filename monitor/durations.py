"""Durations (``15m``, ``1h30m``) and crontab lines as sources.yaml writes them, and the pydantic types that check
them where a config field is declared: the loader and every source kind's config share this module."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator

from monitor.errors import ConfigError

_DURATION = re.compile(r"^\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+)s)?\s*$")
MAX_DURATION_DAYS = 3650  # ten years: longer is a typo, and would overflow a date


def parse_duration(text: str) -> int:
    """``15m`` -> 900 seconds; accepts d, h, m, s in that order (``1h30m``), at most ten years."""
    match = _DURATION.match(str(text))
    if not match or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r} (expected e.g. 30s, 15m, 1h, 1d, 1h30m)")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total <= 0:
        raise ValueError(f"duration {text!r} must be positive")
    if total > MAX_DURATION_DAYS * 86400:
        raise ValueError(f"duration {text!r} is longer than {MAX_DURATION_DAYS} days")
    return total


def env_seconds(variable: str, default: int) -> int:
    """A duration set in the environment (``MONITOR_SHUTDOWN_GRACE=8s``) in seconds, else ``default``;
    a bad value is a ConfigError naming the variable."""
    text = os.environ.get(variable)
    try:
        return parse_duration(text) if text else default
    except ValueError as exc:
        raise ConfigError(f"{variable}: {exc}") from None


def cron_trigger(text: str, jitter: int | None = None) -> Any:
    """The APScheduler trigger of a five-field crontab line (minute hour day month weekday), in UTC."""
    fields = str(text).split()
    if len(fields) != 5:
        raise ValueError(f"invalid cron {text!r} (expected five fields, e.g. '0 6 * * 1-5')")
    # only configs that use cron pay for this import
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger(minute=fields[0], hour=fields[1], day=fields[2], month=fields[3],
                              day_of_week=fields[4], timezone=dt.UTC, jitter=jitter)
    except ValueError as exc:
        raise ValueError(f"invalid cron {text!r}: {exc}") from None
    if trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC)) is None:
        raise ValueError(f"cron {text!r} never fires (no such date)")
    return trigger


def _checked_by(check: Callable[[str], object]) -> AfterValidator:
    """A pydantic validator that lets a string through when ``check`` accepts it; its ValueError is the field's."""
    def validate(text: str) -> str:
        check(text)
        return text

    return AfterValidator(validate)


Duration = Annotated[str, _checked_by(parse_duration)]
Cron = Annotated[str, _checked_by(cron_trigger)]
