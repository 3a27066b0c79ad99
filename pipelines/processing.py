"""After the fetch: extract -> fingerprint and link -> index, for crawled and imported pages alike.

`ArticleProcessor` is the one path every page takes once its bytes are in hand; `ProcessingPipeline` is
the thin Scrapy item pipeline that feeds it during a crawl, and `storytrail import` feeds it directly.
When the store fails (Elasticsearch down, a rejected document), the page stays archived in the crawl
state as `fetched`, and the next run indexes it: nothing gathered is lost.

A run over many pages (import, reextract, the pages an earlier run left) writes them in groups, one store
transaction each (`process.group_articles`, `process.group_seconds`): on SQLite a commit costs milliseconds
of FTS5 and WAL work whatever it holds. A page is marked indexed, and handed back, only after the commit
that holds it, so a kill mid-group leaves the group's pages `fetched` and the next run indexes them once.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from loguru import logger

from crawlers.extraction import ExtractedArticle, ExtractionError, extract_article
from crawlers.sources import SourceRegistry
from crawlers.state import ArchivedPage, CrawlState
from crawlers.urls import host_of, normalize_url, registered_domain
from pipelines.faultpoints import reached
from pipelines.linking import LinkOutcome
from pipelines.models import Article, UpsertResult
from pipelines.settings import ProcessSettings
from pipelines.store_state_check import reconcile
from pipelines.stores.base import Store, StoreError

if TYPE_CHECKING:
    from pipelines.prepared_text import LinkingCache
    from pipelines.worker_pool import PagePool, PageResult


class Linker(Protocol):
    cache: LinkingCache  # takes the texts the workers prepared

    def link(self, article: Article) -> LinkOutcome: ...


# A page makes many short-lived objects (lxml element proxies, token lists) but few reference cycles: with
# CPython's default first threshold (700 allocations) bench/pipeline.py's import ran about 8,000 collections.
# At 100,000 the import took 5% less CPU (alternating runs on its first 600 documents: 23.7 against 22.5 s,
# 25.3 against 24.1) at the same peak RSS (219 and 222 MB).
GC_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    """Collect cyclic garbage less often while pages are processed (`GC_THRESHOLDS`)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


