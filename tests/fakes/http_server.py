"""One real local HTTP server for every test that needs one: feeds and provider APIs, Slack's
incoming webhooks, a subscriber's webhook endpoint.

A test gives each path a handler (``route``), or a fixed answer (``set``, with ETag and 304 like a
well-behaved provider), or successive answers (``sequence``); ``queue`` scripts the next answers
whatever the path (a Slack 429, a receiver's 503). Every request is recorded with the status it
got, and counted by path. Faults HTTP cannot express (resets, hangs mid-body, gzip bombs) are
raw sockets: ``tests.fakes.socket_faults``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

SLACK_HOOK = "/services/T000/B000/XXXXSECRET"  # the secret part must never appear in output


@dataclass
class Request:
    method: str
    path: str  # the request target as sent: path and query (an absolute URL through a proxy)
    headers: dict[str, str]  # names in lower case
    body: bytes
    client: tuple[str, int]
    status: int = 0  # what the server answered

    @property
    def route(self) -> str:
        """The path without the query: what routes and ``counts`` are keyed by."""
        return urlsplit(self.path).path

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    endless: bool = False  # chunks without end until the client hangs up

    @property
    def data(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


Handler = Callable[[Request], Reply]


def not_found(_request: Request) -> Reply:
    return Reply(404, b"not found", {"Content-Type": "text/plain"})


def slack_ok(_request: Request) -> Reply:
    """What Slack's incoming webhook answers a good message."""
    return Reply(200, "ok", {"Content-Type": "text/html"})


class QuietServer(ThreadingHTTPServer):
    """Keeps a request's exception (mostly a client that hung up, as fetchers do on an error
    reply) in ``errors`` instead of printing it: the in-process CLI tests read stderr."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.errors: list[str] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.append(traceback.format_exc())


class HttpServer:
    """A threaded HTTP/1.1 server on a free loopback port. ``home`` is the path ``url()`` gives
    by default; ``fallback`` answers paths without a route; ``tls`` serves HTTPS with this
    context; ``idle_timeout`` closes a kept-alive connection idle this long, as real servers do;
    ``host``: any loopback address (tests of the address guard allow only one)."""

    def __init__(
        self,
        *,
        home: str = "/",
        fallback: Handler = not_found,
        tls: ssl.SSLContext | None = None,
        idle_timeout: float | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.home = home
        self.host = host
        self.fallback = fallback
        self.routes: dict[str, Handler] = {}
        self.queued: deque[Reply] = deque()
        self.requests: list[Request] = []
        self.counts: Counter[str] = Counter()
        self.connections: set[tuple[str, int]] = set()  # client (address, port) pairs seen
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)  # notified on every request
        self.httpd = QuietServer((host, 0), self._handler_class(idle_timeout))
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        # a short poll interval: close() waits for the serving loop to notice, once per test
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def _handler_class(self, idle_timeout: float | None) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = idle_timeout

            def do_GET(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Request(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    self.client_address,
                )
                with server.arrived:
                    server.connections.add(self.client_address)
                    server.requests.append(request)
                    server.counts[request.route] += 1
                    server.arrived.notify_all()
                reply = server.answer(request)
                request.status = reply.status
                self.send(reply)

            do_POST = do_GET

            def send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.endless:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"x" * 65536
                    try:
                        while True:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    except OSError:  # the client hung up, as it should
                        self.close_connection = True
                        return
                if reply.status == 304:
                    self.end_headers()
                    return
                self.send_header("Content-Length", str(len(reply.data)))
                self.end_headers()
                try:
                    self.wfile.write(reply.data)
                except ConnectionError:  # the sender died waiting (the kill tests)
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def answer(self, request: Request) -> Reply:
        """A queued answer, else the handler of the exact target, else of its path, else the
        fallback. Subclasses wrap this to watch or hold requests."""
        with self.lock:
            if self.queued:
                return self.queued.popleft()
        handler = self.routes.get(request.path) or self.routes.get(request.route) or self.fallback
        return handler(request)

    def wait_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Wait until ``count`` requests in all have arrived (or ``timeout`` passed): an event,
        no polling."""
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def route(self, path: str, handler: Handler) -> None:
        """Answer ``path`` with ``handler``; ``/api?op=x`` answers only that exact target."""
        self.routes[path] = handler

    def set(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        etag: bool = False,
        content_type: str = "application/xml",
    ) -> None:
        """Always this answer at ``path``; with ``etag`` a conditional request for the same body
        gets 304."""
        reply = Reply(status, body, {"Content-Type": content_type} | (headers or {}))
        tag = '"' + hashlib.sha1(reply.data).hexdigest() + '"'

        def fixed(request: Request) -> Reply:
            if not etag:
                return reply
            if request.headers.get("if-none-match") == tag:
                return Reply(304, b"", reply.headers | {"ETag": tag})
            return Reply(reply.status, reply.body, reply.headers | {"ETag": tag})

        self.route(path, fixed)

    def sequence(self, path: str, replies: list[Reply]) -> None:
        """Successive requests of ``path`` get these replies; the last one repeats."""
        queue = list(replies)

        def next_reply(_request: Request) -> Reply:
            with self.lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        self.route(path, next_reply)

    def queue(
        self, status: int, body: bytes | str = b"", headers: dict[str, str] | None = None
    ) -> None:
        """The next request, whatever its path, gets this answer (several calls: in order)."""
        self.queued.append(Reply(status, body, headers or {}))

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str | None = None) -> str:
        return self.base + (self.home if path is None else path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SignedWebhooks:
    """A subscriber's webhook endpoint (a handler): it recomputes the Standard Webhooks signature
    on its own (not with ``alerts.webhook``), answers 401 to a bad one, and keeps one accepted
    delivery per ``webhook-id`` in ``unique`` (the receiver-side dedup the spec recommends).
    ``delay``: seconds it takes to answer (a slow receiver, for the kill tests)."""

    def __init__(self, secret: str, *, delay: float = 0.0) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))
        self.delay = delay
        self.unique: dict[str, Request] = {}

    def valid(self, request: Request) -> bool:
        headers = request.headers
        signed = (
            f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode()
            + request.body
        )
        expected = (
            "v1," + base64.b64encode(hmac.new(self.key, signed, hashlib.sha256).digest()).decode()
        )
        return any(
            hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split()
        )

    def __call__(self, request: Request) -> Reply:
        time.sleep(self.delay)
        if not self.valid(request):
            return Reply(401, "bad signature")
        self.unique.setdefault(request.headers.get("webhook-id", ""), request)
        return Reply(200)


def webhook_receiver(secret: str, *, delay: float = 0.0) -> tuple[HttpServer, SignedWebhooks]:
    """A server whose home path is a subscriber's endpoint checking signatures with ``secret``."""
    server, hooks = HttpServer(home="/hooks/remedy"), SignedWebhooks(secret, delay=delay)
    server.route("/hooks/remedy", hooks)
    return server, hooks
