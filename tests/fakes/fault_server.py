"""A real local HTTP server whose routes misbehave on purpose: slow answers, endless bodies,
Last-Modified validators, scripted status sequences. Every request is counted per path."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    endless: bool = False  # stream chunks without Content-Length until the client hangs up


Route = Callable[[dict[str, str]], Reply]  # request headers (lower-case names) -> reply


class FaultServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.counts: Counter[str] = Counter()
        self.headers_seen: dict[str, list[dict[str, str]]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.counts[path] += 1
                server.headers_seen.setdefault(path, []).append(headers)
                route = server.routes.get(path)
                reply = route(headers) if route else Reply(404, b"not found")
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.endless:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"x" * 65536
                    try:
                        while True:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    except (BrokenPipeError, ConnectionResetError):
                        return
                if reply.status != 304:
                    self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if reply.status != 304:
                    self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def route(self, path: str, route: Route) -> None:
        self.routes[path] = route

    def always(self, path: str, reply: Reply) -> None:
        self.routes[path] = lambda _headers: reply

    def sequence(self, path: str, replies: list[Reply]) -> None:
        """Successive requests get these replies; the last one repeats."""
        queue = list(replies)
        self.routes[path] = lambda _headers: queue.pop(0) if len(queue) > 1 else queue[0]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
