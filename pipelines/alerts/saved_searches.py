"""Saved searches: what each one asks, who gets it, how often, and from when.

A search comes from `storytrail alerts add` (kept in `<data_dir>/alerts.db`, see ledger.py) or from the YAML
file `alerts.searches_file` (config/alerts.yaml), which is read at every evaluation: a search added to the
file starts then, one removed from it stops. A watch (`alerts watch`) is a search with a story instead of a
query. Everything a person types is checked here, once, with one error line saying what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.errors import HeaderParseError
from email.headerregistry import Address
from pathlib import Path

import yaml

from crawlers.sources import ConfigError
from pipelines.query import parse

SCHEDULES = ("immediate", "daily", "weekly")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class AlertInputError(ConfigError):
    """A saved search, address or schedule that cannot be used; the message says which and why."""


@dataclass
class SavedSearch:
    """One saved search or watched story, with where its evaluation stands."""

    name: str
    recipients: list[str]
    every: str = "immediate"
    query: str | None = None  # None for a watch
    watch_url: str | None = None  # a watched story: one of its copies (story ids change when an origin turns up)
    origin: str = "cli"  # cli (alerts add / watch) or config (the YAML file)
    start: datetime = field(default_factory=lambda: datetime.now(timezone.utc))  # nothing fetched before is sent
    watermark: datetime = field(default_factory=lambda: datetime.now(timezone.utc))  # evaluated up to here

    @property
    def is_watch(self) -> bool:
        return self.watch_url is not None

    def describe(self) -> str:
        return f"story {self.watch_url}" if self.is_watch else f"query {self.query}"


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise AlertInputError(f"search name {name!r}: use 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit")
    return name


def check_query(query: str) -> str:
    """The store's own query syntax; a bad query raises QueryError naming its position."""
    parse(query)
    return query


def check_addresses(value: str | list[str], what: str = "--to") -> list[str]:
    """Plain addresses (user@example.org), comma-separated or a list; nothing else gets near a header."""
    items = value if isinstance(value, list) else value.split(",")
    addresses = [str(item).strip() for item in items if str(item).strip()]
    if not addresses:
        raise AlertInputError(f"{what}: no address given")
    for address in addresses:
        check_address(address, what)
    return list(dict.fromkeys(addresses))


def check_address(address: str, what: str) -> str:
    problem = None
    if any(c.isspace() or ord(c) < 32 or c in "<>,;\"()" for c in address):
        problem = "spaces, control characters, quotes or brackets"
    else:
        try:
            parsed = Address(addr_spec=address)
            if not parsed.username or "." not in parsed.domain or not address.isascii():
                problem = "not user@domain.tld"
        except (HeaderParseError, ValueError, IndexError) as exc:
            problem = str(exc).splitlines()[0] or "not an address"
    if problem:
        raise AlertInputError(f"{what}: {address!r} is not a usable e-mail address ({problem})")
    return address


def check_schedule(every: str) -> str:
    if every not in SCHEDULES:
        raise AlertInputError(f"--every {every!r}: use one of {', '.join(SCHEDULES)}")
    return every


def parse_start(value: str) -> datetime:
    """--from 2024-01-31 (midnight UTC) or an ISO instant."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise AlertInputError(f"--from {value!r}: not a date (use 2024-01-31 or 2024-01-31T12:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def new_search(name: str, query: str, to: str | list[str], every: str = "immediate", start: str | None = None,
               origin: str = "cli") -> SavedSearch:
    """A checked search that starts now, or at `start`."""
    moment = parse_start(start) if start else datetime.now(timezone.utc)
    return SavedSearch(name=check_name(name), query=check_query(query), recipients=check_addresses(to),
                       every=check_schedule(every), origin=origin, start=moment, watermark=moment)


def load_config_searches(path: Path) -> list[SavedSearch]:
    """The searches declared in the YAML file (none when it does not exist). Each entry: name, query, to
    (an address or a list), optional every and from."""
    if not path.exists():
        return []
    where = str(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AlertInputError(f"{where}: cannot read saved searches: {str(exc).splitlines()[0]}") from exc
    entries = document.get("searches") if isinstance(document, dict) else None
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise AlertInputError(f"{where}: 'searches' must be a list")
    searches: list[SavedSearch] = []
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not {"name", "query", "to"} <= set(entry):
            raise AlertInputError(f"{where}: search #{n} needs name, query and to")
        unknown = set(entry) - {"name", "query", "to", "every", "from"}
        if unknown:
            raise AlertInputError(f"{where}: search #{n}: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            start = entry.get("from")
            searches.append(new_search(str(entry["name"]), str(entry["query"]), entry["to"],
                                       str(entry.get("every", "immediate")), str(start) if start else None, "config"))
        except (AlertInputError, ValueError) as exc:
            raise AlertInputError(f"{where}: search #{n} ({entry.get('name')}): {exc}") from exc
    names = [s.name for s in searches]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise AlertInputError(f"{where}: search name {duplicate!r} is declared twice")
    return searches
