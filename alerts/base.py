"""The Channel protocol and the message every channel renders.

A channel is one module in ``alerts/`` with one class that has:

- ``kind``: the target prefix (``slack`` in ``slack:https://hooks.slack.com/...``);
- ``validate(address)``: refuse a malformed or unsafe address at subscribe time;
- ``render(message) -> Rendered``: pure, golden-tested;
- ``send(client, rendered)``: I/O; returns a short answer to record, or raises
  ``DeliveryError(reason, permanent=..., retry_after=...)``.

A ``Message`` carries its evidence: the source and its URL, the raw status or action text that
triggered it, the old and new values, the watchlist and the rule that fired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import ConfigError
from monitor.normalise.meanings import describe_raw, is_code
from monitor.outbox.states import DeliveryKind
from monitor.redact import mask_url
from monitor.text import cut, plural

if TYPE_CHECKING:  # only the protocol's signature names it; the CLI imports this module without httpx
    import httpx

Rendered = dict[str, Any]

# Statuses a person reads; the normalised names are for machines.
STATUS_LABELS = {
    "introduced": "Introduced", "in_committee": "In committee", "reported": "Reported by committee",
    "passed_one_chamber": "Passed one chamber", "passed_both": "Passed both chambers",
    "sent_to_executive": "Sent to the executive", "enacted": "Enacted", "vetoed": "Vetoed",
    "failed": "Failed", "withdrawn": "Withdrawn", "filed": "Filed", "pending": "Pending",
    "decided": "Decided", "terminated": "Terminated", "cert_granted": "Cert. granted",
    "cert_denied": "Cert. denied", "published": "Published",
}


def one_line(text: str) -> str:
    """Collapse CR/LF and runs of spaces: feed text must never start a new header line."""
    return " ".join(text.split())


def status_label(status: str | None) -> str:
    if not status:
        return "—"
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


def day_text(day: dt.date) -> str:
    """``Nov 24, 2026``: a date as a reader writes it, the same in every locale and channel."""
    return f"{day:%b} {day.day}, {day.year}"


def happened_text(status: str | None, day: dt.date | None, kind: str | None = None) -> str | None:
    """``Reported by committee on Nov 24, 2026``: a status on the action's own date. A docket entry
    is a filing: CourtListener dates its entries (``date_filed``) without a status, and such an
    entry was filed on that day, as a PACER entry (status ``filed``) says."""
    if status is None and kind == "entry":
        status = "filed"
    return f"{status_label(status)} on {day_text(day)}" if status and day else None


def zone_or_utc(timezone: str | None) -> ZoneInfo:
    """The subscriber's zone, UTC when none or unknown: a message must render even for a zone this
    machine's tz database lacks (``monitor.delivery.digest``, which schedules, skips its digest)."""
    try:
        return ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def moment_text(moment: dt.datetime, timezone: str | None = None) -> str:
    """``2026-02-02 10:00 EST``: a time in the subscriber's zone (UTC when none or unknown)."""
    local = moment.astimezone(zone_or_utc(timezone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@dataclass(frozen=True)
class MessageChange:
    """One change as an alert shows it, with its evidence."""

    type: str  # new|status|field
    item_key: str
    title: str
    url: str | None
    kind: str
    source_id: str
    source_url: str | None = None
    identity: str | None = None
    status: str | None = None
    field: str | None = None
    old: str | None = None
    new: str | None = None
    raw_status: str | None = None
    status_action: str | None = None
    status_date: dt.date | None = None  # the day the action happened, as the provider dates it
    published_at: dt.datetime | None = None  # when the feed says it published the item
    detected_at: dt.datetime | None = None
    rule: str | None = None
    watchlist: str | None = None  # digests mix watchlists; alerts carry one
    summary: str | None = None  # feed-supplied, possibly HTML: channels sanitise before showing it
    # which providers reported this move: "Confirmed by congress-gov" or "Reported by govinfo only"
    corroboration: str | None = None
    # a list row (congress.gov list, Open States search row): its status read from its latest action alone
    latest_action_only: bool = False
    # the date the source gave that could not be right (monitor.sanity set it aside): said, not hidden
    impossible_date: str | None = None

    def headline(self, width: int | None = None) -> str:
        """One line saying what happened, the same in every channel; with ``width``, a long title
        is cut so the line fits and what happened stays whole (an email subject)."""
        before, after = "", f": {self.field} changed"
        if self.type == "new":
            before, after = f"New {self.kind}: ", ""
        elif self.type == "status":
            after = f": {status_label(self.old)} → {status_label(self.new)}"
        title = self.title if width is None else cut(one_line(self.title), max(width - len(before + after), 20))
        return before + title + after

    def happened(self, timezone: str | None = None) -> str | None:
        """``Reported by committee on Nov 24, 2026``: the status this change is about, on the
        action's own date (not the day we noticed it), marked when a list row's latest action was
        all it was read from; a new item with no status, ``Published on …`` (the feed's time, on
        the reader's calendar); None without a date."""
        if self.type == "field":
            return None
        status = self.new if self.type == "status" else self.status
        said = happened_text(status, self.status_date, self.kind)
        if self.latest_action_only and status:
            return f"{said or status_label(status)} (read from the bill's latest action only)"
        if said is None and self.type == "new" and self.published_at is not None:
            moment = self.published_at if self.published_at.tzinfo else self.published_at.replace(tzinfo=dt.UTC)
            return f"Published on {day_text(moment.astimezone(zone_or_utc(timezone)).date())}"
        return said

    def action_text(self) -> str | None:
        """The action that set the status, else the raw status when it is words, not a code."""
        if self.status_action:
            return self.status_action
        return self.raw_status if self.raw_status and not is_code(self.raw_status) else None

    def raw_code(self) -> str | None:
        """The raw status when it adds to the action text, a code always with its meaning
        (``14000 — Reported to Senate``), never bare."""
        if not self.raw_status or self.raw_status == self.action_text():
            return None
        return describe_raw(self.raw_status)

    def edit(self) -> str | None:
        """A field change's values, for the channels of plain text (Slack and HTML lay them out)."""
        if self.type != "field":
            return None
        return f"Was: {cut(one_line(self.old or '—'), 300)} → Now: {cut(one_line(self.new or '—'), 300)}"

    def evidence(self, *, width: int | None = None) -> list[str]:
        """What backs the alert after its source, labelled: the action, the raw status, who
        confirmed it and the rule that fired (``width`` shortens the two provider texts)."""
        action, raw = self.action_text(), self.raw_code()
        if width is not None:
            action, raw = action and cut(action, width), raw and cut(raw, width)
        parts = [f"Action: “{action}”" if action else None, f"Raw status: {raw}" if raw else None,
                 self.corroboration, f"Rule: {self.rule}" if self.rule else None]
        return [part for part in parts if part]

    def detected(self, timezone: str | None = None) -> str | None:
        return f"Detected {moment_text(self.detected_at, timezone)}" if self.detected_at else None

    def when(self, timezone: str | None = None) -> str | None:
        """The action's date beside the detection time, for one evidence line; a status move or new
        item its source left undated says so, lest the detection time read as the day it happened."""
        happened = self.happened(timezone)
        if happened is None and self.type != "field":
            happened = (f"The source dated it {self.impossible_date}, which cannot be right" if self.impossible_date
                        else "No date from the source")
        parts = [p for p in (happened, self.detected(timezone)) if p]
        return " · ".join(parts) or None

    def section(self) -> int:
        """Order inside a digest: status moves first, then new items, then other changes."""
        return {"status": 0, "new": 1}.get(self.type, 2)


@dataclass(frozen=True)
class Message:
    """What one delivery sends: one grouped alert, a digest or an admin notice."""

    watchlist: str
    changes: tuple[MessageChange, ...] = ()
    total: int = 0  # all changes in the group; more than len(changes) means "and N more"
    watchlist_title: str | None = None
    kind: DeliveryKind = DeliveryKind.ALERT
    text: str | None = None  # admin notices
    event_id: str = ""  # stable across retries: the receiver's idempotency key
    created_at: dt.datetime | None = None
    timezone: str | None = None  # the subscriber's IANA zone: times are shown in it
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def unsubscribe_url(self) -> str | None:
        url = self.extra.get("unsubscribe_url")
        return str(url) if url else None

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.changes))

    def subject(self) -> str:
        if self.kind is DeliveryKind.ADMIN:
            return cut(one_line(f"[Remedy Monitor] {self.text or 'admin notice'}"), 200)
        name = self.watchlist_title or self.watchlist
        if self.kind is DeliveryKind.DIGEST:
            day = self.extra.get("date", "")
            news = plural(self.total, "change") if self.total else "no news"
            return cut(one_line(f"[Remedy Monitor] Daily digest {day}: {news}"), 200)
        if self.total == 1 and self.changes:
            return cut(one_line(f"[{name}] {self.changes[0].headline(200 - len(name) - 3)}"), 200)
        return one_line(f"[{name}] {self.total} changes")


class Channel(Protocol):
    kind: ClassVar[str]

    def __init__(self, address: str, *, secret: str | None = None) -> None: ...

    @classmethod
    def validate(cls, address: str) -> str: ...

    def render(self, message: Message) -> Rendered: ...

    async def send(self, client: httpx.AsyncClient, rendered: Rendered) -> str: ...


def split_target(target: str) -> tuple[str, str]:
    """``slack:https://…`` -> (``slack``, ``https://…``); refuses a target with no channel prefix."""
    channel, sep, address = target.partition(":")
    if not sep or not address or not channel.isalpha():
        raise ConfigError(f"target {mask_target(target)!r} must look like CHANNEL:ADDRESS, e.g. slack:https://hooks.slack.com/…")
    return channel.lower(), address


def mask_target(target: str) -> str:
    """A target safe to print: webhook URLs keep scheme, host and a hint of the path."""
    kind, sep, address = target.partition(":")
    if "://" in address:
        return f"{kind}{sep}{mask_url(address, secret_path=True)}"
    if "://" in target:
        return mask_url(target, secret_path=True)
    return target
