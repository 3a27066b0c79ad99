"""Every setting storytrail has, with its default, in one place.

One section per component; the section's name matches the module that reads it (`feeds` ->
crawlers/feeds.py, `fetch` -> crawlers/fetching.py, `store` -> pipelines/stores/, `link` ->
pipelines/linking.py). Values come from, in rising priority: these defaults, a TOML file
(`--config`, or `<data-dir>/storytrail.toml` when present), environment variables `STORYTRAIL_<SECTION>__<NAME>`
and the command line. `storytrail config --help-settings` prints this model; a test keeps the README in step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from crawlers.config_files import DEFAULT_SOURCES_FILE, ConfigError, first_error
from pipelines.data_dir import DEFAULT_DATA_DIR, ENV_PREFIX, data_dir_of, default_store_url, settings_file, state_path


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedSettings(Section):
    """The RSS/Atom poller."""

    max_backoff_min: int = Field(24 * 60, ge=1, description="Longest wait after repeated feed failures.")
    backoff_base_min: float = Field(15, gt=0, description="First wait after a feed failure; doubles per failure.")
    give_up_after: int = Field(
        36, ge=1,
        description="Consecutive failures after which a feed is no longer polled on schedule (`status` says so; "
        "`run --source KEY` tries it again): with the backoff, about a month of daily retries.",
    )
    max_items: int = Field(200, ge=1, description="Items read from one feed body (newest first).")
    ignore_schedule: bool = Field(False, description="Poll every feed on each run, even if not yet due.")
    only_sources: list[str] = Field(
        default_factory=list,
        description="Poll only these sources' feeds, due or not (`run --source`, the scheduler's cycles); empty: every due feed.",
    )


class PollSettings(Section):
    """Adaptive polling (crawlers/poll_schedule.py): each feed's interval follows how often it brings new items.

    The rule is Nutch's adaptive fetch schedule with its default rates (not tuned on our data): shorter by 20%
    after a poll that found something new, longer by 40% after one that did not, within the bounds. A source
    may set its own bounds (`poll_interval_bounds_min: [lo, hi]` in config/sources.yaml)."""

    min_interval_min: float = Field(10.0, gt=0, description="Shortest adapted poll interval of a feed, in minutes.")
    max_interval_min: float = Field(720.0, gt=0, description="Longest adapted poll interval of a feed, in minutes.")
    speedup: float = Field(0.8, gt=0, le=1, description="The interval is multiplied by this after a poll that brought new items.")
    slowdown: float = Field(1.4, ge=1, description="The interval is multiplied by this after a poll that brought nothing new.")
    failing_after: int = Field(
        6, ge=1,
        description="Consecutive failures after which a feed is reported failing (by `status` and each cycle); "
        "it is then probed every feeds.max_backoff_min, until feeds.give_up_after.",
    )
    quiet_factor: float = Field(
        4.0, gt=1, description="A source is quiet when nothing new came for this many times its usual gap between new items."
    )
    quiet_floor_h: float = Field(
        24.0, ge=0, description="A source is never called quiet before this many hours without anything new (a night is not news)."
    )


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
    outlet_budget_s: float = Field(
        600.0, gt=0,
        description="Most seconds one outlet's pages may take in a cycle; its pages not started by then wait, "
        "queued, for the next cycle, so one slow outlet cannot hold the others (a request under way may add "
        "up to timeout_s).",
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
    29 copy pairs, 22 same-event hard negatives); "bench": bench/linking.py (1k-100k articles of real prose, copied
    as republishers copy, bench/real_prose.py); "tuning": bench/link_tuning.py on that corpus's tuning split."""

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
        description="A copy shares at least this many unquoted words with the other text. Tuning (bench/link_tuning.py, "
        "tuning split of 5k real-prose articles): 24-60 score alike (pair recall 1.000, precision 0.997). Replay: "
        "copies share 67 or more, hard negatives 11 at most (up to 51 quoted), so 40 sits between.",
    )
    min_credited_words: int = Field(
        24, ge=1,
        description="A page that credits or links the other (a teaser ending \"Read more\") is a copy from this many "
        "shared unquoted words (three 8-word runs). Tuning: 12-40 score alike; without this rule the 1k dev run "
        "missed every linked teaser of under 40 words.",
    )
    min_coverage: float = Field(
        0.25, gt=0, le=1,
        description="A copy shares at least this share of the unquoted words of the smaller text (below it the pair "
        "shares a source). Tuning: 0.05-0.4 score alike once uncredited pairs with text of their own are shared "
        "sources; 0.25 kept for the replay (copies 0.37 or more, hard negatives 0.04 at most).",
    )
    same_outlet_coverage: float = Field(
        0.8, gt=0, le=1,
        description="Two articles of one outlet are copies only when this share of the smaller one is shared: "
        "a new outlet's first articles share footers not learned yet. Tuning: 0.5-0.9 score alike (the bench's "
        "same-outlet copies are edited reposts holding 0.9 or more); 0.8 kept.",
    )
    shared_source_own_share: float = Field(
        0.4, gt=0, le=1,
        description="Two articles sharing a passage that neither credits, each keeping at least this share of its "
        "own words outside it, share a source (a bulletin, a court filing) and stay separate stories. Tuning: "
        "0.3-0.6 keep every copy and merge no shared-source pair; 0.2 loses 0.6% of copies (long intros); 0.4 is "
        "the middle of the plateau.",
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
    cache_words: int = Field(
        2_000_000, ge=1000,
        description="Words of comparison text kept prepared for linking, least recently used dropped first (about "
        "19 bytes a word, with the line hashes 24: 48 MB). bench/pipeline.py's import, 1,810 documents of 1.27M "
        "words (stories of ten copies spread over the input): 400k prepared 6,349 texts a second time, 2M none.",
    )


class ProcessSettings(Section):
    """Extraction and comparison-text preparation in worker processes (pipelines/processing.py,
    pipelines/worker_pool.py); storing and linking stay in one writer process."""

    workers: int = Field(
        0, ge=0,
        description="Processes that extract pages and prepare their texts, the writer among them (so N starts "
        "N-1 worker processes); 0: one per core; 1: the writer does everything (`--workers`).",
    )
    pages_in_flight: int = Field(
        16, ge=1, description="Pages handed out ahead of the writer, per worker (the writer takes pages from them "
        "when it would wait): bounds memory. Chosen on the first 600 documents of bench/pipeline.py's import, 2 "
        "workers, wall s of 3 alternating runs: 12.5, 11.3, 11.6 at 4; 11.8, 11.7, 11.4 at 8; 10.1, 10.8, 11.6 at 16.",
    )
    group_articles: int = Field(
        128, ge=1, description="Articles of an import, reextract or pending pages stored in one commit (a crawl's "
        "pages commit one by one); `group_seconds` bounds a group too. Chosen on bench/pipeline.py's cycles of 500 "
        "articles, CPU s per cycle: 100k store 4.99 and 4.71 by 32, 4.25 by 64, 4.25, 4.10 and 4.08 by 128, 4.14 by 256 (cut at 2 s); "
        "1k store 3.02 and 2.79 by 32, 2.70 and 2.34 by 128 (each commit writes every b-tree page its group touched).",
    )
    group_seconds: float = Field(
        2.0, gt=0, description="A group is committed after this many seconds at most: how late the store's readers "
        "see new articles, and the work a kill makes the next run redo. Importing the 1,810 documents of "
        "bench/pipeline.py, a commit cost 2 to 10 ms of CPU: under 1% of 2 s.",
    )


class BackfillSettings(Section):
    """`storytrail backfill` (crawlers/backfill.py): sitemaps, listings and the web archive."""

    max_listing_pages: int = Field(
        200, ge=1, description="Listing pages followed per listing at most (newest first; the walk also stops at "
        "the first page older than the window).",
    )


class MailSettings(Section):
    """The SMTP server alerts are sent through (pipelines/alerts/delivery.py). The password is read from the
    settings file or STORYTRAIL_MAIL__PASSWORD and never printed, logged or put in an error message."""

    host: str = Field("localhost", description="SMTP server: a relay on this machine, or your provider's submission host.")
    port: int = Field(587, ge=1, le=65535, description="587 for STARTTLS submission, 465 for ssl, 25 for a local relay.")
    tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls", description="starttls: upgrade the connection and refuse a server that cannot; ssl: TLS from the "
        "start (port 465); none: plain, for a relay on this machine only.",
    )
    username: str | None = Field(None, description="SMTP login, when the server wants one.")
    password: SecretStr | None = Field(None, description="SMTP password (STORYTRAIL_MAIL__PASSWORD); never logged.")
    sender: str = Field("storytrail@localhost", description="From address of every alert.")
    ca_certs: Path | None = Field(None, description="CA certificate to trust for the server's TLS certificate (a private relay).")
    timeout_s: float = Field(30.0, gt=0, description="Give up on the SMTP server after this many seconds.")


