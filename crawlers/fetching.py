"""How storytrail talks HTTP: Scrapy settings built from storytrail's settings, the address guard, the
replay transport, and the one-line reasons a fetch fails.

Production and the local replay web share every piece of this but the transport: with `fetch.replay_url`
set, `ReplayDownloadHandler` sends each request to the replay server instead of the internet and hands
the answer back under the real URL, so robots.txt, politeness slots, redirects and stored URLs all see the
outlets' real addresses.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from urllib.parse import urlsplit

from loguru import logger

from OpenSSL import SSL
from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.sources import SourceRegistry
from crawlers.safe_resolver import REFUSED
from crawlers.urls import get_unsafe_reason, registered_domain
from pipelines.settings import FetchSettings

# The replay server's mark on the answer for a host it does not serve (crawlers/replay/server.py).
UNKNOWN_HOST_HEADER = "X-Replay-Unknown-Host"
# Why a page was not fetched in this cycle: its outlet's time budget was spent (OutletBudgetMiddleware).
BUDGET_SPENT = "outlet time budget spent, left for the next cycle"
# Status codes worth another try in a later run; anything else 4xx is final.
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}


def scrapy_settings(fetch: FetchSettings, sources: SourceRegistry, verbose: bool = False) -> dict:
    """The Scrapy settings for one crawl cycle."""
    settings = {
        "BOT_NAME": "storytrail",
        "USER_AGENT": fetch.user_agent,
        "ROBOTSTXT_OBEY": fetch.obey_robots,
        "DOWNLOAD_TIMEOUT": fetch.timeout_s,
        "RETRY_TIMES": fetch.retries,
        "DOWNLOAD_MAXSIZE": fetch.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": fetch.max_redirects,
        "DOWNLOAD_DELAY": fetch.default_delay_s * fetch.politeness_scale,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_SLOTS": politeness_slots(sources, fetch.politeness_scale),
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_ENABLED": True,
        "LOG_INSTALL_ROOT_HANDLER": False,  # storytrail routes Scrapy's lines into loguru (pipelines/logs.py)
        "LOG_LEVEL": "INFO" if verbose else "WARNING",
        "DOWNLOADER_MIDDLEWARES": {"crawlers.fetching.AddressGuardMiddleware": 50},
        # Requests are taken from the outlets with the fewest downloads under way, so a slow outlet's queue
        # cannot fill the downloader while the others wait (Scrapy's queue for broad crawls).
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "STORYTRAIL_OUTLET_BUDGET_S": fetch.outlet_budget_s,
        "ITEM_PIPELINES": {"pipelines.processing.ProcessingPipeline": 300},
        "SPIDER_MIDDLEWARES": {"crawlers.spiders.StateFaultMiddleware": 50},
        "STORYTRAIL_RESOLVE_HOSTS": not fetch.replay_url and not fetch.allow_private_addresses,
        "STORYTRAIL_ALLOW_PRIVATE": fetch.allow_private_addresses,
    }
    if settings["STORYTRAIL_RESOLVE_HOSTS"]:  # every connection's one lookup refuses non-public answers
        settings["TWISTED_DNS_RESOLVER"] = "crawlers.safe_resolver.GlobalOnlyResolver"
    handler = "crawlers.fetching.ReplayDownloadHandler" if fetch.replay_url else "crawlers.fetching.BudgetedDownloadHandler"
    settings["DOWNLOAD_HANDLERS"] = {"http": handler, "https": handler}
    if fetch.replay_url:
        settings["STORYTRAIL_REPLAY_URL"] = fetch.replay_url.rstrip("/")
    return settings


def politeness_slots(sources: SourceRegistry, scale: float = 1.0) -> dict[str, dict]:
    """Scrapy download slots (keyed by host name) with each outlet's and the web archive's delay and concurrency."""
    slots = {}
    for source in sources:
        slot = {"delay": source.politeness.delay_s * scale, "concurrency": source.politeness.concurrency}
        for domain in source.domains:
            for host in (domain, "www." + domain):
                slots[host] = slot
    archive = sources.web_archive.politeness
    for host in sources.web_archive.hosts:
        slots[host] = {"delay": archive.delay_s * scale, "concurrency": archive.concurrency}
    return slots


class AddressGuardMiddleware:
    """Refuses literal loopback, private, link-local and reserved addresses (embedded IPv4 forms included)
    and redirects to another site, on every hop. Host names are checked where they are resolved, by the
    crawl's one resolver (crawlers/safe_resolver.py), so there is no second lookup to rebind."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.allow_private = crawler.settings.getbool("STORYTRAIL_ALLOW_PRIVATE")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        redirected_from = (request.meta.get("redirect_urls") or [None])[0]
        if redirected_from:
            reason = cross_site_redirect(redirected_from, request.url, getattr(self.crawler.spider, "sources", None))
            if reason:
                raise IgnoreRequest(f"unsafe address, not fetched: {reason}")
        if self.allow_private:
            return
        reason = get_unsafe_reason(request.url, resolve=False)
        if reason:
            raise IgnoreRequest(f"unsafe address, not fetched: {reason}")


