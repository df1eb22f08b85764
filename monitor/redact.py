"""Keeping secrets out of logs and output: masking helpers and a logging filter.

What is secret: API keys and tokens (environment values, credential-looking query parameters,
``Authorization`` headers), passwords and user names in a URL's user-info, the paths of webhook
hosts whose path *is* the credential (Slack, Discord, Teams, …) and path segments that look like
random tokens. What is not: hosts, ordinary paths (``/feed/court/ca9/``, ``/rss.xml``) and the
rest of a message, so an operator can still see which URL failed and why.

``public_url`` is for what is stored and sent (evidence, Atom, emails): the secret parts are
removed. ``mask_url``/``redact`` are for what is printed and logged: they show ``***`` where a
secret was. The ``RedactingFilter`` catches what slips through into logs.
"""

from __future__ import annotations

import logging
import os
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_SECRET_ENV = ("COURTLISTENER_TOKEN", "CONGRESS_API_KEY", "GOVINFO_API_KEY", "OPENSTATES_API_KEY",
               "LEGISCAN_API_KEY", "MONITOR_SMTP_URL", "MONITOR_ADMIN_TARGET", "MONITOR_HOOK_SECRET")
_URL = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<rest>[^\s\"'<>]+)", re.IGNORECASE)
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*(?:token|bearer|basic)\s+|x-api-key:\s*)\S+")

# A query parameter is a credential when its name, lower-cased without "-", "_" and ".", ends
# with one of these (api_key, X-Api-Key, auth_token, access_token, X-Amz-Signature, sig, …).
_SECRET_NAME_ENDINGS = ("key", "token", "secret", "password", "passwd", "pwd", "sig", "signature",
                        "auth", "credential", "credentials")
_SECRET_NAMES = frozenset({"pass", "session", "sessionid", "jwt"})
_PARAM = re.compile(r"(?i)(?<![\w-])([a-z][\w.-]*)=([^&\s\"'<>]+)")

# Hosts whose webhook URL path is the credential: everything after the first segment is masked.
_SECRET_PATH_HOSTS = ("hooks.slack.com", "discord.com", "discordapp.com", "hooks.zapier.com",
                      "api.telegram.org", "maker.ifttt.com", "webhook.office.com", "outlook.office.com",
                      "chat.googleapis.com")
# A path segment of 20+ characters mixing upper and lower case and digits reads as a token.
_TOKEN_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9_~%-]{20,}$")


def is_secret_param(name: str) -> bool:
    """True for a query parameter name that carries a credential."""
    plain = re.sub(r"[-_.]", "", name.lower())
    return plain in _SECRET_NAMES or plain.endswith(_SECRET_NAME_ENDINGS)


def _secret_path_host(host: str) -> bool:
    return any(host == h or host.endswith("." + h) for h in _SECRET_PATH_HOSTS)


def _masked_path(host: str, path: str, *, secret_path: bool = False) -> str:
    segments = path.split("/")
    named = [s for s in segments if s]
    if secret_path or _secret_path_host(host) or (len(named) >= 4 and named[0] == "services"):  # Slack's shape
        return f"/{named[0]}/***" if len(named) > 1 else ("/***" if named else path)
    return "/".join("***" if _TOKEN_SEGMENT.match(s) else s for s in segments)


def _netloc(host: str, port: int | None, *, had_userinfo: bool, mask: bool) -> str:
    if ":" in host:  # IPv6 literal: keep the brackets so the URL still parses
        host = f"[{host}]"
    if port:
        host = f"{host}:{port}"
    return f"***@{host}" if had_userinfo and mask else host


def mask_url(url: str, *, secret_path: bool = False) -> str:
    """The URL to print or log: user-info, credential parameters, secret webhook paths and
    token-like segments become ***; host, ordinary path and other parameters stay.
    ``secret_path`` is for a subscription's target, whose whole path may be its credential."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "***"
    host = parts.hostname or ""
    netloc = _netloc(host, port, had_userinfo="@" in parts.netloc, mask=True)
    query = "&".join(f"{k}=***" if is_secret_param(k) else (f"{k}={v}" if v or "=" in pair else k)
                     for pair in parts.query.split("&") if pair
                     for k, _, v in [pair.partition("=")])
    shown = f"{parts.scheme}://{netloc}{_masked_path(host, parts.path, secret_path=secret_path)}"
    return f"{shown}?{query}" if query else shown


def public_url(url: str) -> str:
    """The URL to store, show to subscribers and send: user-info and every credential-looking
    query parameter removed (the fetcher keeps the full URL from sources.yaml)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if "@" not in parts.netloc and not any(is_secret_param(k)
                                           for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_secret_param(k)]
    netloc = _netloc(parts.hostname or "", port, had_userinfo=False, mask=False)
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*[]:/,")))