class AlertSettings(Section):
    """Saved-search alerts (pipelines/alerts/): evaluated after every cycle and by `storytrail alerts run`."""

    searches_file: Path = Field(
        DEFAULT_SOURCES_FILE.parent / "alerts.yaml", description="Saved searches declared in YAML, beside the ones "
        "added with `alerts add` (which live in <data_dir>/alerts.db).",
    )
    overlap_min: float = Field(
        10.0, ge=0, description="Each evaluation also re-reads what was indexed this long before the last one, so an "
        "article written by a slower concurrent writer is not missed; the ledger keeps it from being sent twice. "
        "Not tuned on data: far above Elasticsearch's 1 s refresh and the clock skew of NTP-synced hosts.",
    )
    max_messages_per_run: int = Field(
        20, ge=1, description="Messages sent per run at most; the rest wait for the next run (after an outage, each "
        "search's waiting entries already go as one message).",
    )
    digest_hour_utc: int = Field(6, ge=0, le=23, description="Hour (UTC) at which daily and weekly digest windows close.")
    weekly_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", description="Day on which the weekly digest window closes."
    )
    unsubscribe: str | None = Field(
        None, description="List-Unsubscribe target, {name} being the search: a mailto: or https: URL; default "
        "mailto:<mail.sender>?subject=unsubscribe {name}.",
    )


