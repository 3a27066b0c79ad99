"""The embedded store: one SQLite file (WAL) with FTS5 full-text search.

The zero-setup default, and right for a small VM: one writer (the pipeline) and any number of readers
(`search`, `stats`) at once. Articles are keyed by normalised URL; an edited article keeps its earlier
text in `article_versions`; fingerprints sit in an index table so that candidate lookup for linking is an
index probe, not a scan.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from pipelines.models import Article, ChainInfo, SearchHit, StoreStats, UpsertResult
from pipelines.query import to_sqlite
from pipelines.stores.base import Store, StoreError
from pipelines.stores.collapse import collapse_hits as _collapse

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
    chain TEXT
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
CREATE TABLE IF NOT EXISTS fingerprint_df (
    hash INTEGER PRIMARY KEY,
    n INTEGER NOT NULL
);
"""

COLUMNS = (
    "url outlet domain title authors published language text description canonical_url links "
    "fetched_at fetched_from text_hash story_id is_origin parent chain"
).split()

# SQLite binds at most 32766 variables; stay well below it and keep statements short.
IN_CHUNK = 500


class SqliteStore(Store):
    """Store on one SQLite file; `path` may be ':memory:' for tests."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open SQLite store: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    # -- articles -------------------------------------------------------------------------------
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
        if article.story_id is None:  # a re-fetch does not know the chain: keep the one we have
            article = article.model_copy(
                update={"story_id": old.story_id, "is_origin": old.is_origin, "parent": old.parent, "chain": old.chain}
            )
        if _same_content(old, article):
            return UpsertResult(unchanged=1)
        if old.text_hash != article.text_hash:
            self.db.execute(
                "INSERT INTO article_versions (url, fetched_at, text_hash, record) VALUES (?, ?, ?, ?)",
                (old.url, old.fetched_at.isoformat(), old.text_hash, old.model_dump_json()),
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

    def history(self, url: str) -> list[Article]:
        rows = self.db.execute(
            "SELECT record FROM article_versions WHERE url = ? ORDER BY rowid", (url,)
        ).fetchall()
        return [Article.model_validate_json(r["record"]) for r in rows]

    def search(self, query: str, limit: int = 20, collapse_stories: bool = False) -> list[SearchHit]:
        match, where, params = to_sqlite(query)
        sql = "SELECT a.*, {score} AS score FROM {source} WHERE {where} ORDER BY {order}"
        if match:
            source = "articles_fts JOIN articles a ON a.id = articles_fts.rowid"
            conditions = ["articles_fts MATCH ?", *([where] if where else [])]
            sql = sql.format(score="-bm25(articles_fts, 4.0, 1.0, 2.0)", source=source,
                             where=" AND ".join(conditions), order="score DESC, a.published DESC")
            params = [match, *params]
        else:
            sql = sql.format(score="0.0", source="articles a", where=where or "1", order="a.published DESC")
        if not collapse_stories:  # collapsing needs every match to count a story's other copies
            sql, params = sql + " LIMIT ?", [*params, limit]
        try:
            rows = self.db.execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed for query {query!r}: {exc}") from exc
        return _collapse([SearchHit(article=_from_row(r), score=r["score"]) for r in rows], limit, collapse_stories)

    def stats(self) -> StoreStats:
        by_outlet = {r[0]: r[1] for r in self.db.execute("SELECT outlet, count(*) FROM articles GROUP BY outlet ORDER BY outlet")}
        last = {
            r[0]: datetime.fromisoformat(r[1])
            for r in self.db.execute("SELECT outlet, max(fetched_at) FROM articles GROUP BY outlet")
        }
        stories = self.db.execute("SELECT count(DISTINCT coalesce(story_id, url)) FROM articles").fetchone()[0]
        return StoreStats(articles=sum(by_outlet.values()), by_outlet=by_outlet, stories=stories, last_fetched=last)

    # -- fingerprints -----------------------------------------------------------------------------
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
    def set_chain(self, url: str, story_id: str | None, is_origin: bool, parent: str | None, chain: ChainInfo | None) -> None:
        self.db.execute(
            "UPDATE articles SET story_id = ?, is_origin = ?, parent = ?, chain = ? WHERE url = ?",
            (story_id, int(is_origin), parent, chain.model_dump_json() if chain else None, url),
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
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


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
        "chain": article.chain.model_dump_json() if article.chain else None,
    }


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
        chain=ChainInfo.model_validate_json(row["chain"]) if row["chain"] else None,
    )


def _same_content(old: Article, new: Article) -> bool:
    """Unchanged apart from when it was fetched."""
    ignore = {"fetched_at", "fetched_from"}
    return old.model_dump(exclude=ignore) == new.model_dump(exclude=ignore)
