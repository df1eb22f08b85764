"""``govinfo_courts``: every federal court's opinions through GovInfo's USCOURTS RSS feeds, no key.

Source: ``{base_url}/uscourts-<court>.xml``, one feed per court holding its 100 most recently
published opinion packages (not sorted by date). GovInfo sends ``Last-Modified``, so a poll of
an unchanged feed is one conditional GET answered 304.

Config: ``courts: all`` (the courts of appeals and the district courts; ``bankruptcy: true``
adds the bankruptcy courts) or a list of courts and groups: ``courts: [ca9, ca5, txsd]``,
``courts: [appellate]``, ``courts: [district, cit]``, ``courts: [bankruptcy]``. The lists are the
federal courts themselves (public fact, in PACER's court codes, which GovInfo's feed names use):
13 courts of appeals, 94 district courts and 91 bankruptcy courts (every district but the three
territorial ones, whose district courts hear bankruptcy cases). GovInfo's own OPML of judicial
feeds (usgpo/rss ``opml/judicial-publications.opml``) lists only the 63 districts that published
when it was written; courts have joined since (``USCOURTS-nysd-…`` and ``USCOURTS-ded-…``
packages exist, neither is in the OPML). Publishing to GovInfo is each court's choice, so a court
with no feed answers 404: that court's source fails with a line saying so, and backs off, while
the others run. ``courts: all`` becomes
one source per court when sources.yaml is loaded (``<id>.<court>``), so each court has its
own schedule, health and conditional-request state, and one court's outage fails only itself.

Format: RSS 2.0; each item's ``guid`` is the package id (``USCOURTS-ca9-24-01234``), ``link``
its details page, ``title`` the case name (sometimes after the docket number), ``pubDate`` when
GovInfo published it, ``description`` HTML linking the PDF. An entry missing fields still counts
when any of guid, link or PDF link names the package; Atom feeds parse the same way. A case is
one package; each opinion in it is a granule (``…-0``, ``…-1``), so an item is keyed by the
granule the entry's guid, link or PDF names (else the package): a second opinion in a known case
is a new item. The docket number comes from the package id: ``USCOURTS-nysd-1_22-cv-01461`` ->
``1:22-cv-01461``, ``USCOURTS-ca9-24-01234`` -> ``24-01234``. The identity is
``<court>/<docket number>`` as CourtListener and PACER write it: appellate numbers without
GovInfo's zero padding (``ca9/24-1234``, PACER's ``20-4482``), and GovInfo's ``ca13`` (the
Federal Circuit) as CourtListener's ``cafc``.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from monitor.errors import FetchError
from monitor.fetch import PollClient
from monitor.sources.base import BaseSource, Fetched, FetchState, ItemRecord, Page, SourceConfig
from monitor.sources.feedparse import FeedEntry, parse_feed, plain_text

RSS = "https://www.govinfo.gov/rss"
DETAILS = "https://www.govinfo.gov/app/details"
CONTENT = "https://www.govinfo.gov/content/pkg"

APPELLATE: tuple[str, ...] = (
    "ca1", "ca2", "ca3", "ca4", "ca5", "ca6", "ca7", "ca8", "ca9", "ca10", "ca11", "cadc", "ca13")
DISTRICT: tuple[str, ...] = (
    "almd", "alnd", "alsd", "akd", "azd", "ared", "arwd", "cacd", "caed", "cand", "casd", "cod", "ctd", "ded",
    "dcd", "flmd", "flnd", "flsd", "gamd", "gand", "gasd", "gud", "hid", "idd", "ilcd", "ilnd", "ilsd", "innd",
    "insd", "iand", "iasd", "ksd", "kyed", "kywd", "laed", "lamd", "lawd", "med", "mdd", "mad", "mied", "miwd",
    "mnd", "msnd", "mssd", "moed", "mowd", "mtd", "ned", "nvd", "nhd", "njd", "nmd", "nyed", "nynd", "nysd",
    "nywd", "nced", "ncmd", "ncwd", "ndd", "nmid", "ohnd", "ohsd", "oked", "oknd", "okwd", "ord", "paed", "pamd",
    "pawd", "prd", "rid", "scd", "sdd", "tned", "tnmd", "tnwd", "txed", "txnd", "txsd", "txwd", "utd", "vtd",
    "vid", "vaed", "vawd", "waed", "wawd", "wvnd", "wvsd", "wied", "wiwd", "wyd")
TERRITORIAL: tuple[str, ...] = ("gud", "nmid", "vid")  # their district courts hear bankruptcy cases
BANKRUPTCY: tuple[str, ...] = tuple(f"{court[:-1]}b" for court in DISTRICT if court not in TERRITORIAL)
NATIONAL: tuple[str, ...] = ("cit",)
GROUPS: dict[str, tuple[str, ...]] = {"appellate": APPELLATE, "district": DISTRICT, "bankruptcy": BANKRUPTCY}

# GovInfo court code -> CourtListener's, where they differ.
COURTLISTENER_ID: dict[str, str] = {"ca13": "cafc"}

_COURT_CODE = re.compile(r"^[a-z]{2,4}\d{0,2}$")
_PACKAGE = re.compile(r"USCOURTS-(?P<court>[a-z0-9]+)-(?P<case>[0-9A-Za-z_.-]+)(?=$|[/?#])")
_DISTRICT_CASE = re.compile(r"^(?P<office>\d+)_(?P<year>\d{2})-(?P<type>[a-z]{1,4})-(?P<number>\d+)$")
_APPELLATE_CASE = re.compile(r"^(?P<year>\d{2})-(?P<number>\d+)$")
_PDF_LINK = re.compile(r"""href=["']([^"']+\.pdf)["']""", re.IGNORECASE)
_GRANULE = re.compile(r"^(?P<case>\d+_\d{2}-[a-z]{1,4}-\d+|\d{2}-\d+)-(?P<n>\d{1,3})$")


class GovInfoCourtsConfig(SourceConfig):
    kind: Literal["govinfo_courts"] = "govinfo_courts"
    courts: Literal["all"] | list[str] = Field(min_length=1)
    bankruptcy: bool = False  # with ``courts: all``: the bankruptcy courts too
    base_url: str = RSS

    @field_validator("courts")
    @classmethod
    def _courts(cls, value: Literal["all"] | list[str]) -> Literal["all"] | list[str]:
        if value == "all":
            return value
        courts = [c.strip().lower() for c in value]
        bad = [c for c in courts if c not in GROUPS and not _COURT_CODE.match(c)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))} is not a GovInfo court code "
                             "(e.g. ca9, cadc, txsd, nysb; a group: appellate, district, bankruptcy; or 'all')")
        return list(dict.fromkeys(courts))

    def court_list(self) -> list[str]:
        """The court codes, groups spelt out, in order, each once."""
        if self.courts == "all":
            return list(APPELLATE + DISTRICT + (BANKRUPTCY if self.bankruptcy else ()))
        return list(dict.fromkeys(court for name in self.courts for court in GROUPS.get(name, (name,))))

    def requests_per_poll(self) -> int:
        return len(self.court_list())

    def expand(self) -> list[SourceConfig]:
        """One source per court (``<id>.<court>``); a one-court entry stays as it is."""
        courts = self.court_list()
        if courts == self.courts and len(courts) == 1:
            return [self]
        return [self.model_copy(update={"id": f"{self.id}.{court}", "courts": [court],
                                        "title": f"{self.title or 'GovInfo'} — {court}"}) for court in courts]


def docket_number(case: str) -> str:
    """The package id's case part as the court writes it: ``1_22-cv-01461`` -> ``1:22-cv-01461``."""
    return case.replace("_", ":", 1) if _DISTRICT_CASE.match(case) else case


