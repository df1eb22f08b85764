"""``monitor demo``: an offline tour with the project's own sample responses, no API keys.

A local HTTP server serves ``samples/<id>.<poll>.<ext>`` for any path under ``/<id>/`` (poll 2
falls back to poll 1) and a local Slack-compatible receiver takes the alerts, so the tour runs
the real pipeline, outbox and dispatcher end to end with the shipped starter watchlists: poll 1
is the baseline, poll 2 adds a Bivens opinion to the Ninth Circuit feed and, in S. 3470's GovInfo
BILLSTATUS file, moves the bill out of the Judiciary Committee (invented actions, labelled as demo
data in the sample). The tour prints the Slack alerts as a reader sees them (the Block Kit
layout as text) and writes the day's email digest to an HTML file.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alerts import channel_for_target
from monitor.cli.watchlist_admin import apply, parse_file, starter_text
from monitor.config import load_config
from monitor.db import Database
from monitor.delivery.digest import preview_message
from monitor.drivers.service import run_once
from monitor.models import Subscription, Watchlist, utcnow

SAMPLES = resources.files("monitor.demo") / "samples"
SUBSCRIBED = ("bivens", "federal-legislation")  # starter watchlists the demo's reader follows


@dataclass
class DemoServer:
    """Serves the current poll's samples and records what the Slack receiver got."""

    poll: int = 1
    slack_posts: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        demo = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = demo.sample(self.path.strip("/").split("/")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/xml" if body is not None else "text/plain")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def do_POST(self) -> None:
                demo.slack_posts.append(json.loads(self.rfile.read(int(self.headers.get("content-length", 0)))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def sample(self, source_id: str) -> bytes | None:
        for poll in (self.poll, 1):
            for entry in SAMPLES.iterdir():
                if entry.name.startswith(f"{source_id}.{poll}."):
                    return entry.read_bytes()
        return None

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def slack_as_text(payload: dict[str, Any]) -> str:
    """A Block Kit message as a terminal shows it: header, sections, was/now fields, evidence."""
    lines = []
    for block in payload.get("blocks", []):
        if block["type"] == "header":
            lines.append(block["text"]["text"].upper())
        elif block["type"] == "section":
            lines.append(block["text"]["text"])
            lines.extend("   " + f["text"].replace("\n", ": ", 1) for f in block.get("fields", []))
            if "accessory" in block:
                lines.append(f"   [Open] {block['accessory']['url']}")
        elif block["type"] == "context":
            lines.extend("   " + e["text"] for e in block["elements"])
    return "\n".join(lines)


def setup(db: Database, server: DemoServer, directory: Path) -> Path:
    """The sources config, the starter watchlists, and a Slack + digest subscription to two of them."""
    config = directory / "sources.yaml"
    config.write_text((SAMPLES / "sources.yaml").read_text(encoding="utf-8").replace("{base}", server.base),
                      encoding="utf-8")
    with db.session() as session:
        for spec in parse_file(starter_text(), "starter_watchlists.yaml"):
            apply(session, spec)
        session.flush()
        for watchlist in session.scalars(select(Watchlist).where(Watchlist.name.in_(SUBSCRIBED))):
            session.add(Subscription(watchlist_id=watchlist.id, channel="slack",  # one Slack channel each
                                     target=f"slack:{server.base}/slack/{watchlist.name}",
                                     unsubscribe_token=secrets.token_urlsafe(24)))
            session.add(Subscription(watchlist_id=watchlist.id, channel="email", target="email:you@example.org",
                                     mode="digest", digest_at="07:30", timezone="America/Chicago",
                                     unsubscribe_token=secrets.token_urlsafe(24)))
    return config


def run_demo(directory: Path) -> tuple[list[str], Path]:
    """Two polls against the samples; returns the Slack alert texts and the digest's path."""
    os.environ["MONITOR_ALLOW_PRIVATE_URLS"] = "1"  # the demo's servers are on loopback
    os.environ.setdefault("MONITOR_PUBLIC_URL", "http://127.0.0.1:8080")
    directory.mkdir(parents=True, exist_ok=True)
    for stale in ("demo.db", "digest.html"):
        (directory / stale).unlink(missing_ok=True)
    db = Database(f"sqlite:///{directory / 'demo.db'}")
    server = DemoServer()
    try:
        db.upgrade()
        config = load_config(setup(db, server, directory))
        asyncio.run(run_once(db, config, wait_limit=5))
        server.poll = 2
        asyncio.run(run_once(db, config, wait_limit=5))
        with db.session() as session:
            digest_subs = list(session.scalars(select(Subscription).where(Subscription.mode == "digest")))
            message = preview_message(session, digest_subs, utcnow().date())
            rendered = channel_for_target(digest_subs[0].target).render(message)
        out = directory / "digest.html"
        out.write_text(str(rendered["html"]), encoding="utf-8")
        return [slack_as_text(post) for post in server.slack_posts], out
    finally:
        server.close()
        db.dispose()
