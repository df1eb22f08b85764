"""What an outbox row is and where it is: the enums stored as text in ``deliveries.kind`` and
``deliveries.state`` and ``digests.state``, in a module of their own so the models, the CLI
and the web endpoint can use them without importing the enqueue machinery."""

from __future__ import annotations

from enum import StrEnum


class DeliveryKind(StrEnum):
    """What an outbox row is; stored as its text."""

    ALERT = "alert"
    DIGEST = "digest"
    ADMIN = "admin"


class DeliveryState(StrEnum):
    """Where an outbox row is; stored as its text.

    ``queued`` (a digest row waiting for its day) → ``pending`` (due at ``next_attempt_at``) →
    ``sending`` (claimed by one dispatcher) → ``sent`` | ``failed``, or ``pending`` again to retry.
    ``held``: an alert waiting for a second provider to confirm its move (``--confirm 2``), due
    at its time-out (``monitor.changes.events``).
    """

    QUEUED = "queued"
    HELD = "held"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class DigestState(StrEnum):
    """Where one subscriber's digest day is (``digests.state``): ``pending`` until its rows are
    sent or fail; ``empty`` when the day had nothing to send."""

    PENDING = "pending"
    EMPTY = "empty"
    SENT = "sent"
    FAILED = "failed"
