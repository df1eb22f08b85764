"""A real socket server that misbehaves on purpose, one fault per path.

``http_server.HttpServer`` speaks well-formed HTTP; the faults a monitoring service meets in the wild
(connections reset mid-body, bodies that never end, a TLS handshake on a plain port, a
gzip bomb) need raw sockets, so this server reads the request head itself and hands the
connection to the fault named for that path. ``heal(path, body)`` turns a path back into a
healthy feed so a test can check that the source recovers by itself.

``Blackhole`` is a listening socket whose accept queue is full and never drained, so a
connect to it times out rather than being refused.
"""

from __future__ import annotations

import functools
import gzip
import socket
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

Fault = Callable[[socket.socket], None]


def http_head(status: int, headers: dict[str, str] | None = None, reason: str = "X") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Fault:
    """A complete, well-formed response (the healthy case and the plain HTTP errors)."""
    hdrs = {"Content-Type": "application/rss+xml", "Content-Length": str(len(body)), "Connection": "close"}
    hdrs |= headers or {}

    def send(conn: socket.socket) -> None:
        conn.sendall(http_head(status, hdrs) + body)

    return send


def hang_before_headers(seconds: float = 30.0) -> Fault:
    """Read the request, then say nothing: a read timeout before the status line."""
    def send(conn: socket.socket) -> None:
        time.sleep(seconds)
    return send


def hang_mid_body(body: bytes, seconds: float = 30.0) -> Fault:
    """Headers promise the whole body, half of it comes, then silence."""
    def send(conn: socket.socket) -> None:
        conn.sendall(http_head(200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))})
                     + body[: len(body) // 2])
        time.sleep(seconds)
    return send


def drip(body: bytes, every: float = 0.3) -> Fault:
    """Slowloris: one byte at a time, each within the read timeout, never finishing in time."""
    def send(conn: socket.socket) -> None:
        conn.sendall(http_head(200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body))}))
        for i in range(len(body)):
            conn.sendall(body[i:i + 1])
            time.sleep(every)
    return send


def reset(after_headers: bool = False) -> Fault:
    """Close with an RST (SO_LINGER 0), before anything or after the headers."""
    def send(conn: socket.socket) -> None:
        if after_headers:
            conn.sendall(http_head(200, {"Content-Type": "application/rss+xml", "Content-Length": "5000"}) + b"<rss")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    return send


def truncated(body: bytes) -> Fault:
    """Content-Length larger than what is sent, then a clean close."""
    def send(conn: socket.socket) -> None:
        conn.sendall(http_head(200, {"Content-Type": "application/rss+xml", "Content-Length": str(len(body) + 1000),
                                     "Connection": "close"}) + body)
    return send


@functools.cache
def _bomb(inflated: int) -> bytes:
    return gzip.compress(b"\0" * inflated, compresslevel=9)


def gzip_bomb(inflated: int = 64 * 1024 * 1024) -> Fault:
    """A small gzip body (~64 KB) that inflates far past the size cap."""
    blob = _bomb(inflated)

    def send(conn: socket.socket) -> None:
        conn.sendall(http_head(200, {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip",
                                     "Content-Length": str(len(blob)), "Connection": "close"}) + blob)
    return send


def encoded(body: bytes, encodings: list[str]) -> Fault:
    """``body`` compressed once per name in ``encodings`` (gzip or deflate), declared in that order."""
    for name in encodings:
        body = gzip.compress(body) if name == "gzip" else zlib.compress(body)

    def send(conn: socket.socket) -> None:
        conn.sendall(http_head(200, {"Content-Type": "application/rss+xml", "Content-Encoding": ", ".join(encodings),
                                     "Content-Length": str(len(body)), "Connection": "close"}) + body)
    return send


def endless(record: Callable[[int], None], chunk: int = 64 * 1024, limit: int = 200 * 1024 * 1024) -> Fault:
    """An endless body (no Content-Length); reports how many bytes went out before the client hung up."""
    block = (b"<item><title>x</title></item>" * (chunk // 29 + 1))[:chunk]

    def send(conn: socket.socket) -> None:
        sent = 0
        conn.sendall(http_head(200, {"Content-Type": "application/rss+xml", "Connection": "close"}) + b"<rss><channel>")
        try:
            while sent < limit:
                conn.sendall(block)
                sent += len(block)
        except OSError:
            pass
        record(sent)
    return send


def raw(data: bytes) -> Fault:
    """Arbitrary bytes instead of HTTP (e.g. a TLS ServerHello on a plain-http port)."""
    def send(conn: socket.socket) -> None:
        conn.sendall(data)
    return send


TLS_GARBAGE = bytes.fromhex("160303003d020000390303") + bytes(range(32)) + b"\x00\x13\x01\x00" * 4


@dataclass
class FaultServer:
    faults: dict[str, Fault] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    endless_sent: list[int] = field(default_factory=list)
    host: str = "127.0.0.1"  # any loopback address: tests of the address guard allow only one

    def __post_init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.host, 0))
        self.sock.listen(1024)
        self.closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.sock.getsockname()[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def set(self, path: str, fault: Fault) -> None:
        """Serve ``fault`` at ``path``; ``/api?op=getBill`` matches only requests whose query has ``op=getBill``."""
        self.faults[path] = fault

    def _fault_for(self, target: str) -> Fault:
        path, _, query = target.partition("?")
        for key, fault in self.faults.items():
            key_path, _, key_query = key.partition("?")
            if key_query and key_path == path and key_query in query:
                return fault
        return self.faults.get(path, respond(404, b"not found", {"Content-Type": "text/plain"}))

    def heal(self, path: str, body: bytes | str) -> None:
        self.set(path, respond(200, body.encode() if isinstance(body, str) else body))

    def _serve(self) -> None:
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = conn.recv(4096)
                if not data:
                    return
                head += data
            target = head.split(b" ", 2)[1].decode("latin-1")
            self.counts[target.split("?")[0]] += 1
            fault = self._fault_for(target)
            conn.settimeout(None)
            fault(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closed = True
        self.sock.close()


class Blackhole:
    """A port where TCP connects hang: the accept queue is full and nobody accepts."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.fillers = []
        for _ in range(3):  # fill the accept queue (backlog 0 still admits one or two)
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(self.sock.getsockname())
            self.fillers.append(filler)
        time.sleep(0.05)

    def url(self, path: str = "/feed.xml") -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}{path}"

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.sock.close()
