"""Pages processed in groups (pipelines/processing.py): one store transaction per group, each page marked indexed
and handed back only once the commit that holds it is done; a failed group leaves its pages for the next run."""

from __future__ import annotations

import gzip
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawlers.sources import load_sources
from crawlers.state import ArchivedPage, CrawlState
from pipelines.linking import Linker
from pipelines.processing import ArticleProcessor
from pipelines.settings import ProcessSettings, load_settings
from pipelines.stores.base import Store
from pipelines.stores.factory import open_store
from pipelines.stores.sqlite import SqliteStore

REAL_PAGES = Path(__file__).parent / "data" / "real" / "pages"
PAGES = 8
GROUP = 3


def archived_pages(state: CrawlState) -> list[ArchivedPage]:
    """Four real pages at two sites each (the second copies of the first), archived as a fetch archives them."""
    htmls = [gzip.decompress(p.read_bytes()) for p in sorted(REAL_PAGES.glob("*.html.gz"))[: PAGES // 2]]
    pages = []
    for i in range(PAGES):
        url = f"https://site{i // len(htmls)}.example.org/{i % len(htmls)}.html"
        page = ArchivedPage(url=url, fetch_url=url, final_url=url, source=f"site{i // len(htmls)}.example.org",
                            html=htmls[i % len(htmls)], encoding="utf-8", fetched_at=datetime.now(timezone.utc), hint={})
        state.record_fetched(page)
        pages.append(page)
    return pages


def processor_for(store: Store, state: CrawlState, group: int = GROUP) -> ArticleProcessor:
    settings = load_settings(None, {})
    sources = load_sources(settings.sources_file)
    return ArticleProcessor(sources, state, store, Linker(store, sources, settings.link),
                            grouping=ProcessSettings(group_articles=group, group_seconds=600))


def indexed(state_file: Path) -> int:
    with closing(sqlite3.connect(state_file)) as db:
        return db.execute("SELECT count(*) FROM pages WHERE status = 'indexed'").fetchone()[0]


def committed(store_file: Path) -> int:
    """Articles another connection sees: those committed."""
    with closing(sqlite3.connect(store_file)) as db:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def watched(pages: list[ArchivedPage], seen: list, look: Callable[[], tuple]) -> Iterator[ArchivedPage]:
    """`pages`, noting before each one is handed over (pages handed back so far, what `look` sees)."""
    for page in pages:
        seen.append(look())
        yield page


def test_a_group_is_committed_then_marked_then_handed_back(tmp_path: Path):
    state = CrawlState(tmp_path / "state.db")
    store = SqliteStore(tmp_path / "storytrail.db")
    pages = archived_pages(state)
    processor = processor_for(store, state)
    back: list[str] = []
    seen: list[tuple] = []
    look = lambda: (len(back), committed(tmp_path / "storytrail.db"), indexed(tmp_path / "state.db"))  # noqa: E731
    for page, article in processor.process_pages(watched(pages, seen, look)):
        assert article is not None and article.url == page.url
        back.append(page.url)
    assert back == [p.url for p in pages]  # all, in order
    # before each page is read: the groups of three before it are committed, marked and handed back, no more
    assert seen == [(3 * (i // GROUP),) * 3 for i in range(PAGES)]
    assert committed(tmp_path / "storytrail.db") == indexed(tmp_path / "state.db") == PAGES
    assert processor.counters["store/added"] == PAGES


def test_grouped_and_one_by_one_leave_the_same_store(tmp_path: Path):
    chains = []
    for group in (1, GROUP):
        state = CrawlState(tmp_path / f"state-{group}.db")
        store = SqliteStore(tmp_path / f"store-{group}.db")
        list(processor_for(store, state, group).process_pages(archived_pages(state)))
        chains.append(sorted((a.url, a.story_id, a.is_origin, a.parent, a.chain) for a in store.iter_articles()))
    assert chains[0] == chains[1]
    assert len({story for _, story, *_ in chains[0]}) == PAGES // 2  # each page and its copy: one story


class FullAfter(SqliteStore):
    """A store whose disk fills after `allowed` article writes (SQLite's own error, under the store's handling)."""

    allowed = 4

    def _upsert_one(self, article):
        if self.allowed == 0:
            raise sqlite3.OperationalError("database or disk is full")
        self.allowed -= 1
        return super()._upsert_one(article)


def test_a_store_failure_mid_group_rolls_the_group_back_and_the_next_run_indexes_it(tmp_path: Path):
    state = CrawlState(tmp_path / "state.db")
    pages = archived_pages(state)
    processor = processor_for(FullAfter(tmp_path / "storytrail.db"), state)
    results = list(processor.process_pages(pages))
    # the 5th write fails: the 4th, written in the same group, is rolled back with it
    assert [article is not None for _, article in results] == [True] * 3 + [False] * (PAGES - 3)
    assert "disk is full" in processor.store_error
    assert processor.counters["store/added"] == 3 and processor.counters["store/deferred"] == PAGES - 3
    assert committed(tmp_path / "storytrail.db") == indexed(tmp_path / "state.db") == 3
    assert state.count_by_status() == {"indexed": 3, "fetched": PAGES - 3}
    again = processor_for(SqliteStore(tmp_path / "storytrail.db"), state)
    again.index_pending()
    assert again.counters["store/added"] == PAGES - 3 and again.counters["page/recovered"] == PAGES - 3
    assert state.count_by_status() == {"indexed": PAGES}
    assert committed(tmp_path / "storytrail.db") == PAGES


@pytest.fixture
def es_store(osmem_server) -> Iterator[Store]:
    clone = osmem_server.clone()
    store = open_store(f"{clone.url}?compat=off")
    try:
        yield store
    finally:
        store.close()
        clone.close()


def test_a_store_without_transactions_marks_the_pages_after_their_group(tmp_path: Path, es_store: Store):
    """Elasticsearch writes as it goes (`batch` groups nothing): the pages are still marked a group at a time."""
    state = CrawlState(tmp_path / "state.db")
    pages = archived_pages(state)
    seen: list[tuple] = []
    look = lambda: (indexed(tmp_path / "state.db"), sum(es_store.get(p.url) is not None for p in pages))  # noqa: E731
    results = list(processor_for(es_store, state).process_pages(watched(pages, seen, look)))
    assert all(article is not None for _, article in results)
    # before the 5th page: the 4th is written, the first group of three alone is marked
    assert seen[4] == (3, 4)
    assert state.count_by_status() == {"indexed": PAGES}