class OutletBudget:
    """Each outlet's pages get `fetch.outlet_budget_s` seconds per cycle, from its first page download; a page
    whose download would start later fails with BUDGET_SPENT, which the spider leaves queued for the next
    cycle (retries of a slow page included), so one slow outlet cannot hold the others or the cycle's end.
    Checked where a download really starts (the download handler), not where it is queued."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.started: dict[str, float] = {}
        self.deferred: Counter[str] = Counter()

    def check(self, request: Request) -> None:
        page = request.meta.get("page")
        if page is None:
            return
        started = self.started.setdefault(page.source, time.monotonic())
        if time.monotonic() - started <= self.budget_s:
            return
        if not self.deferred[page.source]:
            logger.bind(source=page.source).warning(
                "outlet time budget of {:g} s spent: its pages not fetched yet wait for the next cycle", self.budget_s)
        self.deferred[page.source] += 1
        raise IgnoreRequest(BUDGET_SPENT)


class BudgetedDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP handler, with each outlet's time budget checked as a page download starts."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.budget = OutletBudget(crawler.settings.getfloat("STORYTRAIL_OUTLET_BUDGET_S"))

    async def download_request(self, request: Request) -> Response:
        self.budget.check(request)
        return await super().download_request(request)


def cross_site_redirect(origin: str, target: str, sources: SourceRegistry | None) -> str | None:
    """Why a redirect from `origin` to `target` is refused: it leaves the site (registered domain) and the
    outlet (a source owning both hosts, e.g. an old and a new domain). None when it stays."""
    origin_host, target_host = urlsplit(origin).hostname or "", urlsplit(target).hostname or ""
    if registered_domain(origin_host) == registered_domain(target_host):
        return None
    source = sources.find_by_host(origin_host) if sources is not None else None
    if source is not None and source.owns_host(target_host):
        return None
    return f"redirect from {origin_host} to another site ({target_host})"


def replay_address(base_url: str, url: str) -> str:
    """`https://www.wsws.org/en/rss.xml` -> `<base>/https/www.wsws.org/en/rss.xml` on the replay server."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{base_url}/{parts.scheme}/{parts.netloc}{parts.path or '/'}{query}"


class ReplayDownloadHandler(BudgetedDownloadHandler):
    """The replay web as a transport: same requests, same responses, served by a local server."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.base_url = crawler.settings["STORYTRAIL_REPLAY_URL"]

    async def download_request(self, request: Request) -> Response:
        local = request.replace(url=replay_address(self.base_url, request.url))
        response = await super().download_request(local)
        if UNKNOWN_HOST_HEADER in response.headers:
            raise CannotResolveHostError(f"DNS lookup failed: no such host in the replay web: {urlsplit(request.url).hostname}")
        return response.replace(url=request.url)


def describe_failure(failure: Failure) -> tuple[str, str, bool]:
    """(counter name, one-line reason, retryable) for a failed request."""
    error = failure.value
    if failure.check(HttpError):
        status = error.response.status
        return f"fetch/http_{status}", f"HTTP {status}", status in RETRYABLE_STATUS
    if failure.check(DownloadTimeoutError):
        seconds = re.search(r"longer than ([\d.]+) seconds", str(error))
        return "fetch/timeout", f"timed out after {seconds[1] if seconds else '?'} s", True
    if failure.check(DownloadCancelledError):
        sizes = re.search(r"(\d+) bytes .* max size \((\d+)\)", str(error))
        detail = f" ({sizes[1]} bytes, cap {sizes[2]})" if sizes else ""
        return "fetch/too_large", f"page over the size cap, dropped{detail}", False
    if failure.check(CannotResolveHostError):
        host = urlsplit(failure.request.url).hostname if getattr(failure, "request", None) else None
        if host in REFUSED:
            return "fetch/unsafe_address", f"unsafe address, not fetched: {REFUSED[host]}", False
        return "fetch/dns_error", f"host not found ({error})", True
    if failure.check(DownloadConnectionRefusedError):
        return "fetch/connection_refused", "connection refused", True
    if failure.check(IgnoreRequest):
        text = str(error) or "ignored"
        if text == BUDGET_SPENT:
            return "fetch/deferred", text, True
        if "unsafe address" in text:
            return "fetch/unsafe_address", text, False
        if "DOWNLOAD_MAXSIZE" in text:  # a compressed body that inflates past the cap (a gzip bomb)
            sizes = re.search(r"\((\d+) B compressed, (\d+) B decompressed", text)
            detail = f" ({sizes[1]} bytes compressed, over {sizes[2]} inflated)" if sizes else ""
            return "fetch/too_large", f"page over the size cap once decompressed, dropped{detail}", False
        if "robots.txt" in text:
            return "fetch/robots_forbidden", "forbidden by robots.txt", False
        if "redirect" in text:
            return "fetch/redirect_loop", f"too many redirects ({text})", False
        return "fetch/ignored", text, False
    if failure.check(DownloadFailedError):
        tls = _tls_problem(error)
        if tls:
            return "fetch/tls_error", f"TLS failed ({tls})", True
        return "fetch/connection_lost", "connection dropped before the whole response came", True
    return "fetch/error", f"{type(error).__name__}: {error}", True


def _tls_problem(error: BaseException) -> str | None:
    """What went wrong in TLS ("wrong version number", "certificate verify failed"), when that is what dropped
    the download; Twisted keeps it among the reasons of the wrapped ResponseFailed."""
    for reason in getattr(error.__cause__, "reasons", None) or []:
        if reason.check(SSL.Error):
            details = [d for d in re.findall(r"'([^']*)'", str(reason.value)) if d]
            return details[-1] if details else "handshake failed"
    return None
