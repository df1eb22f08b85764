"""``rss``: any RSS 0.9x/1.0/2.0 or Atom feed, with flavours for court opinion feeds.

Source: a feed URL. Format: parsed by ``monitor.sources.feedparse`` (fastfeedparser, feedparser
as the fallback); the bytes are cleaned first so a stray ``&`` or a bad byte costs one
character, never the feed. HTML in summaries is kept as sent and sanitised at render time.

``flavor`` (default ``generic``) says how to read a court's entries. Each flavour turns an entry
into an opinion (kind ``opinion``, status ``decided``, the precedential status as raw status,
``identity`` = ``<court>/<docket number>`` when the docket number is known):

- ``courtlistener``: CourtListener Atom feeds (``/feed/court/<court>/``, ``/feed/search/?q=…``):
  title = case name, link = ``/opinion/<id>/<slug>/``, author = the court's name, category =
  precedential status, enclosure = the PDF; dated at midnight Pacific (cl/search/feeds.py).
  Docket feeds (``/docket/<id>/feed/``, cl/opinion_page/feeds.py) carry docket entries: title
  ``Entry #12 in <case name>, <docket number>`` (``Minute entry from <date> in …`` when
  unnumbered), description = the entry text; they are read as kind ``entry``, status ``filed``.
- ``ca7``: 7th Cir. opinions RSS; everything is in the description: ``FinalOpinion in case#
  21-2913 <case name> (cv) {<judge>} [uploaded: …]``; pubDate wrapped in newlines with
  CST/CDT zone names; the guid is not a URL. All are published opinions.
- ``ca9``: 9th Cir. opinions (``/decisions/opinions/index.xml``) and memoranda feeds (Hugo):
  title = the caption in capitals, link = the PDF named by the docket number, pubDate a bare
  ``12/30/2022``; memoranda are unpublished.
- ``cadc``: D.C. Cir. opinions RSS (``10-1004 | ATK Launch Systems, Inc. v. EPA``) and
  judgments RSS (``Judgment in Case 19-5333, <case name>``, unpublished); the link is the PDF.
- ``ca10``: 10th Cir. "Daily Decisions" (Drupal): ``Docket#: 24-2057 - Date Issued: … -
  Published Opinion``; dc:creator names the lower court; the link is the PDF.
- ``cafc``: Fed. Cir. WordPress feed: title ``20-1046: CAPTION [OPINION], Precedential``,
  caption in capitals (title-cased here), the PDF is the first link in content:encoded.

Every court item's caption goes through ``monitor.normalise.casenames.case_name`` (a generic
feed's too, when it names a ``court``, its ``item_kind`` is ``opinion`` or ``docket``, or it is a
court's own feed on ``*.uscourts.gov`` or supremecourt.gov); the title as sent is kept in
``data["raw_title"]``. The other circuits (ca1-ca6, ca8, ca11) publish their opinions as HTML
pages or through GovInfo, not as RSS we found a sample of.

Entries without a guid/id fall back to their link, then to a hash of title+date, so a feed that
never set ids still gets stable keys; an entry that drops out of a feed is not a deletion. An entry
of CourtListener's feeds is keyed by its link alone (``rss:courtlistener:<link>``), whichever feed
brought it: the feeds overlap, and one opinion is one item.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import model_validator

from monitor.fetch import PollClient
from monitor.normalise.casenames import case_name
from monitor.sources.base import (
    BaseSource,
    FeedUrl,
    Fetched,
    FetchState,
    ItemRecord,
    SourceConfig,
    fetch_page,
)
from monitor.sources.courtlistener import FEED_KEY, SITE
from monitor.sources.feedparse import FeedEntry, Timezone, local_date, parse_feed, plain_text

Flavor = Literal["generic", "courtlistener", "ca7", "ca9", "ca10", "cadc", "cafc"]


COURT_KINDS = ("opinion", "docket")  # items whose title is a case caption
# A court's own host: ca9.uscourts.gov, media.cadc.uscourts.gov, ecf.nysd.uscourts.gov (not the
# judiciary's news site www.uscourts.gov), supremecourt.gov.
_COURT_HOST = re.compile(r"(?:^|\.)(?:(?:ca\d{1,2}|cadc|cafc|cit|jpml|[a-z]{2}[a-z]?[db])\.uscourts\.gov"
                         r"|supremecourt\.gov)$")


class RssConfig(SourceConfig):
    kind: Literal["rss"] = "rss"
    url: FeedUrl
    flavor: Flavor = "generic"
    item_kind: Literal["article", "opinion", "document", "entry", "docket", "bill"] | None = None
    jurisdiction: str | None = None
    court: str | None = None
    timezone: Timezone = None  # IANA zone giving the entry's date; flavours know their court's

    @model_validator(mode="after")
    def _flavour_defaults(self) -> RssConfig:
        defaults = FLAVOR_DEFAULTS.get(self.flavor, {})
        self.court = self.court or defaults.get("court")
        self.timezone = self.timezone or defaults.get("timezone")
        if self.flavor != "generic":
            self.jurisdiction = self.jurisdiction or "us"
        if self.item_kind is None:
            docket_feed = self.flavor == "courtlistener" and "/docket/" in self.url
            self.item_kind = "article" if self.flavor == "generic" else "entry" if docket_feed else "opinion"
        return self

    @property
    def about_cases(self) -> bool:
        """Whether entry titles are case captions: a court is named, the items are opinions or
        dockets, or the feed is a court's own (``*.uscourts.gov``, supremecourt.gov)."""
        host = urlsplit(self.url).hostname or ""
        return bool(self.court) or self.item_kind in COURT_KINDS or bool(_COURT_HOST.search(host))


