"""Which saved searches match which new articles, with a highlighted snippet.

The new articles (a cycle's worth, a few hundred) go into a throwaway in-memory SQLite store, and every saved
query runs there, translated by the same `pipelines.query.to_sqlite` the SQLite store's `search` uses: a
thousand queries over a few hundred articles instead of a thousand queries over the whole store, for either
store (bench/alerts.py measures it). With the Elasticsearch store this means SQLite's reading of the query:
stop words are kept (see README, "Searching"); everything else matches alike.

The snippet is FTS5's own `snippet()` around the matched words; the highlighting comes back as
(text, highlighted) pieces, so that the templates escape the text and add the markup themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from pipelines.models import Article
from pipelines.query import to_sqlite
from pipelines.stores.sqlite import SqliteStore

OPEN, CLOSE = "\ue000", "\ue001"  # private-use characters: cannot come from a page (they are removed first)
SNIPPET_TOKENS = 40
FALLBACK_WORDS = 40

Snippet = list[tuple[str, bool]]


class Matcher:
    """Runs many saved queries over one batch of articles."""

    def __init__(self, queries: dict[str, str]) -> None:
        self.queries = {name: to_sqlite(query) for name, query in queries.items()}

    def match(self, articles: Iterable[Article]) -> dict[str, dict[str, Snippet]]:
        """{search name: {url: snippet}} for every search that matches any of `articles`."""
        batch = [_clean(a) for a in articles]
        if not batch or not self.queries:
            return {}
        index = SqliteStore(":memory:")
        try:
            index.upsert(batch)
            by_url = {a.url: a for a in batch}
            found: dict[str, dict[str, Snippet]] = {}
            for name, (match, where, params) in self.queries.items():
                hits = {url: _pieces(raw) if raw and OPEN in raw else _lead(by_url[url])
                        for url, raw in _run(index, match, where, params)}
                if hits:
                    found[name] = hits
            return found
        finally:
            index.close()


def _run(index: SqliteStore, match: str | None, where: str | None, params: list) -> list[tuple[str, str | None]]:
    if match:
        sql = (f"SELECT a.url, snippet(articles_fts, 1, '{OPEN}', '{CLOSE}', ' … ', {SNIPPET_TOKENS}) "
               "FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid WHERE articles_fts MATCH ?"
               + (f" AND {where}" if where else ""))
        return index.db.execute(sql, [match, *params]).fetchall()
    return index.db.execute(f"SELECT a.url, NULL FROM articles a WHERE {where or '1'}", params).fetchall()


def _clean(article: Article) -> Article:
    """The markers removed from what the page said, so that only the snippet function places them."""
    fields = {"title": article.title, "text": article.text}
    if not any(f and (OPEN in f or CLOSE in f) for f in fields.values()):
        return article
    return replace(article, **{k: v.replace(OPEN, "").replace(CLOSE, "") if v else v for k, v in fields.items()})


def _pieces(raw: str) -> Snippet:
    pieces: Snippet = []
    for part in re.split(f"({OPEN}.*?{CLOSE})", " ".join(raw.split())):
        if part.startswith(OPEN):
            pieces.append((part[1:-1], True))
        elif part:
            pieces.append((part, False))
    return pieces


def _lead(article: Article) -> Snippet:
    """No words to highlight (a query on outlet or date alone): the article's first words."""
    words = (article.description or article.text or "").split()
    text = " ".join(words[:FALLBACK_WORDS]) + (" …" if len(words) > FALLBACK_WORDS else "")
    return [(text, False)] if text else []
