"""Email over SMTP (``email:someone@example.org``): immediate alerts and daily digests.

Configuration: ``MONITOR_SMTP_URL`` (``smtp://user:pass@host:587?starttls=1`` or
``smtps://user:pass@host:465``) and ``MONITOR_MAIL_FROM`` (``Remedy Monitor <alerts@example.org>``).
TLS (``starttls=1`` or ``smtps``) always verifies the server's certificate and host name, against
the system CAs or, when ``MONITOR_SMTP_CAFILE`` names a PEM file, against that file's CAs only
(a private CA for tests and private deployments).
Every message is multipart text + HTML; the HTML comes from Jinja2 with autoescape, its CSS is
inlined (mail clients drop ``<style>``), feed-supplied HTML passes through nh3 and only http(s)
links survive. ``List-Unsubscribe`` + ``List-Unsubscribe-Post`` (RFC 8058) point at the service's
``/unsubscribe/<token>`` endpoint.

SMTP answers (RFC 5321 §4.2.1): 4xx is transient (retry), 5xx is permanent for that recipient.
A dropped connection is transient. Authentication failures (535), untrusted certificates and an
unreadable CA file are the operator's to fix, so they are retried rather than disabling the
subscriber. smtplib is blocking: it runs in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
import smtplib
import ssl
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import css_inline
import httpx
import nh3
from markupsafe import Markup

from alerts.base import Message, MessageChange, Rendered, one_line, status_label
from monitor.errors import ConfigError, DeliveryError
from monitor.outbox.states import DeliveryKind

SECTIONS = ("Status moves", "New items", "Other changes")
SAFE_TAGS = {"a", "b", "strong", "i", "em", "p", "br", "ul", "ol", "li", "blockquote", "code"}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    ssl: bool
    starttls: bool
    user: str | None
    password: str | None = field(repr=False)  # a secret: never in a repr, log or error
    cafile: str | None = None


def smtp_config() -> SmtpConfig:
    raw = os.environ.get("MONITOR_SMTP_URL", "")
    if not raw:
        raise ConfigError("email needs MONITOR_SMTP_URL, e.g. smtp://user:pass@mail.example.org:587?starttls=1")
    parts = urlsplit(raw)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError("MONITOR_SMTP_URL must look like smtp://user:pass@host:587?starttls=1 or smtps://host:465")
    query = parse_qs(parts.query)
    secure = parts.scheme == "smtps"
    return SmtpConfig(
        host=parts.hostname, port=parts.port or (465 if secure else 25), ssl=secure,
        starttls=query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes"),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        cafile=os.environ.get("MONITOR_SMTP_CAFILE") or None,
    )


def tls_context(config: SmtpConfig) -> ssl.SSLContext:
    """A verifying context: the system CAs, or only those in ``MONITOR_SMTP_CAFILE``."""
    try:
        return ssl.create_default_context(cafile=config.cafile)
    except (OSError, ssl.SSLError) as exc:  # an operator's mistake: retried, the subscriber keeps its subscription
        raise DeliveryError(f"MONITOR_SMTP_CAFILE {config.cafile} is not a readable PEM file of CA "
                            f"certificates: {getattr(exc, 'strerror', None) or exc}") from None


def mail_from() -> Address:
    """MONITOR_MAIL_FROM, else monitor@ the service's public host: the Message-ID takes the
    sender's domain, and "localhost" is no domain a receiver can trust or a client can thread by."""
    host = urlsplit(os.environ.get("MONITOR_PUBLIC_URL", "")).hostname or ""
    default = f"Remedy Monitor <monitor@{host if FULL_DOMAIN.match(host) else 'localhost'}>"
    name, addr = parseaddr(os.environ.get("MONITOR_MAIL_FROM") or default)
    return Address(one_line(name), addr_spec=check_address(addr))


NEEDS_PUBLIC_URL = ("email needs MONITOR_PUBLIC_URL (the service's public base URL, e.g. "
                    "https://monitor.example.org): every email carries a one-click unsubscribe link")
FULL_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)