def identity_docket(case: str) -> str:
    """The docket number CourtListener and PACER use: appellate ``24-01234`` -> ``24-1234``."""
    appellate = _APPELLATE_CASE.match(case)
    if appellate:
        return f"{appellate.group('year')}-{int(appellate.group('number'))}"
    return docket_number(case)


def package_of(entry: FeedEntry) -> tuple[str, str, str] | None:
    """(package id, court, case part) from the guid, else the link, else the PDF link; None when
    none names one. A granule id (``USCOURTS-ca9-24-01234-1``, one opinion of the case) names its package."""
    for value in (entry.id, entry.link, *_PDF_LINK.findall(entry.summary or entry.content or "")):
        match = _PACKAGE.search(value or "")
        if match:
            court, case = match.group("court").lower(), match.group("case")
            granule = _GRANULE.match(case)
            case = granule.group("case") if granule else case
            return f"USCOURTS-{match.group('court')}-{case}", court, case
    return None


def granule_of(entry: FeedEntry, package_id: str) -> str | None:
    """The opinion (granule) an entry announces, when its guid, link or PDF link says: a case's
    package gains a granule for each new opinion, and each one is news."""
    for value in (entry.id, entry.link, *(_PDF_LINK.findall(entry.summary or entry.content or ""))):
        for part in re.split(r"[/?#]", value or ""):
            if part.startswith(package_id + "-") and part[len(package_id) + 1:].removesuffix(".pdf").isdigit():
                return part.removesuffix(".pdf")
    return None


