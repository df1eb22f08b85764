"""A real local HTTP server serving recorded or generated responses by path.

``set(path, body, status=200, headers=..., etag=True)`` publishes a response; with ``etag``
the server answers conditional requests with 304 like a well-behaved provider. Every request
is recorded (method, path with query, headers) so tests can check what was sent and how often.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = False


@dataclass
class Seen:
    path: str  # with query string
    headers: dict[str, str]


class FeedServer:
    """``tls``: serve HTTPS with this context; ``idle_timeout``: close a kept-alive connection that
    stays idle this long, as real servers do (nginx after 75 s)."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, idle_timeout: float | None = None) -> None:
        self.answers: dict[str, Answer] = {}
        self.sequences: dict[str, list[Answer]] = {}
        self.requests: list[Seen] = []
        self.counts: Counter[str] = Counter()
        self.connections: set[tuple[str, int]] = set()  # client (address, port) pairs seen
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = idle_timeout

            def do_GET(self) -> None:  # noqa: N802
                server.connections.add(self.client_address)
                server.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = urlsplit(self.path).path
                server.counts[route] += 1
                answer = server._answer(self.path, route)
                if answer is None:
                    self._reply(404, b"not found", {"Content-Type": "text/plain"})
                    return
                headers = dict(answer.headers)
                if answer.etag:
                    tag = '"' + hashlib.sha1(answer.body).hexdigest() + '"'
                    headers["ETag"] = tag
                    if self.headers.get("If-None-Match") == tag:
                        self._reply(304, b"", headers)
                        return
                self._reply(answer.status, answer.body, headers)

            def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, full: str, route: str) -> Answer | None:
        for key in (full, route):
            if key in self.sequences and self.sequences[key]:
                seq = self.sequences[key]
                return seq.pop(0) if len(seq) > 1 else seq[0]
            if key in self.answers:
                return self.answers[key]
        return None

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, body: bytes | str, *, status: int = 200, headers: dict[str, str] | None = None,
            etag: bool = False, content_type: str = "application/xml") -> None:
        data = body.encode() if isinstance(body, str) else body
        hdrs = {"Content-Type": content_type} | (headers or {})
        self.answers[path] = Answer(data, status, hdrs, etag)

    def sequence(self, path: str, answers: list[Answer]) -> None:
        """Answer successive requests with these answers; the last one repeats."""
        self.sequences[path] = list(answers)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
