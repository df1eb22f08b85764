"""Property-based fuzzing: the rss parser, the config loader and the query compiler only ever
fail with their own documented error, whatever bytes they are given."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import load_config
from monitor.errors import ConfigError, InsanityError, ParseError, QueryError
from monitor.query import compile_query
from tests.conftest import realdata
from tests.reliability.test_bad_input import parse

SCRATCH = Path(tempfile.mkdtemp(prefix="monitor-fuzz-"))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


def _parses_or_refuses(body: bytes) -> None:
    try:
        parse(body)
    except (ParseError, InsanityError):
        pass


@FAST
@given(st.binary(max_size=4096))
def test_rss_parser_on_random_bytes(body: bytes) -> None:
    _parses_or_refuses(body)


XMLISH = st.lists(st.sampled_from([
    "<rss version=\"2.0\">", "<channel>", "<item>", "</item>", "<title>", "</title>", "<guid>", "</guid>",
    "<link>", "</link>", "<pubDate>", "</pubDate>", "&amp;", "&#x0;", "&#xD800;", "&#99999999;", "&lt;",
    "<![CDATA[", "]]>", "<!DOCTYPE x [<!ENTITY e \"ee\">]>", "&e;", "Mon, 02 Feb 2026 10:00:00 GMT",
    "\x00", "\xff", "é", "text", " ", "</channel>", "</rss>", "<entry>", "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
]), max_size=60).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))


@FAST
@given(XMLISH)
def test_rss_parser_on_feed_shaped_noise(body: bytes) -> None:
    _parses_or_refuses(body)


def real_feeds() -> list[Path]:
    out = []
    for folder in ("court_opinion_feeds", "pacer_rss"):
        path = realdata(folder)
        out += sorted(p for p in path.glob("*.xml"))[:4] if path.is_dir() else []
    return out


@pytest.fixture(scope="module")
def feeds_bytes() -> list[bytes]:
    files = real_feeds()
    if not files:
        pytest.skip("no real feeds in realdata/court_opinion_feeds or pacer_rss")
    return [f.read_bytes()[:40_000] for f in files]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rss_parser_on_mutated_real_feeds(feeds_bytes: list[bytes], data: st.DataObject) -> None:
    body = bytearray(data.draw(st.sampled_from(feeds_bytes)))
    for _ in range(data.draw(st.integers(1, 8))):
        if not body:
            break
        at = data.draw(st.integers(0, len(body) - 1))
        op = data.draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        if op == "flip":
            body[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del body[at:at + data.draw(st.integers(1, 500))]
        elif op == "dup":
            body[at:at] = body[at:at + data.draw(st.integers(1, 500))]
        else:
            body[at:at] = data.draw(st.sampled_from([b"<", b"&", b"]]>", b"<item>", b"\x00", b"&#xD800;", b"</channel>"]))
    _parses_or_refuses(bytes(body))


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["sources", "defaults", "providers", "id", "kind", "url", "interval", "enabled",
                         "jitter", "item_kind", "max_bytes", "x"]) | st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)


@FAST
@given(YAML_VALUES)
def test_config_loader_on_random_yaml(value) -> None:
    path = SCRATCH / "sources.yaml"
    path.write_text(yaml.safe_dump(value, allow_unicode=True))
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@FAST
@given(st.text(max_size=400))
def test_config_loader_on_random_text(text: str) -> None:
    path = SCRATCH / "sources.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except ConfigError as exc:
        assert "\n" not in str(exc)


@FAST
@given(st.text(max_size=200) | st.lists(st.sampled_from(["bivens", "AND", "OR", "NOT", "(", ")", "\"", "status:",
                                                          "court:", "*", ":", "-", "~", "title:\"x\""]),
                                        max_size=20).map(" ".join))
def test_query_compiler_only_raises_query_error(query: str) -> None:
    from monitor.query import MatchDoc

    try:
        matcher = compile_query(query)
    except QueryError:
        return
    matcher(MatchDoc(key="k", kind="opinion", source="s", title="Bivens claim", summary="FTCA"))
