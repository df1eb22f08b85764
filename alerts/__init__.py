"""Alert channels, one module each, behind the ``Channel`` protocol in ``alerts.base``; the
registry ``kind`` -> class, and the lookup of a subscription target's channel."""

from __future__ import annotations

from alerts.apprise import AppriseChannel
from alerts.base import Channel, Message, MessageChange, Rendered, mask_target, split_target
from alerts.email import EmailChannel
from alerts.slack import SlackChannel
from alerts.webhook import WebhookChannel
from monitor.errors import ConfigError

CHANNEL_KINDS: dict[str, type[Channel]] = {
    "slack": SlackChannel,
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "apprise": AppriseChannel,
}


def channel_for_target(target: str, *, secret: str | None = None) -> Channel:
    """The channel a ``kind:address`` target is delivered through."""
    kind, address = split_target(target)
    cls = CHANNEL_KINDS.get(kind)
    if cls is None:
        raise ConfigError(f"unknown channel {kind!r} (expected one of: {', '.join(sorted(CHANNEL_KINDS))})")
    return cls(address, secret=secret)


__all__ = ["CHANNEL_KINDS", "Channel", "Message", "MessageChange", "Rendered", "channel_for_target", "mask_target",
           "split_target"]
