"""Each channel against a real local receiver: what arrives, what is retried, what disables a subscription."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from alerts import channel_for_target
from monitor.delivery.dispatcher import RETRY_SCHEDULE, Dispatcher
from monitor.errors import ConfigError
from monitor.models import Delivery, DeliveryAttempt, Watchlist, utcnow
from tests.alerting import (
    FIELD_EDIT,
    NEW_OPINION,
    STATUS_MOVE,
    deliveries,
    dispatch,
    seed_changes,
    seed_watchlist,
    subscription,
)
from tests.fakes.http_server import HttpServer, SignedWebhooks, slack_ok, webhook_receiver
from tests.fakes.smtp_server import Mailbox, smtp_server


def admin_notices(db) -> list[Delivery]:
    return [d for d in deliveries(db) if d.kind == "admin"]


# --- Slack -----------------------------------------------------------------------------------

def test_slack_message_shows_all_the_evidence(db, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, STATUS_MOVE)
    assert dispatch(db).sent == 1
    body = slack.requests[0].json()
    blocks = json.dumps(body["blocks"], ensure_ascii=False)
    assert body["blocks"][0]["type"] == "header"
    assert "*Was*\\nIn committee" in blocks and "*Now*\\nReported by committee" in blocks  # old → new as fields
    assert "https://www.ca9.uscourts.gov/opinions/rss|ca9" in blocks  # source and its URL
    assert "Reported by Senator Durbin" in blocks  # raw action text
    assert "bivens: status-move (pinned us/119/s/3470)" in blocks  # watchlist and rule
    assert any(b.get("accessory", {}).get("url") == STATUS_MOVE["url"] for b in body["blocks"])  # link button
    assert "In committee → Reported by committee" in body["text"]  # plain-text fallback


def test_an_alert_without_a_date_from_its_source_says_so(db, slack: HttpServer, smtp: Mailbox) -> None:
    """A status move or a new item whose source gave no date: the alert says the source gave none,
    beside when it was detected, in Slack and email alike. Before: only "Detected …", which a reader
    takes for the day it happened."""
    undated = [dict(STATUS_MOVE, status_date=None), dict(NEW_OPINION, status_date=None, title="Undated opinion")]
    seed_changes(db, seed_watchlist(db, target="slack:" + slack.url()), *undated)
    seed_changes(db, seed_watchlist(db, "ftca", target="email:ana@example.org"), *undated)
    assert dispatch(db).sent == 4
    context = [e["text"] for b in slack.requests[0].json()["blocks"] if b["type"] == "context" for e in b["elements"]]
    assert len(context) == 2
    assert all(" · No date from the source · Detected " in line for line in context), context
    text = smtp.messages[0].get_body(("plain",)).get_content()
    assert text.count("When: No date from the source · Detected ") == 2, text


def test_an_alert_whose_source_gave_an_impossible_date_says_so(db, slack: HttpServer, smtp: Mailbox) -> None:
    """A court's typo (2099 for 2025) is set aside when the item is stored; the alert names the date
    the source gave and that it cannot be right, not "No date from the source" (it gave one)."""
    typo = dict(NEW_OPINION, status_date=None, title="Typo opinion",
                data={"impossible_dates": {"status_date": "2099-01-01"}})
    seed_changes(db, seed_watchlist(db, target="slack:" + slack.url()), typo)
    seed_changes(db, seed_watchlist(db, "ftca", target="email:ana@example.org"), typo)
    assert dispatch(db).sent == 2
    blocks = json.dumps(slack.requests[0].json()["blocks"], ensure_ascii=False)
    text = smtp.messages[0].get_body(("plain",)).get_content()
    for shown in (blocks, text):
        assert "The source dated it 2099-01-01, which cannot be right" in shown, shown
        assert "No date from the source" not in shown


@pytest.mark.parametrize("quiet", ["paused", "snoozed"])
def test_alerts_queued_before_a_pause_or_snooze_wait_for_its_end(db, slack: HttpServer, quiet: str) -> None:
    """An alert already queued (or waiting to be retried) when the watchlist is paused or snoozed is
    not sent while it is (pause means nothing at all; snooze, no immediate alerts); it goes out, once,
    when the watchlist is resumed or the snooze ends."""
    seed_changes(db, seed_watchlist(db, target="slack:" + slack.url()), STATUS_MOVE)
    with db.session() as s:
        watchlist = s.scalars(select(Watchlist)).one()
        if quiet == "paused":
            watchlist.paused = True
        else:
            watchlist.snooze_until = utcnow() + dt.timedelta(days=7)
    assert dispatch(db).sent == 0 and slack.requests == []
    assert Dispatcher(db).next_due() is None  # `run --once` does not wait for it
    assert [d.state for d in deliveries(db) if d.kind == "alert"] == ["pending"]
    with db.session() as s:
        watchlist = s.scalars(select(Watchlist)).one()
        watchlist.paused, watchlist.snooze_until = False, None
    assert dispatch(db).sent == 1 and dispatch(db).sent == 0
    assert [d.state for d in deliveries(db) if d.kind == "alert"] == ["sent"]
    assert "Reported by committee" in json.dumps(slack.requests[-1].json())


def test_a_message_that_cannot_be_built_holds_back_none_behind_it(db, slack: HttpServer) -> None:
    """A queued alert whose subscription row is gone (deleted with foreign keys off, by hand) cannot
    be built: it is recorded failed, with the reason, and the alerts queued after it still go out.
    Before: every pass stopped at it, and nothing behind it was ever sent."""
    from sqlalchemy import text

    orphan = seed_watchlist(db, target="slack:" + slack.url("/gone"))
    seed_changes(db, orphan, STATUS_MOVE)
    seed_changes(db, seed_watchlist(db, "ftca", target="slack:" + slack.url("/kept")), NEW_OPINION, poll="p2")
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET session_replication_role = replica"))  # foreign keys not enforced
        else:
            conn.execute(text("PRAGMA foreign_keys = OFF"))
        conn.execute(text("DELETE FROM subscriptions WHERE id = :id"), {"id": orphan})
        conn.commit()
    stats = dispatch(db)
    assert [r.path for r in slack.requests] == ["/kept"]
    states = {d.subscription_id: (d.state, d.last_error) for d in deliveries(db)}
    assert states[orphan][0] == "failed" and "cannot be built" in states[orphan][1], states
    assert stats.failed == 1 and dispatch(db).sent == 0  # settled: not tried again every pass


def test_slack_group_of_forty_is_one_message_with_and_n_more(db, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, *[dict(NEW_OPINION, title=f"Opinion {n}") for n in range(40)])
    stats = dispatch(db)
    assert (stats.messages, stats.sent) == (1, 40)
    body = slack.requests[0].json()
    assert "40 changes" in body["blocks"][0]["text"]["text"]
    assert "…and 30 more" in body["text"] and len(body["blocks"]) < 50


def test_one_subscriptions_alerts_from_many_polls_go_as_few_messages(db, slack: HttpServer) -> None:
    """Twelve feeds gaining an entry at once make two messages (ten shown in full, then two), not twelve."""
    sub = seed_watchlist(db, target="slack:" + slack.url())
    for n in range(12):
        seed_changes(db, sub, dict(NEW_OPINION, title=f"Opinion {n}"), poll=f"p{n:02d}")
    other = seed_watchlist(db, "ftca", target="slack:" + slack.url("/services/T000/B000/OTHER"))
    seed_changes(db, other, STATUS_MOVE, poll="p99")
    slack.queue(500, "rollup_error")  # the first message fails: all of its rows wait for a retry
    stats = dispatch(db)
    assert (stats.messages, stats.retried, stats.sent) == (3, 10, 3)
    texts = [r.json()["text"] for r in slack.requests]
    assert [t.count("Opinion") for t in texts] == [10, 2, 0] and "…and" not in "".join(texts)
    assert [d.state for d in deliveries(db)] == ["pending"] * 10 + ["sent"] * 3
    stats = dispatch(db, utcnow() + dt.timedelta(seconds=RETRY_SCHEDULE[0] * 1.2))
    assert (stats.messages, stats.sent) == (1, 10) and {d.state for d in deliveries(db)} == {"sent"}


def test_slack_message_of_a_very_long_title_stays_within_slacks_block_limits(db, slack: HttpServer) -> None:
    """A feed item with a 4,000-character title (seen in scraped pages that put the whole first
    paragraph in the title): Slack refuses a section text over 3,000 characters with 400
    invalid_blocks, which would fail the alert for good and disable the subscription. The title is
    cut with "…", and the message keeps the item's link."""
    title = "Doe v. ICE & Officers " + "the detention was unlawful & " * 140
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, dict(NEW_OPINION, title=title), STATUS_MOVE)
    assert dispatch(db).sent == 2
    blocks = slack.requests[0].json()["blocks"]
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    fields = [f["text"] for b in blocks for f in b.get("fields", [])]
    context = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert max(len(t) for t in sections + context) <= 3000 and max(len(t) for t in fields) <= 2000
    assert sections[0].startswith(f"*<{NEW_OPINION['url']}|Doe v. ICE &amp; Officers") and "…" in sections[0]


