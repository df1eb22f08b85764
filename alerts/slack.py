"""Slack incoming webhooks: Block Kit message with a plain-text fallback.

Answers (Slack's changelog of 2016-05-17 and rate-limit docs): 200 with body ``ok`` is the only
success; 429 carries ``Retry-After`` seconds; 5xx (``rollup_error``), 408 and 425 are worth retrying;
400 ``invalid_payload``, 403 ``action_prohibited``, 404 ``channel_not_found``/``no_service`` and
410 ``channel_is_archived`` will not get better by retrying. Some errors arrive as 200 with an
error word in the body, so success is ``status == 200 and body == "ok"``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from alerts.base import Message, MessageChange, Rendered, status_label
from alerts.http import post
from monitor.errors import DeliveryError
from monitor.fetch import parse_retry_after
from monitor.outbox.states import DeliveryKind
from monitor.text import cut, plural
from monitor.urls import check_target_url

SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
MAX_CHANGES = 10  # 2 blocks each: well under Slack's 50-block limit
# Slack refuses (400 invalid_blocks) a section text over 3,000 characters: a title cut to 500 stays
# under it with its link, even with every character escaped ("&" is "&amp;").
MAX_TITLE = 500
PERMANENT_STATUSES = frozenset({400, 403, 404, 410})
TRANSIENT_STATUSES = frozenset({408, 425})  # request timeout, too early: the same post may go through later


def _escape(text: str) -> str:
    """Feed text as Slack shows it, not as mrkdwn it reads: "<!channel>" would mention everyone and
    "<https://…|text>" would be a link (Slack's "Escaping text": escape &, < and >, nothing else)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str | None, text: str) -> str:
    safe = _escape(text)
    return f"<{url}|{safe}>" if url else safe


def _change_blocks(change: MessageChange, timezone: str | None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    section: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*{_link(change.url, cut(change.title, MAX_TITLE))}*"},
    }
    if change.type == "status":
        section["fields"] = [
            {"type": "mrkdwn", "text": f"*Was*\n{status_label(change.old)}"},
            {"type": "mrkdwn", "text": f"*Now*\n{status_label(change.new)}"},
        ]
    elif change.type == "field":
        section["fields"] = [
            {"type": "mrkdwn", "text": f"*{change.field} was*\n{_escape(cut(change.old or '—', 300))}"},
            {"type": "mrkdwn", "text": f"*{change.field} now*\n{_escape(cut(change.new or '—', 300))}"},
        ]
    else:
        section["fields"] = [
            {"type": "mrkdwn", "text": f"*New {change.kind}*\n"
                                       f"{status_label(change.status) if change.status else 'First seen'}"},
        ]
    if change.url:
        section["accessory"] = {
            "type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": change.url,
        }
    blocks.append(section)
    evidence = [f"Source: {_link(change.source_url, change.source_id)}",
                *(_escape(part) for part in change.evidence(width=200))]
    when = change.when(timezone)
    if when:
        evidence.append(when)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(evidence)}]})
    return blocks


class SlackChannel:
    kind: ClassVar[str] = "slack"

    def __init__(self, address: str, *, secret: str | None = None) -> None:
        self.url = address

    @classmethod
    def validate(cls, address: str) -> str:
        return check_target_url(address, allowed_hosts=SLACK_HOSTS)

    def render(self, message: Message) -> Rendered:
        if message.kind is DeliveryKind.ADMIN:
            text = message.text or "Remedy Monitor notice"
            return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
        header = message.watchlist_title or message.watchlist
        if message.kind is DeliveryKind.DIGEST:
            header = f"Daily digest {message.extra.get('date', '')}".strip()
        count = plural(message.total, "change")
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": cut(f"{header} — {count}", 150)}},
        ]
        for change in message.changes[:MAX_CHANGES]:
            blocks.extend(_change_blocks(change, message.timezone))
        more = message.total - min(len(message.changes), MAX_CHANGES)
        if more > 0:
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"…and {more} more"}]})
        lines = [f"{_escape(header)}: {count}"] + [f"• {_escape(c.headline())} {c.url or ''}".rstrip()
                                          for c in message.changes[:MAX_CHANGES]]
        if more > 0:
            lines.append(f"…and {more} more")
        return {"text": "\n".join(lines), "blocks": blocks}

    async def send(self, client: httpx.AsyncClient, rendered: Rendered) -> str:
        response = await post(client, self.url, json=rendered)
        body = response.text.strip()[:200]
        status = response.status_code
        if status == 200 and body == "ok":
            return "200 ok"
        if status == 429:
            raise DeliveryError("429 rate limited", status=status,
                                retry_after=parse_retry_after(response.headers.get("retry-after")))
        if status >= 500 or status in TRANSIENT_STATUSES:
            reason = "server error" if status >= 500 else "try again later"
            raise DeliveryError(f"{status} {body or reason}", status=status)
        if status in PERMANENT_STATUSES or 300 <= status < 500:
            raise DeliveryError(f"{status} {body or 'refused'}", permanent=True, status=status)
        # 200 with an error word in the body (seen from some workspaces): not delivered.
        raise DeliveryError(f"{status} {body or 'unexpected answer'}", permanent=True, status=status)