FLAVOR_DEFAULTS: dict[str, dict[str, str]] = {
    "courtlistener": {"timezone": "America/Los_Angeles"},
    "ca7": {"court": "ca7", "timezone": "America/Chicago"},
    "ca9": {"court": "ca9", "timezone": "UTC"},  # pubDate is a bare date (12/30/2022): read as sent
    "cadc": {"court": "cadc", "timezone": "America/New_York"},
    "ca10": {"court": "ca10", "timezone": "America/Denver"},
    "cafc": {"court": "cafc", "timezone": "America/New_York"},
}


@dataclass(frozen=True)
class Opinion:
    """What a court flavour reads out of one entry (a CourtListener docket entry too)."""

    case_name: str
    docket_number: str | None
    download_url: str | None
    precedential_status: str | None
    extra: dict[str, Any] = field(default_factory=dict)


_CL_DOCKET_ENTRY = re.compile(r"^(?:Entry #(?P<number>\d+)|Minute entry from \S+) in (?P<docket>.+)$")
_DOCKET_NUMBER_TAIL = re.compile(r"^(?P<name>.+), (?P<number>[\w:.-]*\d[\w:.-]*)$")


def _courtlistener(entry: FeedEntry) -> Opinion:
    docket_entry = _CL_DOCKET_ENTRY.match(entry.title)
    if docket_entry:
        docket = docket_entry.group("docket")
        tail = _DOCKET_NUMBER_TAIL.match(docket)
        return Opinion(
            case_name=tail.group("name") if tail else docket,
            docket_number=tail.group("number") if tail else None,
            download_url=entry.enclosures[0] if entry.enclosures else entry.link,
            precedential_status=None,
            extra={"entry_number": docket_entry.group("number")},
        )
    return Opinion(
        case_name=entry.title,
        docket_number=None,
        download_url=entry.enclosures[0] if entry.enclosures else entry.link,
        precedential_status=entry.categories[0] if entry.categories else None,
        extra={"court_name": entry.author,
               "opinion_id": m.group(1) if (m := re.search(r"/opinion/(\d+)/", entry.link)) else None},
    )


def _ca7(entry: FeedEntry) -> Opinion:
    text = plain_text(entry.summary)
    match = re.search(r"case#\s*(\S+)\s+(.*?)\s*(?:\(|\{|\[|$)", text)
    judge = re.search(r"\{(.*?)\}", text)
    author = judge.group(1).strip() if judge else ""
    per_curiam = "curiam" in author.lower()
    return Opinion(
        case_name=match.group(2) if match else entry.title,
        docket_number=match.group(1) if match else None,
        download_url=entry.link,
        precedential_status="Published",
        extra={"judge": "" if per_curiam else author, "author": "" if per_curiam else author, "per_curiam": per_curiam},
    )


def _ca9(entry: FeedEntry) -> Opinion:
    return Opinion(
        case_name=entry.title,
        docket_number=entry.link.rsplit("/", 1)[-1].removesuffix(".pdf") or None,
        download_url=entry.link,
        precedential_status="Unpublished" if "/memoranda/" in entry.link else "Published",
    )


_CADC_TITLE = re.compile(r"^(?:(?P<docket>[\w-]+) \| |Judgment in Case (?P<judgment>[\w-]+), )(?P<name>.+)$")


def _cadc(entry: FeedEntry) -> Opinion:
    match = _CADC_TITLE.match(entry.title)
    return Opinion(
        case_name=match.group("name") if match else entry.title,
        docket_number=(match.group("docket") or match.group("judgment")) if match else None,
        download_url=entry.link,
        precedential_status="Unpublished" if "/judgments." in entry.link else "Published",
    )


