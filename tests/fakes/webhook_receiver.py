"""A real HTTP receiver for signed webhooks that checks signatures as a subscriber would.

It recomputes the Standard Webhooks signature on its own (not with ``alerts.webhook``), keeps
every request, and keeps one delivery per ``webhook-id`` in ``unique`` (the receiver-side
dedup the spec recommends). ``queue(status, body, headers)`` scripts the next answers; in a
queued body ``{path}`` stands for the request's path (a receiver or proxy that echoes it).
``delay`` seconds pass between reading a request and answering it (a slow receiver).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    valid: bool

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, secret: str, *, delay: float = 0.0) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))
        self.requests: list[Received] = []
        self.unique: dict[str, Received] = {}
        self.answers: deque[tuple[int, str, dict[str, str]]] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
                expected = "v1," + base64.b64encode(hmac.new(receiver.key, signed, hashlib.sha256).digest()).decode()
                valid = any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split())
                record = Received(headers, body, valid)
                receiver.requests.append(record)
                status, text, extra = receiver.answers.popleft() if receiver.answers else (200, "", {})
                text = text.replace("{path}", self.path)
                time.sleep(delay)
                if status < 300 and valid:
                    receiver.unique.setdefault(headers.get("webhook-id", ""), record)
                if not valid:
                    status, text = 401, "bad signature"
                payload = text.encode()
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except ConnectionError:  # the sender died waiting (the kill tests)
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks/remedy") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def queue(self, status: int, body: str = "", headers: dict[str, str] | None = None) -> None:
        self.answers.append((status, body, headers or {}))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
