"""Watchlist administration: the YAML file ``watchlist export`` writes and ``import`` reads (so
watchlists can live in version control), the preview and the remedy board::

    watchlists:
    - name: federal-legislation          # a slug, unique
      query: kind:bill jurisdiction:us (bivens OR "qualified immunity")
      pinned: [us/119/s/3470]            # identities followed whatever their text says
      muted: [pro hac vice]              # phrases that keep an entry quiet
      on_status: ladder                  # ladder | any | off
      confirm: 1                         # providers a status move waits for (2: hold until confirmed)
      confirm_timeout: 86400             # seconds it waits; then it goes out "reported by X only"

The other keys are ``WatchlistSpec``'s fields. Subscriptions are not exported: their targets are secrets.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.base import happened_text
from monitor.changes.diff import ChangeSpec, ChangeType
from monitor.changes.match import CompiledWatchlist, match_doc
from monitor.changes.query import MatchDoc, compile_query
from monitor.config import pydantic_problem
from monitor.durations import parse_duration
from monitor.errors import ConfigError, QueryError
from monitor.follow import notice
from monitor.models import Change, FollowedBill, Item, Poll, StatusEvent, StatusReport, Watchlist, utcnow
from monitor.normalise.actiontext import latest_action_only
from monitor.normalise.identity import canonical_identity
from monitor.normalise.meanings import meaning

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")
IDENTITY = re.compile(r"^[a-z0-9][a-z0-9.:-]*(?:/[a-z0-9][a-z0-9.:-]*)+$")  # district dockets: 1:18-cv-03365
ALERTS_PER_DAY_WARNING = 30
STARTER = "starter_watchlists.yaml"
FIELDS = ("name", "title", "description", "query", "pinned", "muted", "on_new", "on_status", "on_field",
          "follow_matches", "paused", "snooze_until", "confirm", "confirm_timeout")


def check_identity(text: str) -> str:
    """``us/119/s/3470`` (federal bill), ``il/104/hb/1312`` (state bill), ``ca9/24-1234`` and
    ``nysd/1:18-cv-03365`` (cases)."""
    identity = text.strip().lower()
    if not IDENTITY.match(identity):
        raise ConfigError(f"identity {text!r} must be slash-separated, e.g. us/119/s/3470, il/104/hb/1312, "
                          "ca9/24-1234 or nysd/1:18-cv-03365")
    return canonical_identity(identity)


class WatchlistSpec(BaseModel):
    """One watchlist as it appears in a YAML file (and as ``watchlist show --json`` starts)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str | None = None
    description: str | None = None
    query: str = ""
    pinned: list[str] = Field(default_factory=list)
    muted: list[str] = Field(default_factory=list)
    on_new: bool = True
    on_status: Literal["ladder", "any", "off"] = "ladder"
    on_field: bool = False
    follow_matches: bool = True
    paused: bool = False
    snooze_until: dt.datetime | None = None
    confirm: int = Field(default=1, ge=1, le=5)
    confirm_timeout: int = 86400

    @field_validator("confirm_timeout", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        """A duration as the CLI takes it (``12h``, ``2d``) or a number of seconds, from 1m to 30d,
        said back as it was written when it is out of range."""
        written = isinstance(value, str) and not value.isdigit()
        seconds = parse_duration(value) if isinstance(value, str) and written else value
        if isinstance(seconds, str) and seconds.isdigit():
            seconds = int(seconds)
        if isinstance(seconds, int) and not isinstance(seconds, bool) and not 60 <= seconds <= 30 * 86400:
            raise ValueError(f"{value if written else f'{seconds}s'} is not between 1m and 30d")
        return seconds

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(f"{value!r} is not a slug (lower-case letters, digits and dashes)")
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        try:
            compile_query(value)
        except QueryError as exc:
            raise ValueError(f"query does not parse: {exc} (column {exc.column})") from None
        return value

    @field_validator("pinned")
    @classmethod
    def _pinned(cls, value: list[str]) -> list[str]:
        try:
            return list(dict.fromkeys(check_identity(v) for v in value))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("muted")
    @classmethod
    def _muted(cls, value: list[str]) -> list[str]:
        if any(not v.strip() for v in value):
            raise ValueError("a muted pattern cannot be empty")
        return value

    @field_validator("snooze_until")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value

    @classmethod
    def of(cls, watchlist: Watchlist) -> WatchlistSpec:
        # no validation: a stored query that no longer parses must still be shown and exported
        return cls.model_construct(**({name: getattr(watchlist, name) for name in FIELDS} | {
            "query": watchlist.query or "", "pinned": list(watchlist.pinned or []),
            "muted": list(watchlist.muted or [])}))

    def data(self) -> dict[str, Any]:
        out = self.model_dump()
        out["snooze_until"] = self.snooze_until.isoformat() if self.snooze_until else None
        return out


def load_file(path: Path) -> list[WatchlistSpec]:
    """Read a watchlist file; one line per problem: ``file:line: watchlist 'x': problem``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_file(text, path.name)


def parse_file(text: str, name: str) -> list[WatchlistSpec]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"{name}:{mark.line + 1 if mark else 1}: invalid YAML: "
                          f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("watchlists"), list) or not isinstance(
            root, yaml.MappingNode):
        raise ConfigError(f"{name}:1: expected a mapping with a 'watchlists:' list")
    nodes = next(v for k, v in root.value if k.value == "watchlists")
    specs: list[WatchlistSpec] = []
    seen: set[str] = set()
    for entry, node in zip(data["watchlists"], nodes.value):
        line = node.start_mark.line + 1
        label = f"watchlist {entry.get('name')!r}" if isinstance(entry, dict) else "watchlist"
        try:
            spec = WatchlistSpec.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(f"{name}:{line}: {label}: {pydantic_problem(exc.errors()[0])}") from None
        if spec.name in seen:
            raise ConfigError(f"{name}:{line}: {label}: duplicate name")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def starter_text() -> str:
    return resources.files("monitor").joinpath(STARTER).read_text(encoding="utf-8")


def dump(specs: list[WatchlistSpec]) -> str:
    return str(yaml.safe_dump({"watchlists": [s.data() for s in specs]}, sort_keys=False, allow_unicode=True,
                              width=100))


def apply(session: Session, spec: WatchlistSpec) -> str:
    """Create or update the watchlist named ``spec.name``: ``created``, ``updated`` or ``unchanged``."""
    watchlist = session.scalar(select(Watchlist).where(Watchlist.name == spec.name))
    if watchlist is None:
        session.add(Watchlist(**spec.model_dump(), feed_token=secrets.token_urlsafe(24)))
        return "created"
    if WatchlistSpec.of(watchlist) == spec:
        return "unchanged"
    for name, value in spec.model_dump().items():
        setattr(watchlist, name, value)
    return "updated"


def get(session: Session, name: str) -> Watchlist:
    watchlist = session.scalar(select(Watchlist).where(Watchlist.name == name))
    if watchlist is None:
        raise ConfigError(f"no watchlist named {name!r} (see `monitor watchlist list`)")
    return watchlist


def iter_items(session: Session, *conditions: Any, batch: int = 500) -> Any:
    """Stored items newest change first, with their MatchDocs, read in batches."""
    query = select(Item).where(*conditions).order_by(Item.last_changed.desc(), Item.id.desc())
    for item in session.scalars(query.execution_options(yield_per=batch)):
        yield item, match_doc(item, item.source_id)


def matching_items(session: Session, watchlist: CompiledWatchlist, *, limit: int,
                   scan: int = 5000) -> list[Item]:
    """The latest items the watchlist matches (by query or pin), scanning at most ``scan`` items."""
    found: list[Item] = []
    for n, (item, doc) in enumerate(iter_items(session)):
        if n >= scan or len(found) >= limit:
            break
        if watchlist.why_matched(doc):
            found.append(item)
    return found


@dataclass
class Preview:
    days: int
    covered_days: float  # how much of the window the stored polls cover
    since: dt.datetime  # the window's start
    hits: int = 0
    alerts: int = 0
    latest: list[Item] = field(default_factory=list)

    dated: list[dt.datetime] = field(default_factory=list)  # when each hit not muted happened, by its own date

    @property
    def paced(self) -> list[dt.datetime]:
        """The dates the pace is read from: the hits dated in the window, or, when none is (a feed
        captured years ago), all of them: a feed's pace does not depend on the year it was read."""
        return [d for d in self.dated if d >= self.since] or self.dated

    @property
    def per_day(self) -> float:
        """From the stored changes, or the hits' own dates on a fresh install (first polls alert nothing)."""
        from_changes = self.alerts / max(self.covered_days, 1.0)
        paced = self.paced
        if not paced:
            return from_changes
        span = (max(paced) - min(paced)).total_seconds() / 86400
        return max(from_changes, len(paced) / max(span, 1.0))

    @property
    def too_many(self) -> bool:
        return self.per_day > ALERTS_PER_DAY_WARNING


def preview(session: Session, spec: WatchlistSpec, *, days: int = 30, limit: int = 20,
            now: dt.datetime | None = None) -> Preview:
    """Run ``spec`` over the items and changes of the last ``days``: hits and the alerts it would have sent."""
    now = now or utcnow()
    since = now - dt.timedelta(days=days)
    watchlist = CompiledWatchlist.compile(Watchlist(id=0, **spec.model_dump()))
    first_poll = session.scalar(select(func.min(Poll.started_at)).where(Poll.started_at >= since))
    covered = (now - first_poll).total_seconds() / 86400 if first_poll else float(days)
    result = Preview(days=days, covered_days=min(float(days), covered), since=since)
    docs: dict[int, MatchDoc] = {}
    for item, doc in iter_items(session, Item.last_changed >= since):
        docs[item.id] = doc
        if watchlist.why_matched(doc):
            result.hits += 1
            if len(result.latest) < limit:
                result.latest.append(item)
            happened_at = item.published_at or (dt.datetime.combine(item.status_date, dt.time(), dt.UTC)
                                                if item.status_date else None)
            if happened_at is not None and not watchlist.is_muted(doc):  # a muted hit never alerts
                result.dated.append(happened_at)
    # a later provider's report of a move already alerted is a confirmation: it alerted nobody
    confirmations = set(session.scalars(
        select(StatusReport.change_id).join(StatusEvent, StatusEvent.id == StatusReport.event_id)
        .where(StatusReport.reported_at >= since, StatusReport.change_id.is_not(None),
               StatusReport.change_id.is_distinct_from(StatusEvent.first_change_id))))
    changes = select(Change).where(Change.detected_at >= since).order_by(Change.id)
    for change in session.scalars(changes.execution_options(yield_per=500)):
        if change.id in confirmations:
            continue
        doc = docs.get(change.item_id) or match_doc(change.item, change.item.source_id)
        spec_ = ChangeSpec(ChangeType(change.type), change.field, change.old, change.new)
        if watchlist.rule_for(spec_, doc) is not None:
            result.alerts += 1
    return result


BOARD_MOVES = 5


@dataclass
class IdentityView:
    """Every provider's item of one identity, and the moves they reported: ``items show`` and the board."""

    identity: str
    items: list[Item]
    events: list[StatusEvent]

    @property
    def authoritative(self) -> list[Item]:
        """The items that count: a bill followed in full outranks a list row read from its latest action."""
        return [i for i in self.items if not latest_action_only(i.data)] or self.items

    @property
    def status_item(self) -> Item | None:
        """The item whose status the identity has: an authoritative one, most recently moved first."""
        moved = [i for i in self.authoritative if i.status is not None]
        return max(moved, key=lambda i: (i.status_date or dt.date.min, i.last_changed), default=None)

    @property
    def agree(self) -> bool:
        """True when the authoritative providers of each kind give one status."""
        moved = [i for i in self.authoritative if i.status is not None]
        return len({(i.kind, i.status) for i in moved}) == len({i.kind for i in moved})


def identity_view(session: Session, identity: str) -> IdentityView:
    identity = canonical_identity(identity)
    items = session.scalars(select(Item).where(func.lower(Item.identity) == identity)
                            .order_by(Item.kind, Item.source_id, Item.key))
    events = session.scalars(select(StatusEvent).where(StatusEvent.identity == identity).order_by(StatusEvent.id))
    return IdentityView(identity, list(items), list(events))


def provider_view(item: Item) -> dict[str, Any]:
    """One provider's view of an identity: its status on the action's date, and the code in words."""
    return {"source": item.source_id, "key": item.key, "kind": item.kind, "title": item.title,
            "status": item.status, "raw_status": item.raw_status, "raw_status_meaning": meaning(item.raw_status),
            "status_action": item.status_action, "status_date": item.status_date,
            "happened": happened_text(item.status, item.status_date, item.kind),
            "status_changed_at": item.status_changed_at,
            "latest_action_only": latest_action_only(item.data), "url": item.url}


def move_json(event: StatusEvent) -> dict[str, Any]:
    """A status move of an identity: who reported it first (and alerted), who confirmed it, when."""
    first, *later = event.reports
    return {"status": event.status, "status_date": event.status_date,
            "happened": happened_text(event.status, event.status_date), "kind": event.kind,
            "first_source": event.first_source_id, "first_seen_at": event.first_seen_at,
            "alerted": event.first_change_id is not None,
            "confirmed_by": [{"source": r.source_id, "at": r.reported_at, "status_date": r.status_date}
                             for r in later if r.source_id != first.source_id]}


def board(session: Session, watchlist: Watchlist, *, limit: int = 10) -> dict[str, Any]:
    """The remedy board: each pinned identity as every source reports it, the bills followed because
    they matched (tracked like pins, with the notice that says why), then the latest matches."""
    pinned = []
    for identity in watchlist.pinned or []:
        view = identity_view(session, identity)
        current = view.status_item
        pinned.append({"identity": identity, "agree": view.agree, "status": current.status if current else None,
                       "status_source": current.source_id if current else None,
                       "sources": [provider_view(i) for i in view.items],
                       "moves": [move_json(e) for e in view.events[-BOARD_MOVES:]]})
    following = []
    for row in session.scalars(select(FollowedBill).where(FollowedBill.watchlist_id == watchlist.id)
                               .order_by(FollowedBill.followed_at, FollowedBill.id)):
        status = identity_view(session, row.identity).status_item
        following.append({"identity": row.identity, "label": row.label, "title": row.title,
                          "notice": notice(row.label, watchlist.name), "why": row.why, "found_by": row.found_by,
                          "followed_at": row.followed_at, "status": status.status if status else None,
                          "happened": happened_text(status.status, status.status_date) if status else None,
                          "status_source": status.source_id if status else None})
    latest = matching_items(session, CompiledWatchlist.compile(watchlist), limit=limit)
    return WatchlistSpec.of(watchlist).data() | {
        "subscriptions": len(watchlist.subscriptions), "pinned_status": pinned, "following": following,
        "latest": [{"key": i.key, "source": i.source_id, "kind": i.kind, "identity": i.identity, "title": i.title,
                    "status": i.status, "happened": happened_text(i.status, i.status_date, i.kind),
                    "latest_action_only": latest_action_only(i.data), "last_changed": i.last_changed, "url": i.url}
                   for i in latest],
    }
