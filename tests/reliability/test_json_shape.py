"""A JSON API that changes shape, for every JSON source kind, served by the socket fault server.

Each case takes a real answer (``../shared/realdata`` for congress.gov and LegiScan; the
reviewed golden examples in ``tests/examples`` where realdata has no API answer) and breaks
it one way: a key missing, ``null`` where a value was, a string where a number was, a list
where an object was, an object where a list was, the answer wrapped one level deeper, an empty
object, a bare list, an HTML error page sent with 200 and a JSON content type.

What a user sees, in one ``run_once`` beside a healthy rss source: the API source fails with
one ``parse:`` line naming what was wrong (no secret in it), nothing from the misshapen answer
is stored (no items, versions or changes: no half poll), the rss source is stored, and the
next poll after the provider's shape comes back succeeds by itself.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor.models import Change, Item, ItemVersion
from tests.conftest import realdata
from tests.fakes import socket_faults as fs
from tests.fakes.http_server import HttpServer
from tests.fakes.socket_faults import FaultServer
from tests.reliability.helpers import health, item_keys, poll, rss

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "sekret-api-key-4242"
DROP = object()  # a mutation value meaning "remove the key"
Path_ = tuple[str | int, ...]


def example(*parts: str) -> Any:
    return json.loads((EXAMPLES.joinpath(*parts)).read_text())


def real(*parts: str) -> Any:
    return json.loads(realdata(*parts).read_text())


def without(doc: dict[str, Any], *path: str) -> dict[str, Any]:
    """The document with a pagination link removed: the fake server has no second page."""
    inner = doc
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = None
    return doc


@dataclass(frozen=True)
class Api:
    """One JSON source kind: its config, where its answers are served, and what to break."""

    config: str  # the source's sources.yaml lines; {base} is the fault server
    routes: Callable[[], dict[str, Any]]  # fault-server path -> the healthy answer
    target: str  # the route whose answer changes shape
    record: Path_  # where the first record sits in the target answer
    fields: dict[str, tuple[Path_, str, Any, str]]  # name -> (record path, key, new value, error fragment)
    container: dict[str, str] = field(default_factory=dict)  # container mutation -> error fragment
    env: str = ""


APIS: dict[str, Api] = {
    "courtlistener_search": Api(
        config="kind: courtlistener_search\n    query: bivens\n    base_url: {base}",
        routes=lambda: {"/api/rest/v4/search/": example("courtlistener_search", "opinions.json")},
        target="/api/rest/v4/search/", record=("results", 0), env="COURTLISTENER_TOKEN",
        fields={
            "missing_id": ((), "cluster_id", DROP, "page1: results[0]: 'cluster_id' is missing"),
            "null_title": ((), "caseName", None, "page1: results[0]: 'caseName' is null"),
            "string_for_number": ((), "cluster_id", "ten", "'cluster_id' is 'ten', expected a number"),
            "string_for_list": ((), "opinions", "none", "'opinions' is a string, expected a list"),
        },
        container={"top_level_list": "has no 'results' list", "extra_nesting": "has no 'results' list",
                   "empty_object": "has no 'results' list", "record_not_object": "results[0]: expected an object",
                   "html_200": "not JSON (an HTML page)"},
    ),
    "courtlistener_docket": Api(
        config="kind: courtlistener_docket\n    docket_id: 4214664\n    base_url: {base}",
        routes=lambda: {"/api/rest/v4/dockets/4214664/": example("courtlistener_docket", "api", "docket.json"),
                        "/api/rest/v4/docket-entries/": example("courtlistener_docket", "api", "entries1.json")},
        target="/api/rest/v4/docket-entries/", record=("results", 0), env="COURTLISTENER_TOKEN",
        fields={
            "missing_id": ((), "docket", DROP, "entries1: results[0]: 'docket' is missing"),
            "string_for_number": ((), "entry_number", "one forty",
                                  "results[0]: 'entry_number' is 'one forty', expected a number"),
            "string_for_list": ((), "recap_documents", "none", "'recap_documents' is a string, expected a list"),
            "null_date": ((), "date_modified", None, "date_modified None is not ISO 8601"),
        },
        container={"top_level_list": "expected an object, got a list", "extra_nesting": "has no 'results' list",
                   "empty_object": "has no 'results' list", "record_not_object": "results[0]: expected an object",
                   "html_200": "not JSON (an HTML page)"},
    ),
    "congress_bill": Api(
        config="kind: congress_bill\n    congress: 117\n    bills: [H.R. 21]\n    base_url: {base}/v3",
        routes=lambda: {f"/v3/bill/117/hr/21{part}": real("congress_gov",
                                                          f"bill_117_hr_21{part.replace('/', '_')}.json")
                        for part in ("", "/actions", "/titles", "/committees")},
        target="/v3/bill/117/hr/21", record=("bill",), env="CONGRESS_API_KEY",
        fields={
            "missing_id": ((), "number", DROP, "bill: 'number' is missing"),
            "null_title": ((), "title", None, "bill: 'title' is null"),
            "string_for_number": ((), "congress", "117th", "bill: 'congress' is '117th', expected a number"),
            "list_for_object": ((), "latestAction", [], "'latestAction' is a list, expected an object"),
        },
        container={"top_level_list": "expected an object, got a list", "extra_nesting": "hr21.bill: no 'bill' object",
                   "empty_object": "hr21.bill: no 'bill' object", "record_not_object": "hr21.bill: no 'bill' object",
                   "html_200": "not JSON (an HTML page)"},
    ),
    "congress_recent": Api(
        config="kind: congress_recent\n    congress: 117\n    filter: more\n    base_url: {base}/v3",
        routes=lambda: {"/v3/bill/117": without(real("congress_gov", "bill_117.json"), "pagination", "next")},
        target="/v3/bill/117", record=("bills", 0), env="CONGRESS_API_KEY",
        fields={
            "missing_id": ((), "number", DROP, "page1: bills[0]: 'number' is missing"),
            "null_type": ((), "type", None, "page1: bills[0]: 'type' is null"),
            "string_for_number": ((), "number", "three", "'number' is 'three', expected a number"),
            "string_for_object": ((), "latestAction", "passed", "'latestAction' is a string, expected an object"),
        },
        container={"top_level_list": "no 'bills' list", "extra_nesting": "no 'bills' list",
                   "empty_object": "no 'bills' list", "record_not_object": "bills[0]: expected an object",
                   "html_200": "not JSON (an HTML page)"},
    ),
    "openstates": Api(
        config="kind: openstates\n    jurisdiction: il\n    base_url: {base}",
        routes=lambda: {"/bills": example("openstates", "il_hb1312", "page1.json")},
        target="/bills", record=("results", 0), env="OPENSTATES_API_KEY",
        fields={
            "missing_id": ((), "id", DROP, "page1: results[0]: 'id' is missing"),
            "null_title": ((), "title", None, "page1: results[0]: 'title' is null"),
            "string_for_object": ((), "jurisdiction", "il",
                                  "results[0]: 'jurisdiction' is a string, expected an object"),
            "null_action_date": (("actions", 0), "date", None, "results[0]: actions[0]: 'date' is null"),
        },
        container={k: "not an Open States list" for k in ("top_level_list", "extra_nesting", "empty_object")}
        | {"record_not_object": "results[0]: expected an object", "html_200": "not JSON (an HTML page)"},
    ),
    "legiscan": Api(
        config="kind: legiscan\n    state: AK\n    bills: [HB1]\n    base_url: {base}/",
        routes=lambda: {
            "/?op=getMasterListRaw": {"status": "OK", "masterlist": {
                "session": {"session_id": 1, "session_name": "27th Legislature"},
                "0": {"bill_id": 1, "number": "HB1", "change_hash": "abc"}}},
            "/?op=getBill": real("legiscan", "dataset_bill_AK_HB1_2011.json") | {"status": "OK"}},
        target="/?op=getBill", record=("bill",), env="LEGISCAN_API_KEY",
        fields={
            "missing_id": ((), "bill_id", DROP, "bill1: bill: 'bill_id' is missing"),
            "null_title": ((), "bill_number", None, "bill1: bill: 'bill_number' is null"),
            "string_for_number": (("progress", 0), "event", "passed",
                                  "progress[0]: 'event' is 'passed', expected a number"),
            "list_for_object": ((), "session", [], "'session' is a list, expected an object"),
        },
        container={"top_level_list": "bill1: not a LegiScan object", "extra_nesting": "bill1: no 'bill' object",
                   "empty_object": "bill1: no 'bill' object", "record_not_object": "bill1: no 'bill' object",
                   "html_200": "not JSON (an HTML page)"},
    ),
    "federal_register": Api(
        config="kind: federal_register\n    term: immigration\n    base_url: {base}",
        routes=lambda: {"/api/v1/documents.json": without(example("federal_register", "dhs_documents.json"),
                                                          "next_page_url")},
        target="/api/v1/documents.json", record=("results", 0),
        fields={
            "missing_id": ((), "document_number", DROP, "page1: results[0]: 'document_number' is missing"),
            "null_title": ((), "title", None, "page1: results[0]: 'title' is null"),
            "string_for_list": ((), "agencies", "DHS", "'agencies' is a string, expected a list"),
            "list_for_string": ((), "publication_date", ["2026-01-27"],
                                "'publication_date' is a list, expected a string"),
        },
        container={"top_level_list": "is not an object", "extra_nesting": "neither 'results' nor 'count': 0",
                   "empty_object": "neither 'results' nor 'count': 0",
                   "record_not_object": "results[0]: expected an object", "html_200": "not JSON (an HTML page)"},
    ),
}

# Ten polls in a minute are this test, not a runaway poller: lift the free tiers' per-minute caps.
ROOMY_BUDGETS = "providers:\n" + "".join(f"  {p}:\n    per_minute: 100\n    per_hour: 1000\n"
                                         for p in ("courtlistener", "openstates"))
HTML_ERROR = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>"


def dig(doc: Any, path: Path_) -> Any:
    for step in path:
        doc = doc[step]
    return doc


def broken(api: Api, mutation: str) -> tuple[str, bytes]:
    """(route, body) of the target answer after ``mutation``."""
    doc = copy.deepcopy(api.routes()[api.target])
    if mutation in api.fields:
        inner, key, value, _ = api.fields[mutation]
        record = dig(dig(doc, api.record), inner)
        if value is DROP:
            del record[key]
        else:
            record[key] = value
        return api.target, json.dumps(doc).encode()
    if mutation == "html_200":
        return api.target, HTML_ERROR
    if mutation == "record_not_object":
        parent, last = dig(doc, api.record[:-1]), api.record[-1]
        parent[last] = "oops"
        return api.target, json.dumps(doc).encode()
    shaped = {"top_level_list": [doc], "extra_nesting": {"data": doc}, "empty_object": {}}[mutation]
    return api.target, json.dumps(shaped).encode()


def expected_error(api: Api, mutation: str) -> str:
    return api.fields[mutation][3] if mutation in api.fields else api.container[mutation]


def serve(faults: FaultServer, api: Api, override: tuple[str, bytes] | None = None) -> None:
    for route, doc in api.routes().items():
        body = override[1] if override and override[0] == route else json.dumps(doc).encode()
        faults.set(route, fs.respond(200, body, {"Content-Type": "application/json"}))


def stored_from(db, source_id: str) -> tuple[int, int, int]:
    """(items, versions, changes) stored for one source."""
    with db.session() as s:
        ids = list(s.scalars(select(Item.id).where(Item.source_id == source_id)))
        versions = len(list(s.scalars(select(ItemVersion.id).where(ItemVersion.item_id.in_(ids)))))
        changes = len(list(s.scalars(select(Change.id).where(Change.item_id.in_(ids)))))
    return len(ids), versions, changes


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FaultServer, HttpServer]]:
    """One fault server and one feed server for the module: a HttpServer takes half a second to stop."""
    faults, feeds = FaultServer(), HttpServer()
    yield faults, feeds
    faults.close()
    feeds.close()


@pytest.mark.parametrize("kind", list(APIS))
def test_json_shape_change_fails_clearly_stores_nothing_and_recovers(
        kind: str, servers: tuple[FaultServer, HttpServer], db, tmp_path, monkeypatch) -> None:
    """Every mutation of this kind's answer in turn, one poll each, then the healthy answer."""
    api, (faults, feeds) = APIS[kind], servers
    for name in ("COURTLISTENER_TOKEN", "CONGRESS_API_KEY", "OPENSTATES_API_KEY", "LEGISCAN_API_KEY"):
        monkeypatch.setenv(name, SECRET)
    config = tmp_path / "sources.yaml"
    config.write_text(ROOMY_BUDGETS + "sources:\n"
                      f"  - id: good\n    kind: rss\n    url: {feeds.url('/good.xml')}\n"
                      f"  - id: api\n    {api.config.format(base=faults.base)}\n")
    good: list[tuple[str, str]] = []
    for n, mutation in enumerate([*api.fields, *api.container], 1):
        good.insert(0, (f"g{n}", f"Good {n}"))
        feeds.set("/good.xml", rss(*good))
        serve(faults, api, broken(api, mutation))
        result = poll(db, config)
        outcomes = {p.source_id: p.outcome for p in result.polls}
        assert outcomes == {"good": "changed", "api": "failed"}, (mutation, result.polls)
        state = health(db, "api")
        error = state["last_error"]
        assert error.startswith("parse: ") and expected_error(api, mutation) in error, (mutation, error)
        assert "\n" not in error and SECRET not in error and state["consecutive_failures"] == n
        assert stored_from(db, "api") == (0, 0, 0), mutation  # no half poll
        assert item_keys(db, "good") == {f"rss:good:{guid}" for guid, _ in good}  # the other source goes on

    serve(faults, api)  # the provider's shape is back
    result = poll(db, config)
    assert {p.source_id: p.outcome for p in result.polls}["api"] == "changed", result.polls
    assert health(db, "api") == {"last_error": None, "consecutive_failures": 0, "last_outcome": "changed"}
    assert stored_from(db, "api")[0] >= 1