def test_feed_text_cannot_mention_the_channel_or_forge_a_link_in_slack(db, slack: HttpServer) -> None:
    """Titles, action texts and changed fields come from third-party feeds. Slack reads "<!channel>"
    in mrkdwn as a mention of everyone in the channel, and "<https://…|text>" as a link, so each of
    them goes out escaped (&amp; &lt; &gt;, as Slack's "Escaping text" asks), in the blocks and in
    the fallback text. Before: only the title's link label was escaped."""
    hostile = "<!channel> see <https://evil.example|the order> & more"
    seed_changes(db, seed_watchlist(db, target="slack:" + slack.url()),
                 dict(STATUS_MOVE, title="S. 3470 " + hostile, status_action="Reported " + hostile),
                 dict(NEW_OPINION, type="field", field="summary", old="first", new=hostile))
    assert dispatch(db).sent == 2
    body = slack.requests[0].json()
    blocks = json.dumps(body["blocks"], ensure_ascii=False)
    for text in (blocks, body["text"]):
        assert "<!channel>" not in text and "<https://evil.example|" not in text
    assert "&lt;!channel&gt; see &lt;https://evil.example|the order&gt; &amp; more" in body["text"]
    assert blocks.count("&lt;!channel&gt;") == 3  # the title, the action, the changed field


