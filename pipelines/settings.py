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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crawlers.sources import DEFAULT_SOURCES_FILE, ConfigError


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
    """Where articles are kept."""

    url: str | None = Field(
        None, description="sqlite:///path/storytrail.db or https://host:9200; default: sqlite in the data dir."
    )


class LinkSettings(Section):
    """Finding copies and building syndication chains."""

    enabled: bool = Field(True, description="Link each new article to its copies and origin.")


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
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: setting '{field}': {first['msg']}") from exc


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
                rows.append((prefix + name, repr(default), field.description or ""))

    walk(Settings, "")
    return rows
