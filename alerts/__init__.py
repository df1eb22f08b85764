"""Alert channels, one module each, behind the ``Channel`` protocol in ``alerts.base``."""

from __future__ import annotations

from alerts.apprise import AppriseChannel
from alerts.base import Channel, Message, MessageChange, Rendered, channel_for_target, split_target
from alerts.email import EmailChannel
from alerts.slack import SlackChannel
from alerts.webhook import WebhookChannel

CHANNEL_KINDS: dict[str, type[Channel]] = {
    cls.kind: cls
    for cls in (
        SlackChannel,
        EmailChannel,
        WebhookChannel,
        AppriseChannel,
    )
}

__all__ = ["CHANNEL_KINDS", "Channel", "Message", "MessageChange", "Rendered", "channel_for_target", "split_target"]
