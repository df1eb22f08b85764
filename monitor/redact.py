"""Keeping secrets (API keys, tokens, a URL's user-info, webhook paths that are credentials) out of
logs and output, while hosts and ordinary paths stay so an operator can see which URL failed:
``public_url`` for what is stored and sent, ``mask_url`` and ``redact`` for what is printed and logged.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

_SECRET_ENV = ("COURTLISTENER_TOKEN", "CONGRESS_API_KEY", "GOVINFO_API_KEY", "OPENSTATES_API_KEY",
               "LEGISCAN_API_KEY", "MONITOR_SMTP_URL", "MONITOR_ADMIN_TARGET", "MONITOR_HOOK_SECRET")
# A URL in text ends at a space, a quote, <>, or "…": an elided example (hooks.slack.com/…) keeps its "…".
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>…]+", re.IGNORECASE)
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
# The user-info of the examples this program prints (smtp://user:pass@host): a placeholder, not a secret.
_PLACEHOLDER_USERINFO = frozenset({"user", "user:pass", "user:password"})
_TOKEN_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9_~%-]{20,}$")
_TARGETS: set[str] = set()  # delivery targets this process posts to (see ``remember_target``)


def is_secret_param(name: str) -> bool:
    """True for a query parameter name that carries a credential, percent-encoded or not."""
    plain = re.sub(r"[-_.]", "", unquote(name).lower())
    return plain in _SECRET_NAMES or plain.endswith(_SECRET_NAME_ENDINGS)


def mask_url(url: str, *, secret_path: bool = False) -> str:
    """The URL to print or log. ``secret_path`` is for a subscription's target, whose whole path
    may be its credential."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        return "***"
    userinfo, _, host = parts.netloc.rpartition("@")
    named = [s for s in parts.path.split("/") if s]
    hostname = parts.hostname or ""
    if (secret_path or any(hostname == h or hostname.endswith("." + h) for h in _SECRET_PATH_HOSTS)
            or (len(named) >= 4 and named[0] == "services")):  # Slack's shape
        path = f"/{named[0]}/***" if len(named) > 1 else ("/***" if named else parts.path)
    else:
        path = "/".join("***" if _TOKEN_SEGMENT.match(s) else s for s in parts.path.split("/"))
    pairs = [pair.partition("=") for pair in parts.query.split("&") if pair]
    query = "&".join(f"{k}=***" if is_secret_param(k) else k + eq + v for k, eq, v in pairs)
    if userinfo:
        userinfo = f"{userinfo if userinfo in _PLACEHOLDER_USERINFO else '***'}@"
    shown = f"{parts.scheme}://{userinfo}{host}{path}"
    return f"{shown}?{query}" if query else shown


def public_url(url: str) -> str:
    """The URL to store, show to subscribers and send: no user-info, no credential parameters
    (the fetcher keeps the full URL from sources.yaml)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(p for p in parts.query.split("&") if p and not is_secret_param(p.partition("=")[0]))
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact(text: str) -> str:
    """Mask secrets in free text: secret environment values, remembered targets, auth headers,
    credential parameters and the secret parts of URLs (see ``mask_url``)."""
    values = {os.environ.get(name, "") for name in _SECRET_ENV}
    for secret in sorted((v for v in values if len(v) >= 6), key=len, reverse=True):
        text = text.replace(secret, "***")
    for target in sorted(_TARGETS):
        text = _scrub_target(text, target, segments=False)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + "***", text)
    text = _URL.sub(lambda m: mask_url(m.group(0)), text)
    return _PARAM.sub(lambda m: f"{m[1]}=***" if is_secret_param(m[1]) else m[0], text)


def _scrub_target(text: str, target: str, *, segments: bool = True) -> str:
    """Mask a target's credential: the URL, path and query, the path after its first segment, the
    user-info, a dotless host of a non-HTTP URL (Apprise's ``tgram://BOT_TOKEN/chat``) and, with
    ``segments``, each hidden segment and query value alone; also percent-encoded and decoded."""
    kind, sep, rest = target.partition(":")
    url = rest if sep and kind.isalpha() and not rest.startswith("//") else target  # slack:https://…
    try:
        parts = urlsplit(url)
    except ValueError:
        return text.replace(url, "***")
    if "://" in url:
        text = text.replace(url, mask_url(url, secret_path=True))
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
    for secret in sorted({s for s in found if len(s) >= 6}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def remember_target(target: str) -> None:
    """Scrub this target's URL and secret path from every later ``redact``, so from the log too
    (httpx logs the URL it posts to); its single segments only from its own receiver's answers
    (``redact_for_target``), or a path like ``/hooks/alerts`` would mask every "alerts"."""
    _TARGETS.add(target)


def forget_targets() -> None:
    """What a new process starts with: tests run many commands in one process."""
    _TARGETS.clear()


def redact_for_target(text: str, target: str) -> str:
    """``redact``, and first the secret parts of the target the text came back from: a receiver or
    proxy that echoes the request's path or URL must not put its credential into errors or logs."""
    return redact(_scrub_target(text, target))