class GovInfoCourtsSource(BaseSource):
    kind: ClassVar[str] = "govinfo_courts"
    Config: ClassVar[type[SourceConfig]] = GovInfoCourtsConfig
    config: GovInfoCourtsConfig

    def url(self, court: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/uscourts-{court}.xml"

    async def fetch(self, client: PollClient, state: FetchState) -> Fetched:
        pages = []
        for court in self.config.court_list():
            try:
                response = await client.get(self.url(court))
            except FetchError as exc:
                if exc.status != 404:
                    raise
                raise FetchError(f"GovInfo has no opinions feed for court {court!r} ({exc}): the court may not "
                                 "publish to GovInfo; leave it out of courts:", retryable=False, status=404) from None
            if not response.unchanged:
                pages.append(Page(response.url, response.body, response.content_type, label=court))
        return Fetched(pages=tuple(pages), unchanged=not pages)

    def parse(self, fetched: Fetched) -> list[ItemRecord]:
        records: dict[str, ItemRecord] = {}
        for page in fetched.pages:
            for entry in parse_feed(page.body).entries:
                package = package_of(entry)
                if package is None:
                    continue  # not an opinion package (GovInfo feeds carry nothing else)
                package_id, court, case = package
                record = self._record(entry, package_id, COURTLISTENER_ID.get(court, court), case)
                seen = records.get(record.key)
                if seen is None or (record.published_at and seen.published_at
                                    and record.published_at > seen.published_at):
                    records[record.key] = record  # listed twice: the latest publication (the feed is not sorted)
        return list(records.values())

    def _record(self, entry: FeedEntry, package_id: str, court: str, case: str) -> ItemRecord:
        from monitor.normalise.casenames import case_name  # its regexes compile on the first parse

        docket = docket_number(case)
        granule = granule_of(entry, package_id)
        title = plain_text(entry.title)
        # "24-01234 - Doe v. Smith", or the granule or package id before the name
        for prefix in [p for p in (granule, package_id, docket, case, case.replace("_", "-")) if p]:
            if title.startswith(prefix):
                title = title[len(prefix):].lstrip(" -–:")
                break
        name = case_name(title) or docket
        pdf = _PDF_LINK.search(entry.summary or entry.content or "")
        pdf_url = pdf.group(1) if pdf else f"{CONTENT}/{package_id}/pdf/{granule or package_id + '-0'}.pdf"
        published = entry.published
        return ItemRecord(
            key=f"govinfo:{granule or package_id}",
            kind="opinion",
            title=name,
            url=f"{DETAILS}/{package_id}",
            identity=f"{court}/{identity_docket(case)}",
            jurisdiction="us",
            court=court,
            status="decided",
            status_action=plain_text(entry.title) or None,
            # the feed dates an opinion by when GovInfo published it, often days after the court
            # decided: no decision date is claimed, so the court's own dated report is the same event
            status_date=None,
            published_at=published,
            summary=plain_text(entry.summary) or None,
            data={
                "case_name": name,
                "docket_number": docket,
                "package_id": package_id,
                "granule_id": granule,
                "raw_title": plain_text(entry.title),
                "download_url": pdf_url,
                "details_url": f"{DETAILS}/{package_id}",
                "categories": list(entry.categories),
            },
        )
