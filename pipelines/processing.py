"""After the fetch: extract -> fingerprint and link -> index, for crawled and imported pages alike.

`ArticleProcessor` is the one path every page takes once its bytes are in hand; `ProcessingPipeline` is
the thin Scrapy item pipeline that feeds it during a crawl, and `storytrail import` feeds it directly.
When the store fails (Elasticsearch down, a rejected document), the page stays archived in the crawl
state as `fetched`, and the next run indexes it: nothing gathered is lost.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
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
from pipelines.store_state_check import reconcile
from pipelines.stores.base import Store, StoreError

if TYPE_CHECKING:
    from pipelines.prepared_text import LinkingCache
    from pipelines.worker_pool import PagePool, PageResult


class Linker(Protocol):
    cache: LinkingCache  # takes the texts the workers prepared

    def link(self, article: Article) -> LinkOutcome: ...


class ArticleProcessor:
    """Turns archived pages into stored, linked articles, counting what happened."""

    def __init__(self, sources: SourceRegistry, state: CrawlState, store: Store | None, linker: Linker | None,
                 store_error: str | None = None, pool: PagePool | None = None) -> None:
        self.sources = sources
        self.state = state
        self.store = store
        self.linker = linker
        self.pool = pool  # extraction in worker processes (pipelines/worker_pool.py); None: in this one
        self.counters: Counter[str] = Counter()
        self.timings: Counter[str] = Counter()  # CPU seconds per stage, workers' included (bench/pipeline.py)
        self.store_error = store_error if store is not None else (store_error or "no store")

    def process_page(self, page: ArchivedPage) -> Article | None:
        """Extract, link and index one archived page, in this process; None when it yields no article."""
        start = time.process_time()
        try:
            article = self.article_from(page, self.extract(page))
        except ExtractionError as exc:
            return self._unusable(page, str(exc))
        finally:
            self.timings["extract"] += time.process_time() - start
        return article if self.index(article) else None

    def process_pages(self, items: Iterable[ArchivedPage | Article]) -> Iterator[tuple[ArchivedPage | Article, Article | None]]:
        """(item, stored article or None) for each archived page (extracted, stored, linked) or article
        (stored, linked), in order. With a worker pool, extraction and text preparation run in the workers,
        storing and linking here, and `items` is read only a few ahead of the one being stored."""
        if self.pool is None:
            for item in items:
                if isinstance(item, Article):
                    yield item, item if self.index(item) else None
                else:
                    yield item, self.process_page(item)
            return
        for item, result in self.pool.map(items):
            yield item, self.finish_page(item, result)

    def with_prepared_texts(self, articles: Iterable[Article]) -> Iterator[Article]:
        """`articles` in order, each once the worker pool has prepared its comparison text and evidence for the
        linker (`relink`: `for article in processor.with_prepared_texts(...): linker.link(article)`)."""
        if self.pool is None or self.linker is None:
            yield from articles
            return
        for article, result in self.pool.map(articles):
            result.replay_log()
            self.linker.cache.offer(result.prepared, result.evidence)
            yield article

    def finish_page(self, page: ArchivedPage | Article, result: PageResult) -> Article | None:
        """The writer's half of an item a worker prepared: log what the worker logged, then store and link."""
        result.replay_log()
        self.timings.update(result.seconds)
        if result.article is None:
            return self._unusable(page, result.error or "no article")
        if self.linker is not None:
            self.linker.cache.offer(result.prepared, result.evidence)
        return result.article if self.index(result.article) else None

    def extract(self, page: ArchivedPage) -> ExtractedArticle:
        source = self.sources.get(page.source)
        outlet_names = [name for s in self.sources for name in (s.name, *s.aliases)]  # never an author or a title
        return extract_article(page.html, page.final_url, source.extraction if source else None, encoding=page.encoding,
                               outlet_names=outlet_names)

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
        """Store and link `article`; False when the store is unavailable (the page stays queued)."""
        log = logger.bind(source=article.outlet, url=article.url)
        if self.store_error:
            self.counters["store/deferred"] += 1
            return False
        try:
            start = time.process_time()
            with self.store.batch():  # the article, its fingerprints and chains: one commit
                self._count_upsert(self.store.upsert([article]), log, article)
                stored = time.process_time()
                if self.linker is not None:
                    self.counters[self.linker.link(article).counter] += 1
            self.timings.update({"store": stored - start, "link": time.process_time() - stored})
        except StoreError as exc:
            self.store_error = str(exc)
            self.counters["store/deferred"] += 1
            log.error("store unavailable, keeping fetched pages locally for the next run: {}", exc)
            return False
        reached("index.after_store_write")  # a kill here leaves the page `fetched`: the next run upserts it again
        self.state.mark_indexed(article.url)
        return True

    def _count_upsert(self, result: UpsertResult, log, article: Article) -> None:
        if result.added:
            self.counters["store/added"] += 1
            log.info("new article: {}", article.title or "(no title)")
        elif result.updated:
            self.counters["store/updated"] += 1
            log.info("article changed, previous text kept in history")
        else:
            self.counters["store/unchanged"] += 1

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
