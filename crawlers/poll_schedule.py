"""When to poll a feed again: its interval follows how often it brings new items, within bounds.

The rule is Nutch's adaptive fetch schedule: a poll that found something new shortens the interval
(`poll.speedup`), one that found nothing lengthens it (`poll.slowdown`), always within the source's bounds
(`poll_interval_bounds_min` in config/sources.yaml, else `poll.min_interval_min` / `poll.max_interval_min`).
A feed's first answer keeps the configured `poll_interval_min`: everything is new on a first poll, which says
nothing about how often the feed changes.

Alongside, each feed keeps the usual gap between polls that brought something new (a moving average), which
`storytrail status` uses to call a source quiet when it has said nothing for much longer than usual. Failures
are counted by crawlers/feeds.py (exponential backoff); after `poll.failing_after` of them in a row the feed
is reported failing, after `feeds.give_up_after` it is no longer polled on schedule.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from crawlers.sources import Source
from crawlers.state import FeedState
from pipelines.settings import FeedSettings, PollSettings

# Weight of the newest gap in the moving average of gaps between new items.
GAP_WEIGHT = 0.3


def bounds(source: Source, settings: PollSettings) -> tuple[float, float]:
    """(shortest, longest) interval in minutes for this source's feeds."""
    return source.poll_interval_bounds_min or (settings.min_interval_min, settings.max_interval_min)


def clamp(minutes: float, source: Source, settings: PollSettings) -> float:
    low, high = bounds(source, settings)
    return min(max(minutes, low), high)


def current_interval(feed: FeedState, source: Source, settings: PollSettings) -> float:
    """The feed's interval in minutes: adapted when it has answered before, else the configured one."""
    return clamp(feed.interval_min or source.poll_interval_min, source, settings)


def after_answer(feed: FeedState, source: Source, now: datetime, new_items: int, settings: PollSettings) -> FeedState:
    """The feed answered (200, 304 or an unchanged body) with `new_items` never seen before: adapt its interval,
    note when it last brought something, and set the next poll."""
    if feed.interval_min is None:
        interval = clamp(source.poll_interval_min, source, settings)
    else:
        factor = settings.speedup if new_items else settings.slowdown
        interval = clamp(feed.interval_min * factor, source, settings)
    last_new_at, gap = feed.last_new_at, feed.new_gap_min
    if new_items:
        if last_new_at is not None:
            seen = (now - last_new_at).total_seconds() / 60
            gap = seen if gap is None else (1 - GAP_WEIGHT) * gap + GAP_WEIGHT * seen
        last_new_at = now
    return replace(feed, interval_min=interval, last_success_at=now, last_new_at=last_new_at, new_gap_min=gap,
                   next_poll_at=now + timedelta(minutes=interval))


def is_failing(feed: FeedState, settings: PollSettings) -> bool:
    """Failed `poll.failing_after` times in a row: reported, and only probed at the longest backoff."""
    return feed.failures >= settings.failing_after


def is_given_up(feed: FeedState, settings: FeedSettings) -> bool:
    """Failed `feeds.give_up_after` times in a row: polled only when asked for by name (`run --source`)."""
    return feed.failures >= settings.give_up_after


def quiet_after(feed: FeedState, settings: PollSettings) -> timedelta | None:
    """How long without anything new is unusual for this feed; None until two polls have brought something."""
    if feed.new_gap_min is None:
        return None
    return max(timedelta(minutes=feed.new_gap_min * settings.quiet_factor), timedelta(hours=settings.quiet_floor_h))


def is_quiet(feed: FeedState, now: datetime, settings: PollSettings) -> bool:
    """Nothing new for longer than usual for this feed (a feed that fails is reported as failing instead)."""
    limit = quiet_after(feed, settings)
    return limit is not None and feed.last_new_at is not None and now - feed.last_new_at > limit
