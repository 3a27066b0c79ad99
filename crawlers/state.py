"""Crawl state kept on local disk, whatever the store: feed state, the page queue and the page archive.

This is what makes a run safe to kill. Each page moves through
`queued` (a feed named it) -> `fetched` (its raw HTML is archived here, compressed) -> `indexed` (it is in
the store), or `failed`. A feed's new state (ETag, body hash) is saved in the same transaction that queues
its items, so a feed body is never marked seen before its articles are queued; a queued page is fetched by
the next run if this one dies; an archived page is (re-)indexed by the next run if the store was down or
the run was killed before indexing. Re-indexing is idempotent, so nothing is lost and nothing doubles.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    body_hash TEXT,
    last_polled_at TEXT,
    next_poll_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS pages (
    url TEXT PRIMARY KEY,            -- normalised URL: the article's identity
    fetch_url TEXT NOT NULL,         -- the address to fetch, as discovered
    source TEXT NOT NULL,
    status TEXT NOT NULL,            -- queued, fetched, indexed, failed
    discovered_at TEXT NOT NULL,
    hint TEXT NOT NULL DEFAULT '{}', -- what the feed said (title, published), a fallback for extraction
    attempts INTEGER NOT NULL DEFAULT 0,
    fetched_at TEXT,
    final_url TEXT,
    encoding TEXT,
    html BLOB,                       -- zlib-compressed raw HTML
    error TEXT
);
CREATE INDEX IF NOT EXISTS pages_status ON pages(status);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    counters TEXT NOT NULL DEFAULT '{}'
);
"""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class FeedState:
    """What storytrail remembers of one feed between polls."""

    url: str
    source: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_polled_at: datetime | None = None
    next_poll_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None


@dataclass
class QueuedPage:
    url: str
    fetch_url: str
    source: str
    hint: dict = field(default_factory=dict)
    attempts: int = 0


@dataclass
class ArchivedPage:
    """A fetched page as archived: enough to extract it again without re-fetching."""

    url: str
    fetch_url: str
    final_url: str
    source: str
    html: bytes
    encoding: str | None
    fetched_at: datetime
    hint: dict


