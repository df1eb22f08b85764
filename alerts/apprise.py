"""Apprise (``apprise:<any Apprise URL>``): Teams, Discord, Telegram, Matrix and the rest.

The apprise library only answers True/False per notify and logs the provider's reply, so the
mapping is coarse: a URL Apprise does not recognise is permanent (it never will), a failed
notify is retried on the dispatcher's schedule.

SSRF: Apprise makes its own requests (through ``requests``), so they cannot go through
``monitor.netguard``'s pinned transport. Instead the host of a self-hosted service's URL
(``json://``, ``xml://``, ``form://``, ``ntfy://host``, ``gotify://`` …; services with a fixed
vendor endpoint carry ``notify_url`` and are not checked) is resolved before the URL is handed
over and refused if any address is private, unless ``MONITOR_ALLOW_PRIVATE_URLS=1``. What this
cannot stop: Apprise resolves the name again (a rebinding DNS answer could differ) and follows
redirects. Use ``webhook:`` where that matters (RELIABILITY.md).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import httpx

from alerts.base import Message, Rendered
from monitor.errors import ConfigError, DeliveryError
from monitor.netguard import BlockedAddress, Unresolvable, resolve_public
from monitor.outbox.states import DeliveryKind
from monitor.redact import redact

MAX_LINES = 10
MAX_ANSWER = 500  # characters of the provider's answer an error keeps


class AppriseChannel:
    kind: ClassVar[str] = "apprise"

    def __init__(self, address: str, *, secret: str | None = None) -> None:
        self.url = address

    @classmethod
    def validate(cls, address: str) -> str:
        apprise = _apprise()
        if apprise.Apprise.instantiate(address) is None:
            raise ConfigError(f"apprise does not recognise {redact(address)!r} (see https://github.com/caronc/apprise/wiki)")
        return address

    def render(self, message: Message) -> Rendered:
        if message.kind is DeliveryKind.ADMIN:
            return {"title": message.subject(), "body": message.text or ""}
        lines = []
        for change in message.changes[:MAX_LINES]:
            lines.append(f"• {change.headline()}" + (f"\n  {change.url}" if change.url else ""))
            if change.edit():
                lines.append(f"  {change.edit()}")
            evidence = [f"source {change.source_id}"]
            action, raw = change.action_text(), change.raw_code()
            if action:
                evidence.append(f"action “{action}”")
            if raw:
                evidence.append(f"raw status {raw}")
            if change.corroboration:
                evidence.append(change.corroboration)
            if change.rule:
                evidence.append(f"rule {change.rule}")
            lines.append("  " + " · ".join(evidence))
            when = change.when(message.timezone)
            if when:
                lines.append(f"  {when}")
        more = message.total - min(len(message.changes), MAX_LINES)
        if more > 0:
            lines.append(f"…and {more} more")
        return {"title": message.subject(), "body": "\n".join(lines) or "No news today."}

    async def send(self, client: httpx.AsyncClient, rendered: Rendered) -> str:
        try:
            apprise = _apprise()
        except ConfigError as exc:  # held, not failed: the operator installs the extra and it goes out
            raise DeliveryError(str(exc), permanent=False) from exc
        service = apprise.Apprise.instantiate(self.url)
        if service is None:
            raise DeliveryError("apprise does not recognise this URL", permanent=True)
        await _refuse_private_host(service)
        notifier = apprise.Apprise()
        notifier.add(service)
        # Apprise answers only True/False; the provider's answer is in its warnings, which the
        # error keeps (the dispatcher scrubs the target's secrets from it, see redact_for_target).
        # The body is plain text: said so, Apprise escapes it for the services that read HTML
        # (Telegram, Matrix, email) instead of passing feed text through as markup.
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as said:
            delivered = await notifier.async_notify(body=str(rendered["body"]), title=str(rendered["title"]),
                                                    body_format=apprise.NotifyFormat.TEXT)
        if not delivered:
            answer = " ".join(said.getvalue().split())[:MAX_ANSWER] or "no answer logged"
            raise DeliveryError(f"apprise could not deliver: {answer}")
        return "delivered"


async def _refuse_private_host(service: Any) -> None:
    """Refuse a self-hosted service whose host resolves to a private or reserved address."""
    host = getattr(service, "host", None)
    if not host or getattr(service, "notify_url", None):
        return
    port = getattr(service, "port", None) or (443 if getattr(service, "secure", False) else 80)
    try:
        await resolve_public(str(host), int(port))
    except Unresolvable:
        return  # not a network name (some services keep a token there) or DNS is down: Apprise decides
    except BlockedAddress as exc:
        raise DeliveryError(f"refused: {exc}", permanent=True) from None


def _apprise() -> Any:
    """The apprise module: an optional extra, imported on use (it costs half a second to import)."""
    try:
        import apprise
    except ImportError as exc:
        raise ConfigError("the apprise channel needs the apprise extra: "
                          "pip install 'remedy-monitor[apprise]'") from exc
    return apprise
