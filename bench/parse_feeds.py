"""Parse time per real court feed: fastfeedparser vs feedparser, and what our parse path costs.

Reads every feed in ../shared/realdata/{pacer_rss,court_opinion_feeds} (or the directory given
as the first argument) and prints a table of the median of N runs per parser:

    /work/venv/bin/python bench/parse_feeds.py [REALDATA_DIR] [--runs N]

Columns: ``feedparser`` as the foundation called it (no sanitising, no URI resolution);
``fastfeedparser`` on the same bytes; ``clean+fast`` is ``monitor.sources.feedparse.parse_feed``
(byte cleaning included), the path every rss/pacer_rss poll takes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import fastfeedparser
import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from monitor.sources.feedparse import parse_feed

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REALDATA = next((p for p in (ROOT.parent / "shared" / "realdata", ROOT.parent.parent / "shared" / "realdata")
                         if p.is_dir()), ROOT.parent / "shared" / "realdata")


def median_ms(fn: Callable[[bytes], object], body: bytes, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(body)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("realdata", nargs="?", type=Path, default=DEFAULT_REALDATA)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    feeds = sorted(args.realdata.glob("pacer_rss/*/*.xml")) + sorted(args.realdata.glob("court_opinion_feeds/*.xml"))
    if not feeds:
        sys.exit(f"no feeds under {args.realdata}")
    parsers: dict[str, Callable[[bytes], object]] = {
        "feedparser": lambda b: feedparser.parse(b, sanitize_html=False, resolve_relative_uris=False),
        "fastfeedparser": fastfeedparser.parse,
        "clean+fast": parse_feed,
    }
    print(f"{'feed':<42}{'KB':>7}{'items':>7}" + "".join(f"{name:>16}" for name in parsers) + f"{'speed-up':>10}")
    totals = dict.fromkeys(parsers, 0.0)
    for path in feeds:
        body = path.read_bytes()
        row = {name: median_ms(fn, body, args.runs) for name, fn in parsers.items()}
        for name, value in row.items():
            totals[name] += value
        items = len(parse_feed(body).entries)
        label = f"{path.parent.name}/{path.name}"[-41:]
        print(f"{label:<42}{len(body) / 1024:>7.1f}{items:>7}" + "".join(f"{row[n]:>13.2f} ms" for n in parsers)
              + f"{row['feedparser'] / row['clean+fast']:>9.1f}x")
    print(f"{'total':<56}" + "".join(f"{totals[n]:>13.2f} ms" for n in parsers)
          + f"{totals['feedparser'] / totals['clean+fast']:>9.1f}x")


if __name__ == "__main__":
    main()
