"""Feed bytes -> plain entries: fastfeedparser first, feedparser as the fallback.

Why two parsers: fastfeedparser (lxml) returns the same entries as feedparser on every real
court feed we have in 1/10 to 1/60 of the time, but it recovers from broken XML by dropping
text silently (``United States & Kahn`` -> ``United States  Kahn``) and trusts a wrong
charset declaration. So the bytes are cleaned first (``clean_feed_bytes``), and feedparser
takes over when the fast parser raises or returns fewer entries than the feed has items.

Nothing is sanitised here: summaries and content keep their HTML, which is sanitised when an
alert is rendered. Everything in this module is pure.

The parsers and dateutil are imported on the first parse, not with the module: source kinds
import this module for their config types, and a run whose feeds all answer 304 parses nothing.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import html
import html.entities
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator

from monitor.errors import ParseError


@functools.cache
def us_zones() -> dict[str, Any]:
    """US zone abbreviations PACER and court sites write (ca7: "CST"/"CDT", PACER: "MST", ...)."""
    from dateutil import tz

    return {
        abbr: tz.gettz(zone)
        for zone, abbrs in {
            "America/New_York": ("EST", "EDT"), "America/Chicago": ("CST", "CDT"),
            "America/Denver": ("MST", "MDT"), "America/Los_Angeles": ("PST", "PDT"),
            "America/Anchorage": ("AKST", "AKDT"), "Pacific/Honolulu": ("HST", "HDT"),
            "Pacific/Guam": ("CHST",), "Pacific/Pago_Pago": ("SST",), "America/Puerto_Rico": ("AST",),
        }.items()
        for abbr in abbrs
    }

ParserName = Literal["fastfeedparser", "feedparser"]


@dataclass(frozen=True)
class FeedEntry:
    """One entry as both parsers agree on it; HTML left as the feed sent it."""

    id: str
    title: str
    link: str
    summary: str
    content: str
    published: dt.datetime | None
    author: str
    categories: tuple[str, ...]
    enclosures: tuple[str, ...]


@dataclass(frozen=True)
class ParsedFeed:
    entries: tuple[FeedEntry, ...]
    parser: ParserName


_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", re.IGNORECASE)
# Characters XML 1.0 forbids; a single NUL makes a strict parser reject the whole feed.
_ILLEGAL_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_STRAY_LESS_THAN = re.compile(r"<(?![A-Za-z_/!?])")
_STRAY_AMPERSAND = re.compile(r"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ITEM_TAG = re.compile(r"<(?:item|entry)[\s>]")
_ITEM_TAG_BYTES = re.compile(_ITEM_TAG.pattern.encode())
# The document element of a feed (RSS 2.0, Atom, RSS 1.0's rdf:RDF) and its end tag.
_ROOT_OPEN = re.compile(rb"<((?:[A-Za-z][\w.-]*:)?(?:rss|feed|RDF))[\s>]")
_ITEM_END = re.compile(rb"</(?:item|entry)\s*>")
_DATE_ELEMENT = re.compile(
    rb"<(?:[A-Za-z][\w.-]*:)?(?:pubDate|date|published|updated|issued|modified|created|lastBuildDate)[\s>/]",
    re.IGNORECASE)


def decode_feed(body: bytes) -> str:
    """Bytes -> text, trusting valid UTF-8 over a declared charset.

    PACER declares ISO-8859-1 but some courts paste UTF-8 into it; a byte string that decodes
    as UTF-8 is almost never really Latin-1. Otherwise the declared charset is read as its
    superset (ISO-8859-1 as cp1252, as browsers do, so 0x96 is a dash, not a control char),
    and bytes that still do not decode become U+FFFD instead of sinking the feed. A declared
    codec that cannot decode a document with replacements (``idna``) is a ``ParseError``.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    declared = _DECLARED_ENCODING.search(body[:200])
    encoding = declared.group(1).decode("ascii").lower() if declared else "cp1252"
    if encoding in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "utf-8", "utf8"):
        encoding = "cp1252"
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:  # a label no codec has: read it as the web does
        return body.decode("cp1252", errors="replace")
    except UnicodeError as exc:  # a codec that cannot read a document at all: idna, punycode, "undefined"
        raise ParseError(f"the feed declares encoding {encoding!r}, which cannot decode it: {exc}") from None


