"""Daily digests go out at each subscriber's local hour, once per day, grouped and ordered for reading."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.delivery.digest import claim_digests
from monitor.models import Digest, Watchlist
from tests.alerting import (
    FIELD_EDIT,
    NEW_OPINION,
    STATUS_MOVE,
    deliveries,
    dispatch,
    seed_changes,
    seed_watchlist,
)
from tests.conftest import run_cli
from tests.fakes.smtp_server import Mailbox, smtp_server

UTC = dt.UTC


@pytest.fixture
def smtp(monkeypatch) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        monkeypatch.setenv("MONITOR_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("MONITOR_PUBLIC_URL", "https://monitor.example.org")
        yield mailbox


def digest_rows(db) -> list[Digest]:
    with db.session() as s:
        return list(s.scalars(select(Digest).order_by(Digest.id)))


def test_tokyo_and_los_angeles_get_their_digest_at_their_own_hour_once(db, smtp: Mailbox) -> None:
    tokyo = seed_watchlist(db, target="email:kenji@example.org", mode="digest", digest_at="07:30", tz="Asia/Tokyo")
    la = seed_watchlist(db, target="email:maria@example.org", mode="digest", digest_at="07:30",
                        tz="America/Los_Angeles")
    seed_changes(db, tokyo, STATUS_MOVE)
    seed_changes(db, la, NEW_OPINION)

    # 15:29 UTC is 07:29 in Los Angeles and 00:29 (next day) in Tokyo: nobody yet.
    assert claim_digests(db, dt.datetime(2026, 3, 1, 15, 29, tzinfo=UTC)) == []
    assert claim_digests(db, dt.datetime(2026, 3, 1, 15, 30, tzinfo=UTC)) == [f"digest:s{la}:2026-03-01"]
    dispatch(db)
    assert [str(m["To"]) for m in smtp.messages] == ["maria@example.org"]
    assert claim_digests(db, dt.datetime(2026, 3, 1, 22, 29, tzinfo=UTC)) == []  # 07:29 in Tokyo
    assert claim_digests(db, dt.datetime(2026, 3, 1, 22, 30, tzinfo=UTC)) == [f"digest:s{tokyo}:2026-03-02"]
    dispatch(db)
    assert [str(m["To"]) for m in smtp.messages] == ["maria@example.org", "kenji@example.org"]
    tokyo_text = smtp.messages[1].get_body(("plain",)).get_content()
    assert "S. 3470" in tokyo_text
    # times in each subscriber's own zone, beside the day the action happened
    assert re.search(r"When: Reported by committee on Jan 29, 2026 · Detected \d{4}-\d\d-\d\d \d\d:\d\d JST",
                     tokyo_text)
    assert re.search(r"Detected \d{4}-\d\d-\d\d \d\d:\d\d P[SD]T",
                     smtp.messages[0].get_body(("plain",)).get_content())

    # A restart, and every half hour after: nothing more that day.
    for minute in range(0, 180, 30):
        assert claim_digests(db, dt.datetime(2026, 3, 1, 22, 31, tzinfo=UTC) + dt.timedelta(minutes=minute)) == []
    seed_changes(db, la, STATUS_MOVE, poll="p2")  # news after the digest waits for the next day
    assert claim_digests(db, dt.datetime(2026, 3, 2, 1, 0, tzinfo=UTC)) == []
    dispatch(db)
    assert len(smtp.messages) == 2
    # Next day at 07:30 in Los Angeles (15:30 UTC, standard time): the held change goes out.
    assert claim_digests(db, dt.datetime(2026, 3, 2, 15, 29, tzinfo=UTC)) == []
    assert claim_digests(db, dt.datetime(2026, 3, 2, 15, 30, tzinfo=UTC)) == [f"digest:s{la}:2026-03-02"]
    dispatch(db)
    assert len(smtp.messages) == 3
    assert {(r.subscription_id, r.digest_date.isoformat(), r.state) for r in digest_rows(db)} == {
        (tokyo, "2026-03-02", "sent"), (la, "2026-03-01", "sent"), (la, "2026-03-02", "sent")}


def test_two_dispatchers_racing_for_the_same_day_claim_it_once(db, smtp: Mailbox) -> None:
    sub = seed_watchlist(db, target="email:kenji@example.org", mode="digest", digest_at="07:00", tz="Asia/Tokyo")
    seed_changes(db, sub, STATUS_MOVE)
    now = dt.datetime(2026, 3, 1, 23, 0, tzinfo=UTC)
    with db.session() as s:  # another process claimed the day between our check and our insert
        s.add(Digest(subscription_id=sub, digest_date=dt.date(2026, 3, 2), state="pending"))
    assert claim_digests(db, now) == []
    assert [d.state for d in deliveries(db)] == ["queued"]


def test_digest_groups_by_watchlist_status_moves_first(db, smtp: Mailbox) -> None:
    first = seed_watchlist(db, "bivens", target="email:ana@example.org", mode="digest", digest_at="08:00", tz="UTC",
                           title="Bivens claims against ICE officers")
    second = seed_watchlist(db, "ftca", target="email:ana@example.org", mode="digest", digest_at="08:00", tz="UTC",
                            title="FTCA claims")
    seed_changes(db, first, FIELD_EDIT, NEW_OPINION, STATUS_MOVE)
    seed_changes(db, second, NEW_OPINION, poll="p2")
    claim_digests(db, dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    dispatch(db)
    assert len(smtp.messages) == 1  # one email a day for one address, not one per watchlist
    text = smtp.messages[0].get_body(("plain",)).get_content()
    order = [text.index(s) for s in ("== Bivens claims against ICE officers ==", "-- Status moves --",
                                     "-- New items --", "-- Other changes --", "== FTCA claims ==")]
    assert order == sorted(order)
    assert "Daily digest 2026-03-02: 4 changes" in str(smtp.messages[0]["Subject"])
    assert "?all=1" in str(smtp.messages[0]["List-Unsubscribe"])


def test_empty_digest_is_skipped_unless_asked_for(db, smtp: Mailbox) -> None:
    quiet = seed_watchlist(db, target="email:quiet@example.org", mode="digest", digest_at="08:00", tz="UTC")
    chatty = seed_watchlist(db, "ftca", target="email:chatty@example.org", mode="digest", digest_at="08:00", tz="UTC")
    with db.session() as s:
        from monitor.models import Subscription
        s.get(Subscription, chatty).send_empty_digest = True
    claim_digests(db, dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    dispatch(db)
    assert [str(m["To"]) for m in smtp.messages] == ["chatty@example.org"]
    assert "no news" in str(smtp.messages[0]["Subject"])
    assert {r.subscription_id: r.state for r in digest_rows(db)} == {quiet: "empty", chatty: "sent"}


def test_a_subscriber_can_ask_for_the_digest_on_days_with_no_news(db, smtp: Mailbox, cli_env) -> None:
    """`subscribe --digest daily --send-empty`: a quiet day still sends "no news", so the reader
    knows the monitor is running. Before: the README named the setting but no command could set it."""
    env = cli_env | {k: os.environ[k] for k in ("MONITOR_SMTP_URL", "MONITOR_PUBLIC_URL")}
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], env).returncode == 0
    made = run_cli(["subscribe", "bivens", "email:quiet@example.org", "--digest", "daily", "--at", "08:00",
                    "--tz", "Pacific/Honolulu", "--send-empty"], env)
    assert made.returncode == 0, made.stderr
    assert "daily digest at 08:00 Pacific/Honolulu, also on days with no news" in made.stdout
    assert "apply to --digest daily" in run_cli(["subscribe", "bivens", "email:b@example.org", "--send-empty"],
                                                env).stderr
    claim_digests(db, dt.datetime(2026, 3, 2, 18, 0, tzinfo=UTC))  # 08:00 in Honolulu
    dispatch(db)
    assert [str(m["To"]) for m in smtp.messages] == ["quiet@example.org"]
    assert "no news" in str(smtp.messages[0]["Subject"])


def test_a_subscriber_moves_their_digest_hour_or_to_immediate_without_losing_what_waits(db, smtp: Mailbox,
                                                                                        cli_env) -> None:
    """`subscribe` again with other settings changes the subscription in place: the changes waiting
    for the digest go in the digest at the new hour, or, switched to immediate alerts, go out at once.
    Before: "already subscribed", and removing the subscription to add it again dropped what waited."""
    env = cli_env | {k: os.environ[k] for k in ("MONITOR_SMTP_URL", "MONITOR_PUBLIC_URL")}
    target = "email:journo@example.org"
    sub = seed_watchlist(db, target=target, mode="digest", digest_at="07:30", tz="UTC")
    seed_changes(db, sub, STATUS_MOVE)
    moved = run_cli(["subscribe", "bivens", target, "--digest", "daily", "--at", "06:00", "--tz", "America/Chicago"],
                    env)
    assert moved.returncode == 0, moved.stderr
    assert f"subscription {sub}:" in moved.stdout and "daily digest at 06:00 America/Chicago" in moved.stdout
    assert "changed (was: daily digest at 07:30 UTC)" in moved.stdout
    assert "already subscribed" in run_cli(["subscribe", "bivens", target, "--digest", "daily", "--at", "06:00",
                                            "--tz", "America/Chicago"], env).stderr
    claim_digests(db, dt.datetime(2026, 3, 2, 11, 0, tzinfo=UTC))  # 05:00 in Chicago: not yet
    assert dispatch(db).sent == 0
    seed_changes(db, sub, NEW_OPINION)
    now = run_cli(["subscribe", "bivens", target, "--immediate"], env)
    assert now.returncode == 0 and "(immediate), changed (was: daily digest at 06:00 America/Chicago)" in now.stdout
    assert dispatch(db).sent == 2  # both waiting changes, at once
    (mail,) = smtp.messages
    body = mail.get_body(("plain",)).get_content()
    assert "Reported by committee" in body and "Doe v. Immigration Officer Smith" in body
    listed = json.loads(run_cli(["subscriptions", "list", "--json"], env).stdout)
    assert [(s["id"], s["mode"]) for s in listed] == [(sub, "immediate")]


def test_one_mailbox_written_in_other_capitals_is_one_subscription(db, smtp: Mailbox, cli_env) -> None:
    """`Journo@Example.org` and `journo@example.org` are one mailbox: subscribing the second is
    "already subscribed", not a second subscription that mails every alert twice."""
    env = cli_env | {k: os.environ[k] for k in ("MONITOR_SMTP_URL", "MONITOR_PUBLIC_URL")}
    assert run_cli(["watchlist", "add", "bivens", "--query", "bivens"], env).returncode == 0
    first = run_cli(["subscribe", "bivens", "email:Journo@Example.ORG", "--immediate"], env)
    assert first.returncode == 0 and "Journo@example.org" in first.stdout, first.stdout + first.stderr
    again = run_cli(["subscribe", "bivens", "email:journo@example.org", "--immediate"], env)
    assert again.returncode == 1 and "already subscribed" in again.stderr, again.stdout
    assert len(json.loads(run_cli(["subscriptions", "list", "--json"], env).stdout)) == 1


def test_a_digest_subscribed_after_its_hour_first_goes_out_the_next_day(db, smtp: Mailbox) -> None:
    """Subscribed at 13:00 to a 07:30 digest: the first digest is tomorrow's at 07:30, not one at the
    next pass that afternoon (which read as a digest at a random hour)."""
    sub = seed_watchlist(db, target="email:late@example.org", mode="digest", digest_at="07:30", tz="UTC")
    with db.session() as s:
        from monitor.models import Subscription
        s.get(Subscription, sub).created_at = dt.datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    seed_changes(db, sub, STATUS_MOVE)
    assert claim_digests(db, dt.datetime(2026, 3, 2, 13, 18, tzinfo=UTC)) == []
    assert claim_digests(db, dt.datetime(2026, 3, 3, 7, 29, tzinfo=UTC)) == []
    assert len(claim_digests(db, dt.datetime(2026, 3, 3, 7, 30, tzinfo=UTC))) == 1
    dispatch(db)
    assert [str(m["To"]) for m in smtp.messages] == ["late@example.org"]


def test_snoozed_watchlist_digest_waits_until_the_snooze_ends(db, smtp: Mailbox) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org", mode="digest", digest_at="08:00", tz="UTC")
    seed_changes(db, sub, STATUS_MOVE)
    with db.session() as s:
        s.scalar(select(Watchlist)).snooze_until = dt.datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert claim_digests(db, dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)) == []
    assert claim_digests(db, dt.datetime(2026, 3, 2, 12, 1, tzinfo=UTC)) == [f"digest:s{sub}:2026-03-02"]
    dispatch(db)
    assert len(smtp.messages) == 1


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.headings: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)
        self._in = tag if tag in ("h2",) else None

    def handle_data(self, data: str) -> None:
        if self._in == "h2" and data.strip():
            self.headings.append(data.strip())


def test_digest_preview_of_a_slack_digest_writes_the_message_it_would_post(db, cli_env, tmp_path: Path) -> None:
    """A Slack digest has no HTML: the preview writes the Slack message the digest would post
    (it refused with "only email digests have HTML", so a Slack digest could not be previewed)."""
    sub = seed_watchlist(db, target="slack:https://hooks.slack.com/services/T000/B000/XXXX", mode="digest",
                         digest_at="08:00", tz="America/Chicago")
    seed_changes(db, sub, STATUS_MOVE, NEW_OPINION)
    out = tmp_path / "digest.json"
    result = run_cli(["digest", "preview", "--subscription", str(sub), "--out", str(out)], cli_env)
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    posted = json.loads(out.read_text())
    assert STATUS_MOVE["title"] in posted["text"] and NEW_OPINION["title"] in posted["text"]
    assert posted["blocks"][0]["text"]["text"].startswith("Daily digest")
    assert [d.state for d in deliveries(db)] == ["queued", "queued"]  # the preview sent and claimed nothing


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="Debian's chromium is not installed (apt-get install chromium)")
def test_digest_preview_renders_in_headless_chromium(db, cli_env, tmp_path: Path) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org", mode="digest", digest_at="08:00", tz="America/Chicago",
                         title="Bivens claims against ICE officers")
    seed_changes(db, sub, STATUS_MOVE, NEW_OPINION)
    out = tmp_path / "digest.html"
    result = run_cli(["digest", "preview", "--email", "ana@example.org", "--out", str(out)],
                     cli_env | {"MONITOR_PUBLIC_URL": "https://monitor.example.org"})
    assert result.returncode == 0, result.stderr
    assert str(out) in result.stdout
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", out.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = Links()
    page.feed(dom.stdout)
    assert page.headings == ["Bivens claims against ICE officers"]
    assert "In committee" in dom.stdout and "Reported by committee" in dom.stdout
    assert STATUS_MOVE["url"] in page.hrefs and NEW_OPINION["url"] in page.hrefs
    assert "javascript:" not in dom.stdout
    assert page.hrefs and all(h.startswith(("http://", "https://")) for h in page.hrefs)
    # The preview claimed nothing: the real digest still goes out.
    assert [d.state for d in deliveries(db)] == ["queued", "queued"]
