"""Backfill: one outlet's articles between two dates, found in its sitemaps and listings or, for an
archive-only outlet, in the web archive's capture index.

Discovery only names pages; they go into the crawl state's page queue (crawlers/state.py) exactly like the
items of a feed, and from there through the same fetch -> extract -> link -> index path (the spider is a
`CycleSpider`, so its pages reach `ArticleProcessor` through the same item pipeline). That makes a backfill
safe to kill: a re-run first fetches what is still queued, discovers again, and the queue ignores every
page it already knows, so nothing is fetched twice once stored and nothing is stored twice.

Dates bound the work at discovery:
- a sitemap index entry is skipped when its `lastmod` is before the window (nothing in it changed since)
  or when its address names a day range outside it (Sputnik's monthly
  `sitemap_article.xml?date_start=YYYYMMDD&date_end=YYYYMMDD`);
- a page is kept when its date is in the window: the day in its URL when it has one (`/20240129/...`,
  `/2024/01/29/...`: the publication day), else its `lastmod`, else (undated) it is kept and counted;
- a listing is followed page by page (newest first) until a page holds nothing newer than the window;
- the web archive is asked for the first capture of each page inside the window (crawlers/web_archive.py),
  and first for the pages it captured before the window: a capture's time bounds the publication from
  above, so those were published before the window and are left out. A page first captured inside the
  window is gathered with it, even when it was published a little earlier and captured late.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from urllib.parse import parse_qsl, urljoin, urlsplit

import scrapy
from loguru import logger
from scrapy import signals
from scrapy.http import Response
from scrapy.utils.gz import gunzip, gzip_magic_number
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from crawlers import web_archive
from crawlers.fetching import describe_failure
from crawlers.sources import Source
from crawlers.spiders import MAX_PAGE_ATTEMPTS, CycleSpider
from crawlers.state import QueuedPage
from crawlers.urls import normalize_url
from pipelines import faultpoints

MONTHS = "January February March April May June July August September October November December".split()
_DAY_IN_PATH = re.compile(r"/(?P<y>(?:19|20)\d\d)/?(?P<m>[01]\d)/?(?P<d>[0-3]\d)/")
_DAY_IN_TEXT = re.compile(r"\b(?P<month>" + "|".join(MONTHS) + r")\s+(?P<day>\d{1,2}),?\s+(?P<year>(?:19|20)\d\d)\b")
_DAY_VALUE = re.compile(r"^(?:19|20)\d{6}$")
# The Wayback Machine's first captures date from 1996: a window from then covers an archive-only outlet whole.
ARCHIVE_START = date(1996, 1, 1)
ARCHIVE_START_TIME = datetime.combine(ARCHIVE_START, time.min, timezone.utc)


@dataclass(frozen=True)
class Window:
    """The dates a backfill covers, both days included (UTC)."""

    since: datetime
    until: datetime

    @classmethod
    def of_days(cls, since: date, until: date | None = None) -> Window:
        end = datetime.combine(until, time.max, timezone.utc) if until else datetime.now(timezone.utc)
        return cls(datetime.combine(since, time.min, timezone.utc), end)

    def holds(self, moment: datetime) -> bool:
        return self.since <= moment <= self.until

    def describe(self) -> str:
        return f"{self.since:%Y-%m-%d} to {self.until:%Y-%m-%d}"


@dataclass(frozen=True)
class BackfillPlan:
    """What one backfill covers: a source and a window."""

    source: Source
    window: Window


# ----------------------------------------------------------------------------------------------- dating


def parse_w3c_date(value: str | None) -> datetime | None:
    """A sitemap `lastmod` (W3C datetime: a day, or a time with its offset) as an aware UTC datetime."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def day_in_url(url: str) -> datetime | None:
    """The day a URL's path names (`/20240129/slug`, `/2024/01/29/slug`): the publication day of most news URLs."""
    match = _DAY_IN_PATH.search(urlsplit(url).path)
    if not match:
        return None
    try:
        return datetime(int(match["y"]), int(match["m"]), int(match["d"]), tzinfo=timezone.utc)
    except ValueError:
        return None


def days_in_query(url: str) -> tuple[datetime, datetime] | None:
    """The day range a sitemap's address names in its query (`date_start=20240101&date_end=20240131`)."""
    days = []
    for _, value in parse_qsl(urlsplit(url).query):
        if _DAY_VALUE.match(value):
            try:
                days.append(datetime.strptime(value, "%Y%m%d").replace(tzinfo=timezone.utc))
            except ValueError:
                return None
    if not days:
        return None
    return min(days), max(days) + timedelta(days=1) - timedelta(microseconds=1)


def day_in_text(text: str) -> datetime | None:
    """A date written out in words ("January 29, 2024"), as listings show them."""
    match = _DAY_IN_TEXT.search(text)
    if not match:
        return None
    try:
        return datetime(int(match["year"]), MONTHS.index(match["month"]) + 1, int(match["day"]), tzinfo=timezone.utc)
    except ValueError:
        return None


