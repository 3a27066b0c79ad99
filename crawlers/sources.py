"""The source registry: which outlets storytrail watches and how to read them.

`config/sources.yaml` holds one entry per outlet. It is validated once, at load time, so a typo gives one
clear error naming the file, the entry and the field instead of a crawl that silently finds nothing.
"""

from __future__ import annotations

import re
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from crawlers.config_files import DEFAULT_SOURCES_FILE, ConfigError, first_error
from crawlers.urls import HOSTS_KEPT, host_of, normalize_url


def check_patterns(patterns: list[str]) -> list[str]:
    """Every pattern compiles, or a ValueError names the one that does not."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
    return patterns


# A list of regular expressions, checked when the config is loaded.
Patterns = Annotated[list[str], AfterValidator(check_patterns)]


def check_urls(urls: list[str]) -> list[str]:
    """Every URL is an absolute http(s) URL with a host (and a numeric port), or a ValueError names the one
    that is not: a bad feed URL found at load time, not inside the crawl where it would stop later feeds."""
    for number, url in enumerate(urls, start=1):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
        except ValueError as exc:
            raise ValueError(f"entry {number}, {url!r}: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
            raise ValueError(f"entry {number}, {url!r}: not an absolute http(s) URL")
    return urls


# A list of URLs to fetch, checked when the config is loaded.
HttpUrls = Annotated[list[str], AfterValidator(check_urls)]


class Role(str, Enum):
    ORIGIN = "origin"
    REPUBLISHER = "republisher"
    BOTH = "both"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Politeness(Strict):
    """How gently to crawl one outlet (Scrapy's per-slot delay and concurrency)."""

    delay_s: float = Field(2.0, ge=0, description="Seconds between two requests to the outlet.")
    concurrency: int = Field(1, ge=1, le=16, description="Requests in flight to the outlet at once.")


class ExtractionHints(Strict):
    """Per-site corrections for generic extraction. Every selector is optional: when one finds nothing
    the extractor falls back to the generic result for that field."""

    title_selector: str | None = None
    author_selector: str | None = None
    date_selector: str | None = None
    body_selector: str | None = None
    body_exclude: list[str] = Field(default_factory=list, description="CSS selectors removed from the body.")
    boilerplate: Patterns = Field(
        default_factory=list,
        description="Regular expressions; a text line that matches one is the site's boilerplate.",
    )
    next_data: bool = Field(False, description="Read metadata from the page's __NEXT_DATA__ JSON (Next.js).")



class Source(Strict):
    """One outlet: where its new articles are announced and how its pages are built."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short stable name, used in queries.")
    name: str
    role: Role
    domains: list[str] = Field(min_length=1, description="Registered domains; the first is the current one.")
    aliases: list[str] = Field(default_factory=list, description="Other names the outlet is credited by.")
    feeds: HttpUrls = Field(default_factory=list)
    sitemaps: HttpUrls = Field(default_factory=list)
    listings: HttpUrls = Field(default_factory=list, description="Listing pages for backfill.")
    article_url_patterns: Patterns = Field(
        default_factory=list, description="Regular expressions an article URL matches (path and query)."
    )
    archive_only: bool = Field(False, description="Defunct: reached only through a web archive.")
    poll_interval_min: int = Field(60, ge=1)
    poll_interval_bounds_min: tuple[float, float] | None = Field(
        None, description="[shortest, longest] adapted poll interval in minutes; default: the `poll` settings."
    )
    politeness: Politeness = Field(default_factory=Politeness)
    extraction: ExtractionHints = Field(default_factory=ExtractionHints)


    @model_validator(mode="after")
    def _has_a_way_in(self) -> Source:
        if not (self.feeds or self.sitemaps or self.listings or self.archive_only):
            raise ValueError("needs at least one of feeds, sitemaps, listings, or archive_only: true")
        bounds = self.poll_interval_bounds_min
        if bounds and not 0 < bounds[0] <= bounds[1]:
            raise ValueError("poll_interval_bounds_min must be [shortest, longest], both above 0")
        return self

    def owns_host(self, host: str) -> bool:
        """True when `host` is one of the outlet's domains or a subdomain of one."""
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def is_article_url(self, path_and_query: str) -> bool:
        """True when the URL path looks like an article (or when no pattern is configured)."""
        if not self.article_url_patterns:
            return True
        return any(re.search(p, path_and_query) for p in self.article_url_patterns)


class WebArchive(Strict):
    """The web archive that archive-only outlets are read from (crawlers/web_archive.py), with its own politeness."""

    name: str = "Wayback Machine"
    cdx_url: str = Field("https://web.archive.org/cdx/search/cdx", description="The capture index (CDX API).")
    capture_prefix: str = Field("https://web.archive.org/web/", description="Captures are <prefix><timestamp>/<url>.")
    cdx_page_rows: int = Field(5000, ge=1, le=150_000, description="Captures per CDX answer; the rest follow by resumption key.")
    politeness: Politeness = Field(default_factory=lambda: Politeness(delay_s=5.0, concurrency=1))

    @property
    def hosts(self) -> set[str]:
        return {urlsplit(u).hostname or "" for u in (self.cdx_url, self.capture_prefix)}


class SourceRegistry:
    """All configured sources, looked up by key, by host or by a credited name."""

    def __init__(self, sources: list[Source], path: Path | None = None, web_archive: WebArchive | None = None) -> None:
        self.sources = sources
        self.path = path
        self.web_archive = web_archive or WebArchive()
        self._by_key = {s.key: s for s in sources}
        self._by_alias = {_alias_key(a): s for s in sources for a in (s.name, s.key, *s.aliases, *s.domains)}
        self._by_host = lru_cache(maxsize=HOSTS_KEPT)(self._find_by_host)  # every page and every cited link asks

    def __iter__(self):
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)

    def get(self, key: str) -> Source | None:
        return self._by_key.get(key)

    def find_by_host(self, host: str) -> Source | None:
        """The source whose domains cover `host`, or None for a site not in config."""
        return self._by_host(host)

    def _find_by_host(self, host: str) -> Source | None:
        return next((s for s in self.sources if s.owns_host(host)), None)

    def find_by_alias(self, name: str) -> Source | None:
        """The source credited as `name` ("Anti Media", "theantimedia.org", "The Cradle"...)."""
        return self._by_alias.get(_alias_key(name))

    def url_variants(self, url: str) -> list[str]:
        """`url` (normalised) first, then the same address on each other domain of its outlet: one identity for
        lookup and linking when an outlet moved (journal-neo.org -> journal-neo.su). Stored URLs stay as fetched."""
        url = normalize_url(url)
        host = host_of(url)
        source = self.find_by_host(host)
        if source is None:
            return [url]
        own = next(d for d in source.domains if host == d or host.endswith("." + d))
        prefix = url[: url.index(host)] + host[: len(host) - len(own)]
        rest = url[url.index(host) + len(host):]
        return [url, *(prefix + other + rest for other in source.domains if other != own)]

    def alias_names(self) -> dict[str, Source]:
        """Every credited name with its source, longest first, for matching attribution lines."""
        names = {a: s for s in self.sources for a in (s.name, *s.aliases, *s.domains)}
        return dict(sorted(names.items(), key=lambda kv: -len(kv[0])))


def _alias_key(name: str) -> str:
    return re.sub(r"[^a-z0-9.]", "", name.lower().removeprefix("www."))


def load_sources(path: Path | str = DEFAULT_SOURCES_FILE) -> SourceRegistry:
    """Read and validate a sources file; raise ConfigError naming file, entry and field."""
    import yaml  # here, not at the top: read commands that never load the sources start without it

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read sources file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the sources file as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    entries = raw.get("sources") if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a top-level 'sources:' list")
    sources: list[Source] = []
    for index, entry in enumerate(entries):
        label = entry.get("key", f"#{index + 1}") if isinstance(entry, dict) else f"#{index + 1}"
        try:
            sources.append(Source.model_validate(entry))
        except ValidationError as exc:
            field, message = first_error(exc)
            raise ConfigError(f"{path}: source '{label}', field '{field}': {message}") from exc
    keys = [s.key for s in sources]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ConfigError(f"{path}: source key '{duplicates[0]}' is used twice")
    try:
        web_archive = WebArchive.model_validate(raw.get("web_archive") or {})
    except ValidationError as exc:
        field, message = first_error(exc)
        raise ConfigError(f"{path}: web_archive, field '{field}': {message}") from exc
    return SourceRegistry(sources, path, web_archive)
