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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from crawlers.sqlite_files import connect

try:
    from compression import zstd  # Python 3.14 and later
except ImportError:
    from backports import zstd

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
    html BLOB,                       -- raw HTML, zstd-compressed (zlib in archives written before 2026-12)
    error TEXT
);
CREATE INDEX IF NOT EXISTS pages_status ON pages(status);
CREATE TABLE IF NOT EXISTS jobs (  -- long maintenance work (reextract, relink): where it stopped, to resume there
    name TEXT PRIMARY KEY,
    position TEXT,                   -- the last item done, in the job's own order; NULL: not started
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (   -- e.g. the generation id of the store the pages were indexed into
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    counters TEXT NOT NULL DEFAULT '{}'
);
"""


# The page archive is zstd-compressed at zstd's default level. On the 181 benchmark pages (two runs) level 3 takes
# 0.45-0.54 ms a page for an archive as small as zlib level 6 makes (ratio 5.08 against 5.06), where zlib
# level 1, used before, took 1.14-1.34 ms for a 19% larger one (ratio 4.26); zstd level 1 saves another
# 0.1 ms a page for a 6% larger archive. Pages archived with zlib are still read (`_unpack_html`).
ARCHIVE_ZSTD_LEVEL = 3
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # every zstd frame starts so; a zlib stream starts with 0x78


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
    # Adaptive polling (crawlers/poll_schedule.py): the feed's current interval, when it last answered and last
    # brought something new, and the usual gap between polls that brought something new.
    interval_min: float | None = None
    last_success_at: datetime | None = None
    last_new_at: datetime | None = None
    new_gap_min: float | None = None


# Columns added to `feeds` after its first release: (name, SQL type), added to older state files on open.
FEED_COLUMNS_ADDED = (("interval_min", "REAL"), ("last_success_at", "TEXT"), ("last_new_at", "TEXT"), ("new_gap_min", "REAL"))


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
    html: bytes = field(repr=False)  # never in a log line or a traceback
    encoding: str | None
    fetched_at: datetime
    hint: dict


class StateError(Exception):
    """The crawl state cannot be used (a corrupted or unreadable state.db); the message names the file."""


class CrawlState:
    """The local state database (`<data-dir>/state.db`)."""

    def __init__(self, path: Path | str, read_only: bool = False) -> None:
        """With `read_only` (`stats`), an existing file is read and never written."""
        self.path = str(path)
        try:
            self.db, self.read_only = connect(self.path, SCHEMA, read_only)
            columns = {r["name"] for r in self.db.execute("PRAGMA table_info(feeds)")}
            for name, kind in FEED_COLUMNS_ADDED:
                if name not in columns and not self.read_only:
                    self.db.execute(f"ALTER TABLE feeds ADD COLUMN {name} {kind}")
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.path}: cannot open the crawl state: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error or interruption."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled back already (disk full)
                self.db.execute("ROLLBACK")
            raise

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
            interval_min=row["interval_min"],
            last_success_at=_parse_time(row["last_success_at"]),
            last_new_at=_parse_time(row["last_new_at"]),
            new_gap_min=row["new_gap_min"],
        )

    def save_feed(self, feed: FeedState, pages: list[QueuedPage] = ()) -> list[QueuedPage]:
        """Save a feed's state and queue its pages in one transaction; returns the pages not seen before."""
        with self._transaction():
            added = self._queue(pages)
            self.db.execute(
                "INSERT OR REPLACE INTO feeds (url, source, etag, last_modified, body_hash, last_polled_at, "
                "next_poll_at, failures, last_error, interval_min, last_success_at, last_new_at, new_gap_min) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    feed.url, feed.source, feed.etag, feed.last_modified, feed.body_hash,
                    _format_time(feed.last_polled_at), _format_time(feed.next_poll_at), feed.failures, feed.last_error,
                    feed.interval_min, _format_time(feed.last_success_at), _format_time(feed.last_new_at), feed.new_gap_min,
                ),
            )
        return added

    def list_feeds(self) -> list[FeedState]:
        return [self.get_feed(r["url"], r["source"]) for r in self.db.execute("SELECT url, source FROM feeds ORDER BY url")]

    # -- pages ----------------------------------------------------------------------------------
    def queue(self, pages: list[QueuedPage]) -> list[QueuedPage]:
        """Queue pages; returns those not seen before."""
        with self._transaction():
            return self._queue(pages)

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
                _format_time(page.fetched_at), page.final_url, page.encoding, zstd.compress(page.html, ARCHIVE_ZSTD_LEVEL),
            ),
        )

    def record_failed(self, url: str, reason: str, retryable: bool) -> None:
        """A fetch failed: `retry` pages are tried again by later runs, `failed` ones are not."""
        self.db.execute(
            "UPDATE pages SET status = ?, attempts = attempts + 1, error = ? WHERE url = ?",
            ("retry" if retryable else "failed", reason, url),
        )

    def mark_indexed(self, urls: list[str]) -> None:
        """The pages of one store commit are in the store: one state transaction for them all."""
        with self._transaction():
            self.db.executemany("UPDATE pages SET status = 'indexed', error = NULL WHERE url = ?", [(u,) for u in urls])

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
            html=_unpack_html(row["html"]),
            encoding=row["encoding"],
            fetched_at=_parse_time(row["fetched_at"]) or utcnow(),
            hint=json.loads(row["hint"]),
        )

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def indexed_urls(self) -> Iterator[list[str]]:
        """URLs of the pages marked indexed whose HTML is archived, in batches of 500, in URL order."""
        last = ""
        while rows := self.db.execute("SELECT url FROM pages WHERE status = 'indexed' AND html IS NOT NULL "
                                      "AND url > ? ORDER BY url LIMIT 500", (last,)).fetchall():
            yield [r[0] for r in rows]
            last = rows[-1][0]

    def mark_for_reindex(self, urls: list[str]) -> None:
        """Indexed pages the store lacks go back to `fetched`: the next indexing pass stores them again."""
        self.db.executemany("UPDATE pages SET status = 'fetched' WHERE url = ? AND html IS NOT NULL", [(u,) for u in urls])

    def count_by_status(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT status, count(*) FROM pages GROUP BY status")}

    def last_fetched(self) -> dict[str, datetime]:
        """When each source's latest page was fetched."""
        rows = self.db.execute("SELECT source, max(fetched_at) FROM pages WHERE fetched_at IS NOT NULL GROUP BY source")
        return {r[0]: _parse_time(r[1]) for r in rows}

    def indexed_since(self, since: datetime) -> dict[str, int]:
        """Pages per source fetched since `since` and now in the store: the source's new articles."""
        rows = self.db.execute("SELECT source, count(*) FROM pages WHERE status = 'indexed' AND fetched_at >= ? "
                               "GROUP BY source", (_format_time(since),))
        return {r[0]: r[1] for r in rows}

    def archived_urls(self, source: str | None = None) -> list[str]:
        """URLs of every page whose raw HTML is archived (of one source), in URL order."""
        rows = self.db.execute("SELECT url FROM pages WHERE html IS NOT NULL AND (? IS NULL OR source = ?) ORDER BY url",
                               (source, source))
        return [r[0] for r in rows]

    # -- jobs -----------------------------------------------------------------------------------
    def job_position(self, name: str) -> tuple[bool, str | None]:
        """(unfinished job found, its last item done) for a job started by `start_job`."""
        row = self.db.execute("SELECT position FROM jobs WHERE name = ?", (name,)).fetchone()
        return (row is not None, row["position"] if row else None)

    def start_job(self, name: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO jobs (name, position, started_at) VALUES (?, NULL, ?)",
                        (name, _format_time(utcnow())))

    def advance_job(self, name: str, position: str) -> None:
        self.db.execute("UPDATE jobs SET position = ? WHERE name = ?", (position, name))

    def finish_job(self, name: str) -> None:
        self.db.execute("DELETE FROM jobs WHERE name = ?", (name,))

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


def _unpack_html(blob: bytes) -> bytes:
    """An archived page's HTML: zstd, or zlib for pages archived by versions before the switch."""
    return zstd.decompress(blob) if blob[:4] == _ZSTD_MAGIC else zlib.decompress(blob)