class ArticleProcessor:
    """Turns archived pages into stored, linked articles, counting what happened."""

    def __init__(self, sources: SourceRegistry, state: CrawlState, store: Store | None, linker: Linker | None,
                 store_error: str | None = None, pool: PagePool | None = None,
                 grouping: ProcessSettings = ProcessSettings()) -> None:
        self.sources = sources
        self.state = state
        self.store = store
        self.linker = linker
        self.pool = pool  # extraction in worker processes (pipelines/worker_pool.py); None: in this one
        self.outlet_names = tuple(name for s in sources for name in (s.name, *s.aliases))  # never an author or a title
        self.group_articles, self.group_seconds = grouping.group_articles, grouping.group_seconds
        self.counters: Counter[str] = Counter()
        self.timings: Counter[str] = Counter()  # CPU seconds per stage, workers' included (bench/pipeline.py)
        self.store_error = store_error if store is not None else (store_error or "no store")

    def process_page(self, page: ArchivedPage) -> Article | None:
        """Extract, link and index one archived page, in this process, in a commit of its own (a crawl's
        page); None when it yields no article."""
        article = self.extracted(page)
        return article if article is not None and self.index(article) else None

    def extracted(self, page: ArchivedPage) -> Article | None:
        """The article of an archived page, extracted in this process; None (the page marked unusable)."""
        return self.prepared(page, self.page_result(page, "extract"))

    def page_result(self, item: ArchivedPage | Article, stage: str) -> PageResult:
        """Extraction's half of an item, in whichever process runs it (a worker, or the writer): the article
        (one given as such is taken as it is) or why there is none, with its CPU seconds under `stage`."""
        from pipelines.worker_pool import PageResult

        if isinstance(item, Article):
            return PageResult(item)
        start = time.process_time()
        try:
            article, error = self.article_from(item, self.extract(item)), None
        except ExtractionError as exc:
            article, error = None, str(exc)
        return PageResult(article, error, seconds={stage: time.process_time() - start})

    def process_pages(self, items: Iterable[ArchivedPage | Article]) -> Iterator[tuple[ArchivedPage | Article, Article | None]]:
        """(item, stored article or None) for each archived page (extracted, stored, linked) or article
        (stored, linked), in order, each once the commit holding it is done. With a worker pool, extraction
        and text preparation run in the workers, storing and linking here, and `items` is read only a few
        ahead of the one being stored."""
        with fewer_gc_passes():
            ready = self._ready(items)
            while group := self._write_group(ready, self.group_articles, self.group_seconds):
                yield from group

    def _ready(self, items: Iterable[ArchivedPage | Article]) -> Iterator[tuple[ArchivedPage | Article, Article | None]]:
        """Each item with the article to store (None: it yields none), extracted here or in the pool."""
        if self.pool is None:
            for item in items:
                yield item, item if isinstance(item, Article) else self.extracted(item)
            return
        for item, result in self.pool.map(items, self._work_here):
            yield item, self.prepared(item, result)

    def _work_here(self, item: ArchivedPage | Article) -> PageResult:
        """An item extracted in the writer, which takes items no worker has started rather than wait for one."""
        return self.page_result(item, "extract (writer)")

    def with_prepared_texts(self, articles: Iterable[Article]) -> Iterator[Article]:
        """`articles` in order, each once the worker pool has prepared its comparison text and evidence for the
        linker (`relink`: `for article in processor.with_prepared_texts(...): linker.link(article)`)."""
        if self.pool is None or self.linker is None:
            yield from articles
            return
        for article, result in self.pool.map(articles, self._work_here):
            result.replay_log()
            self.linker.cache.offer(result.prepared, result.evidence)
            yield article

    def finish_page(self, page: ArchivedPage | Article, result: PageResult) -> Article | None:
        """The writer's half of an item a worker prepared (a crawl's page): store and link it, one commit."""
        article = self.prepared(page, result)
        return article if article is not None and self.index(article) else None

    def prepared(self, page: ArchivedPage | Article, result: PageResult) -> Article | None:
        """The article a worker extracted, after logging what the worker logged; None when there is none."""
        result.replay_log()
        self.timings.update(result.seconds)
        if result.article is None:
            return self._unusable(page, result.error or "no article")
        if self.linker is not None:
            self.linker.cache.offer(result.prepared, result.evidence)
        return result.article

    def extract(self, page: ArchivedPage) -> ExtractedArticle:
        source = self.sources.get(page.source)
        return extract_article(page.html, page.final_url, source.extraction if source else None, encoding=page.encoding,
                               outlet_names=self.outlet_names)

    def _unusable(self, page: ArchivedPage, reason: str) -> None:
        self.counters["extract/no_text"] += 1
        self.state.mark_unusable(page.url, reason)
        logger.bind(source=page.source, url=page.url).warning("no article extracted: {}", reason)
        return None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def article_from(self, page: ArchivedPage, extracted: ExtractedArticle) -> Article:
        """The stored record: extracted fields, with what the feed said as a fallback."""
        published = extracted.published or _parse_time(page.hint.get("published"))
        return Article(
            url=page.url,
            outlet=self.outlet_of(page.url),
            domain=registered_domain(page.url),
            title=extracted.title or page.hint.get("title"),
            authors=extracted.authors,
            published=published,
            language=extracted.language,
            text=extracted.text,
            description=extracted.description,
            canonical_url=_normalized_or_none(extracted.canonical_url),
            links=extracted.links,
            fetched_at=page.fetched_at,
            fetched_from=page.fetch_url,
            captured_at=_parse_time(page.hint.get("captured_at")),
            capture_url=page.hint.get("capture_url"),
        )

    def outlet_of(self, url: str) -> str:
        """The configured source's key, or the registered domain of a site not in config."""
        source = self.sources.find_by_host(host_of(url))
        return source.key if source else registered_domain(url)

    def index(self, article: Article) -> bool:
        """Store and link `article` in a commit of its own; False when the store is unavailable (the page
        stays queued)."""
        return self._write_group(iter([(article, article)]), 1, 0.0)[0][1] is not None

    def _write_group(self, ready: Iterator[tuple[ArchivedPage | Article, Article | None]], articles: int,
                     seconds: float) -> list[tuple[ArchivedPage | Article, Article | None]]:
        """The next items of `ready` (up to `articles` of them, or as many as `seconds` allow), their articles
        stored and linked in one store transaction; (item, article or None: not stored). The pages are marked
        indexed, and the counters counted, once the commit is done. Empty at the end of `ready`."""
        group: list[tuple[ArchivedPage | Article, Article | None]] = []
        written: list[int] = []  # places in `group` of the articles written
        counted: Counter[str] = Counter()
        started = time.monotonic()
        try:
            with self._transaction():
                for item, article in ready:
                    group.append((item, article))
                    if article is not None and self._write(article, counted):
                        written.append(len(group) - 1)
                        reached("index.before_commit")  # a kill here: the group's articles are not in the store
                    if len(group) >= articles or time.monotonic() - started >= seconds:
                        break
        except StoreError as exc:  # the group is rolled back: none of its articles is stored
            self.store_error = str(exc)
            tried = [article for _, article in group if article is not None]
            self.counters["store/deferred"] += len(tried)
            logger.bind(source=tried[-1].outlet if tried else "store", url=tried[-1].url if tried else None).error(
                "store unavailable, keeping fetched pages locally for the next run: {}", exc)
            if not group:  # the transaction did not begin: the items go on, deferred
                return self._write_group(ready, articles, seconds)
            return [(item, None) for item, _ in group]
        if written:
            reached("index.after_store_write")  # a kill here leaves the pages `fetched`: the next run upserts them again
            self.state.mark_indexed([group[place][1].url for place in written])
        self.counters.update(counted)
        return [(item, article if place in written else None) for place, (item, article) in enumerate(group)]

    def _transaction(self) -> AbstractContextManager[None]:
        """One store transaction (`Store.batch`), or nothing when there is no store to write."""
        return nullcontext() if self.store is None or self.store_error else self.store.batch()

    def _write(self, article: Article, counted: Counter[str]) -> bool:
        """Store and link `article` in the open transaction, counting into `counted`; False when the store
        failed earlier (the page stays queued). A failure of the store raises StoreError."""
        if self.store_error:
            self.counters["store/deferred"] += 1
            return False
        start = time.process_time()
        self._count_upsert(self.store.upsert([article]), article, counted)
        stored = time.process_time()
        if self.linker is not None:
            counted[self.linker.link(article).counter] += 1
        self.timings.update({"store": stored - start, "link": time.process_time() - stored})
        return True

    def _count_upsert(self, result: UpsertResult, article: Article, counted: Counter[str]) -> None:
        log = logger.bind(source=article.outlet, url=article.url)
        if result.added:
            counted["store/added"] += 1
            log.info("new article: {}", article.title or "(no title)")
        elif result.updated:
            counted["store/updated"] += 1
            log.info("article changed, previous text kept in history")
        else:
            counted["store/unchanged"] += 1

    def index_pending(self) -> None:
        """Index pages archived by an earlier run that did not reach the store, or that the store lost since
        (a restored backup, a new cluster: pipelines/store_state_check.py)."""
        if self.store is not None and not self.store_error:
            try:
                reconcile(self.store, self.state)
            except StoreError as exc:
                self.store_error = str(exc)
        for _ in self.process_pages(self.state.pages_to_index()):
            self.counters["page/recovered"] += 1


class ProcessingPipeline:
    """Scrapy item pipeline: hands each fetched page to the spider's `ArticleProcessor`."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ProcessingPipeline:
        return cls(crawler)

    def process_item(self, item: ArchivedPage):
        """In the reactor thread: with a worker pool, the page goes to a worker and the reactor goes on
        fetching; the writer's half runs back in the reactor thread when the worker is done (the page is
        marked indexed only after its store write, as without a pool)."""
        processor = self.crawler.spider.processor
        if processor.pool is None:
            processor.process_page(item)
            return item
        extracted = _in_reactor(processor.pool.submit(item))
        return extracted.addCallback(lambda result: processor.finish_page(item, result)).addCallback(lambda _: item)


def _in_reactor(future: Future):
    """A Deferred that fires in the reactor thread with the outcome of a worker's future."""
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    deferred = Deferred()

    def fire(done: Future) -> None:
        error = done.exception()
        deferred.errback(error) if error is not None else deferred.callback(done.result())

    future.add_done_callback(lambda done: reactor.callFromThread(fire, done))
    return deferred


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _normalized_or_none(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return normalize_url(url)
    except ValueError:
        return None
