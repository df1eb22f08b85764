"""Signed webhooks (``webhook:https://…``) following the Standard Webhooks spec.

Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md

- ``webhook-id``: the message's ``event_id``, the same on every retry, so a receiver can drop
  a duplicate (the dispatcher may resend after a crash between send and record);
- ``webhook-timestamp``: seconds since the epoch at the moment of sending;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the
  base64-decoded part of the subscription's ``whsec_…`` secret, created at subscribe time.

Answers: 2xx is success. 410 Gone means the receiver wants no more (permanent: the dispatcher
disables the subscription). Redirects are failures and are not followed (a redirect could point
the signed body somewhere the subscriber never chose). 429 honours Retry-After; every other
non-2xx answer is retried, as the spec asks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, ClassVar

import httpx

from alerts.base import Message, MessageChange, Rendered
from alerts.http import post
from monitor.errors import ConfigError, DeliveryError
from monitor.fetch import parse_retry_after
from monitor.normalise.meanings import meaning
from monitor.outbox.states import DeliveryKind
from monitor.urls import check_target_url

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret, shown to the subscriber once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        raise ConfigError("webhook secret is not whsec_ followed by base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value for one send."""
    digest = hmac.new(secret_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """What a receiver does: recompute and compare in constant time (any of the listed signatures)."""
    lower = {k.lower(): v for k, v in headers.items()}
    expected = sign(secret, lower.get("webhook-id", ""), int(lower.get("webhook-timestamp", "0")), body)
    return any(hmac.compare_digest(expected, candidate) for candidate in lower.get("webhook-signature", "").split())


def change_payload(change: MessageChange) -> dict[str, Any]:
    """One change for machines: dates as ISO values, and the same words a person reads
    (``happened``, ``raw_status_meaning``) so a receiver never has to know provider codes."""
    return {
        "type": change.type, "item": change.item_key, "identity": change.identity, "title": change.title,
        "url": change.url, "kind": change.kind, "status": change.status, "field": change.field,
        "old": change.old, "new": change.new,
        "status_date": change.status_date.isoformat() if change.status_date else None,
        "happened": change.happened(),
        "evidence": {"source": change.source_id, "source_url": change.source_url, "raw_status": change.raw_status,
                     "raw_status_meaning": meaning(change.raw_status), "action": change.status_action,
                     "corroboration": change.corroboration, "rule": change.rule,
                     "detected_at": change.detected_at.isoformat() if change.detected_at else None},
    }


class WebhookChannel:
    kind: ClassVar[str] = "webhook"

    def __init__(self, address: str, *, secret: str | None = None) -> None:
        self.url = address
        self.secret = secret

    @classmethod
    def validate(cls, address: str) -> str:
        return check_target_url(address)

    def render(self, message: Message) -> Rendered:
        data: dict[str, Any] = {"watchlist": message.watchlist, "total": message.total, "more": message.more,
                                "changes": [change_payload(c) for c in message.changes]}
        if message.kind is DeliveryKind.ADMIN:
            data = {"text": message.text}
        if message.kind is DeliveryKind.DIGEST:
            data["date"] = message.extra.get("date")
        payload = {"type": f"{message.kind}.created",
                   "timestamp": message.created_at.isoformat() if message.created_at else None, "data": data}
        return {"id": message.event_id, "body": json.dumps(payload, ensure_ascii=False, sort_keys=True)}

    async def send(self, client: httpx.AsyncClient, rendered: Rendered) -> str:
        if not self.secret:
            raise DeliveryError("subscription has no signing secret; subscribe again to create one", permanent=True)
        msg_id, body = str(rendered["id"]), str(rendered["body"])
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "webhook-id": msg_id,
                   "webhook-timestamp": str(timestamp), "webhook-signature": sign(self.secret, msg_id, timestamp, body)}
        response = await post(client, self.url, content=body.encode(), headers=headers)
        status = response.status_code
        answer = f"{status} {response.text.strip()[:200]}".strip()
        if 200 <= status < 300:
            return answer
        if status == 410:
            raise DeliveryError(f"{answer}: receiver is gone", permanent=True, status=status)
        if 300 <= status < 400:
            raise DeliveryError(f"{status} redirect not followed", status=status)
        raise DeliveryError(answer, status=status, retry_after=parse_retry_after(response.headers.get("retry-after")))
