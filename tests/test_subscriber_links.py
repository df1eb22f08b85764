"""One-click unsubscribe (RFC 8058) and the per-watchlist Atom feed, over the service's real HTTP app."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from monitor.models import Change, Delivery, Watchlist, utcnow
from monitor.web import create_app
from tests.alerting import (
    LIST_ROW_MOVE,
    NEW_OPINION,
    STATUS_MOVE,
    deliveries,
    dispatch,
    seed_changes,
    seed_watchlist,
    subscription,
)
from tests.conftest import run_cli, serve_asgi
from tests.fakes.http_server import HttpServer
from tests.fakes.smtp_server import Mailbox, smtp_server

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def web(db) -> Iterator[httpx.Client]:
    """The service's Starlette app served by uvicorn on a local port, with a plain HTTP client."""
    with serve_asgi(create_app(db)) as base, httpx.Client(base_url=base) as client:
        yield client


def test_one_click_unsubscribe_needs_the_right_token_and_no_cookies(db, web) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org", title="Bivens claims against ICE officers")
    token = subscription(db, sub).unsubscribe_token
    client = web
    page = client.get(f"/unsubscribe/{token}")
    assert (page.status_code == 200 and "Bivens claims against ICE officers" in page.text
            and "<form method=post" in page.text)
    assert subscription(db, sub).enabled  # a GET (link scanners, prefetch) changes nothing
    assert client.post(f"/unsubscribe/{token}x").status_code == 404
    assert client.post("/unsubscribe/", data={}).status_code == 404
    answer = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200 and "set-cookie" not in answer.headers
    assert not subscription(db, sub).enabled
    assert subscription(db, sub).disabled_reason == "unsubscribed by the recipient"
    # the link again (a second click, after a restart): it says so, and offers no button that does nothing
    again = client.get(f"/unsubscribe/{token}")
    assert again.status_code == 200 and "already unsubscribed" in again.text and "<form" not in again.text
    assert client.post(f"/unsubscribe/{token}").status_code == 200 and not subscription(db, sub).enabled


def test_unsubscribe_all_covers_every_digest_of_that_address(db, web) -> None:
    first = seed_watchlist(db, "bivens", target="email:ana@example.org", mode="digest")
    second = seed_watchlist(db, "ftca", target="email:ana@example.org", mode="digest")
    other = seed_watchlist(db, "ftca", target="email:bo@example.org", mode="digest")
    token = subscription(db, first).unsubscribe_token
    assert web.post(f"/unsubscribe/{token}?all=1").status_code == 200
    assert [subscription(db, s).enabled for s in (first, second, other)] == [False, False, True]


def test_rows_queued_before_an_unsubscribe_are_not_sent(db, web, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, STATUS_MOVE)
    web.post(f"/unsubscribe/{subscription(db, sub).unsubscribe_token}")
    dispatch(db)
    assert slack.requests == [] and deliveries(db)[0].state == "failed"