class ImportSettings(Section):
    """`storytrail import` (pipelines/importer.py)."""

    max_document_bytes: int = Field(
        8 * 1024 * 1024, ge=1024,
        description="A line (one document) longer than this is rejected unread, like a page over fetch.max_page_bytes.",
    )


class LogSettings(Section):
    """Where storytrail's log lines go and in what shape (pipelines/logs.py). `--log-format` and `--log-file`,
    given before the command (`storytrail --log-format json run`), override the first two."""

    format: Literal["text", "json"] = Field(
        "text", description="text: one readable line per event; json: one JSON object per line (journald, shippers)."
    )
    file: Path | None = Field(None, description="Also write the log to this file (rotated), in the same format.")
    rotation_mb: int = Field(10, ge=1, description="Start a new log file when the current one reaches this size.")
    retention_files: int = Field(10, ge=1, description="Rotated log files kept; older ones are deleted.")


class Settings(BaseModel):
    """All of storytrail's settings."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path = Field(DEFAULT_DATA_DIR, description="Where the store, crawl state and page archive live.")
    sources_file: Path = Field(DEFAULT_SOURCES_FILE, description="The source registry.")
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    link: LinkSettings = Field(default_factory=LinkSettings)
    process: ProcessSettings = Field(default_factory=ProcessSettings)
    poll: PollSettings = Field(default_factory=PollSettings)
    backfill: BackfillSettings = Field(default_factory=BackfillSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    importer: ImportSettings = Field(default_factory=ImportSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @property
    def store_url(self) -> str:
        return self.store.url or default_store_url(self.data_dir)

    @property
    def state_path(self) -> Path:
        return state_path(self.data_dir)


def load_settings(config_file: Path | None = None, overrides: dict | None = None) -> Settings:
    """Defaults, then the TOML file, then STORYTRAIL_* environment variables, then `overrides`."""
    values: dict = {}
    path = settings_file(config_file, data_dir_of((overrides or {}).get("data_dir")))
    if config_file is not None or path.exists():
        import tomllib  # here: most runs have no settings file

        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save the settings file as UTF-8") from None
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
    """STORYTRAIL_FETCH__TIMEOUT_S=10 -> {"fetch": {"timeout_s": "10"}}; STORYTRAIL_STORE -> store.url.

    A STORYTRAIL_* variable that names no setting (a typo, a leftover) is named in one warning and ignored:
    it must not stop cron's runs."""
    values: dict = {}
    unknown: list[str] = []
    for name, value in os.environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key == "store":
            key = "store__url"
        if key.startswith("es_"):  # credentials, read where they are used
            continue
        section, _, field = key.partition("__")
        if not _is_setting(section, field):
            if name not in _read_elsewhere():
                unknown.append(name)
        elif field:
            values.setdefault(section, {})[field] = value
        else:
            values[section] = value
    if unknown:
        from loguru import logger

        logger.warning("ignored environment variable(s) that name no setting: {} (see `storytrail config --help-settings`)",
                       ", ".join(sorted(unknown)))
    return values


def _read_elsewhere() -> tuple[str, ...]:
    """STORYTRAIL_* variables that are no setting but are read where they are used (imported only when an
    unknown variable is seen: a read command starts without these modules)."""
    from pipelines.faultpoints import KILL_AT_VARIABLE
    from pipelines.run_lock import LOCK_FD_VARIABLE

    return KILL_AT_VARIABLE, LOCK_FD_VARIABLE


def _is_setting(section: str, field: str) -> bool:
    """True when STORYTRAIL_<SECTION>__<FIELD> (or STORYTRAIL_<FIELD> for a top-level one) names a setting."""
    found = Settings.model_fields.get(section)
    if found is None:
        return False
    annotation = found.annotation
    is_section = isinstance(annotation, type) and issubclass(annotation, Section)
    return field in annotation.model_fields if is_section else not field


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
