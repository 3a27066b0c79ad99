"""The replay web as the server sees it: every page by real URL (Page), and the answers real sites give
besides their pages: redirects (old domains, http -> https, www or not, trailing slashes), unknown hosts,
and the Wayback Machine's look-ups (wayback.py). Built by render.py, served by server.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from crawlers.replay.wayback import Wayback

# Static files (the bad-input host) have no publication date of their own; any fixed past date will do.
STATIC_DATE = datetime(2024, 3, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Page:
    """One response body with the headers conditional GET needs."""

    body: bytes
    content_type: str
    last_modified: datetime
    etag: str

    @classmethod
    def of(cls, body: str | bytes, content_type: str, last_modified: datetime) -> Page:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return cls(data, content_type, last_modified, f'"{hashlib.sha1(data).hexdigest()[:20]}"')


def url_key(url: str) -> str:
    """One spelling per URL for look-ups: lower-case scheme and host, query parameters sorted."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


class Web:
    """Every page of the replay web by real URL, and the redirects and archive look-ups real sites answer."""

    def __init__(self, pages: dict[str, Page], aliases: dict[str, str], archive: Wayback) -> None:
        self.pages = {url_key(url): page for url, page in pages.items()}
        self.aliases = aliases
        self.hosts = {urlsplit(key).netloc for key in self.pages} | set(aliases)
        self.archive = archive

    def get(self, url: str) -> Page | None:
        page = self.pages.get(url_key(url))
        return self.archive.cdx(url) if page is None else page

    def has_host(self, host: str) -> bool:
        """False for a host name the replay web does not serve: on the real web its DNS lookup would fail."""
        host = host.lower()
        return host in self.hosts or _toggle_www(host) in self.hosts

    def redirect_for(self, url: str) -> tuple[int, str] | None:
        """(status, real URL) when the real site would redirect: a Wayback capture's nearest time stamp, an
        old domain, http -> https, www or not, a missing trailing slash."""
        nearest = self.archive.nearest_capture(url)
        if nearest:
            return 302, nearest
        parts = urlsplit(url)
        host, path = parts.netloc.lower(), parts.path or "/"
        hosts = [host, self.aliases.get(host), _toggle_www(host)]
        paths = [path] if path.endswith("/") else [path, path + "/"]
        for scheme in ("https", "http"):
            for candidate_host in filter(None, hosts):
                for candidate_path in paths:
                    candidate = urlunsplit((scheme, candidate_host, candidate_path, parts.query, ""))
                    if url_key(candidate) != url_key(url) and url_key(candidate) in self.pages:
                        return 301, candidate
        return None


def _toggle_www(host: str) -> str:
    return host.removeprefix("www.") if host.startswith("www.") else f"www.{host}"
