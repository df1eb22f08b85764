"""Render goldens: what each channel produces for the same messages, reviewed as files.

A missing golden is written and the test fails ("review and commit"), as for the source examples.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts import CHANNEL_KINDS, channel_for_target
from alerts.base import Message, MessageChange
from monitor.outbox.states import DeliveryKind
from tests.alerting import FIELD_EDIT, NEW_OPINION, STATUS_MOVE, T0, day

EXAMPLES = Path(__file__).parent / "examples" / "alerts"
TARGETS = {"slack": "slack:https://hooks.slack.com/services/T000/B000/XXXX", "email": "email:ana@example.org",
           "webhook": "webhook:https://receiver.example.org/hooks", "apprise": "apprise:json://receiver.example.org/"}


def change(spec: dict[str, str | None], watchlist: str = "bivens") -> MessageChange:
    rule = {"status": "status-move", "new": "new-item", "field": "field-change"}[str(spec["type"])]
    return MessageChange(
        type=str(spec["type"]), item_key=f"ca9:{spec['title']}", title=str(spec["title"]), url=spec["url"],
        kind=str(spec["kind"]), source_id="ca9", source_url="https://www.ca9.uscourts.gov/opinions/rss",
        identity=spec["identity"], status=spec["status"], field=spec.get("field"), old=spec["old"], new=spec["new"],
        raw_status=spec["raw_status"], status_action=spec.get("status_action"),
        status_date=day(spec.get("status_date")), detected_at=T0, rule=f"{watchlist}: {rule} (query)",
        watchlist=watchlist, summary=spec.get("summary"))


MESSAGES = {
    "status_move": Message(watchlist="bivens", watchlist_title="Bivens claims against ICE officers",
                           changes=(change(STATUS_MOVE),), total=1, event_id="rm_p1_s1_1", created_at=T0,
                           extra={"unsubscribe_url": "https://monitor.example.org/unsubscribe/TOKEN"}),
    "grouped_with_more": Message(watchlist="bivens", changes=tuple(change(dict(NEW_OPINION, title=f"Opinion {n}"))
                                                                   for n in range(25)),
                                 total=40, event_id="rm_p2_s1_5", created_at=T0),
    "digest": Message(watchlist="bivens", kind=DeliveryKind.DIGEST, event_id="rm_digest_s1_2026-02-03_9",
                      created_at=T0, total=4,
                      timezone="America/Chicago",
                      changes=(change(STATUS_MOVE), change(NEW_OPINION), change(FIELD_EDIT),
                               change(NEW_OPINION, "ftca")),
                      extra={"date": "2026-02-03", "unsubscribe_url": "https://monitor.example.org/unsubscribe/T1?all=1",
                             "watchlist_titles": {"bivens": "Bivens claims", "ftca": "FTCA claims"},
                             "unsubscribe_urls": {"bivens": "https://monitor.example.org/unsubscribe/T1",
                                                  "ftca": "https://monitor.example.org/unsubscribe/T2"}}),
}


def test_every_channel_has_a_target_here() -> None:
    assert set(TARGETS) == set(CHANNEL_KINDS)


@pytest.mark.parametrize("kind", sorted(TARGETS))
@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_render_golden(kind: str, case: str) -> None:
    rendered = channel_for_target(TARGETS[kind]).render(MESSAGES[case])
    files: dict[str, str] = {}
    if kind == "email":
        files = {f"{case}.txt": rendered["text"], f"{case}.html": rendered["html"],
                 f"{case}.subject.txt": rendered["subject"] + "\n"}
    else:
        files = {f"{case}.json": json.dumps(rendered, indent=2, ensure_ascii=False, sort_keys=True) + "\n"}
    written = []
    for name, text in files.items():
        path = EXAMPLES / kind / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(str(path))
            continue
        assert text == path.read_text(encoding="utf-8"), f"{path} differs: review the change and update the golden"
    assert not written, f"wrote new goldens {written}: review and commit them"


def test_a_new_item_without_a_status_says_when_it_was_published_in_the_readers_zone() -> None:
    """A feed's new opinion often carries no status, only its publication time: that is the day
    it happened, shown beside the detection time, on the subscriber's calendar."""
    import datetime as dt

    change = MessageChange(type="new", item_key="k", title="Reyes v. Hall", url=None, kind="opinion",
                           source_id="ca9", published_at=dt.datetime(2026, 2, 4, 2, 30, tzinfo=dt.UTC),
                           detected_at=dt.datetime(2026, 2, 4, 3, 0, tzinfo=dt.UTC))
    assert change.when() == "Published on Feb 4, 2026 · Detected 2026-02-04 03:00 UTC"
    assert change.when("America/Los_Angeles") == "Published on Feb 3, 2026 · Detected 2026-02-03 19:00 PST"