def test_slack_429_waits_for_retry_after_then_sends(db, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, STATUS_MOVE)
    slack.queue(429, "rate_limited", {"Retry-After": "30"})
    before = utcnow()
    assert dispatch(db).retried == 1
    row = deliveries(db)[0]
    assert row.state == "pending" and 30 <= (row.next_attempt_at - before).total_seconds() < 32
    assert dispatch(db).sent == 0  # not due yet
    assert dispatch(db, utcnow() + dt.timedelta(seconds=31)).sent == 1
    assert len(slack.requests) == 2 and deliveries(db)[0].state == "sent"


def test_a_receiver_answering_retry_after_0_every_time_is_tried_less_and_less_often(db, slack: HttpServer) -> None:
    """Retry-After: 0 on every 429 would have the alert posted about once a second for the three days
    before giving up; the wait doubles from one second instead (a larger Retry-After still rules)."""
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, STATUS_MOVE)
    due, waits = utcnow(), []
    for _ in range(8):
        slack.queue(429, "rate_limited", {"Retry-After": "0"})
        before = utcnow()
        assert dispatch(db, due).retried == 1
        due = deliveries(db)[0].next_attempt_at
        waits.append(int((due - before).total_seconds()))
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128]
    assert len(slack.requests) == 8


def test_slack_5xx_follows_the_retry_schedule(db, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, STATUS_MOVE)
    slack.queue(500, "rollup_error")
    before = utcnow()
    dispatch(db)
    row = deliveries(db)[0]
    delay = (row.next_attempt_at - before).total_seconds()
    assert row.state == "pending" and RETRY_SCHEDULE[0] * 0.9 <= delay <= RETRY_SCHEDULE[0] * 1.1 + 1
    assert row.last_error == "500 rollup_error"


@pytest.mark.parametrize(("status", "body"), [(404, "channel_not_found"), (410, "channel_is_archived")])
def test_slack_gone_channel_fails_disables_and_tells_the_admin_once(db, slack: HttpServer, status, body,
                                                                    monkeypatch) -> None:
    admin = HttpServer(fallback=slack_ok)
    try:
        monkeypatch.setenv("MONITOR_ADMIN_TARGET", "slack:" + admin.url("/services/ADMIN"))
        sub = seed_watchlist(db, target="slack:" + slack.url())
        seed_changes(db, sub, STATUS_MOVE)
        slack.queue(status, body)
        dispatch(db)
        row = next(d for d in deliveries(db) if d.kind == "alert")
        assert (row.state, row.last_error) == ("failed", f"{status} {body}")
        assert not subscription(db, sub).enabled
        dispatch(db)
        seed_changes(db, sub, NEW_OPINION, poll="p2")  # a disabled subscription sends nothing more
        dispatch(db)
        assert len(slack.requests) == 1
        assert len(admin.requests) == 1 and "was disabled" in admin.requests[0].json()["text"]
        assert "XXXXSECRET" not in admin.requests[0].json()["text"]
    finally:
        admin.close()


