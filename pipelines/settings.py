"""Every setting storytrail has, with its default, in one place.

One section per component; the section's name matches the module that reads it (`feeds` ->
crawlers/feeds.py, `fetch` -> crawlers/fetching.py, `store` -> pipelines/stores/, `link` ->
pipelines/linking.py). Values come from, in rising priority: these defaults, a TOML file
(`--config`, or `<data-dir>/storytrail.toml` when present), environment variables `STORYTRAIL_<SECTION>__<NAME>`
and the command line. `storytrail config --help-settings` prints this model; a test keeps the README in step.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from crawlers.sources import DEFAULT_SOURCES_FILE, ConfigError, first_error


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedSettings(Section):
    """The RSS/Atom poller."""

    max_backoff_min: int = Field(24 * 60, ge=1, description="Longest wait after repeated feed failures.")
    backoff_base_min: int = Field(15, ge=1, description="First wait after a feed failure; doubles per failure.")
    max_items: int = Field(200, ge=1, description="Items read from one feed body (newest first).")
    ignore_schedule: bool = Field(False, description="Poll every feed on each run, even if not yet due.")


class FetchSettings(Section):
    """Page fetching (Scrapy)."""

    user_agent: str = Field(
        "storytrail/0.1 (+https://github.com/storytrail/storytrail; research crawler)",
        description="User-Agent sent with every request.",
    )
    timeout_s: float = Field(30.0, gt=0, description="Give up on a response after this many seconds.")
    retries: int = Field(2, ge=0, description="Retries of a failed request (5xx, timeouts, dropped connections).")
    max_page_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="Pages larger than this are dropped.")
    obey_robots: bool = Field(True, description="Obey robots.txt.")
    default_delay_s: float = Field(2.0, ge=0, description="Delay for domains with no politeness in config.")
    politeness_scale: float = Field(
        1.0, ge=0, description="Multiplies every delay; the demo sets 0, as its replay web is on this machine."
    )
    max_redirects: int = Field(5, ge=0, description="Redirects followed before a request is given up.")
    allow_private_addresses: bool = Field(
        False, description="Fetch loopback, private and link-local addresses (never in production)."
    )
    replay_url: str | None = Field(
        None, description="Send every request to this local replay web instead of the internet (demo, tests)."
    )


class StoreSettings(Section):
    """Where articles are kept (pipelines/stores/: factory.py reads this section, elasticsearch.py the rest).

    Elasticsearch credentials come from STORYTRAIL_ES_USERNAME / _PASSWORD / _API_KEY / _CA_CERTS, or from
    this section of the settings file; never from the command line or the store URL."""

    url: str | None = Field(
        None, description="sqlite:///path/storytrail.db or https://host:9200; default: sqlite in the data dir."
    )
    index_prefix: str = Field(
        "storytrail", pattern=r"^[a-z0-9][a-z0-9_-]*$",
        description="Elasticsearch names: <prefix>-articles (alias), <prefix>-articles-v<N>, <prefix>-versions.",
    )
    shards: int = Field(1, ge=1, description="Primary shards of a new articles index (one is right below ~50 GB).")
    replicas: int = Field(0, ge=0, description="Replicas of each shard; 0 on a single node, which cannot host them.")
    bulk_docs: int = Field(500, ge=1, description="Articles per Elasticsearch bulk request.")
    bulk_retries: int = Field(3, ge=0, description="Retries, with backoff, of documents the cluster refused as busy (429).")
    retries: int = Field(3, ge=0, description="Retries of an Elasticsearch request on a dropped connection or timeout.")
    timeout_s: float = Field(30.0, gt=0, description="Give up on an Elasticsearch request after this many seconds.")
    conflict_retries: int = Field(
        20, ge=1, description="Re-reads after a concurrent write to the same article (409) before giving up."
    )
    refresh_before_read: bool = Field(
        True,
        description="Refresh the index before a search that follows this process's own writes, so linking sees "
        "the fingerprints it just stored (otherwise they appear within the 1 s refresh interval).",
    )
    username: str | None = Field(None, description="Elasticsearch user (STORYTRAIL_ES_USERNAME wins).")
    password: SecretStr | None = Field(None, description="Elasticsearch password (STORYTRAIL_ES_PASSWORD wins).")
    api_key: SecretStr | None = Field(None, description="Elasticsearch API key, instead of user and password.")
    ca_certs: Path | None = Field(None, description="CA certificate that signed the cluster's HTTPS certificate.")


class LinkSettings(Section):
    """Finding copies and building syndication chains (pipelines/linking.py and the modules it uses).

    "Replay" figures: the replay corpus truth through the real extractor (tests/test_linking.py, 74 pages,
    29 copy pairs, 22 same-event hard negatives); "bench": bench/linking.py (1k-100k generated articles)."""

    enabled: bool = Field(True, description="Link each new article to its copies and origin.")
    shingle_words: int = Field(5, ge=2, description="Words per shingle hashed for the fingerprint index.")
    winnow_window: int = Field(
        12, ge=1,
        description="Shingles per winnowing window: any shared run of shingle_words + winnow_window - 1 words "
        "(16) shares a fingerprint. About 0.15 fingerprints per word; 20 saved no linking time in bench (the "
        "store's commit, not the row count, dominates).",
    )
    max_doc_freq: int = Field(
        100, ge=2,
        description="Fingerprints held by more articles are ignored in the candidate lookup (quotes everyone "
        "repeats, boilerplate): bench's statement quoted by 1% of 100k articles makes none of them candidates.",
    )
    viral_share: float = Field(
        0.3, gt=0, le=1,
        description="When at least this share of an article's fingerprints is over max_doc_freq and nothing else "
        "matched, its rarest common fingerprints are looked up anyway: a story copied by hundreds of sites.",
    )
    min_shared_fingerprints: int = Field(
        2, ge=1, description="Candidates sharing fewer fingerprints are not verified (a 40-word shared run holds 2+)."
    )
    max_candidates: int = Field(50, ge=1, description="Candidates verified per article, most shared fingerprints first.")
    min_run_words: int = Field(
        8, ge=3, description="Shortest run of identical words the verification counts as copied text."
    )
    min_shared_words: int = Field(
        40, ge=1,
        description="A copy shares at least this many unquoted words with the other text. Replay: copies share "
        "67 or more, hard negatives 11 at most (up to 51 inside quotation marks).",
    )
    min_coverage: float = Field(
        0.25, gt=0, le=1,
        description="A copy shares at least this share of the unquoted words of the smaller text. Replay: copies "
        "0.37 or more, hard negatives 0.04 at most. Bench: 30% excerpts inside long pages pass; a 60-word "
        "statement shared without quotation marks by two 250-word articles (0.24) merged them at 0.2.",
    )
    same_outlet_coverage: float = Field(
        0.8, gt=0, le=1,
        description="Two articles of one outlet are copies only when this share of the smaller one is shared: "
        "a new outlet's first articles share footers not learned yet (bench: the only false merge at 4k).",
    )
    recurring_line_articles: int = Field(
        3, ge=2,
        description="A line (or a long line's first or last 8 words) found in this many other articles of the "
        "same outlet is that site's boilerplate (replay: Antimedia's per-title licence footer).",
    )
    full_coverage: float = Field(
        0.9, gt=0, le=1, description="A copy holding this share of the origin's text is a full copy (else excerpt/partial)."
    )
    added_share: float = Field(
        0.1, ge=0, le=1, description="A copy with more than this share of its own text added is extended (or partial)."
    )


class Settings(BaseModel):
    """All of storytrail's settings."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(Path("data"), description="Where the store, crawl state and page archive live.")
    sources_file: Path = Field(DEFAULT_SOURCES_FILE, description="The source registry.")
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    link: LinkSettings = Field(default_factory=LinkSettings)

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{(self.data_dir / 'storytrail.db').as_posix()}"

    @property
    def state_path(self) -> Path:
        """Crawl state, the page archive and the index queue: always local, whatever the store."""
        return self.data_dir / "state.db"


