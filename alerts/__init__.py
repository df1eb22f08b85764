"""Alert channels, one module each, behind the ``Channel`` protocol in ``alerts.base``."""

from __future__ import annotations

from alerts.base import Channel, Message, MessageChange, Rendered, channel_for_target, split_target
from alerts.slack import SlackChannel

CHANNEL_KINDS: dict[str, type[Channel]] = {
    cls.kind: cls
    for cls in (
        SlackChannel,
    )
}

__all__ = ["CHANNEL_KINDS", "Channel", "Message", "MessageChange", "Rendered", "channel_for_target", "split_target"]
