"""The one exception tree of Remedy Monitor.

    MonitorError
    ├── ConfigError        a bad sources.yaml, option or environment value (user error)
    ├── FetchError         a source could not be fetched; ``retryable`` says if a retry may help
    │   └── AuthError      401/403: a missing or wrong API key; never retried
    ├── BudgetExceeded     a request would overspend its provider's budget: not sent, the poll is deferred
    ├── ParseError         a body that is not in the format the source kind expects
    ├── InsanityError      a parse that "worked" but produced items that cannot be right
    ├── QueryError         a watchlist query that does not parse (with its column)
    └── DeliveryError      a channel refused or failed a message; ``permanent`` stops retries

Results that are not failures (a 304, an unchanged body, a noop upsert) are values, not exceptions.
"""

from __future__ import annotations

import datetime as dt


class MonitorError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(MonitorError):
    """Invalid configuration: one clear line, e.g. ``sources.yaml:14: source 'x': problem``."""


class FetchError(MonitorError):
    """A source could not be fetched; ``retry_after`` is the server's Retry-After, in seconds."""

    def __init__(self, message: str, *, retryable: bool = True, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class AuthError(FetchError):
    """The provider rejected our credentials (401/403). Retrying only burns quota."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, retryable=False, status=status)


class BudgetExceeded(MonitorError):
    """The request would exceed the provider's budget (or the provider told us to wait); nothing was sent."""

    def __init__(self, provider: str, reason: str, until: dt.datetime) -> None:
        super().__init__(f"{provider}: {reason}; next allowed at {until:%Y-%m-%d %H:%M:%S} UTC")
        self.until = until


class ParseError(MonitorError):
    """The fetched body is not what this source kind can read."""


class InsanityError(MonitorError):
    """Parsed items failed the sanity check (missing fields, impossible dates, duplicate keys)."""


class QueryError(MonitorError):
    """A watchlist query that does not parse; ``column`` is 1-based."""

    def __init__(self, message: str, *, query: str = "", column: int = 0) -> None:
        super().__init__(message)
        self.query = query
        self.column = column


class DeliveryError(MonitorError):
    """A channel could not deliver. ``permanent`` errors are not retried."""

    def __init__(self, reason: str, *, permanent: bool = False,
                 retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


def error_kind(exc: Exception) -> str:
    """How a status line names a failure: ``auth``, ``parse``, ``sanity`` or ``fetch``."""
    return {AuthError: "auth", ParseError: "parse", InsanityError: "sanity"}.get(type(exc), "fetch")
