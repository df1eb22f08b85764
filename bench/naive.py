"""The naive peer: a sequential loop of ``feedparser.parse(url)`` storing entries in SQLite.

This is what a user writes in ten minutes: no conditional requests, no concurrency.

    python bench/naive.py URLS_FILE DB_PATH
"""

from __future__ import annotations

import sqlite3
import sys

import feedparser


def main(urls_file: str, db_path: str) -> None:
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE IF NOT EXISTS entries (id TEXT PRIMARY KEY, feed TEXT, title TEXT, link TEXT, "
               "summary TEXT, published TEXT)")
    with open(urls_file, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    for url in urls:
        feed = feedparser.parse(url)
        db.executemany(
            "INSERT OR IGNORE INTO entries VALUES (?, ?, ?, ?, ?, ?)",
            [(e.get("id") or e.get("link"), url, e.get("title"), e.get("link"), e.get("summary"),
              e.get("published")) for e in feed.entries],
        )
        db.commit()
    db.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
