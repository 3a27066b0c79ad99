"""The embedded store: one SQLite file (WAL) with FTS5 full-text search.

The zero-setup default, and right for a small VM: one writer (the pipeline) and any number of readers
(`search`, `stats`) at once. Articles are keyed by normalised URL; an edited article keeps its earlier
text in `article_versions`; fingerprints sit in an index table so that candidate lookup for linking is an
index probe, not a scan.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path

from crawlers.sqlite_files import connect
from pipelines.models import Article, ChainInfo, SearchHit, StoreStats, UpsertResult, same_content, with_chain_of
from pipelines.query import to_sqlite
from pipelines.stores.base import Store, StoreError
from pipelines.stores.collapse import best_of_each_story

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    outlet TEXT NOT NULL,
    domain TEXT NOT NULL,
    title TEXT,
    authors TEXT NOT NULL DEFAULT '[]',
    published TEXT,
    language TEXT,
    text TEXT NOT NULL DEFAULT '',
    description TEXT,
    canonical_url TEXT,
    links TEXT NOT NULL DEFAULT '[]',
    fetched_at TEXT NOT NULL,
    fetched_from TEXT,
    text_hash TEXT NOT NULL,
    story_id TEXT,
    is_origin INTEGER NOT NULL DEFAULT 0,
    parent TEXT,
    chain TEXT,
    captured_at TEXT,
    capture_url TEXT
);
CREATE INDEX IF NOT EXISTS articles_outlet ON articles(outlet);
CREATE INDEX IF NOT EXISTS articles_story ON articles(story_id);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);

CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    title, text, authors, content='articles', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, text, authors) VALUES (new.id, new.title, new.text, new.authors);
END;
CREATE TRIGGER IF NOT EXISTS articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, text, authors)
    VALUES ('delete', old.id, old.title, old.text, old.authors);
END;
CREATE TRIGGER IF NOT EXISTS articles_au AFTER UPDATE OF title, text, authors ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, text, authors)
    VALUES ('delete', old.id, old.title, old.text, old.authors);
    INSERT INTO articles_fts(rowid, title, text, authors) VALUES (new.id, new.title, new.text, new.authors);
END;

CREATE TABLE IF NOT EXISTS article_versions (
    url TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS article_versions_url ON article_versions(url);

CREATE TABLE IF NOT EXISTS fingerprints (
    hash INTEGER NOT NULL,
    article_id INTEGER NOT NULL,
    PRIMARY KEY (hash, article_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fingerprints_article ON fingerprints(article_id);
-- The store's generation: a random id made with the file (GENERATION), kept by every later open. state.db records
-- the generation it indexed into, so a replaced or truncated store is noticed (pipelines/store_state_check.py).
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS fingerprint_df (
    hash INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
"""

# Written only to a file without one: opening an existing store (an extraction worker's, pipelines/worker_pool.py)
# then takes no write lock, so it never waits for the writer's open transaction (pipelines/processing.py).
GENERATION = "INSERT OR IGNORE INTO store_meta (key, value) VALUES ('generation', lower(hex(randomblob(16))))"

COLUMNS = (
    "url outlet domain title authors published language text description canonical_url links "
    "fetched_at fetched_from text_hash story_id is_origin parent chain captured_at capture_url indexed_at"
).split()
# Columns added to `articles` after its first release, added to older store files when they are opened.
COLUMNS_ADDED = (("captured_at", "TEXT"), ("capture_url", "TEXT"), ("indexed_at", "TEXT"))
# `indexed_at`: when this store last wrote the article (added, or its record changed), UTC ISO with microseconds,
# for `indexed_since` (alerts). A store file older than the column takes each article's fetch time.
INDEXED_AT_FORMAT = "%Y-%m-%dT%H:%M:%f000+00:00"

SEARCH = "SELECT a.*, {score} AS score, 0 AS copies FROM {source} WHERE {where} ORDER BY score DESC, a.published DESC LIMIT ?"
# One hit per story (an article without one is its own): the matches' ids, stories, scores and dates only, each
# story's best kept in one pass (pipelines/stores/collapse.py); whole rows are read for the `limit` hits shown.
# A window function over the matches (row_number() OVER (PARTITION BY story ...)) did the same in 3x the time
# of the uncollapsed search on bench/pipeline.py's 100k store; this pass takes about 1.4x.
MATCHES = "SELECT a.id, coalesce(a.story_id, a.url), {score}, a.published FROM {source} WHERE {where}"