def is_article(source: Source, url: str) -> bool:
    """On one of the outlet's hosts, with a path its article URLs have (config's article_url_patterns)."""
    parts = urlsplit(url)
    return source.owns_host(parts.hostname or "") and source.is_article_url(parts.path)


# ----------------------------------------------------------------------------------------------- sitemaps


def read_sitemap(body: bytes, window: Window) -> tuple[list[str], list[tuple[str, datetime | None]]]:
    """(child sitemaps worth reading, (page URL, its date or None) in the window) of a sitemap or an index."""
    sitemap = Sitemap(body)
    children: list[str] = []
    pages: list[tuple[str, datetime | None]] = []
    for entry in sitemap:
        loc, modified = entry["loc"], parse_w3c_date(entry.get("lastmod"))
        if sitemap.type == "sitemapindex":
            span = days_in_query(loc)
            if modified and modified < window.since:
                continue  # nothing in it changed since the window began
            if span and (span[1] < window.since or span[0] > window.until):
                continue
            children.append(loc)
        elif sitemap.type == "urlset":
            moment = day_in_url(loc) or modified
            if moment is None or window.holds(moment):
                pages.append((loc, moment))
    return children, pages


def sitemap_body(response: Response, max_size: int) -> bytes:
    """The XML of a sitemap response, gunzipped when it was sent as a .gz file."""
    return gunzip(response.body, max_size=max_size) if gzip_magic_number(response) else response.body


# ----------------------------------------------------------------------------------------------- listings


def read_listing(response: Response, source: Source) -> tuple[list[tuple[str, datetime | None]], str | None]:
    """(the outlet's article links with the date shown beside each, the next page) of one listing page."""
    found: dict[str, datetime | None] = {}
    for link in response.css("a[href]"):
        url = urljoin(response.url, link.attrib["href"])
        if not is_article(source, url):
            continue
        item = link.xpath("ancestor::*[self::article or self::li][1]")
        when = item.css("time::attr(datetime)").get() if item else None
        found.setdefault(url, parse_w3c_date(when) or day_in_text(" ".join(item.css("::text").getall())) or day_in_url(url))
    pager = response.css('a[rel~="next"]::attr(href), link[rel~="next"]::attr(href)').get()
    if pager is None:
        pager = response.xpath('//a[re:test(normalize-space(.), "^(next|older)", "i")]/@href').get()
    return list(found.items()), urljoin(response.url, pager) if pager else None


# ----------------------------------------------------------------------------------------------- the spider


