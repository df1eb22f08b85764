"""Alert channels, one module each, behind the ``Channel`` protocol in ``alerts.base``.

A channel's module is imported the first time a target of its kind is used, so a run that
delivers nothing, or only to Slack, never loads Apprise or the email stack.
"""

from __future__ import annotations

from alerts.base import Channel, Message, MessageChange, Rendered, channel_for_target, split_target
from monitor.registry import KindRegistry

CHANNEL_KINDS: KindRegistry[type[Channel]] = KindRegistry({
    "slack": "alerts.slack:SlackChannel",
    "email": "alerts.email:EmailChannel",
    "webhook": "alerts.webhook:WebhookChannel",
    "apprise": "alerts.apprise:AppriseChannel",
})

__all__ = ["CHANNEL_KINDS", "Channel", "Message", "MessageChange", "Rendered", "channel_for_target", "split_target"]
