"""One run of the pipeline: discover -> fetch -> extract -> fingerprint -> link -> index.

Built once from the settings (`Pipeline.from_settings`), so nothing deeper reads the environment. A run
first indexes what an earlier run archived but did not store, then crawls. Scrapy's reactor cannot be
restarted, so a process runs at most one crawl; the scheduler daemon starts a process per cycle. Scrapy is
imported by `run` alone: `import`, `relink` and `reextract` build a Pipeline without crawling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from loguru import logger

from crawlers.sources import SourceRegistry, load_sources
from crawlers.state import CrawlState
from pipelines.linking import Linker
from pipelines.processing import ArticleProcessor
from pipelines.settings import Settings
from pipelines.stores.base import Store, StoreError
from pipelines.stores.factory import open_store
from pipelines.worker_pool import page_pool

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawlers.spiders import CycleSpider

# The counters a run reports; Scrapy's own stats (downloader/..., scheduler/...) stay out of the summary.
COUNTER_PREFIXES = ("feed/", "page/", "fetch/", "extract/", "store/", "link/", "backfill/")


@dataclass
class RunSummary:
    counters: dict[str, int]
    store_error: str | None = None
    failed_sources: list[str] = field(default_factory=list)

    @property
    def new_articles(self) -> int:
        return self.counters.get("store/added", 0)

    @property
    def outcome(self) -> str:
        """`failed` (nothing could be indexed), `sources_failed` (some sources failed, the rest was gathered)
        or `ok`: what the run's exit code and its JSON summary say."""
        if self.store_error:
            return "failed"
        return "sources_failed" if self.failed_sources else "ok"


class Pipeline:
    """The run's components, built once from the settings."""

    def __init__(self, settings: Settings, sources: SourceRegistry, state: CrawlState, store: Store | None,
                 store_error: str | None = None) -> None:
        self.settings = settings
        self.sources = sources
        self.state = state
        self.store = store
        linker = Linker(store, sources, settings.link) if store is not None and settings.link.enabled else None
        self.processor = ArticleProcessor(sources, state, store, linker, store_error, page_pool(settings, linker is not None),
                                          settings.process)

    @classmethod
    def from_settings(cls, settings: Settings, require_store: bool = True) -> Pipeline:
        """Build the run's parts. With `require_store=False` (crawling), a store that cannot be reached is
        not fatal: the run still fetches and archives, and the next run indexes what it kept."""
        sources = load_sources(settings.sources_file)
        state = CrawlState(settings.state_path)
        try:
            store = open_store(settings.store_url, settings=settings.store)
        except StoreError as exc:
            if require_store:
                state.close()
                raise
            logger.error("store unavailable, fetched pages will be kept locally for the next run: {}", exc)
            return cls(settings, sources, state, None, str(exc))
        return cls(settings, sources, state, store)

    def close(self) -> None:
        self.processor.close()
        if self.store is not None:
            self.store.close()
        self.state.close()

    def run(self, verbose: bool = False, on_crawler: Callable[[Crawler], None] | None = None,
            spiders: Sequence[tuple[type[CycleSpider], dict]] | None = None) -> RunSummary:
        """Index what is pending, poll and fetch (or crawl with other `spiders`: (class, extra arguments), one
        after the other in this process's one reactor, e.g. a backfill), and return the run's counters. One after
        the other, not at once: articles arrive in the same order on every run, so every run links alike."""
        from scrapy.crawler import CrawlerProcess

        from crawlers.fetching import scrapy_settings
        from crawlers.spiders import CycleSpider

        spiders = spiders or ((CycleSpider, {}),)
        run_id = self.state.start_run()
        self.processor.index_pending()
        process = CrawlerProcess(scrapy_settings(self.settings.fetch, self.sources, verbose))
        crawlers = [process.create_crawler(spider_class) for spider_class, _ in spiders]
        for crawler in crawlers if on_crawler else ():
            on_crawler(crawler)

        def crawl(index: int):
            done = process.crawl(crawlers[index], sources=self.sources, state=self.state, settings=self.settings,
                                 processor=self.processor, **spiders[index][1])
            return done.addBoth(lambda _: crawl(index + 1)) if index + 1 < len(crawlers) else done

        crawl(0)
        process.start()
        counters = Counter()
        for crawler in crawlers:
            counters.update({k: v for k, v in crawler.stats.get_stats().items() if k.startswith(COUNTER_PREFIXES)})
        counters.update(self.processor.counters)
        failed = {key for crawler in crawlers for key in crawler.spider.failed_sources}
        summary = RunSummary(counters=dict(sorted(counters.items())), store_error=self.processor.store_error,
                             failed_sources=sorted(failed))
        self.state.finish_run(run_id, summary.counters)
        logger.bind(event="run/finished", counters=summary.counters).info(
            "run finished: {}", ", ".join(f"{k}={v}" for k, v in summary.counters.items()) or "nothing to do")
        return summary


def count_pages(crawler: Crawler, advance: Callable[[int, int], None]) -> None:
    """Report (pages done, pages known) to a progress bar as the crawl goes."""
    from scrapy import signals

    seen = {"known": 0, "done": 0}

    def changed(request, key: str) -> None:
        if "page" in request.meta:
            seen[key] += 1
            advance(seen["done"], seen["known"])

    crawler.signals.connect(lambda request, **_: changed(request, "known"), signal=signals.request_scheduled, weak=False)
    crawler.signals.connect(lambda request, **_: changed(request, "done"), signal=signals.request_left_downloader, weak=False)