def check_address(address: str) -> str:
    """One bare address, no display name, no CR/LF (which would start a new header)."""
    _name, addr = parseaddr(address)
    if not addr or addr != address.strip() or "@" not in addr or any(c in address for c in "\r\n,;<>"):
        raise ConfigError(f"{address!r} is not one email address like someone@example.org")
    return addr


def http_url(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).scheme in ("http", "https")


def clean_html(text: str | None) -> Markup:
    """Feed-supplied HTML, reduced to harmless inline tags with http(s) links only."""
    return Markup(nh3.clean(text or "", tags=SAFE_TAGS, url_schemes={"http", "https"},
                            attributes={"a": {"href"}}, link_rel="noopener noreferrer"))


@cache
def _env() -> Any:
    import jinja2  # on first render: every CLI start would pay for it otherwise

    env = jinja2.Environment(loader=jinja2.PackageLoader("alerts", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters.update(status=status_label, http_url=http_url, clean_html=clean_html)
    return env


def groups(message: Message) -> list[dict[str, Any]]:
    """Changes grouped by watchlist (in first-seen order), each split into the three sections."""
    titles: dict[str, str] = message.extra.get("watchlist_titles", {})
    unsubscribe: dict[str, str] = message.extra.get("unsubscribe_urls", {})
    by_watchlist: dict[str, list[MessageChange]] = {}
    for change in message.changes:
        by_watchlist.setdefault(change.watchlist or message.watchlist, []).append(change)
    return [{
        "title": titles.get(name) or name,
        "unsubscribe_url": unsubscribe.get(name) if len(by_watchlist) > 1 else None,
        "sections": [{"name": SECTIONS[i], "changes": [c for c in changes if c.section() == i]}
                     for i in range(len(SECTIONS)) if any(c.section() == i for c in changes)],
    } for name, changes in by_watchlist.items()]


def render_email(message: Message) -> dict[str, str]:
    """Subject, text and HTML (CSS inlined) for one message: pure, golden-tested."""
    if message.kind is DeliveryKind.ADMIN:
        text = message.text or ""
        return {"subject": message.subject(), "text": text + "\n",
                "html": css_inline.inline(f"<html><body><p>{Markup.escape(text)}</p></body></html>")}
    subject = message.subject()
    digest = message.kind is DeliveryKind.DIGEST
    heading = subject.split("] ", 1)[-1] if digest else (message.watchlist_title or message.watchlist)
    context = {"subject": subject, "heading": heading, "groups": groups(message), "more": message.more,
               "unsubscribe_url": message.unsubscribe_url, "timezone": message.timezone}
    html = _env().get_template("email.html.j2").render(context)
    return {"subject": subject, "text": _env().get_template("email.txt.j2").render(context),
            "html": css_inline.inline(html)}


def build_mime(rendered: Rendered, sender: Address) -> EmailMessage:
    mime = EmailMessage()
    mime["Subject"] = one_line(str(rendered["subject"]))
    mime["From"] = sender
    mime["To"] = rendered["to"]
    mime["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    mime["Message-ID"] = f"<{rendered['id']}@{sender.domain}>"  # the same on a retry: clients fold duplicates
    if rendered.get("unsubscribe_url"):
        mime["List-Unsubscribe"] = f"<{rendered['unsubscribe_url']}>"
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime.set_content(str(rendered["text"]))
    mime.add_alternative(str(rendered["html"]), subtype="html")
    return mime


def _answer(exc: smtplib.SMTPResponseException) -> str:
    """The server's words, as it sent them."""
    return exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)


def _smtp_error(exc: Exception, recipient: str) -> DeliveryError | ConfigError:
    if isinstance(exc, smtplib.SMTPSenderRefused):  # the relay refuses our MAIL FROM: every email would fail alike
        sender = exc.sender.decode(errors="replace") if isinstance(exc.sender, bytes) else exc.sender
        return ConfigError(f"the SMTP server refused the sender {sender} ({exc.smtp_code} {_answer(exc)})"[:300]
                           + ": check MONITOR_MAIL_FROM and MONITOR_SMTP_URL")
    if isinstance(exc, (smtplib.SMTPConnectError, smtplib.SMTPHeloError)) and exc.smtp_code >= 500:
        # the server refuses this host (its greeting or EHLO/HELO), whoever the recipient
        return ConfigError(f"the SMTP server refused this host ({exc.smtp_code} {_answer(exc)})"[:300]
                           + ": check MONITOR_SMTP_URL")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = exc.recipients.get(recipient, (451, b"refused"))
        return DeliveryError(f"{code} {text.decode(errors='replace')}"[:300], permanent=code >= 500, status=code)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"{exc.smtp_code} SMTP login refused: check MONITOR_SMTP_URL", status=exc.smtp_code)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"SMTP server's TLS certificate is not trusted ({exc.verify_message}): fix its "
                             "certificate, or set MONITOR_SMTP_CAFILE to the CA that signed it")
    if isinstance(exc, ssl.SSLError):
        return DeliveryError(f"SMTP TLS handshake failed: {exc.reason or type(exc).__name__}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # the server lacks an extension we need
        if not recipient.isascii():  # SMTPUTF8: this server can never deliver to this address
            return DeliveryError(f"the SMTP server takes no non-ASCII address (no SMTPUTF8): {exc}"[:300],
                                 permanent=True)
        return ConfigError(f"the SMTP server lacks what MONITOR_SMTP_URL or MONITOR_MAIL_FROM needs: {exc}"[:300])
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        return DeliveryError(f"{code} {_answer(exc)}"[:300], permanent=code >= 500, status=code)
    return DeliveryError(f"SMTP connection failed: {type(exc).__name__}")


class EmailChannel:
    kind: ClassVar[str] = "email"

    def __init__(self, address: str, *, secret: str | None = None) -> None:
        self.address = check_address(address)

    @classmethod
    def validate(cls, address: str) -> str:
        """A full address, and an installation that can send it and unsubscribe from it: both
        are checked now, so a missing setting is never found by a failed first delivery."""
        local, _, domain = check_address(address).rpartition("@")
        domain = domain.lower()  # domains are case-blind (RFC 5321): one mailbox, one way of writing it
        addr = f"{local}@{domain}"
        if not FULL_DOMAIN.match(domain):
            raise ConfigError(f"{address!r}: {domain!r} is not a full domain name (e.g. someone@example.org)")
        smtp_config()
        if not os.environ.get("MONITOR_PUBLIC_URL"):
            raise ConfigError(NEEDS_PUBLIC_URL)
        return addr

    def render(self, message: Message) -> Rendered:
        return {"id": message.event_id, "to": self.address, "unsubscribe_url": message.unsubscribe_url,
                "subscriber": message.kind is not DeliveryKind.ADMIN, **render_email(message)}

    async def send(self, client: httpx.AsyncClient, rendered: Rendered) -> str:
        config = smtp_config()
        if rendered["subscriber"] and not rendered["unsubscribe_url"]:
            # MONITOR_PUBLIC_URL was lost after subscribing: held (ConfigError), never sent without a way out
            raise ConfigError(NEEDS_PUBLIC_URL)
        mime = build_mime(rendered, mail_from())
        context = tls_context(config) if config.ssl or config.starttls else None
        try:
            return await asyncio.to_thread(self._deliver, config, context, mime)
        except (smtplib.SMTPException, OSError) as exc:
            raise _smtp_error(exc, self.address) from None

    def _deliver(self, config: SmtpConfig, context: ssl.SSLContext | None, mime: EmailMessage) -> str:
        smtp = (smtplib.SMTP_SSL(config.host, config.port, timeout=30, context=context) if config.ssl
                else smtplib.SMTP(config.host, config.port, timeout=30))
        try:
            if config.starttls:
                smtp.starttls(context=context)
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.send_message(mime)  # raises unless the server answered 250 to DATA
            # the server took the email: how it answers QUIT must not make it a failure or a resend
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
        finally:
            smtp.close()
        return f"250 accepted by {config.host}"