def _ca10(entry: FeedEntry) -> Opinion:
    text = plain_text(entry.summary)
    docket = re.search(r"Docket#:\s*(\S+)", text)
    return Opinion(
        case_name=entry.title,
        docket_number=docket.group(1) if docket else None,
        download_url=entry.link,
        precedential_status="Published" if "Published Opinion" in text else "Unpublished",
        extra={"lower_court": entry.author.split("-")[0].strip()},
    )


def _cafc(entry: FeedEntry) -> Opinion:
    head = entry.title.split(" [")[0]
    docket, _, caption = head.partition(": ")
    href = re.search(r"""<a\s[^>]*href=["']([^"']+)["']""", entry.content or entry.summary)
    lowered = entry.title.lower()
    status = "Unpublished" if "nonprecedential" in lowered else "Published" if "precedential" in lowered else None
    return Opinion(
        case_name=caption or entry.title,
        docket_number=docket.strip() if caption else None,
        download_url=urljoin("https://cafc.uscourts.gov/", href.group(1)) if href else entry.link,
        precedential_status=status,
    )



FLAVORS: dict[str, Callable[[FeedEntry], Opinion]] = {
    "courtlistener": _courtlistener, "ca7": _ca7, "ca9": _ca9, "ca10": _ca10, "cadc": _cadc, "cafc": _cafc,
}


def entry_id(entry: FeedEntry) -> str:
    for value in (entry.id, entry.link):
        if value:
            return value
    stamp = entry.published.isoformat() if entry.published else ""
    return "sha1:" + hashlib.sha1(f"{entry.title}|{stamp}".encode()).hexdigest()


def item_key(source_id: str, entry: FeedEntry) -> str:
    """``rss:<source id>:<entry id>``, but ``rss:courtlistener:<link>`` for an entry of CourtListener's
    feeds: its court feed and search feeds overlap (an opinion on a Bivens claim that turns on
    qualified immunity is in both shipped search feeds), and one opinion is one item, one alert."""
    ident = entry_id(entry)
    return f"{FEED_KEY}{ident}" if ident.startswith(f"{SITE}/") else f"rss:{source_id}:{ident}"


class RssSource(BaseSource):
    kind: ClassVar[str] = "rss"
    Config: ClassVar[type[SourceConfig]] = RssConfig
    config: RssConfig

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        return await fetch_page(client, self.config.url)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        read = FLAVORS.get(self.config.flavor)
        return [self._court_item(e, read(e)) if read else self._generic(e) for e in parse_feed(fetched.body).entries]

    def _generic(self, entry: FeedEntry) -> ItemRecord:
        """An entry of a feed without a flavour; one about a case still gets the court's spelling."""
        record = self._base(entry)
        if self.config.about_cases and entry.title:
            record.title = case_name(entry.title) or record.title
            record.data.update({"case_name": record.title, "raw_title": entry.title})
        return record

    def _base(self, entry: FeedEntry) -> ItemRecord:
        published = entry.published.astimezone(dt.UTC) if entry.published else None
        kind = self.config.item_kind or "article"
        return ItemRecord(
            key=item_key(self.config.id, entry),
            kind=kind,
            title=entry.title or "(untitled)",
            url=entry.link or None,
            jurisdiction=self.config.jurisdiction,
            court=self.config.court,
            status="published" if kind in ("article", "document") else None,
            status_date=local_date(published, self.config.timezone) if published else None,
            published_at=published,
            summary=entry.summary or None,
            data={"author": entry.author or None, "categories": list(entry.categories)},
        )

    def _court_item(self, entry: FeedEntry, opinion: Opinion) -> ItemRecord:
        record = self._base(entry)
        name = case_name(opinion.case_name) or record.title
        court = self.config.court
        record.url = opinion.download_url or record.url
        record.identity = f"{court}/{opinion.docket_number}" if court and opinion.docket_number else None
        record.status_action = plain_text(entry.title) or None
        if record.kind == "opinion":
            record.title = name
            record.status = "decided"
            record.raw_status = opinion.precedential_status
        else:  # a docket entry: its title names the entry and the case, its summary what was filed
            record.status = "filed"
            record.status_action = plain_text(entry.summary) or record.status_action
        record.data.update({
            "case_name": name,
            "raw_title": entry.title or None,
            "docket_number": opinion.docket_number,
            "precedential_status": opinion.precedential_status,
            "download_url": opinion.download_url,
            "link": entry.link or None,
            **opinion.extra,
        })
        return record