# The page cache of a connection that writes, in KiB (SQLite's default: 2,000). Linking reads and rewrites
# fingerprint pages all over the file; bench/pipeline.py's 1,810-document import (1 worker, alternating runs)
# took 2.2 and 2.4 s of system time by default, 1.5 and 1.5 at 8,000, 1.4 at 16,000 and 1.1 at 32,000, for
# 14, 30 and 59 MB more peak RSS; user time did not move beyond the machine's noise.
WRITER_CACHE_KIB = 8_000

# SQLite binds at most 32766 variables; stay well below it and keep statements short.
IN_CHUNK = 500


def _storage_errors(write: Callable) -> Callable:
    """A write that fails in SQLite (disk full, read-only file, I/O error) raises StoreError naming the file
    and the cause: the run stops indexing and keeps the pages for the next run (pipelines/processing.py)."""

    @wraps(write)
    def checked(self: SqliteStore, *args, **kwargs):
        try:
            return write(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot write to the SQLite store: {exc}") from None

    return checked


class SqliteStore(Store):
    """Store on one SQLite file; `path` may be ':memory:' for tests."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            self.db, self.read_only = connect(self.path, SCHEMA)
            present = {r["name"] for r in self.db.execute("PRAGMA table_info(articles)")}
            if not self.read_only:  # a read-only file is read as it is (search, stats, export on a backup)
                self.db.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
                if self.db.execute("SELECT 1 FROM store_meta WHERE key = 'generation'").fetchone() is None:
                    self.db.execute(GENERATION)
                for name, kind in COLUMNS_ADDED:
                    if name not in present:
                        self.db.execute(f"ALTER TABLE articles ADD COLUMN {name} {kind}")
                if "indexed_at" not in present:
                    self.db.execute(f"UPDATE articles SET indexed_at = strftime('{INDEXED_AT_FORMAT}', fetched_at)")
                self.db.execute("CREATE INDEX IF NOT EXISTS articles_indexed ON articles(indexed_at)")
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StoreError(f"{self.path}: cannot open SQLite store: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def generation(self) -> str:
        row = self.db.execute("SELECT value FROM store_meta WHERE key = 'generation'").fetchone()
        return row[0] if row else "none"

    # -- articles -------------------------------------------------------------------------------
    @_storage_errors
    def upsert(self, articles: Iterable[Article]) -> UpsertResult:
        result = UpsertResult()
        with self._transaction():
            for article in articles:
                result += self._upsert_one(article)
        return result

    def _upsert_one(self, article: Article) -> UpsertResult:
        row = self.db.execute("SELECT * FROM articles WHERE url = ?", (article.url,)).fetchone()
        if row is None:
            values = _to_row(article)
            self.db.execute(
                f"INSERT INTO articles ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [values[c] for c in COLUMNS],
            )
            return UpsertResult(added=1)
        old = _from_row(row)
        article = with_chain_of(article, old)
        if same_content(old, article):
            return UpsertResult(unchanged=1)
        if old.text_hash != article.text_hash:
            self.db.execute(
                "INSERT INTO article_versions (url, fetched_at, text_hash, record) VALUES (?, ?, ?, ?)",
                (old.url, old.fetched_at.isoformat(), old.text_hash, old.to_json()),
            )
        values = _to_row(article)
        assignments = ", ".join(f"{c} = ?" for c in COLUMNS if c != "url")
        self.db.execute(
            f"UPDATE articles SET {assignments} WHERE url = ?", [values[c] for c in COLUMNS if c != "url"] + [article.url]
        )
        return UpsertResult(updated=1)

    def get(self, url: str) -> Article | None:
        row = self.db.execute("SELECT * FROM articles WHERE url = ?", (url,)).fetchone()
        return _from_row(row) if row else None

    def get_many(self, urls: Iterable[str]) -> dict[str, Article]:
        found: dict[str, Article] = {}
        for chunk in _chunks(list(urls), IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT * FROM articles WHERE url IN ({marks})", chunk):
                found[row["url"]] = _from_row(row)
        return found

    def iter_articles(self, batch_size: int = 500, after: str | None = None) -> Iterator[Article]:
        last = after or ""
        while True:
            rows = self.db.execute(
                "SELECT * FROM articles WHERE url > ? ORDER BY url LIMIT ?", (last, batch_size)
            ).fetchall()
            if not rows:
                return
            yield from (_from_row(r) for r in rows)
            last = rows[-1]["url"]

    def indexed_since(self, since: datetime, batch_size: int = 500) -> Iterator[Article]:
        last = ""
        moment = _utc_iso(since)
        while True:
            rows = self.db.execute(
                "SELECT * FROM articles WHERE indexed_at >= ? AND url > ? ORDER BY url LIMIT ?", (moment, last, batch_size)
            ).fetchall()
            if not rows:
                return
            yield from (_from_row(r) for r in rows)
            last = rows[-1]["url"]

    def history(self, url: str) -> list[Article]:
        rows = self.db.execute(
            "SELECT record FROM article_versions WHERE url = ? ORDER BY rowid", (url,)
        ).fetchall()
        return [Article.from_json(r["record"]) for r in rows]

    def search(self, query: str, limit: int = 20, collapse_stories: bool = False) -> list[SearchHit]:
        match, where, params = to_sqlite(query)
        if match:
            source = "articles_fts JOIN articles a ON a.id = articles_fts.rowid"
            where = " AND ".join(["articles_fts MATCH ?", *([where] if where else [])])
            score, params = "-bm25(articles_fts, 4.0, 1.0, 2.0)", [match, *params]
        else:
            source, where, score = "articles a", where or "1", "0.0"
        try:
            if collapse_stories:
                return self._collapsed(self.db.execute(MATCHES.format(score=score, source=source, where=where), params), limit)
            rows = self.db.execute(SEARCH.format(score=score, source=source, where=where), [*params, limit]).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed for query {query!r}: {exc}") from exc
        return [SearchHit(article=_from_row(r), score=r["score"], copies=r["copies"]) for r in rows]

    def _collapsed(self, matches: Iterable[tuple[int, str, float, str | None]], limit: int) -> list[SearchHit]:
        best = best_of_each_story(matches, limit)
        rows = {r["id"]: r for chunk in _chunks([b.id for b in best], IN_CHUNK)
                for r in self.db.execute(f"SELECT * FROM articles WHERE id IN ({','.join('?' * len(chunk))})", chunk)}
        return [SearchHit(article=_from_row(rows[b.id]), score=b.score, copies=b.copies) for b in best]

    def stats(self) -> StoreStats:
        by_outlet = {r[0]: r[1] for r in self.db.execute("SELECT outlet, count(*) FROM articles GROUP BY outlet ORDER BY outlet")}
        last = {
            r[0]: datetime.fromisoformat(r[1])
            for r in self.db.execute("SELECT outlet, max(fetched_at) FROM articles GROUP BY outlet")
        }
        stories = self.db.execute("SELECT count(DISTINCT coalesce(story_id, url)) FROM articles").fetchone()[0]
        return StoreStats(articles=sum(by_outlet.values()), by_outlet=by_outlet, stories=stories, last_fetched=last)

    # -- fingerprints -----------------------------------------------------------------------------
    @_storage_errors
    def put_fingerprints(self, url: str, hashes: Sequence[int]) -> None:
        row = self.db.execute("SELECT id FROM articles WHERE url = ?", (url,)).fetchone()
        if row is None:
            raise StoreError(f"cannot fingerprint {url}: not in the store")
        article_id = row[0]
        with self._transaction():
            old = [r[0] for r in self.db.execute("SELECT hash FROM fingerprints WHERE article_id = ?", (article_id,))]
            self.db.executemany("UPDATE fingerprint_df SET n = n - 1 WHERE hash = ?", [(h,) for h in old])
            self.db.execute("DELETE FROM fingerprints WHERE article_id = ?", (article_id,))
            unique = sorted(set(hashes))
            self.db.executemany("INSERT INTO fingerprints (hash, article_id) VALUES (?, ?)", [(h, article_id) for h in unique])
            self.db.executemany(
                "INSERT INTO fingerprint_df (hash, n) VALUES (?, 1) ON CONFLICT(hash) DO UPDATE SET n = n + 1",
                [(h,) for h in unique],
            )

    def find_candidates(self, hashes: Sequence[int], max_doc_freq: int, exclude_url: str | None = None) -> dict[str, int]:
        counts: dict[int, int] = {}
        for chunk in _chunks(sorted(set(hashes)), IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT f.article_id, count(*) FROM fingerprints f JOIN fingerprint_df d ON d.hash = f.hash "
                f"WHERE f.hash IN ({marks}) AND d.n <= ? GROUP BY f.article_id",
                [*chunk, max_doc_freq],
            )
            for article_id, shared in rows:
                counts[article_id] = counts.get(article_id, 0) + shared
        urls = self._urls_for_ids(list(counts))
        return {urls[i]: n for i, n in counts.items() if urls[i] != exclude_url}

    def doc_freqs(self, hashes: Sequence[int]) -> dict[int, int]:
        found: dict[int, int] = {}
        for chunk in _chunks(sorted(set(hashes)), IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(f"SELECT hash, n FROM fingerprint_df WHERE hash IN ({marks}) AND n > 0", chunk))
        return found

    def get_fingerprints(self, url: str) -> set[int]:
        rows = self.db.execute(
            "SELECT f.hash FROM fingerprints f JOIN articles a ON a.id = f.article_id WHERE a.url = ?", (url,)
        )
        return {r[0] for r in rows}

    def _urls_for_ids(self, ids: list[int]) -> dict[int, str]:
        urls: dict[int, str] = {}
        for chunk in _chunks(ids, IN_CHUNK):
            marks = ",".join("?" * len(chunk))
            urls.update(self.db.execute(f"SELECT id, url FROM articles WHERE id IN ({marks})", chunk).fetchall())
        return urls

    # -- chains -----------------------------------------------------------------------------------
    @_storage_errors
    def set_chain(self, url: str, story_id: str | None, is_origin: bool, parent: str | None, chain: ChainInfo | None) -> None:
        self.db.execute(
            "UPDATE articles SET story_id = ?, is_origin = ?, parent = ?, chain = ? WHERE url = ?",
            (story_id, int(is_origin), parent, chain.to_json() if chain else None, url),
        )

    def story_members(self, story_id: str) -> list[Article]:
        rows = self.db.execute("SELECT * FROM articles WHERE story_id = ? ORDER BY published, url", (story_id,))
        return [_from_row(r) for r in rows]

    def list_stories(self, order: str = "size", limit: int = 20) -> list[tuple[str, int]]:
        order_by = {"size": "n DESC, newest DESC", "new": "newest DESC, n DESC"}[order]
        rows = self.db.execute(
            "SELECT story_id, count(*) AS n, max(coalesce(published, fetched_at)) AS newest FROM articles "
            f"WHERE story_id IS NOT NULL GROUP BY story_id ORDER BY {order_by} LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1]) for r in rows]

    # -- plumbing ---------------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        try:
            with self._transaction():
                yield
        except sqlite3.Error as exc:  # the COMMIT itself (disk full)
            raise StoreError(f"{self.path}: cannot write to the SQLite store: {exc}") from None

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error; nested use joins the outer transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> None:
        self.outer = not self.db.in_transaction
        if self.outer:
            self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type | None, *rest: object) -> None:
        if not self.outer:
            return
        if not exc_type:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:  # SQLite may have rolled back already (disk full)
            self.db.execute("ROLLBACK")


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _to_row(article: Article) -> dict[str, object]:
    return {
        "url": article.url,
        "outlet": article.outlet,
        "domain": article.domain,
        "title": article.title,
        "authors": json.dumps(article.authors, ensure_ascii=False),
        "published": article.published.isoformat() if article.published else None,
        "language": article.language,
        "text": article.text,
        "description": article.description,
        "canonical_url": article.canonical_url,
        "links": json.dumps(article.links),
        "fetched_at": article.fetched_at.isoformat(),
        "fetched_from": article.fetched_from,
        "text_hash": article.text_hash,
        "story_id": article.story_id,
        "is_origin": int(article.is_origin),
        "parent": article.parent,
        "chain": article.chain.to_json() if article.chain else None,
        "captured_at": article.captured_at.isoformat() if article.captured_at else None,
        "capture_url": article.capture_url,
        "indexed_at": _utc_iso(datetime.now(timezone.utc)),  # rows are only built to be written
    }


def _utc_iso(moment: datetime) -> str:
    """`indexed_at`'s format, so that its text order is time order."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _from_row(row: sqlite3.Row) -> Article:
    return Article(
        url=row["url"],
        outlet=row["outlet"],
        domain=row["domain"],
        title=row["title"],
        authors=json.loads(row["authors"]),
        published=datetime.fromisoformat(row["published"]) if row["published"] else None,
        language=row["language"],
        text=row["text"],
        description=row["description"],
        canonical_url=row["canonical_url"],
        links=json.loads(row["links"]),
        fetched_at=datetime.fromisoformat(row["fetched_at"]),
        fetched_from=row["fetched_from"],
        story_id=row["story_id"],
        is_origin=bool(row["is_origin"]),
        parent=row["parent"],
        chain=ChainInfo.from_json(row["chain"]) if row["chain"] else None,
        captured_at=datetime.fromisoformat(row["captured_at"]) if row["captured_at"] else None,
        capture_url=row["capture_url"],
    )