# --- Signed webhooks ---------------------------------------------------------------------------

@pytest.fixture
def receiver(db) -> Iterator[tuple[HttpServer, SignedWebhooks, int]]:
    sub = seed_watchlist(db, target="webhook:http://127.0.0.1:9/placeholder")
    secret = subscription(db, sub).secret
    assert secret and secret.startswith("whsec_")
    server, hooks = webhook_receiver(secret)
    with db.session() as s:
        from monitor.models import Subscription
        s.get(Subscription, sub).target = "webhook:" + server.url()
    yield server, hooks, sub
    server.close()


def test_webhook_is_signed_and_keeps_its_id_across_retries(db, receiver) -> None:
    server, hooks, sub = receiver
    seed_changes(db, sub, STATUS_MOVE, NEW_OPINION)
    server.queue(503, "busy")
    dispatch(db)
    dispatch(db, utcnow() + dt.timedelta(seconds=10))
    assert [hooks.valid(r) for r in server.requests] == [True, True]
    ids = {r.headers["webhook-id"] for r in server.requests}
    assert len(ids) == 1 and len(hooks.unique) == 1
    event = server.requests[1].json()
    assert event["type"] == "alert.created" and len(event["data"]["changes"]) == 2
    move = event["data"]["changes"][0]
    assert (move["old"], move["new"]) == ("in_committee", "reported")
    assert move["evidence"]["source_url"] == "https://www.ca9.uscourts.gov/opinions/rss"
    assert move["evidence"]["rule"].startswith("bivens: status-move")
    assert all(d.state == "sent" for d in deliveries(db))


def test_webhook_410_disables_the_subscription(db, receiver) -> None:
    server, _, sub = receiver
    seed_changes(db, sub, STATUS_MOVE)
    server.queue(410, "gone")
    assert dispatch(db).failed == 1
    assert not subscription(db, sub).enabled and "410" in (subscription(db, sub).disabled_reason or "")


def test_webhook_redirect_is_a_failure_and_not_followed(db, receiver) -> None:
    server, _, sub = receiver
    seed_changes(db, sub, STATUS_MOVE)
    server.queue(301, "", {"Location": "http://127.0.0.1:9/elsewhere"})
    stats = dispatch(db)
    assert stats.retried == 1 and len(server.requests) == 1
    assert deliveries(db)[0].last_error == "301 redirect not followed"
    assert subscription(db, sub).enabled


# --- Email over SMTP -------------------------------------------------------------------------------