def _named_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    codepoint = html.entities.name2codepoint.get(name)
    return f"&#{codepoint};" if codepoint else f"&amp;{name};"


def _outside_cdata(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_cdata): inside CDATA an ``&`` is literal and must stay."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    while (start := text.find("<![CDATA[", pos)) != -1:
        end = text.find("]]>", start)
        end = len(text) if end == -1 else end + 3
        pieces += [(text[pos:start], False), (text[start:end], True)]
        pos = end
    pieces.append((text[pos:], False))
    return pieces


def _clean(body: bytes) -> tuple[bytes, int]:
    """The cleaned bytes and how many items/entries the feed has (to tell a short parse)."""
    text = _ILLEGAL_XML_CHARS.sub("", decode_feed(body))
    parts, items = [], 0
    for piece, cdata in _outside_cdata(text):
        if not cdata:
            items += len(_ITEM_TAG.findall(piece))
            if "&" in piece:
                piece = _NAMED_ENTITY.sub(_named_entity, _STRAY_AMPERSAND.sub("&amp;", piece))
            piece = _STRAY_LESS_THAN.sub("&lt;", piece)
        parts.append(piece)
    out = "".join(parts).encode("utf-8")
    if _XML_DECL.match(out):
        out = _XML_DECL.sub(b'<?xml version="1.0" encoding="utf-8"?>', out, count=1)
    return out, items


def clean_feed_bytes(body: bytes) -> bytes:
    """Make one bad character cost one character, not the feed: UTF-8 out, XML-legal text.

    Escapes stray ``&`` and ``<`` (``a < b``), turns HTML named entities (``&nbsp;``, undefined in XML) into
    character references, drops characters XML forbids, and re-declares the encoding.
    """
    return _clean(body)[0]


def parse_datetime(value: str | None) -> dt.datetime | None:
    """A feed date in any common shape (RFC 822 with US zone names, ISO 8601) -> aware datetime."""
    if not value or not value.strip():
        return None
    value = " ".join(value.split())
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None:
        from dateutil import parser as dateparser

        try:
            parsed = dateparser.parse(value, tzinfos=us_zones())
        except (ValueError, OverflowError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if value else ""


def _enclosures(entry: Any) -> tuple[str, ...]:
    """Atom ``<link rel="enclosure">`` and RSS ``<enclosure>``, as either parser lists them."""
    hrefs = [link.get("href") for link in entry.get("links") or [] if link.get("rel") == "enclosure"]
    hrefs += [e.get("href") or e.get("url") for e in entry.get("enclosures") or []]
    return tuple(dict.fromkeys(h for h in hrefs if h))


def _from_fast(entry: Any, dated: bool) -> FeedEntry:
    content = entry.get("content") or []
    return FeedEntry(
        id=_text(entry.get("id")),
        title=_text(entry.get("title")),
        link=_text(entry.get("link")),
        summary=(entry.get("description") or "").strip(),
        content=(content[0].get("value") or "").strip() if content else "",
        published=parse_datetime(entry.get("published") or entry.get("updated")) if dated else None,
        author=_text(entry.get("author")),
        categories=tuple(t["term"] for t in entry.get("tags") or [] if t.get("term")),
        enclosures=_enclosures(entry),
    )


def _from_feedparser(entry: Any) -> FeedEntry:
    content = entry.get("content") or []
    published = None
    for name in ("published", "updated"):
        published = parse_datetime(entry.get(name))
        if published is None and entry.get(f"{name}_parsed"):
            stamp = calendar.timegm(entry[f"{name}_parsed"])
            published = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
        if published:
            break
    return FeedEntry(
        id=_text(entry.get("id")),
        title=_text(entry.get("title")),
        link=_text(entry.get("link")),
        summary=(entry.get("summary") or "").strip(),
        content=(content[0].get("value") or "").strip() if content else "",
        published=published,
        author=_text(entry.get("author")),
        categories=tuple(t["term"] for t in entry.get("tags") or [] if t.get("term")),
        enclosures=_enclosures(entry),
    )


def _dated_items(body: bytes) -> list[bool]:
    """Which items carry a date element of their own. Without one, fastfeedparser reads a date
    out of the guid (``33.0`` becomes the year 2033), and a future date fails the poll."""
    return [bool(_DATE_ELEMENT.search(part)) for part in _ITEM_TAG_BYTES.split(body)[1:]]


def parse_with_fastfeedparser(body: bytes) -> ParsedFeed:
    import fastfeedparser

    feed = fastfeedparser.parse(body, include_media=False)
    dated = _dated_items(body)
    if len(dated) != len(feed.entries):  # items not where the split expects: judge the whole feed
        dated = [bool(_DATE_ELEMENT.search(body))] * len(feed.entries)
    entries = tuple(_from_fast(e, d) for e, d in zip(feed.entries, dated))
    return ParsedFeed(entries, "fastfeedparser")


def parse_with_feedparser(body: bytes) -> ParsedFeed:
    import feedparser  # the fallback: loaded only when fastfeedparser rejects a feed

    try:
        feed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    # Its loose parser fails on malformed input in many ways, each a "not readable" answer:
    # &#xD800; raises ValueError, a stray </width> in an <image> int(None) (TypeError), and
    # <item><link></item></link> a KeyError from its own bookkeeping.
    except Exception as exc:  # noqa: BLE001 -- any failure here is the input's fault, not ours
        raise ParseError(f"not a readable feed: {type(exc).__name__}: {str(exc)[:200]}") from None
    if not feed.entries and feed.get("bozo") and not feed.get("feed"):
        raise ParseError(f"not an RSS/Atom feed: {feed.get('bozo_exception')}")
    entries = tuple(_from_feedparser(e) for e in feed.entries)
    return ParsedFeed(entries, "feedparser")


def _items_before_cut(body: bytes) -> int | None:
    """None when the feed's document element is closed; else how many items were closed before
    the body was cut off (a server that stopped writing still answers 200). Both parsers recover
    the half item after them, which has lost its guid or most of its title, so read as it stands
    it would be a "new" entry under another key; the next whole answer brings it."""
    root = _ROOT_OPEN.search(body)
    if root is None or re.search(rb"</\s*" + re.escape(root.group(1)) + rb"\s*>", body[root.end():]):
        return None
    return len(_ITEM_END.findall(body))


def parse_feed(body: bytes) -> ParsedFeed:
    """Clean the bytes, parse, and leave out a half item the body was cut off in."""
    cleaned, expected = _clean(body)
    parsed = _parse_cleaned(cleaned, expected)
    whole = _items_before_cut(cleaned)
    return parsed if whole is None else ParsedFeed(parsed.entries[:whole], parsed.parser)


def _parse_cleaned(cleaned: bytes, expected: int) -> ParsedFeed:
    """Parse fast, fall back to feedparser when the fast parse looks short."""
    try:
        fast = parse_with_fastfeedparser(cleaned)
    except Exception as exc:  # noqa: BLE001 - any failure of the fast path means "use the careful one"
        fast, refusal = None, exc
    if fast is not None and len(fast.entries) >= expected:
        return fast
    slow = parse_with_feedparser(cleaned)
    if fast is None and not slow.entries:
        # An HTML error or login page "parses" as an empty feed in feedparser: say what it is.
        raise ParseError(f"not an RSS/Atom feed: {refusal}")
    if fast is not None and len(fast.entries) > len(slow.entries):
        return fast
    return slow


def check_zone(zone: str | None) -> str | None:
    """A config validator: an IANA zone name that exists here, or None."""
    if zone is not None:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r} (an IANA name such as America/Chicago)") from exc
    return zone


Timezone = Annotated[str | None, AfterValidator(check_zone)]


def local_date(moment: dt.datetime, zone: str | None) -> dt.date:
    """The calendar date of ``moment`` where the court sits (``zone``), else in UTC.

    A 9 p.m. Central filing is the next day in UTC; sources name their court's zone.
    """
    return moment.astimezone(ZoneInfo(zone) if zone else dt.UTC).date()


_BLOCK_TAG = re.compile(r"</?(?:br|p|div|li|tr|td|th|h[1-6]|ul|ol|table)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def plain_text(fragment: str) -> str:
    """An HTML fragment as one line of text, for matching and summaries (not for display)."""
    return " ".join(html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", fragment))).split())