class CrawlState:
    """The local state database (`<data-dir>/state.db`)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- feeds ----------------------------------------------------------------------------------
    def get_feed(self, url: str, source: str) -> FeedState:
        row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            return FeedState(url=url, source=source)
        return FeedState(
            url=row["url"],
            source=row["source"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            last_polled_at=_parse_time(row["last_polled_at"]),
            next_poll_at=_parse_time(row["next_poll_at"]),
            failures=row["failures"],
            last_error=row["last_error"],
        )

    def save_feed(self, feed: FeedState, pages: list[QueuedPage] = ()) -> list[QueuedPage]:
        """Save a feed's state and queue its pages in one transaction; returns the pages not seen before."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            added = self._queue(pages)
            self.db.execute(
                "INSERT OR REPLACE INTO feeds (url, source, etag, last_modified, body_hash, last_polled_at, "
                "next_poll_at, failures, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    feed.url, feed.source, feed.etag, feed.last_modified, feed.body_hash,
                    _format_time(feed.last_polled_at), _format_time(feed.next_poll_at), feed.failures, feed.last_error,
                ),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return added

    def list_feeds(self) -> list[FeedState]:
        return [self.get_feed(r["url"], r["source"]) for r in self.db.execute("SELECT url, source FROM feeds ORDER BY url")]

    # -- pages ----------------------------------------------------------------------------------
    def queue(self, pages: list[QueuedPage]) -> list[QueuedPage]:
        """Queue pages; returns those not seen before."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            added = self._queue(pages)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return added

    def _queue(self, pages: list[QueuedPage]) -> list[QueuedPage]:
        now = _format_time(utcnow())
        added = []
        for page in pages:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO pages (url, fetch_url, source, status, discovered_at, hint) "
                "VALUES (?, ?, ?, 'queued', ?, ?)",
                (page.url, page.fetch_url, page.source, now, json.dumps(page.hint, default=str)),
            )
            if cursor.rowcount:
                added.append(page)
        return added

    def is_known(self, url: str) -> bool:
        return self.db.execute("SELECT 1 FROM pages WHERE url = ?", (url,)).fetchone() is not None

    def pages_to_fetch(self, max_attempts: int) -> list[QueuedPage]:
        """Queued pages, and failed ones whose failure may pass (5xx, timeouts) with attempts left."""
        rows = self.db.execute(
            "SELECT url, fetch_url, source, hint, attempts FROM pages "
            "WHERE status = 'queued' OR (status = 'retry' AND attempts < ?) ORDER BY discovered_at, url",
            (max_attempts,),
        )
        return [QueuedPage(r["url"], r["fetch_url"], r["source"], json.loads(r["hint"]), r["attempts"]) for r in rows]

    def record_fetched(self, page: ArchivedPage) -> None:
        """Archive a fetched page (queued or not); it waits for indexing until `mark_indexed`."""
        self.db.execute(
            "INSERT INTO pages (url, fetch_url, source, status, discovered_at, hint, attempts, fetched_at, "
            "final_url, encoding, html) VALUES (?, ?, ?, 'fetched', ?, ?, 1, ?, ?, ?, ?) "
            "ON CONFLICT(url) DO UPDATE SET status = 'fetched', attempts = attempts + 1, error = NULL, "
            "fetched_at = excluded.fetched_at, final_url = excluded.final_url, encoding = excluded.encoding, "
            "html = excluded.html",
            (
                page.url, page.fetch_url, page.source, _format_time(page.fetched_at), json.dumps(page.hint, default=str),
                _format_time(page.fetched_at), page.final_url, page.encoding, zlib.compress(page.html, 6),
            ),
        )

    def record_failed(self, url: str, reason: str, retryable: bool) -> None:
        """A fetch failed: `retry` pages are tried again by later runs, `failed` ones are not."""
        self.db.execute(
            "UPDATE pages SET status = ?, attempts = attempts + 1, error = ? WHERE url = ?",
            ("retry" if retryable else "failed", reason, url),
        )

    def mark_indexed(self, url: str) -> None:
        self.db.execute("UPDATE pages SET status = 'indexed', error = NULL WHERE url = ?", (url,))

    def mark_unusable(self, url: str, reason: str) -> None:
        """A fetched page that cannot become an article (no text): kept archived, not retried."""
        self.db.execute("UPDATE pages SET status = 'failed', error = ? WHERE url = ?", (reason, url))

    def pages_to_index(self) -> Iterator[ArchivedPage]:
        """Archived pages not yet in the store (the store was down, or the run was killed)."""
        urls = [r[0] for r in self.db.execute("SELECT url FROM pages WHERE status = 'fetched' ORDER BY fetched_at, url")]
        for url in urls:
            page = self.get_archived(url)
            if page is not None:
                yield page

    def get_archived(self, url: str) -> ArchivedPage | None:
        row = self.db.execute("SELECT * FROM pages WHERE url = ? AND html IS NOT NULL", (url,)).fetchone()
        if row is None:
            return None
        return ArchivedPage(
            url=row["url"],
            fetch_url=row["fetch_url"],
            final_url=row["final_url"] or row["fetch_url"],
            source=row["source"],
            html=zlib.decompress(row["html"]),
            encoding=row["encoding"],
            fetched_at=_parse_time(row["fetched_at"]) or utcnow(),
            hint=json.loads(row["hint"]),
        )

    def count_by_status(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT status, count(*) FROM pages GROUP BY status")}

    # -- runs -----------------------------------------------------------------------------------
    def start_run(self) -> int:
        return self.db.execute("INSERT INTO runs (started_at) VALUES (?)", (_format_time(utcnow()),)).lastrowid

    def finish_run(self, run_id: int, counters: dict[str, int]) -> None:
        self.db.execute(
            "UPDATE runs SET finished_at = ?, counters = ? WHERE id = ?",
            (_format_time(utcnow()), json.dumps(counters, sort_keys=True), run_id),
        )

    def last_run(self) -> tuple[datetime, datetime | None, dict[str, int]] | None:
        row = self.db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return _parse_time(row["started_at"]), _parse_time(row["finished_at"]), json.loads(row["counters"])


def _format_time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