def test_atom_feed_lists_the_watchlist_alerts_with_evidence(db, web, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url(), title="Bivens claims against ICE officers")
    seed_changes(db, sub, STATUS_MOVE, NEW_OPINION)
    with db.session() as s:
        token = s.get(Watchlist, 1).feed_token
    client = web
    assert client.get("/feeds/bivens.atom").status_code == 404
    assert client.get("/feeds/bivens.atom?token=wrong").status_code == 404
    assert client.get(f"/feeds/nosuch.atom?token={token}").status_code == 404
    answer = client.get(f"/feeds/bivens.atom?token={token}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(answer.content)
    assert feed.findtext(f"{ATOM}title") == "Remedy Monitor: Bivens claims against ICE officers"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"] == str(answer.url)  # what a reader subscribed to
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == ["New opinion: Doe v. Immigration Officer Smith (Bivens claim allowed)",
                      "S. 3470 — Bivens Act of 2026: In committee → Reported by committee"]
    assert entries[1].find(f"{ATOM}link").get("href") == STATUS_MOVE["url"]
    summary = entries[1].findtext(f"{ATOM}summary")
    assert "Reported by Senator Durbin" in summary
    # the day it happened in words, and the provider's code with its meaning, never bare
    assert "Reported by committee on Jan 29, 2026 · Detected " in summary
    assert "Raw status: 14000 — Reported to Senate" in summary


def test_a_status_move_and_a_title_edit_found_by_one_poll_are_two_feed_entries(db, web, slack: HttpServer) -> None:
    """One poll's changes share their detection time; each is its own Atom entry with its own id.
    Before: both had the id item key + detection time, so a feed reader kept only one of them."""
    sub = seed_watchlist(db, target="slack:" + slack.url())
    now = utcnow()
    seed_changes(db, sub, STATUS_MOVE, now=now)
    with db.session() as s:
        move = s.scalar(select(Delivery))
        edit = Change(item_id=move.change.item_id, type="field", field="title", old="S. 3470",
                      new=STATUS_MOVE["title"], detected_at=now)
        s.add(edit)
        s.flush()
        s.add(Delivery(idempotency_key=f"{edit.id}:{sub}", change_id=edit.id, subscription_id=sub,
                       group_key=move.group_key, kind="alert", state="pending", rule="bivens: field-change (query)",
                       next_attempt_at=now, created_at=now))
        token = s.scalar(select(Watchlist)).feed_token
    feed = ET.fromstring(web.get(f"/feeds/bivens.atom?token={token}").content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        "S. 3470 — Bivens Act of 2026: title changed",
        "S. 3470 — Bivens Act of 2026: In committee → Reported by committee"]
    assert len({e.findtext(f"{ATOM}id") for e in entries}) == 2
    assert f"Was: S. 3470 → Now: {STATUS_MOVE['title']}" in entries[0].findtext(f"{ATOM}summary")  # from what to what


def test_alerts_cli_lists_shows_and_retries(db, cli_env, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, STATUS_MOVE)
    slack.queue(404, "channel_not_found")
    dispatch(db)
    listed = run_cli(["alerts", "list", "--failed", "--json"], cli_env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["state"], r["last_error"]) for r in rows] == [("failed", "404 channel_not_found")]
    assert "XXXXSECRET" not in listed.stdout
    shown = run_cli(["alerts", "show", str(rows[0]["id"]), "--json"], cli_env)
    attempts = json.loads(shown.stdout)["attempts_log"]
    assert [(a["outcome"], a["status"], a["answer"]) for a in attempts] == [("failed", 404, "404 channel_not_found")]
    retried = run_cli(["alerts", "retry", "--all-failed"], cli_env)
    assert retried.returncode == 0 and "1 delivery queued again;" in retried.stdout
    assert subscription(db, sub).enabled
    assert dispatch(db).sent == 1 and len(slack.requests) == 2


def test_subscribing_a_webhook_shows_its_signing_secret_once(db, cli_env) -> None:
    from tests.alerting import seed_watchlist as _seed

    _seed(db, target="slack:http://127.0.0.1:1/x")
    made = run_cli(["subscribe", "bivens", "webhook:https://receiver.example.org/hooks"], cli_env)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.split("signing secret (shown once; verify webhook-signature with it): ")[1].strip()
    assert secret.startswith("whsec_") and subscription(db, 2).secret == secret
    listed = run_cli(["subscriptions", "list", "--json"], cli_env)
    assert secret not in listed.stdout