class BackfillSpider(CycleSpider):
    """Discovers one source's pages in a window and fetches them through the cycle's page path."""

    name = "storytrail-backfill"

    def __init__(self, *args, plan: BackfillPlan, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.captured_before: set[str] = set()  # archive pages already captured before the window (published before it)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs) -> BackfillSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._page_done, signal=signals.item_scraped)
        return spider

    def _page_done(self, item, **_) -> None:
        """After the item pipeline is done with a page (stored, or not an article): a kill test's point."""
        faultpoints.reached("backfill.after_page")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        source, window = self.plan.source, self.plan.window
        logger.bind(source=source.key).info("backfill {} ({})", window.describe(),
                                            "web archive" if source.archive_only else "sitemaps and listings")
        for page in self.state.pages_to_fetch(MAX_PAGE_ATTEMPTS):
            if page.source == source.key:  # queued by a backfill (or a cycle) that did not finish
                self.count("page/resumed")
                yield self.page_request(page)
        for request in self.discovery_requests():
            yield request

    def discovery_requests(self) -> Iterator[scrapy.Request]:
        source = self.plan.source
        if source.archive_only:
            nothing_before = self.plan.window.since.date() <= ARCHIVE_START
            for domain in source.domains:
                yield self._cdx_request(domain, before_window=not nothing_before)
            return
        for url in source.sitemaps:
            yield self._discovery(url, self.parse_sitemap)
        for url in source.listings:
            yield self._discovery(url, self.parse_listing, depth=1)
        if not source.sitemaps and not source.listings:
            yield self._discovery(f"https://{source.domains[0]}/robots.txt", self.parse_robots)

    def _discovery(self, url: str, callback, **cb_kwargs) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.discovery_failed, cb_kwargs=cb_kwargs,
                              priority=5, dont_filter=True)

    # -- discovery callbacks ------------------------------------------------------------------------
    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        """No sitemap or listing in config: the sitemaps robots.txt names, if any."""
        urls = list(sitemap_urls_from_robots(response.body, base_url=response.url))
        if not urls:
            self.count("backfill/no_way_in")
            logger.bind(source=self.plan.source.key, url=response.url).warning(
                "nothing to backfill from: no sitemaps or listings in config, none in robots.txt")
        for url in urls:
            yield self._discovery(url, self.parse_sitemap)

    def parse_sitemap(self, response: Response) -> Iterator[scrapy.Request]:
        source = self.plan.source
        body = sitemap_body(response, self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        children, pages = read_sitemap(body, self.plan.window)
        articles = [url for url, _ in pages if is_article(self.plan.source, url)]
        self.count("backfill/sitemaps_read")
        self.count("backfill/not_articles", len(pages) - len(articles))
        logger.bind(source=source.key, url=response.url).info(
            "sitemap read: {} sitemaps and {} articles in the window", len(children), len(articles))
        for url in children:
            yield self._discovery(url, self.parse_sitemap)
        yield from self.queue([(url, {}) for url in articles])

    def parse_listing(self, response: Response, depth: int) -> Iterator[scrapy.Request]:
        window = self.plan.window
        items, next_page = read_listing(response, self.plan.source)
        dated = [when for _, when in items if when]
        kept = [(url, {}) for url, when in items if when is None or window.holds(when)]
        self.count("backfill/listing_pages_read")
        logger.bind(source=self.plan.source.key, url=response.url).info(
            "listing page {} read: {} articles, {} in the window", depth, len(items), len(kept))
        yield from self.queue(kept)
        older = dated and max(dated) < window.since  # newest first: the rest is older still
        if next_page and not older and depth < self.config.backfill.max_listing_pages:
            yield self._discovery(next_page, self.parse_listing, depth=depth + 1)

    def _cdx_request(self, domain: str, before_window: bool = False, resume_key: str | None = None) -> scrapy.Request:
        """The capture index's pages in the window; with `before_window`, first those captured before it."""
        window = self.plan.window
        since, until = (ARCHIVE_START_TIME, window.since - timedelta(seconds=1)) if before_window else (window.since, window.until)
        query = web_archive.cdx_query(self.sources.web_archive, domain, since, until, resume_key)
        return self._discovery(query, self.parse_cdx, domain=domain, before_window=before_window)

    def parse_cdx(self, response: Response, domain: str, before_window: bool) -> Iterator[scrapy.Request]:
        """A capture is an upper bound of publication: a page captured before the window was published before it,
        so the pages the index lists before the window are read first and left out of the window's."""
        source = self.plan.source
        try:
            answer = web_archive.parse_cdx(response.body, self.sources.web_archive)
        except web_archive.CdxError as exc:
            self.count("backfill/discovery_failed")
            self.failed_sources.add(source.key)
            logger.bind(source=source.key, url=response.url).error("capture index unreadable: {}", exc)
            return
        pages = [c for c in answer.captures if is_article(self.plan.source, c.original)]
        logger.bind(source=source.key, url=response.url).info(
            "capture index: {} captures, {} of article pages{}", len(answer.captures), len(pages),
            ", more to come" if answer.resume_key else "")
        if before_window:
            self.captured_before.update(c.url for c in pages)
            yield self._cdx_request(domain, before_window=bool(answer.resume_key), resume_key=answer.resume_key)
            return
        if answer.resume_key:
            yield self._cdx_request(domain, resume_key=answer.resume_key)
        earlier = [c for c in pages if c.url in self.captured_before]
        self.count("backfill/captured_before_window", len(earlier))
        yield from self.queue([(c.raw_url, {"captured_at": c.captured_at.isoformat(), "capture_url": c.replay_url})
                               for c in pages if c.url not in self.captured_before])

    def discovery_failed(self, failure: Failure) -> None:
        _, reason, _ = describe_failure(failure)
        self.count("backfill/discovery_failed")
        self.failed_sources.add(self.plan.source.key)
        logger.bind(source=self.plan.source.key, url=failure.request.url).error("backfill discovery failed: {}", reason)

    # -- queueing ------------------------------------------------------------------------------------
    def queue(self, found: list[tuple[str, dict]]) -> Iterator[scrapy.Request]:
        """Queue the pages found (once each, whatever found them before) and fetch the new ones."""
        pages = []
        for url, hint in found:
            try:
                pages.append(QueuedPage(url=normalize_url(url), fetch_url=url, source=self.plan.source.key, hint=hint))
            except ValueError:
                logger.bind(source=self.plan.source.key, url=url).warning("not an article address, skipped")
        new_pages = self.state.queue(pages)
        self.count("page/discovered", len(new_pages))
        self.count("backfill/already_known", len(pages) - len(new_pages))
        for page in new_pages:
            yield self.page_request(page)


def archive_backfills(sources) -> list[tuple[type[BackfillSpider], dict]]:
    """A whole-archive backfill of every archive-only source, as `Pipeline.run(spiders=...)` takes them (the demo)."""
    window = Window.of_days(ARCHIVE_START)
    return [(BackfillSpider, {"plan": BackfillPlan(source, window)}) for source in sources if source.archive_only]
