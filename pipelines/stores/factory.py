"""Choosing a store with one URL: the only place that builds one.

    sqlite:///data/storytrail.db         a file, relative to the working directory
    sqlite:////var/lib/storytrail.db     an absolute path (four slashes)
    sqlite:///:memory:                   a throwaway in-memory store (tests)
    https://es.example.org:9200          Elasticsearch 9 (credentials from STORYTRAIL_ES_* or the settings file)
    http://127.0.0.1:9200?compat=off     TEST ONLY: plain JSON media types, for osmem-server
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from typing import TYPE_CHECKING

from crawlers.config_files import ConfigError
from pipelines.stores.base import Store
from pipelines.stores.credentials import EsAuth, redact_url

if TYPE_CHECKING:
    from pipelines.settings import StoreSettings

SCHEMES = ("sqlite", "http", "https")


def open_store(url: str, *, settings: StoreSettings | None = None) -> Store:
    """The store the URL names, connected and ready. ConfigError for a URL that names none;
    StoreError when the store is named right but cannot be opened (file unwritable, cluster down)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"store URL {redact_url(url)!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        return _open_sqlite(url, parts.netloc, parts.path)
    if scheme in ("http", "https"):
        return _open_elasticsearch(parts, settings)
    raise ConfigError(
        f"store URL {redact_url(url)!r}: unknown scheme {parts.scheme or '(none)'!r}; "
        "use sqlite:///path/storytrail.db or https://host:9200"
    )


def _open_sqlite(url: str, netloc: str, path: str) -> Store:
    from pipelines.stores.sqlite import SqliteStore

    if netloc:
        raise ConfigError(f"store URL {redact_url(url)!r}: a SQLite URL has three slashes: sqlite:///relative.db or sqlite:////abs.db")
    path = path[1:] if path.startswith("/") else path  # sqlite:///a.db -> a.db, sqlite:////abs -> /abs
    if not path:
        raise ConfigError(f"store URL {redact_url(url)!r}: no database file; use sqlite:///path/storytrail.db")
    if path != ":memory:" and Path(path).is_dir():
        raise ConfigError(f"store URL {redact_url(url)!r}: {path} is a directory; name the database file in it")
    return SqliteStore(path)  # no log line here: it would import loguru (and asyncio) into every read command


def _open_elasticsearch(parts, settings: StoreSettings | None) -> Store:
    from loguru import logger

    from pipelines.settings import StoreSettings
    from pipelines.stores.elasticsearch import ElasticsearchStore

    shown = redact_url(urlunsplit(parts))
    if parts.username or parts.password:
        raise ConfigError(
            f"store URL {shown!r}: credentials do not belong in the URL (it shows in `ps` and shell history); "
            "set STORYTRAIL_ES_USERNAME and STORYTRAIL_ES_PASSWORD (or STORYTRAIL_ES_API_KEY) instead"
        )
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"compat"})
    if unknown:
        raise ConfigError(f"store URL {shown!r}: unknown option(s) {', '.join(unknown)}; the only one is compat=off")
    compat = options.get("compat", ["on"])[-1].lower()
    if compat not in ("on", "off"):
        raise ConfigError(f"store URL {shown!r}: compat must be on or off, not {compat!r}")
    if not parts.hostname:
        raise ConfigError(f"store URL {shown!r}: no host; use https://host:9200")
    try:
        parts.port
    except ValueError:
        raise ConfigError(f"store URL {shown!r}: the port is not a number from 0 to 65535; use https://host:9200") from None
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    logger.bind(store=base).debug("opening Elasticsearch store")
    settings = settings or StoreSettings()
    return ElasticsearchStore(base, settings, auth=EsAuth.resolve(settings), compat_headers=compat == "on")
