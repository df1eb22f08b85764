"""``html``: any web page, read by CSS selectors (BeautifulSoup + lxml).

Source: one page URL. Config: ``item`` selects one element per item; ``fields`` map ``id``,
``title``, ``url``, ``date``, ``status`` to a selector inside it (``"td:nth-of-type(4) a"``
for the text, ``"… a@href"`` for an attribute, ``"@href"`` for the item's own attribute);
``extra`` does the same for values kept in ``data``. Relative links are resolved against
the page URL. An element without a title (a header row) is not an item; a page where the
item selector matches nothing is a parse error, because a redesigned page must not look
like a quiet one.

Presets fill in the selectors for known pages (``preset: scotus_slip_opinions``; any field
given in the config wins). ``{term}`` in the url is the Supreme Court's October Term in progress
(``…/slipopinion/{term}``), so the source follows the Court from term to term; the new term's table
is empty from October until the Court's first decision, a quiet page, not an error. robots.txt is the
fetch layer's business, not this module's.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.errors import FetchError, ParseError
from monitor.fetch import PollClient
from monitor.normalise.casenames import case_name
from monitor.normalise.identity import canonical_identity
from monitor.redact import public_url
from monitor.sources.base import (
    BaseSource,
    FeedUrl,
    Fetched,
    FetchState,
    ItemRecord,
    SourceConfig,
    fetch_page,
)

if TYPE_CHECKING:  # bs4 loads when a page is parsed, not at every CLI start
    from bs4 import Tag

# supremecourt.gov/opinions/slipopinion/<yy>: one table row per opinion, columns
# R-number, date (M/D/YY), docket, name (link to the PDF), justice's initials, citation.
PRESETS: dict[str, dict[str, Any]] = {
    "scotus_slip_opinions": {
        "item": "table.table-bordered tr",
        "fields": {"id": "td:nth-of-type(3)", "title": "td:nth-of-type(4) a",
                   "url": "td:nth-of-type(4) a@href", "date": "td:nth-of-type(2)"},
        "extra": {"release": "td:nth-of-type(1)", "justice": "td:nth-of-type(5)",
                  "citation": "td:nth-of-type(6)"},
        "date_formats": ["%m/%d/%y"],
        "item_kind": "opinion",
        "status": "decided",
        "court": "scotus",
        "jurisdiction": "us",
        "identity": "scotus/{id}",
    },
}


def check_selector(selector: str) -> str:
    """A field selector (``css`` or ``css@attr``) whose CSS compiles: a typo is a config error
    at load time, not a parse failure on every poll."""
    import soupsieve

    css = selector.partition("@")[0]
    if css.strip():
        try:
            soupsieve.compile(css)
        except soupsieve.SelectorSyntaxError as exc:
            raise ValueError(f"invalid CSS selector {css!r}: {str(exc).splitlines()[0]}") from None
    return selector


class HtmlFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _selectors(cls, value: str | None) -> str | None:
        return None if value is None else check_selector(value)

    id: str | None = None
    title: str
    url: str | None = None
    date: str | None = None
    status: str | None = None


class HtmlConfig(SourceConfig):
    kind: Literal["html"] = "html"
    url: FeedUrl
    preset: Literal["scotus_slip_opinions"] | None = None
    item: str
    fields: HtmlFields
    extra: dict[str, str] = Field(default_factory=dict)
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d", "%m/%d/%Y", "%B %d, %Y"])
    item_kind: Literal["article", "opinion", "document", "entry", "docket", "bill"] = "article"
    status: str | None = None  # the normalised status every item gets; the ``status`` field is kept raw
    court: str | None = None
    jurisdiction: str | None = None
    identity: str | None = None  # a template over the fields, e.g. "scotus/{id}"

    @field_validator("item")
    @classmethod
    def _item_selector(cls, value: str) -> str:
        return check_selector(value)

    @field_validator("extra")
    @classmethod
    def _extra_selectors(cls, value: dict[str, str]) -> dict[str, str]:
        for selector in value.values():
            check_selector(selector)
        return value

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") in PRESETS:
            return {**PRESETS[data["preset"]], **data}
        return data


_SPACE = re.compile(r"\s+")
# Typographic quotes as plain ones, as juriscraper's clean_string does, so "Jack Daniel's"
# finds the case whichever apostrophe the page used.
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\xa0": " "})


def select_value(element: Tag, selector: str) -> str | None:
    """The stripped text (or ``@attr``) of the first match of ``selector`` inside ``element``."""
    css, _, attr = selector.partition("@")
    target = element.select_one(css) if css.strip() else element
    if target is None:
        return None
    value = target.get(attr) if attr else target.get_text(" ")
    if isinstance(value, list):
        value = " ".join(value)
    text = _SPACE.sub(" ", (value or "").translate(_QUOTES)).strip()
    return text or None


def parse_date(text: str | None, formats: list[str]) -> dt.date | None:
    if not text:
        return None
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ParseError(f"date {text!r} matches none of the formats {formats}")


def _identity(template: str | None, values: dict[str, Any]) -> str | None:
    if not template:
        return None
    try:  # as every source writes identities, lower-case: the Court's 24A1007 is CourtListener's 24a1007
        return canonical_identity(template.format(**values))
    except (KeyError, IndexError) as exc:
        raise ParseError(f"identity template {template!r} names an unknown field {exc}") from None


class HtmlSource(BaseSource):
    kind: ClassVar[str] = "html"
    Config: ClassVar[type[SourceConfig]] = HtmlConfig
    config: HtmlConfig

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        """The page; ``{term}`` in its url is the Supreme Court's October Term in progress (``26``
        from October 2026), or the last one while the new term's page does not exist yet."""
        url = self.config.url
        if "{term}" not in url:
            return await fetch_page(client, url)
        today = dt.date.today()
        term = today.year if today.month >= 10 else today.year - 1
        try:
            return await fetch_page(client, url.replace("{term}", f"{term % 100:02d}"))
        except FetchError as exc:
            if exc.status != 404:
                raise
            return await fetch_page(client, url.replace("{term}", f"{(term - 1) % 100:02d}"))

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        from bs4 import BeautifulSoup

        cfg = self.config
        soup = BeautifulSoup(fetched.body, "lxml")
        elements = soup.select(cfg.item)
        if not elements:
            raise ParseError(f"the item selector {cfg.item!r} matches nothing on the page")
        records: dict[str, ItemRecord] = {}
        base = public_url(cfg.url)  # a link is resolved against the page without its credentials
        for element in elements:
            values = {name: select_value(element, sel) for name, sel in cfg.fields.model_dump().items() if sel}
            title = values.get("title")
            if not title:
                continue
            extra = {name: select_value(element, sel) for name, sel in cfg.extra.items()}
            url = urljoin(base, values["url"]) if values.get("url") else None
            item_id = values.get("id") or url or title
            when = parse_date(values.get("date"), cfg.date_formats)
            if cfg.court or cfg.item_kind in ("opinion", "docket"):  # a caption: the court's spelling
                extra = {**extra, "raw_title": title}
                title = case_name(title) or title
            template_values = {**extra, **values, "id": item_id}
            record = ItemRecord(
                key=f"html:{cfg.id}:{item_id}",
                kind=cfg.item_kind,
                title=title,
                url=url,
                identity=_identity(cfg.identity, template_values),
                jurisdiction=cfg.jurisdiction,
                court=cfg.court,
                status=cfg.status,
                raw_status=values.get("status"),
                status_date=when,
                data=extra,
            )
            if record.key in records:
                raise ParseError(f"two items on the page have the id {item_id!r}; choose an id field that is unique")
            records[record.key] = record
        if not records and "{term}" not in cfg.url:  # a term's table is empty until its first decision
            raise ParseError(f"{len(elements)} elements match {cfg.item!r} but none has a title ({cfg.fields.title!r})")
        return list(records.values())