@pytest.fixture
def smtp(monkeypatch) -> Iterator[Mailbox]:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        monkeypatch.setenv("MONITOR_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("MONITOR_MAIL_FROM", "Remedy Monitor <alerts@example.org>")
        monkeypatch.setenv("MONITOR_PUBLIC_URL", "https://monitor.example.org")
        yield mailbox


def test_email_alert_is_multipart_with_one_click_unsubscribe(db, smtp: Mailbox) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE, NEW_OPINION)
    assert dispatch(db).sent == 2
    mail = smtp.messages[0]
    token = subscription(db, sub).unsubscribe_token
    assert str(mail["List-Unsubscribe"]).strip() == f"<https://monitor.example.org/unsubscribe/{token}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert str(mail["Date"]).endswith(" +0000")  # UTC said as UTC ("-0000" reads as "zone unknown", RFC 5322)
    assert smtp.envelopes[0].rcpt_tos == ["ana@example.org"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "S. 3470 — Bivens Act of 2026: In committee → Reported by committee" in text
    assert 'style="' in html and "<style" not in html  # CSS inlined
    assert "<b>Bivens</b>" in html and "<script" not in html and "javascript:" not in html  # nh3


def test_email_4xx_is_retried_then_delivered(db, smtp: Mailbox) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    smtp.answers.append("451 4.3.0 try again later")
    assert dispatch(db).retried == 1
    assert deliveries(db)[0].last_error.startswith("451")
    assert dispatch(db, utcnow() + dt.timedelta(seconds=10)).sent == 1
    assert len(smtp.messages) == 1


def test_email_5xx_is_permanent_for_that_recipient(db, smtp: Mailbox) -> None:
    sub = seed_watchlist(db, target="email:gone@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    smtp.answers.append("550 5.1.1 mailbox unavailable")
    assert dispatch(db).failed == 1
    assert not subscription(db, sub).enabled
    with db.session() as s:
        attempt = s.scalar(select(DeliveryAttempt))
        assert (attempt.outcome, attempt.status_code) == ("failed", 550)


def test_email_sender_refused_is_the_operators_to_fix_and_disables_no_subscriber(db, smtp: Mailbox) -> None:
    """A relay answering 550 to MAIL FROM refuses our sender (MONITOR_MAIL_FROM is not allowed
    there): every email would fail the same way, so it is held for the operator, never a reason to
    disable the subscriber. Before: failed for good and the subscription disabled."""
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    smtp.sender_answers.append("550 5.7.1 alerts@example.org: sender not allowed to relay")
    stats = dispatch(db)
    assert (stats.failed, stats.retried) == (0, 1)
    assert subscription(db, sub).enabled
    [row] = deliveries(db)
    assert row.state == "pending"
    assert row.last_error == ("held until the operator fixes it: the SMTP server refused the sender "
                              "alerts@example.org (550 5.7.1 alerts@example.org: sender not allowed to relay): "
                              "check MONITOR_MAIL_FROM and MONITOR_SMTP_URL")
    assert dispatch(db, utcnow() + dt.timedelta(seconds=10)).sent == 1  # the operator fixed the relay
    assert len(smtp.messages) == 1


def test_email_server_refusing_our_client_is_held_for_the_operator(db, smtp: Mailbox) -> None:
    """A server answering 554 to EHLO and HELO refuses this host, not the recipient: held for the
    operator, subscriber kept. Before: failed for good and the subscription disabled."""
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    smtp.refuse_client = "554 5.7.1 client host rejected"
    assert dispatch(db).retried == 1
    assert subscription(db, sub).enabled
    [row] = deliveries(db)
    assert row.last_error == ("held until the operator fixes it: the SMTP server refused this host "
                              "(554 5.7.1 client host rejected): check MONITOR_SMTP_URL")
    smtp.refuse_client = None
    assert dispatch(db, utcnow() + dt.timedelta(seconds=10)).sent == 1


@pytest.mark.parametrize("quit_answer", ["421 4.3.2 shutting down", "500 5.5.1 confused"])
def test_email_accepted_at_data_is_sent_whatever_the_server_answers_to_quit(db, smtp: Mailbox,
                                                                            quit_answer: str) -> None:
    """250 to DATA means the server took the email; an odd answer to the QUIT after it changes
    nothing. Before: 421 sent the same email again on the retry, 500 marked it failed and disabled
    the subscription, though the recipient had it."""
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    smtp.quit_answer = quit_answer
    assert dispatch(db).sent == 1
    assert dispatch(db, utcnow() + dt.timedelta(seconds=10)).messages == 0
    assert len(smtp.messages) == 1 and subscription(db, sub).enabled


def test_email_disconnect_mid_data_is_retried(db, smtp: Mailbox) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, STATUS_MOVE)
    smtp.answers.append("disconnect")
    assert dispatch(db).retried == 1
    assert subscription(db, sub).enabled
    assert dispatch(db, utcnow() + dt.timedelta(seconds=10)).sent == 1


def test_email_subject_of_a_very_long_title_still_says_what_the_bill_became(db, smtp: Mailbox) -> None:
    """A subject is cut at 200 characters; the title is what gives way, never the move. Before: a
    long bill title pushed "→ Vetoed" out of the subject, which then said only the title."""
    sub = seed_watchlist(db, target="email:ana@example.org")
    long_title = "H.R. 5240: Hernández Accountability Act " + "to amend title 42 " * 20
    seed_changes(db, sub, dict(STATUS_MOVE, title=long_title, old="sent_to_executive", new="vetoed"))
    assert dispatch(db).sent == 1
    subject = str(smtp.messages[0]["Subject"])
    assert subject.startswith("[Bivens remedies] H.R. 5240: Hernández Accountability Act to amend")
    assert subject.endswith("…: Sent to the executive → Vetoed")
    assert len(subject) <= 200


def test_a_field_change_says_from_what_to_what_in_both_parts_of_an_email(db, smtp: Mailbox) -> None:
    """Before: the HTML part showed the old and new summary, the plain-text part only "summary changed"."""
    seed_changes(db, seed_watchlist(db, target="email:ana@example.org"), FIELD_EDIT)
    assert dispatch(db).sent == 1
    for part in ("plain", "html"):
        body = smtp.messages[0].get_body((part,)).get_content()
        assert "first summary" in body and "amended summary" in body, part


def test_an_smtp_server_without_what_we_need_is_named_not_a_connection_failure(db, monkeypatch) -> None:
    """A server that takes no non-ASCII address (no SMTPUTF8) can never deliver to hernández@…: failed at
    once, saying why, and the admin told; one that offers no STARTTLS while MONITOR_SMTP_URL asks for
    it is the operator's to fix: held, no subscriber disabled. Before: both were "SMTP connection
    failed: SMTPNotSupportedError", retried for three days, then every such subscriber disabled."""
    mailbox = Mailbox()
    with smtp_server(mailbox, enable_SMTPUTF8=False) as port:
        monkeypatch.setenv("MONITOR_SMTP_URL", f"smtp://127.0.0.1:{port}")
        monkeypatch.setenv("MONITOR_PUBLIC_URL", "https://monitor.example.org")
        monkeypatch.setenv("MONITOR_ADMIN_TARGET", "email:admin@example.org")
        accented = seed_watchlist(db, target="email:hernández@example.org")
        seed_changes(db, accented, STATUS_MOVE)
        assert dispatch(db).failed == 1
        assert not subscription(db, accented).enabled
        assert "SMTPUTF8" in deliveries(db)[0].last_error
        dispatch(db)
        assert [str(m["To"]) for m in mailbox.messages] == ["admin@example.org"]
        monkeypatch.setenv("MONITOR_SMTP_URL", f"smtp://127.0.0.1:{port}?starttls=1")
        plain = seed_watchlist(db, "ftca", target="email:ana@example.org")
        seed_changes(db, plain, NEW_OPINION)
        assert dispatch(db).retried == 1
        assert subscription(db, plain).enabled and "STARTTLS" in deliveries(db)[-1].last_error


def test_email_headers_cannot_be_injected(db, smtp: Mailbox) -> None:
    sub = seed_watchlist(db, target="email:ana@example.org")
    seed_changes(db, sub, dict(NEW_OPINION, title="Evil\r\nBcc: victim@example.org\r\nX-Injected: yes"))
    assert dispatch(db).sent == 1
    mail = smtp.messages[0]
    assert mail["Bcc"] is None and mail["X-Injected"] is None
    assert smtp.envelopes[0].rcpt_tos == ["ana@example.org"]
    with pytest.raises(ConfigError):
        channel_for_target("email:ana@example.org\r\nBcc: x@example.org")


# --- Apprise --------------------------------------------------------------------------------------

def test_apprise_delivers_through_the_library_and_retries_on_failure(db, slack: HttpServer) -> None:
    # Apprise's generic json:// notifier posts to our local server.
    sub = seed_watchlist(db, target=f"apprise:json://127.0.0.1:{slack.port}/notify")
    seed_changes(db, sub, STATUS_MOVE)
    slack.queue(500, "down")
    assert dispatch(db).retried == 1
    assert dispatch(db, utcnow() + dt.timedelta(seconds=10)).sent == 1
    body = slack.requests[-1].json()
    assert "In committee → Reported by committee" in body["message"] and "bivens" in body["title"].lower()


def test_apprise_services_that_read_html_get_the_alert_as_escaped_text(db, slack: HttpServer) -> None:
    """Telegram, Matrix, email and other Apprise services read their body as HTML. The alert is
    plain text, and Apprise converts it for them only when told so: feed text such as "<b>" or "&"
    arrives escaped and each line stays a line. Before: the text went through as HTML (Telegram's
    parse_mode HTML), so a feed's markup was obeyed and the lines ran together."""
    sub = seed_watchlist(db, target=f"apprise:json://127.0.0.1:{slack.port}/notify?format=html")
    seed_changes(db, sub, dict(STATUS_MOVE, title="S. 3470 <b>Bivens</b> & ICE"))
    assert dispatch(db).sent == 1
    message = slack.requests[-1].json()["message"]
    assert "&lt;b&gt;Bivens&lt;/b&gt;" in message and "&amp;" in message and "<b>" not in message
    assert "<br" in message  # Apprise keeps the lines (and spaces, as &nbsp;)


def test_unknown_apprise_url_is_refused() -> None:
    with pytest.raises(ConfigError):
        channel_for_target("apprise:nosuchscheme://x").validate("nosuchscheme://x")


def test_no_channel_error_leaks_a_webhook_url(db, slack: HttpServer) -> None:
    sub = seed_watchlist(db, target="slack:" + slack.url())
    seed_changes(db, sub, STATUS_MOVE)
    slack.queue(400, "invalid_payload " + slack.url())
    dispatch(db)
    assert "XXXXSECRET" not in (deliveries(db)[0].last_error or "")
