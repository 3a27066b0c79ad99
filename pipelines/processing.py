"""After the fetch: extract -> fingerprint and link -> index, for crawled and imported pages alike.

`ArticleProcessor` is the one path every page takes once its bytes are in hand; `ProcessingPipeline` is
the thin Scrapy item pipeline that feeds it during a crawl, and `storytrail import` feeds it directly.
When the store fails (Elasticsearch down, a rejected document), the page stays archived in the crawl
state as `fetched`, and the next run indexes it: nothing gathered is lost.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Protocol

from loguru import logger

from crawlers.extraction import ExtractedArticle, ExtractionError, extract_article
from crawlers.sources import SourceRegistry
from crawlers.state import ArchivedPage, CrawlState
from crawlers.urls import host_of, normalize_url, registered_domain
from pipelines.linking import LinkOutcome
from pipelines.models import Article, UpsertResult
from pipelines.stores.base import Store, StoreError


class Linker(Protocol):
    def link(self, article: Article) -> LinkOutcome: ...


class ArticleProcessor:
    """Turns archived pages into stored, linked articles, counting what happened."""

    def __init__(self, sources: SourceRegistry, state: CrawlState, store: Store | None, linker: Linker | None,
                 store_error: str | None = None) -> None:
        self.sources = sources
        self.state = state
        self.store = store
        self.linker = linker
        self.counters: Counter[str] = Counter()
        self.store_error = store_error if store is not None else (store_error or "no store")

    def process_page(self, page: ArchivedPage) -> Article | None:
        """Extract, link and index one archived page; None when it yields no article."""
        log = logger.bind(source=page.source, url=page.url)
        source = self.sources.get(page.source)
        hints = source.extraction if source else None
        try:
            extracted = extract_article(page.html, page.final_url, hints, encoding=page.encoding)
        except ExtractionError as exc:
            self.counters["extract/no_text"] += 1
            self.state.mark_unusable(page.url, str(exc))
            log.warning("no article extracted: {}", exc)
            return None
        article = self.article_from(page, extracted)
        return article if self.index(article) else None

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
            self._count_upsert(self.store.upsert([article]), log, article)
            if self.linker is not None:
                self.counters[self.linker.link(article).counter] += 1
        except StoreError as exc:
            self.store_error = str(exc)
            self.counters["store/deferred"] += 1
            log.error("store unavailable, keeping fetched pages locally for the next run: {}", exc)
            return False
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
        """Index pages archived by an earlier run that did not reach the store."""
        for page in self.state.pages_to_index():
            self.counters["page/recovered"] += 1
            self.process_page(page)


class ProcessingPipeline:
    """Scrapy item pipeline: hands each fetched page to the spider's `ArticleProcessor`."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler) -> ProcessingPipeline:
        return cls(crawler)

    def process_item(self, item: ArchivedPage) -> ArchivedPage:
        self.crawler.spider.processor.process_page(item)
        return item


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _normalized_or_none(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return normalize_url(url)
    except ValueError:
        return None
