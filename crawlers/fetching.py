"""How storytrail talks HTTP: Scrapy settings built from storytrail's settings, the address guard, the
replay transport, and the one-line reasons a fetch fails.

Production and the local replay web share every piece of this but the transport: with `fetch.replay_url`
set, `ReplayDownloadHandler` sends each request to the replay server instead of the internet and hands
the answer back under the real URL, so robots.txt, politeness slots, redirects and stored URLs all see the
outlets' real addresses.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawlers.sources import SourceRegistry
from crawlers.urls import get_unsafe_reason
from pipelines.settings import FetchSettings

# The replay server's mark on the answer for a host it does not serve (crawlers/replay/server.py).
UNKNOWN_HOST_HEADER = "X-Replay-Unknown-Host"
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
        "ITEM_PIPELINES": {"pipelines.processing.ProcessingPipeline": 300},
        "STORYTRAIL_RESOLVE_HOSTS": not fetch.replay_url and not fetch.allow_private_addresses,
        "STORYTRAIL_ALLOW_PRIVATE": fetch.allow_private_addresses,
    }
    if fetch.replay_url:
        handler = "crawlers.fetching.ReplayDownloadHandler"
        settings["DOWNLOAD_HANDLERS"] = {"http": handler, "https": handler}
        settings["STORYTRAIL_REPLAY_URL"] = fetch.replay_url.rstrip("/")
    return settings


def politeness_slots(sources: SourceRegistry, scale: float = 1.0) -> dict[str, dict]:
    """Scrapy download slots (keyed by host name) with each outlet's delay and concurrency."""
    slots = {}
    for source in sources:
        slot = {"delay": source.politeness.delay_s * scale, "concurrency": source.politeness.concurrency}
        for domain in source.domains:
            for host in (domain, "www." + domain):
                slots[host] = slot
    return slots


class AddressGuardMiddleware:
    """Refuses requests to loopback, private, link-local and reserved addresses, redirects included."""

    def __init__(self, resolve: bool, allow_private: bool) -> None:
        self.resolve = resolve
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressGuardMiddleware:
        return cls(crawler.settings.getbool("STORYTRAIL_RESOLVE_HOSTS"), crawler.settings.getbool("STORYTRAIL_ALLOW_PRIVATE"))

    def process_request(self, request: Request) -> None:
        if self.allow_private:
            return
        reason = get_unsafe_reason(request.url, resolve=self.resolve)
        if reason:
            raise IgnoreRequest(f"unsafe address, not fetched: {reason}")


def replay_address(base_url: str, url: str) -> str:
    """`https://www.wsws.org/en/rss.xml` -> `<base>/https/www.wsws.org/en/rss.xml` on the replay server."""
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{base_url}/{parts.scheme}/{parts.netloc}{parts.path or '/'}{query}"


class ReplayDownloadHandler(HTTP11DownloadHandler):
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
        return "fetch/dns_error", f"host not found ({error})", True
    if failure.check(DownloadConnectionRefusedError):
        return "fetch/connection_refused", "connection refused", True
    if failure.check(IgnoreRequest):
        text = str(error) or "ignored"
        if "robots.txt" in text:
            return "fetch/robots_forbidden", "forbidden by robots.txt", False
        if "redirect" in text:
            return "fetch/redirect_loop", f"too many redirects ({text})", False
        if "unsafe address" in text:
            return "fetch/unsafe_address", text, False
        return "fetch/ignored", text, False
    return "fetch/error", f"{type(error).__name__}: {error}", True