def known_secrets() -> list[str]:
    """Secret values from the environment, longest first, to scrub from any text."""
    values = [os.environ.get(name, "") for name in _SECRET_ENV]
    return sorted({v for v in values if len(v) >= 6}, key=len, reverse=True)


def _mask_param(match: re.Match[str]) -> str:
    return f"{match.group(1)}=***" if is_secret_param(match.group(1)) else match.group(0)


def redact(text: str) -> str:
    """Mask secrets in free text: known secret values, auth headers, credential parameters and
    the secret parts of URLs (see ``mask_url``)."""
    for secret in known_secrets():
        text = text.replace(secret, "***")
    for target in sorted(_TARGETS):
        text = _scrub_target(text, target, segments=False)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + "***", text)
    text = _URL.sub(lambda m: mask_url(m.group(0)), text)
    return _PARAM.sub(_mask_param, text)


def _target_url(target: str) -> str:
    """``slack:https://…`` / ``webhook:https://…`` -> the URL; a bare URL stays as it is."""
    kind, sep, rest = target.partition(":")
    return rest if sep and kind.isalpha() and not rest.startswith("//") else target


def target_secrets(target: str, *, segments: bool = True) -> list[str]:
    """The parts of a delivery target that are its credential, longest first: the whole URL, its
    path and query, the part of the path ``mask_url(..., secret_path=True)`` hides (all after the
    first segment, or the only one), its user-info (user and password: Apprise URLs keep tokens
    there), a host without a dot in a non-HTTP URL (an Apprise token where a host would be:
    ``tgram://BOT_TOKEN/chat``, ``discord://ID/TOKEN``) and, with ``segments``, each hidden path
    segment and query value on its own; also percent-encoded and decoded."""
    url = _target_url(target)
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    named = [s for s in parts.path.split("/") if s]
    hidden = named[1:] if len(named) > 1 else named
    found = {url, parts.path + (f"?{parts.query}" if parts.query else "")}
    userinfo, _, host = parts.netloc.rpartition("@")
    found |= {userinfo, *userinfo.split(":", 1)}
    if parts.scheme.lower() not in ("http", "https") and "." not in host and not host.startswith("["):
        found.add(host)
    if segments or len(hidden) > 1:  # one hidden segment alone is a word like any other ("/slack/bivens")
        found.add("/".join(hidden))
    if segments:
        found |= {*hidden, *(v for _, v in parse_qsl(parts.query))}
    found |= {quote(s, safe="") for s in list(found)} | {unquote(s) for s in list(found)}
    return sorted({s for s in found if len(s) >= 6}, key=len, reverse=True)


def _scrub_target(text: str, target: str, *, segments: bool = True) -> str:
    url = _target_url(target)
    if "://" in url:
        text = text.replace(url, mask_url(url, secret_path=True))
    for secret in target_secrets(target, segments=segments):
        text = text.replace(secret, "***")
    return text


_TARGETS: set[str] = set()  # delivery targets this process posts to (see ``remember_target``)


def remember_target(target: str) -> None:
    """Scrub this delivery target's URL and secret path from every later ``redact`` (so from every
    log line too): httpx logs the URL it posts to, and a plain webhook's path looks ordinary.
    Single segments are scrubbed only from its own receiver's answers (``redact_for_target``): a
    path like ``/hooks/alerts`` must not turn every "alerts" in the log into ***."""
    _TARGETS.add(target)


def forget_targets() -> None:
    """Forget the remembered targets: what a new process starts with (the tests run many
    commands and dispatch passes in one process, each as if it were its own)."""
    _TARGETS.clear()


def redact_for_target(text: str, target: str) -> str:
    """``redact``, and first the secret parts of the target the text came back from: a receiver or
    proxy that echoes the request's path or URL must not put its credential into errors or logs."""
    return redact(_scrub_target(text, target))


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
