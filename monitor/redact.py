"""Keeping secrets out of logs and output: masking helpers and a logging filter.

httpx logs full request URLs at INFO, Slack webhook URLs are bearer secrets, and some
providers (LegiScan) take the key in the query string. Everything that prints goes through
``mask_url``/``redact``; the ``RedactingFilter`` catches what slips through.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import urlsplit

_SECRET_ENV = ("COURTLISTENER_TOKEN", "CONGRESS_API_KEY", "GOVINFO_API_KEY", "OPENSTATES_API_KEY",
               "LEGISCAN_API_KEY", "MONITOR_SMTP_URL", "MONITOR_ADMIN_TARGET", "MONITOR_HOOK_SECRET")
_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>[^\s\"'<>]+)", re.I)
_QUERY_SECRET = re.compile(r"(?i)\b((?:api_?key|apikey|key|token|access_token|secret)=)[^&\s\"']+")
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*(?:token|bearer)\s+|x-api-key:\s*)\S+")


def mask_url(url: str) -> str:
    """Scheme, host and the first path segment; the rest (tokens, webhook ids) becomes ***."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "***"
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal: keep the brackets so the masked URL still parses
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    segments = [s for s in parts.path.split("/") if s]
    shown = f"{parts.scheme}://{host}"
    if len(segments) > 1:
        shown += f"/{segments[0]}"
    if segments or parts.query or parts.username:
        shown += "/***"
    return shown


def known_secrets() -> list[str]:
    """Secret values from the environment, longest first, to scrub from any text."""
    values = [os.environ.get(name, "") for name in _SECRET_ENV]
    return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)


def redact(text: str) -> str:
    """Mask URLs past their host, key=... query values, auth headers and known secret values."""
    for secret in known_secrets():
        text = text.replace(secret, "***")
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + "***", text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + "***", text)
    return _URL.sub(lambda m: mask_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """Rewrites every record's message through ``redact`` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for f in root.filters):
        root.addFilter(RedactingFilter())
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
