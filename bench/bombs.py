"""Peak memory of one fetch of a compressed body, against the 20 MB cap (issue 16 item 5).

Not part of CI. Serves each body from a local HTTP server and fetches it once through
``Fetcher``/``PollClient`` as a poll would, with tracemalloc measuring the peak of what Python
allocated during the fetch (zlib's own buffers are allocated through Python's allocator too).

    python bench/bombs.py
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import os
import sys
import threading
import tracemalloc
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["MONITOR_ALLOW_PRIVATE_URLS"] = "1"  # the server is on loopback

from monitor.errors import FetchError
from monitor.fetch import DEFAULT_MAX_BYTES, Fetcher, PollClient

MB = 1024 * 1024


def gzip_of_zeros(size: int) -> bytes:
    """gzip of ``size`` zero bytes, built a megabyte at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    return b"".join(packer.compress(block) for _ in range(size // MB)) + packer.flush()


def bodies() -> dict[str, tuple[bytes, str]]:
    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
            + b"<item><title>an item</title><guid>g</guid></item>" * (15 * MB // 48) + b"</channel></rss>")
    one_gb = gzip_of_zeros(1024 * MB)
    return {
        "gzip, gzip: 1 GiB of zeros twice compressed": (gzip.compress(one_gb, 9), "gzip, gzip"),
        "gzip: 1 GiB of zeros": (one_gb, "gzip"),
        "gzip: a 15 MB feed (under the cap)": (gzip.compress(feed, 6), "gzip"),
        "identity: the same 15 MB feed": (feed, ""),
    }


def serve(body: bytes, encoding: str) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            if encoding:
                self.send_header("Content-Encoding", encoding)
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the client hung up at the cap

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def fetch(url: str) -> str:
    async with Fetcher(retries=0) as fetcher:
        try:
            response = await PollClient(fetcher, "bomb").get(url)
        except FetchError as exc:
            return f"refused: {exc}"
        return f"{len(response.body) / MB:.1f} MB body"


def main() -> None:
    print(f"cap: {DEFAULT_MAX_BYTES / MB:.0f} MB")
    cases = {"warm-up (imports, TLS context; not measured)": (b"<rss/>", "")} | bodies()
    for name, (body, encoding) in cases.items():
        server = serve(body, encoding)
        url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
        tracemalloc.start()
        outcome = asyncio.run(fetch(url))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        server.shutdown()
        if name.startswith("warm-up"):
            continue
        print(f"{name}: {len(body):,} bytes sent; peak {peak / MB:.1f} MB; {outcome}")


if __name__ == "__main__":
    main()