def test_a_list_rows_status_says_it_was_read_from_the_latest_action_only(db, web, slack: HttpServer,
                                                                         monkeypatch) -> None:
    """A congress.gov list row's status comes from its latest action alone: every channel says so
    beside the action's date (Slack, email, the webhook's JSON, the Atom feed)."""
    from monitor.models import Subscription
    from tests.fakes.http_server import webhook_receiver

    marked = "Passed one chamber on Jan 29, 2026 (read from the bill's latest action only)"
    hook = seed_watchlist(db, target="webhook:http://127.0.0.1:9/placeholder")
    server, _ = webhook_receiver(subscription(db, hook).secret or "")
    smtp = Mailbox()
    with smtp_server(smtp) as port:
        monkeypatch.setenv("MONITOR_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("MONITOR_PUBLIC_URL", "https://monitor.example.org")
        with db.session() as s:
            s.get(Subscription, hook).target = "webhook:" + server.url()
        for target in ("slack:" + slack.url(), "email:ana@example.org"):
            seed_changes(db, seed_watchlist(db, target=target), LIST_ROW_MOVE)
        seed_changes(db, hook, LIST_ROW_MOVE)
        assert dispatch(db).sent == 3
    server.close()
    assert server.requests[0].json()["data"]["changes"][0]["happened"] == marked
    assert marked in json.dumps(slack.requests[0].json()["blocks"], ensure_ascii=False)
    mail = smtp.messages[0]
    assert marked in mail.get_body(("plain",)).get_content()
    assert marked in mail.get_body(("html",)).get_content()
    with db.session() as s:
        token = s.get(Watchlist, 1).feed_token
    feed = ET.fromstring(web.get(f"/feeds/bivens.atom?token={token}").content)
    assert marked in feed.find(f"{ATOM}entry").findtext(f"{ATOM}summary")


def test_an_operators_retry_of_failed_alerts_never_resubscribes_a_recipient(db, web, slack: HttpServer,
                                                                            cli_env, tmp_path) -> None:
    """Alerts queued before an unsubscribe are failed ("subscription disabled"). The operator then
    fixes another receiver and runs `monitor alerts retry --all-failed`: that re-enables the
    subscriptions a receiver's refusal disabled, never one the recipient unsubscribed from (RFC 8058:
    an unsubscribe is the recipient's word), and `monitor doctor` does not call it a problem.
    Before: the retry subscribed the recipient again and sent them the alerts, and doctor exited 1
    asking to fix "its target"."""
    (tmp_path / "sources.yaml").write_text("sources: []\n")
    gone = seed_watchlist(db, target="slack:" + slack.url())
    refused = seed_watchlist(db, "ftca", target="slack:" + slack.url("/services/T000/B000/OTHER"))
    seed_changes(db, gone, STATUS_MOVE)
    seed_changes(db, refused, NEW_OPINION)
    web.post(f"/unsubscribe/{subscription(db, gone).unsubscribe_token}")
    slack.queue(404, "no_service")
    dispatch(db)
    other = "/services/T000/B000/OTHER"
    assert [d.state for d in deliveries(db)] == ["failed", "failed"] and [r.route for r in slack.requests] == [other]
    doctor = run_cli(["doctor"], cli_env)
    assert "ftca is disabled: 404" in doctor.stdout and "unsubscribed by the recipient" not in doctor.stdout
    unsubscribed = run_cli(["alerts", "retry", str(deliveries(db)[0].id)], cli_env)
    assert unsubscribed.returncode == 1 and "its recipient unsubscribed" in unsubscribed.stderr
    assert run_cli(["alerts", "retry", "--all-failed"], cli_env).returncode == 0
    dispatch(db)
    assert [r.route for r in slack.requests] == [other, other]  # the refused receiver's alert, now it answers
    assert not subscription(db, gone).enabled and subscription(db, refused).enabled
    assert [d.state for d in deliveries(db)] == ["failed", "sent"]


def test_a_recipient_who_unsubscribed_can_be_subscribed_again_by_the_operator(db, web, slack: HttpServer,
                                                                              cli_env) -> None:
    """The recipient asks to hear again: `monitor subscribe` turns their subscription back on (one
    subscription, so no alert goes twice). Before: it answered "already subscribed" about a
    subscription that sent nothing, and the only way back was to remove it first."""
    target = "slack:" + slack.url()
    sub = seed_watchlist(db, target=target)
    web.post(f"/unsubscribe/{subscription(db, sub).unsubscribe_token}")
    again = run_cli(["subscribe", "bivens", target], cli_env)
    assert again.returncode == 0, again.stderr
    assert f"subscription {sub}:" in again.stdout
    assert "enabled again (was: unsubscribed by the recipient)" in again.stdout
    listed = json.loads(run_cli(["subscriptions", "list", "--json"], cli_env).stdout)
    assert [(s["id"], s["enabled"]) for s in listed] == [(sub, True)]
    assert "already subscribed" in run_cli(["subscribe", "bivens", target], cli_env).stderr
    seed_changes(db, sub, STATUS_MOVE)
    assert dispatch(db).sent == 1 and len(slack.requests) == 1
