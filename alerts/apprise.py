"""Apprise (``apprise:<any Apprise URL>``): Teams, Discord, Telegram, Matrix and the rest.

The apprise library only answers True/False per notify and logs the provider's reply, so the
mapping is coarse: a URL Apprise does not recognise is permanent (it never will), a failed
notify is retried on the dispatcher's schedule.
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from alerts.base import Message, Rendered
from monitor.errors import ConfigError, DeliveryError
from monitor.redact import redact

MAX_LINES = 10


class AppriseChannel:
    kind: ClassVar[str] = "apprise"

    def __init__(self, address: str, *, secret: str | None = None) -> None:
        self.url = address

    @classmethod
    def validate(cls, address: str) -> str:
        import apprise  # imported on use: it costs half a second at every CLI start

        if apprise.Apprise.instantiate(address) is None:
            raise ConfigError(f"apprise does not recognise {redact(address)!r} (see https://github.com/caronc/apprise/wiki)")
        return address

    def render(self, message: Message) -> Rendered:
        if message.kind == "admin":
            return {"title": message.subject(), "body": message.text or ""}
        lines = []
        for change in message.changes[:MAX_LINES]:
            lines.append(f"• {change.headline()}" + (f"\n  {change.url}" if change.url else ""))
            evidence = [f"source {change.source_id}"]
            if change.status_action or change.raw_status:
                evidence.append(f"action “{change.status_action or change.raw_status}”")
            if change.rule:
                evidence.append(f"rule {change.rule}")
            lines.append("  " + " · ".join(evidence))
        more = message.total - min(len(message.changes), MAX_LINES)
        if more > 0:
            lines.append(f"…and {more} more")
        return {"title": message.subject(), "body": "\n".join(lines) or "No news today."}

    async def send(self, client: httpx.AsyncClient, rendered: Rendered) -> str:
        import apprise

        notifier = apprise.Apprise()
        if not notifier.add(self.url):
            raise DeliveryError("apprise does not recognise this URL", permanent=True)
        if not await notifier.async_notify(body=str(rendered["body"]), title=str(rendered["title"])):
            raise DeliveryError("apprise could not deliver (see the service log for the provider's answer)")
        return "delivered"
