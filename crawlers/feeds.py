"""The RSS/Atom poller: which feeds are due, how to ask for them, and what a feed answer means.

Fetching itself goes through Scrapy like every other request (politeness, robots.txt, the address
guard, the replay transport); this module holds the decisions around it, as plain functions that tests
call directly: conditional GET from the remembered ETag/Last-Modified, skipping a body whose hash is
unchanged, exponential backoff after failures, and honouring Retry-After. How long to wait after an answer
is crawlers/poll_schedule.py's decision (adaptive polling).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import feedparser

from crawlers import poll_schedule
from crawlers.sources import Source
from crawlers.state import FeedState
from crawlers.urls import get_unsafe_reason, normalize_url
from pipelines.settings import FeedSettings, PollSettings


# Sorts after every dated entry.
UNDATED = datetime.min.replace(tzinfo=timezone.utc)


class FeedError(Exception):
    """A feed body could not be read at all; the message says why."""


@dataclass(frozen=True)
class FeedItem:
    """One entry of a feed: where the article is, and what the feed says about it."""

    link: str
    title: str | None
    published: datetime | None


@dataclass(frozen=True)
class RejectedItem:
    link: str
    reason: str


def is_due(feed: FeedState, now: datetime, settings: FeedSettings | None = None) -> bool:
    """Time to poll it again; never on schedule once it is given up (poll_schedule.is_given_up)."""
    if settings is not None and poll_schedule.is_given_up(feed, settings):
        return False
    return feed.next_poll_at is None or feed.next_poll_at <= now


def conditional_headers(feed: FeedState) -> dict[str, str]:
    """Headers that let the server answer 304 Not Modified when nothing changed."""
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    return headers


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def after_success(feed: FeedState, source: Source, now: datetime, etag: str | None = None,
                  last_modified: str | None = None, digest: str | None = None, new_items: int = 0,
                  poll: PollSettings | None = None) -> FeedState:
    """The feed answered with `new_items` not seen before: poll it again after its adapted interval."""
    answered = replace(
        feed,
        etag=etag or feed.etag,
        last_modified=last_modified or feed.last_modified,
        body_hash=digest or feed.body_hash,
        last_polled_at=now,
        failures=0,
        last_error=None,
    )
    return poll_schedule.after_answer(answered, source, now, new_items, poll or PollSettings())


def after_failure(feed: FeedState, reason: str, now: datetime, settings: FeedSettings,
                  retry_after: str | None = None) -> FeedState:
    """The feed failed: wait twice as long after each failure, and at least what Retry-After asks."""
    failures = feed.failures + 1
    wait = timedelta(minutes=min(settings.backoff_base_min * 2 ** (failures - 1), settings.max_backoff_min))
    asked = parse_retry_after(retry_after, now)
    if asked is not None:
        wait = max(wait, asked)
    return replace(feed, last_polled_at=now, next_poll_at=now + wait, failures=failures, last_error=reason)


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """Retry-After is either seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when - now, timedelta(0))


def parse_feed(body: bytes, feed_url: str, max_items: int, content_type: str = "application/xml") -> tuple[list[FeedItem], str | None]:
    """Items of an RSS or Atom body, newest first, and a warning when the body was malformed but readable.

    feedparser recovers what it can from broken XML; a body it cannot read at all raises FeedError.
    """
    parsed = feedparser.parse(body, response_headers={"content-location": feed_url, "content-type": content_type})
    problem = None
    if parsed.bozo:
        problem = f"{type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}"
        if not parsed.entries:
            raise FeedError(f"malformed feed with no readable item ({problem})")
    # Newest first by date, whatever the document's order (an oldest-first feed longer than max_items must
    # still give its newest items); the sort is stable, so undated entries keep their order, after the dated.
    entries = sorted(parsed.entries, key=lambda entry: _entry_time(entry) or UNDATED, reverse=True)
    items = []
    for entry in entries[:max_items]:
        link = entry.get("link") or _guid_link(entry)
        if not link:
            continue
        items.append(FeedItem(link=link.strip(), title=entry.get("title"), published=_entry_time(entry)))
    return items, problem


def screen_items(items: list[FeedItem], source: Source, resolve_hosts: bool,
                 allow_private: bool = False) -> tuple[list[FeedItem], list[RejectedItem]]:
    """Keep items that point at the source's own article pages; reject other domains and unsafe addresses
    (unless `fetch.allow_private_addresses`)."""
    kept, rejected = [], []
    for item in items:
        reason = _rejection(item.link, source, resolve_hosts, allow_private)
        if reason:
            rejected.append(RejectedItem(item.link, reason))
        else:
            kept.append(item)
    return kept, rejected


def _rejection(link: str, source: Source, resolve_hosts: bool, allow_private: bool) -> str | None:
    unsafe = None if allow_private else get_unsafe_reason(link, resolve=resolve_hosts)
    if unsafe:
        return f"unsafe address: {unsafe}"
    try:
        normalize_url(link)
    except ValueError as exc:
        return str(exc)
    parts = urlsplit(link)
    if not source.owns_host(parts.hostname or ""):
        return f"links to another domain ({parts.hostname}), not {source.name}"
    return None


def _guid_link(entry: feedparser.FeedParserDict) -> str | None:
    guid = entry.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else None


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            return datetime(*value[:6], tzinfo=timezone.utc)
    return None
