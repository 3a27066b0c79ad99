"""How each source is doing, for `storytrail status`: read from the crawl state alone (no store needed).

Per source: the last poll and the last successful one, the last page fetched, new articles in the last day
and week, failures in a row, the adapted poll interval (crawlers/poll_schedule.py) and the next poll, and
warnings a person should act on: a source failing, quiet for longer than usual for it, or never polled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from crawlers import poll_schedule
from crawlers.sources import Source, SourceRegistry
from crawlers.state import CrawlState, FeedState
from pipelines.settings import Settings


@dataclass
class SourceHealth:
    key: str
    name: str
    feeds: int
    last_poll: datetime | None = None
    last_successful_poll: datetime | None = None
    last_fetch: datetime | None = None
    new_last_day: int = 0
    new_last_week: int = 0
    consecutive_failures: int = 0
    failing: bool = False
    given_up: bool = False
    last_error: str | None = None
    interval_min: float | None = None
    next_poll: datetime | None = None
    last_new_items: datetime | None = None
    usual_gap_min: float | None = None
    quiet: bool = False
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def sources_health(sources: SourceRegistry, state: CrawlState | None, settings: Settings, now: datetime) -> list[SourceHealth]:
    """One entry per configured source, in config order; `state` None when nothing was gathered yet."""
    feeds = state.list_feeds() if state else []
    fetched = state.last_fetched() if state else {}
    day = state.indexed_since(now - timedelta(days=1)) if state else {}
    week = state.indexed_since(now - timedelta(days=7)) if state else {}
    result = []
    for source in sources:
        health = SourceHealth(key=source.key, name=source.name, feeds=len(source.feeds), last_fetch=fetched.get(source.key),
                              new_last_day=day.get(source.key, 0), new_last_week=week.get(source.key, 0))
        _add_feeds(health, source, [f for f in feeds if f.source == source.key and f.url in source.feeds], settings, now)
        result.append(health)
    return result


def _add_feeds(health: SourceHealth, source: Source, feeds: list[FeedState], settings: Settings, now: datetime) -> None:
    poll = settings.poll
    if not source.feeds:
        health.warnings.append("no feed: archive only, gathered by backfill" if source.archive_only
                               else "no feed: gathered by backfill only")
        return
    health.last_poll = _latest(f.last_polled_at for f in feeds)
    health.last_successful_poll = _latest(f.last_success_at for f in feeds)
    health.last_new_items = _latest(f.last_new_at for f in feeds)
    health.interval_min = round(min((poll_schedule.current_interval(f, source, poll) for f in feeds),
                                    default=poll_schedule.clamp(source.poll_interval_min, source, poll)), 1)
    health.next_poll = min((f.next_poll_at for f in feeds if f.next_poll_at), default=None)
    gaps = [f.new_gap_min for f in feeds if f.new_gap_min is not None]
    health.usual_gap_min = round(min(gaps), 1) if gaps else None
    worst = max(feeds, key=lambda f: f.failures, default=None)
    if worst is not None and worst.failures:
        health.consecutive_failures, health.last_error = worst.failures, worst.last_error
        health.failing = poll_schedule.is_failing(worst, poll)
        kind = "failing" if health.failing else "failed"
        health.warnings.append(f"{kind}: {worst.failures} failure(s) in a row, last: {worst.last_error}")
        if poll_schedule.is_given_up(worst, settings.feeds):
            health.given_up = True
            health.warnings.append(f"given up: no longer polled on schedule; `storytrail run --source {source.key}` tries again")
    quiet = [f for f in feeds if poll_schedule.is_quiet(f, now, poll)]
    if quiet and len(quiet) == len(feeds):
        health.quiet = True
        since = now - health.last_new_items
        health.warnings.append(f"quiet: nothing new for {_span(since)}, usually something every "
                               f"{_span(timedelta(minutes=health.usual_gap_min))}")
    if len(feeds) < len(source.feeds):
        health.warnings.append("never polled" if not feeds else f"{len(source.feeds) - len(feeds)} feed(s) never polled")


def _latest(values) -> datetime | None:
    return max((v for v in values if v is not None), default=None)


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"
