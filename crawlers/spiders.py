"""The crawl cycle as a Scrapy spider: poll the due feeds, fetch the pages they announce.

The spider only discovers and fetches. Each fetched page is archived in the crawl state and handed on as
an `ArchivedPage` item; the item pipeline (pipelines/processing.py) extracts, links and indexes it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone

import scrapy
from loguru import logger
from scrapy.utils.defer import deferred_from_coro
from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers import feeds
from crawlers.fetching import describe_failure
from crawlers.sources import Source, SourceRegistry
from crawlers.state import ArchivedPage, CrawlState, FeedState, QueuedPage
from crawlers.urls import normalize_url, unwrap_web_archive
from pipelines.faultpoints import reached
from pipelines.settings import Settings

# Feed answers the poller reads itself instead of Scrapy treating them as errors.
FEED_STATUSES = [304, *range(400, 600)]
# A page whose fetch failed this many times (across runs) is not tried again.
MAX_PAGE_ATTEMPTS = 3


class CycleSpider(scrapy.Spider):
    """One cycle over the configured sources."""

    name = "storytrail"

    def __init__(self, sources: SourceRegistry, state: CrawlState, settings: Settings, processor: object, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sources = sources
        self.state = state
        self.config = settings
        self.processor = processor  # used by the item pipeline; see pipelines/processing.py
        self.failed_sources: set[str] = set()  # sources whose feed failed this cycle: the run's exit code says so

    def count(self, key: str, n: int = 1) -> None:
        self.crawler.stats.inc_value(key, n)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for page in self.state.pages_to_fetch(MAX_PAGE_ATTEMPTS):
            self.count("page/resumed")
            yield self.page_request(page)
        now = datetime.now(timezone.utc)
        only = self.config.feeds.only_sources
        for source in self.sources:
            if only and source.key not in only:
                continue
            for feed_url in source.feeds:
                feed = self.state.get_feed(feed_url, source.key)
                if only or self.config.feeds.ignore_schedule or feeds.is_due(feed, now, self.config.feeds):
                    yield self.feed_request(feed, source)
                else:
                    self.count("feed/not_due")
                    logger.bind(source=source.key, url=feed_url).debug("feed not due until {}", feed.next_poll_at)

    # -- feeds ------------------------------------------------------------------------------------
    def feed_request(self, feed: FeedState, source: Source) -> scrapy.Request:
        return scrapy.Request(
            feed.url,
            headers=feeds.conditional_headers(feed),
            callback=self.parse_feed,
            errback=self.feed_failed,
            priority=10,
            dont_filter=True,
            meta={"feed": feed, "source": source, "handle_httpstatus_list": FEED_STATUSES, "dont_retry": True},
        )

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        feed: FeedState = response.meta["feed"]
        source: Source = response.meta["source"]
        log = logger.bind(source=source.key, url=feed.url)
        now = datetime.now(timezone.utc)
        if response.status == 304:
            self.count("feed/not_modified")
            log.info("feed not modified (304)")
            self.state.save_feed(feeds.after_success(feed, source, now, poll=self.config.poll))
            return
        if response.status >= 400:
            self._feed_failure(feed, source, f"HTTP {response.status}", now, response.headers.get("Retry-After"))
            return
        digest = feeds.body_hash(response.body)
        validators = {
            "etag": _header(response, "ETag"),
            "last_modified": _header(response, "Last-Modified"),
            "digest": digest,
        }
        if digest == feed.body_hash:
            self.count("feed/unchanged")
            log.info("feed body unchanged since last poll, skipped")
            self.state.save_feed(feeds.after_success(feed, source, now, **validators, poll=self.config.poll))
            return
        try:
            items, problem = feeds.parse_feed(
                response.body, feed.url, self.config.feeds.max_items, _header(response, "Content-Type") or "application/xml"
            )
        except feeds.FeedError as exc:
            self._feed_failure(feed, source, str(exc), now)
            return
        if problem:
            self.count("feed/malformed_recovered")
            log.warning("malformed feed, read {} items anyway: {}", len(items), problem)
        kept, rejected = feeds.screen_items(items, source, resolve_hosts=self.crawler.settings.getbool("STORYTRAIL_RESOLVE_HOSTS"),
                                            allow_private=self.crawler.settings.getbool("STORYTRAIL_ALLOW_PRIVATE"))
        for item in rejected:
            self.count("feed/item_rejected")
            logger.bind(source=source.key, url=item.link).warning("feed item skipped: {}", item.reason)
        pages = [_queued_page(item, source) for item in kept]
        unseen = sum(not self.state.is_known(page.url) for page in pages)
        polled = feeds.after_success(feed, source, now, **validators, new_items=unseen, poll=self.config.poll)
        new_pages = self.state.save_feed(polled, pages)
        self.count("feed/polled")
        self.count("page/discovered", len(new_pages))
        log.info("feed polled: {} items, {} new", len(items), len(new_pages))
        for page in new_pages:
            yield self.page_request(page)

    def feed_failed(self, failure: Failure) -> None:
        request = failure.request
        _, reason, _ = describe_failure(failure)
        self._feed_failure(request.meta["feed"], request.meta["source"], reason, datetime.now(timezone.utc))

    def _feed_failure(self, feed: FeedState, source: Source, reason: str, now: datetime, retry_after: bytes | None = None) -> None:
        retry_after_text = retry_after.decode("latin-1") if retry_after else None
        failed = feeds.after_failure(feed, reason, now, self.config.feeds, retry_after_text)
        self.state.save_feed(failed)
        self.count("feed/failed")
        self.failed_sources.add(source.key)
        logger.bind(source=source.key, url=feed.url, event="feed/failed").warning(
            "feed failed: {} (failure {}; next poll {:%Y-%m-%d %H:%M} UTC)", reason, failed.failures, failed.next_poll_at
        )

    # -- pages ------------------------------------------------------------------------------------
    def page_request(self, page: QueuedPage) -> scrapy.Request:
        # The crawl state already keeps one request per article; Scrapy's duplicate filter would silently
        # swallow the second leg of a redirect loop instead of letting the redirect limit report it.
        return scrapy.Request(page.fetch_url, callback=self.parse_page, errback=self.page_failed, meta={"page": page},
                              dont_filter=True)

    def parse_page(self, response: Response) -> Iterator[ArchivedPage]:
        page: QueuedPage = response.meta["page"]
        archived = ArchivedPage(
            url=page.url,
            fetch_url=page.fetch_url,
            final_url=unwrap_web_archive(response.url),  # a capture's content is read as its original URL's
            source=page.source,
            html=response.body,
            encoding=_header_charset(response),
            fetched_at=datetime.now(timezone.utc),
            hint=page.hint,
        )
        self.state.record_fetched(archived)
        reached("spider.after_page_fetched")  # `name:N`: killed after N pages archived, none of them indexed yet
        self.count("page/fetched")
        logger.bind(source=page.source, url=page.url).debug("fetched {} bytes", len(response.body))
        yield archived

    def page_failed(self, failure: Failure) -> None:
        page: QueuedPage = failure.request.meta["page"]
        counter, reason, retryable = describe_failure(failure)
        self.count(counter)
        if counter == "fetch/deferred":  # the outlet's time budget is spent: still queued, no attempt counted
            return
        self.state.record_failed(page.url, reason, retryable and page.attempts + 1 < MAX_PAGE_ATTEMPTS)
        logger.bind(source=page.source, url=page.fetch_url, event=counter).warning(
            "fetch failed: {}{}", reason, " (will retry next run)" if retryable else ""
        )


class StateFaultMiddleware:
    """A callback that cannot write the crawl state (disk full, read-only file) stops the cycle, with one
    line for the first failure: nothing more could be kept, and the run then fails on its own last write."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler) -> StateFaultMiddleware:
        return cls(crawler)

    def process_spider_exception(self, response: Response, exception: Exception) -> list | None:
        if not isinstance(exception, sqlite3.Error):
            return None
        if not self.failed:
            self.failed = True
            logger.bind(source="state", url=response.url).error("crawl state unwritable, stopping the run: {}", exception)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="crawl state unwritable"))
        return []


def _queued_page(item: feeds.FeedItem, source: Source) -> QueuedPage:
    hint = {"title": item.title, "published": item.published.isoformat() if item.published else None}
    return QueuedPage(url=normalize_url(item.link), fetch_url=item.link, source=source.key, hint=hint)


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _header_charset(response: Response) -> str | None:
    content_type = _header(response, "Content-Type") or ""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return None
