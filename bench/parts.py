"""Two fixed costs of an unchanged cycle, measured alone, so the table beside the peers can be read:
the start-up imports, and the HTTP client's own work for N conditional GETs answered 304.

    python bench/parts.py imports                    # CPU s of importing what `run --once` needs
    python bench/parts.py httpx URLS_FILE CONCURRENCY  # CPU s of the GETs through httpx.AsyncClient
    python bench/parts.py urllib URLS_FILE           # CPU s of the same GETs, one by one, with urllib

Each prints one number (CPU seconds of this process). ``httpx`` configures its client as
``monitor.fetch.Fetcher`` does (one pool, keep-alive, ``CONCURRENCY`` requests at a time, the
monitor's per-host limit); ``urllib`` is what feedparser, and so rss2email, fetches with. Each
URL is first asked once for its Last-Modified, so every measured request is answered 304.
"""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.error
import urllib.request


def last_modified(urls: list[str]) -> dict[str, str]:
    out = {}
    for url in urls:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD")) as response:
            out[url] = response.headers["Last-Modified"]
    return out


def imports() -> float:
    started = time.process_time()
    import monitor.cli
    import monitor.drivers.service

    del monitor

    return time.process_time() - started


def with_httpx(urls: list[str], concurrency: int) -> float:
    import httpx

    known = last_modified(urls)

    async def run() -> float:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(limits=limits, follow_redirects=True) as client:
            gate = asyncio.Semaphore(concurrency)

            async def get(url: str) -> None:
                async with gate, client.stream("GET", url, headers={"If-Modified-Since": known[url]}) as response:
                    async for _ in response.aiter_raw():
                        pass
                    assert response.status_code == 304, (url, response.status_code)

            started = time.process_time()
            await asyncio.gather(*(get(url) for url in urls))
            return time.process_time() - started

    return asyncio.run(run())


def with_urllib(urls: list[str]) -> float:
    known = last_modified(urls)
    started = time.process_time()
    for url in urls:
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers={"If-Modified-Since": known[url]}))
            raise AssertionError(f"{url}: not a 304")
        except urllib.error.HTTPError as answer:
            assert answer.code == 304, (url, answer.code)
    return time.process_time() - started


def main() -> None:
    what = sys.argv[1]
    if what == "imports":
        print(f"{imports():.3f}")
        return
    with open(sys.argv[2], encoding="utf-8") as listing:
        urls = [line.strip() for line in listing if line.strip()]
    print(f"{with_httpx(urls, int(sys.argv[3])) if what == 'httpx' else with_urllib(urls):.3f}")


if __name__ == "__main__":
    main()
