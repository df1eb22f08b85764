"""The Source protocol: what every source kind implements, and the values it passes on.

A source kind is one module under ``monitor/sources/`` with one class that has:

- ``kind``: the name used in sources.yaml (``rss``, ``congress_bill``, ...);
- ``Config``: a pydantic model of its sources.yaml entry (``extra="forbid"``, ``kind`` a Literal);
- ``fetch(client, state) -> Fetched``: I/O only, through the per-poll ``PollClient`` that owns
  conditional requests, budgets and retries. An unchanged answer (304 or same body hash) is
  returned as ``Fetched(unchanged=True)``, never raised;
- ``parse(fetched) -> list[ItemRecord]``: pure: bytes in, normalised items out, so a golden
  test needs nothing but a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from monitor.durations import Cron, Duration
from monitor.errors import MonitorError, error_kind

if TYPE_CHECKING:
    from monitor.fetch import PollClient

ItemKind = Literal["bill", "opinion", "docket", "entry", "document", "article"]


def _fetchable(url: str) -> str:
    """A URL the fetcher can ask: http(s), a host, a valid port, no whitespace."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port out of range raises here
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"{url!r} is not an http(s) URL with a host")
    return url


FeedUrl = Annotated[str, AfterValidator(_fetchable)]


MAX_BODY_CAP = 512 * 1024 * 1024  # no feed or API page comes near; a larger cap is no cap at all


def _body_cap(value: int) -> int:
    if value > MAX_BODY_CAP:
        raise ValueError(f"{value} bytes is more than the largest body cap, {MAX_BODY_CAP // 1024 // 1024} MB")
    return value


class SourceConfig(BaseModel):
    """Fields every source entry in sources.yaml has; each kind subclasses this."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")
    kind: str
    enabled: bool = True
    interval: Duration | None = None  # "15m", "1h", "1d"; None: the defaults block decides
    cron: Cron | None = None
    alert_on_first_poll: bool = False
    expect_items_within: Duration | None = None  # "14d": silent-source check
    max_bytes: Annotated[int, AfterValidator(_body_cap)] | None = Field(default=None, gt=0)  # bytes
    title: str | None = None

    def expand(self) -> list[SourceConfig]:
        """The sources this entry stands for: itself, or (``govinfo_courts``) one per court."""
        return [self]

    def discovers(self) -> bool:
        """Finds bills by topic, not by number: the new ones a watchlist matches can be followed."""
        return False

    def requests_per_poll(self) -> int:
        """The most requests one poll can spend, for the budget plan: one conditional GET unless a kind says more."""
        return 1


@dataclass(frozen=True)
class Page:
    """One HTTP response body kept for parsing; ``label`` names the request in multi-request kinds."""

    url: str
    body: bytes
    content_type: str = ""
    label: str = ""


@dataclass(frozen=True)
class Fetched:
    """Everything ``parse`` needs, gathered by ``fetch``."""

    pages: tuple[Page, ...] = ()
    unchanged: bool = False
    watermark: str | None = None  # new incremental watermark; stored only if the poll commits
    # what a kind following several things (bills) could not get this time, "label: error" each:
    # the rest is stored and alerted, and the poll still counts as a failure of the source
    missed: tuple[str, ...] = ()

    @property
    def body(self) -> bytes:
        return self.pages[0].body if self.pages else b""

    def page(self, label: str) -> Page | None:
        return next((p for p in self.pages if p.label == label), None)

    @classmethod
    def owing(cls, pages: list[Page], **where: Any) -> Fetched:
        """What a poll got when pages remain that it could not reach: where they start (``where``,
        plain JSON) goes in the watermark, which ``FetchState.owed`` reads back on the next poll."""
        return cls(pages=tuple(pages), watermark=json.dumps(where))


def fetched_despite(pages: list[Page], missed: list[tuple[str, MonitorError]], wanted: int) -> Fetched:
    """What a kind following ``wanted`` things got: with every one failed, the first failure is the
    poll's (there is nothing to store); else what came, and which did not, named."""
    if missed and len(missed) == wanted:
        raise missed[0][1]
    return Fetched(pages=tuple(pages), unchanged=not pages and not missed,
                   missed=tuple(f"{error_kind(exc)}: {label}: {exc}" for label, exc in missed))


@dataclass
class FetchState:
    """What a source knows from earlier polls when it fetches again."""

    source_id: str
    watermark: str | None = None  # e.g. the newest date seen; incremental kinds fetch only what is newer

    def owed(self) -> dict[str, Any] | None:
        """The pages the last poll could not reach, as it left them in the watermark (a JSON
        object, where a plain watermark owes nothing): a poll fetches them before what is newer."""
        return json.loads(self.watermark) if self.watermark and self.watermark.startswith("{") else None


@dataclass
class ItemRecord:
    """One normalised item, the shape every parser returns.

    ``key`` is unique across all sources (``rss:<source>:<guid>``, ``congress:119:s:3470``);
    ``identity`` is the canonical thing it is about (``us/119/s/3470``, ``ca9/24-1234``) so
    different providers' views of one bill or case are recognised as the same.
    """

    key: str
    kind: str
    title: str
    url: str | None = None
    identity: str | None = None
    jurisdiction: str | None = None
    court: str | None = None
    status: str | None = None
    raw_status: str | None = None
    status_action: str | None = None
    status_date: dt.date | None = None
    published_at: dt.datetime | None = None
    summary: str | None = None
    text: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    # Fields whose change is a "field" change; status has its own change type.
    TRACKED_FIELDS: ClassVar[tuple[str, ...]] = (
        "title", "url", "identity", "jurisdiction", "court", "status_date", "summary", "text",
        "raw_status", "status_action", "published_at",
    )

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready dict of every field: what an item version stores.

        A shallow copy (``data`` copied one level), not ``dataclasses.asdict``: its recursive
        deepcopy was the largest cost of storing a cold poll."""
        out = {name: getattr(self, name) for name in _FIELD_NAMES}
        out["data"] = dict(self.data)
        for name in ("status_date", "published_at"):
            value = out[name]
            out[name] = value.isoformat() if value is not None else None
        return out


def snapshot_hash(snapshot: dict[str, Any]) -> str:
    """A hash over a record's normalised content (its ``snapshot()``): equal hash, no new version."""
    payload = json.dumps(snapshot, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_FIELD_NAMES = tuple(f.name for f in fields(ItemRecord))


class Source(Protocol):
    """One source kind. See the module docstring for the contract."""

    kind: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]
    provider: ClassVar[str]  # whose quota a request spends: "courtlistener", "congress", ...
    required_env: ClassVar[tuple[str, ...]]  # API keys; missing -> skipped with one warning

    @property
    def config(self) -> SourceConfig: ...  # read-only here, so a kind may narrow it to its own Config

    def __init__(self, config: SourceConfig) -> None: ...

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched: ...

    def parse(self, fetched: Fetched) -> list[ItemRecord]: ...


class BaseSource:
    """Shared constructor and defaults; kinds subclass it and fill in fetch/parse."""

    kind: ClassVar[str]
    Config: ClassVar[type[SourceConfig]]
    provider: ClassVar[str] = "web"
    required_env: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: SourceConfig) -> None:
        self.config = config


async def fetch_page(client: PollClient, url: str, *, label: str = "") -> Fetched:
    """The whole fetch of a one-page kind: a conditional GET, unchanged when the server says so."""
    response = await client.get(url)
    if response.unchanged:
        return Fetched(unchanged=True)
    return Fetched(pages=(Page(response.url, response.body, response.content_type, label=label),))
