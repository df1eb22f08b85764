"""The enums stored as text in ``deliveries.kind``, ``deliveries.state`` and ``digests.state``,
apart from the enqueue machinery so that models, CLI and web can import them."""

from __future__ import annotations

from enum import StrEnum


class DeliveryKind(StrEnum):
    ALERT = "alert"
    DIGEST = "digest"
    ADMIN = "admin"


class DeliveryState(StrEnum):
    """``queued`` (a digest row waiting for its day) → ``pending`` (due at ``next_attempt_at``) →
    ``sending`` (claimed by one dispatcher) → ``sent`` | ``failed``, or ``pending`` again to retry;
    ``held``: an alert waiting for a second provider to confirm its move, due at its time-out."""

    QUEUED = "queued"
    HELD = "held"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class DigestState(StrEnum):
    """One subscriber's digest day: ``pending`` until its rows are sent or fail, ``empty`` when
    the day had nothing to send."""

    PENDING = "pending"
    EMPTY = "empty"
    SENT = "sent"
    FAILED = "failed"
