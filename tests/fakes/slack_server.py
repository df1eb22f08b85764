"""A real HTTP server that answers like Slack's incoming-webhook endpoint.

Script answers with ``queue(status, body, headers)``; without a script it answers 200 ``ok``.
Every request is recorded (path, headers, JSON body) for the test to inspect.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class SlackServer:
    answers: deque[tuple[int, str, dict[str, str]]] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                server.requests.append(Recorded(self.path, dict(self.headers), body))
                status, text, headers = server.answers.popleft() if server.answers else (200, "ok", {})
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, path: str = "/services/T000/B000/XXXXSECRET") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def queue(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        self.answers.append((status, body, headers or {}))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