ENV_PREFIX = "STORYTRAIL_"


def load_settings(config_file: Path | None = None, overrides: dict | None = None) -> Settings:
    """Defaults, then the TOML file, then STORYTRAIL_* environment variables, then `overrides`."""
    values: dict = {}
    data_dir = Path((overrides or {}).get("data_dir") or os.environ.get(ENV_PREFIX + "DATA_DIR") or "data")
    path = config_file or (data_dir / "storytrail.toml")
    if config_file is not None or path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _merge(values, _from_environment())
    _merge(values, {k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        field, message = first_error(exc)
        raise ConfigError(f"{path}: setting '{field}': {message}") from exc


def _from_environment() -> dict:
    """STORYTRAIL_FETCH__TIMEOUT_S=10 -> {"fetch": {"timeout_s": "10"}}; STORYTRAIL_STORE -> store.url."""
    values: dict = {}
    for name, value in os.environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key == "store":
            key = "store__url"
        if key.startswith("es_"):  # credentials and the live-test cluster are read where they are used
            continue
        section, _, field = key.partition("__")
        if field:
            values.setdefault(section, {})[field] = value
        else:
            values[section] = value
    return values


def _merge(into: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _show_default(value: object) -> str:
    """A default as a person would type it; paths inside the project relative to it."""
    if isinstance(value, Path):
        root = DEFAULT_SOURCES_FILE.parents[1]
        return str(value.relative_to(root)) if value.is_relative_to(root) else str(value)
    return repr(value)


def describe_settings() -> list[tuple[str, str, str]]:
    """(dotted name, default, help) for every setting, for `config --help-settings` and the docs test."""
    rows: list[tuple[str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            annotation = field.annotation
            if isinstance(annotation, type) and issubclass(annotation, Section):
                walk(annotation, f"{prefix}{name}.")
            else:
                default = field.get_default(call_default_factory=True)
                rows.append((prefix + name, _show_default(default), field.description or ""))

    walk(Settings, "")
    return rows
