"""Adaptive polling: the interval follows how often a feed brings new items, within bounds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawlers import feeds, poll_schedule
from crawlers.sources import ConfigError, Source, load_sources
from crawlers.state import CrawlState, FeedState
from pipelines.settings import FeedSettings, PollSettings

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
SETTINGS = PollSettings()
WSWS = load_sources().get("wsws")  # poll_interval_min: 60


def answer(feed: FeedState, new_items: int, minutes_later: float, source: Source = WSWS) -> FeedState:
    when = (feed.last_polled_at or NOW) + timedelta(minutes=minutes_later)
    return feeds.after_success(feed, source, when, new_items=new_items, poll=SETTINGS)


def test_the_first_answer_keeps_the_configured_interval_then_it_adapts():
    first = feeds.after_success(FeedState("u", "wsws"), WSWS, NOW, new_items=30, poll=SETTINGS)
    assert first.interval_min == 60 and first.next_poll_at == NOW + timedelta(minutes=60)
    busy = answer(first, 3, 60)
    assert busy.interval_min == pytest.approx(48) and busy.next_poll_at == busy.last_polled_at + timedelta(minutes=48)
    idle = answer(first, 0, 60)
    assert idle.interval_min == pytest.approx(84)


def test_the_interval_stays_within_the_settings_bounds_and_a_sources_own():
    feed = feeds.after_success(FeedState("u", "wsws"), WSWS, NOW, poll=SETTINGS)
    for _ in range(30):
        feed = answer(feed, 0, feed.interval_min)
    assert feed.interval_min == SETTINGS.max_interval_min
    for _ in range(60):
        feed = answer(feed, 5, feed.interval_min)
    assert feed.interval_min == SETTINGS.min_interval_min
    bounded = WSWS.model_copy(update={"poll_interval_bounds_min": (20.0, 90.0)})
    assert poll_schedule.bounds(bounded, SETTINGS) == (20.0, 90.0)
    assert poll_schedule.clamp(5, bounded, SETTINGS) == 20 and poll_schedule.clamp(500, bounded, SETTINGS) == 90


@given(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=40))
def test_any_sequence_of_answers_keeps_the_interval_in_bounds(new_counts):
    feed = FeedState("u", "wsws")
    for count in new_counts:
        feed = answer(feed, count, 30)
        assert SETTINGS.min_interval_min <= feed.interval_min <= SETTINGS.max_interval_min
        assert feed.next_poll_at == feed.last_polled_at + timedelta(minutes=feed.interval_min)


def test_the_usual_gap_between_new_items_is_a_moving_average_and_quiet_is_judged_against_it():
    feed = answer(FeedState("u", "wsws"), 10, 0)
    assert feed.new_gap_min is None and poll_schedule.quiet_after(feed, SETTINGS) is None
    feed = answer(feed, 1, 600)  # something new ten hours later
    assert feed.new_gap_min == pytest.approx(600)
    feed = answer(feed, 1, 300)
    assert feed.new_gap_min == pytest.approx(0.7 * 600 + 0.3 * 300)
    feed = answer(feed, 0, 60)  # nothing new: the usual gap is unchanged
    assert feed.new_gap_min == pytest.approx(510) and feed.last_new_at == NOW + timedelta(minutes=900)
    limit = poll_schedule.quiet_after(feed, SETTINGS)
    assert limit == timedelta(minutes=4 * 510)  # 34 h: over the 24 h floor
    assert not poll_schedule.is_quiet(feed, feed.last_new_at + limit - timedelta(minutes=1), SETTINGS)
    assert poll_schedule.is_quiet(feed, feed.last_new_at + limit + timedelta(minutes=1), SETTINGS)
    often = FeedState("v", "wsws", last_new_at=NOW, new_gap_min=30)
    assert poll_schedule.quiet_after(often, SETTINGS) == timedelta(hours=24), "a night is not news"


def test_a_feed_is_failing_after_repeated_failures_and_one_answer_clears_it():
    feed = FeedState("u", "wsws")
    for n in range(1, SETTINGS.failing_after + 1):
        feed = feeds.after_failure(feed, "HTTP 503", NOW, FeedSettings())
        assert poll_schedule.is_failing(feed, SETTINGS) == (n >= SETTINGS.failing_after)
    assert feed.next_poll_at - NOW == timedelta(minutes=15 * 2 ** (SETTINGS.failing_after - 1))
    recovered = answer(feed, 2, 60)
    assert recovered.failures == 0 and not poll_schedule.is_failing(recovered, SETTINGS)
    assert recovered.last_success_at == recovered.last_polled_at


def test_the_adapted_state_survives_the_state_file_and_old_files_gain_the_columns(tmp_path):
    import sqlite3

    path = tmp_path / "state.db"
    with sqlite3.connect(path) as old:  # a state file from before adaptive polling
        old.execute("CREATE TABLE feeds (url TEXT PRIMARY KEY, source TEXT NOT NULL, etag TEXT, last_modified TEXT, "
                    "body_hash TEXT, last_polled_at TEXT, next_poll_at TEXT, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT)")
        old.execute("INSERT INTO feeds (url, source) VALUES ('u', 'wsws')")
    old.close()
    state = CrawlState(path)
    assert state.get_feed("u", "wsws").interval_min is None
    feed = answer(answer(state.get_feed("u", "wsws"), 4, 0), 1, 45)
    state.save_feed(feed)
    assert state.get_feed("u", "wsws") == feed
    state.close()


def test_bounds_in_the_sources_file_are_checked(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - {key: x, name: X, role: origin, domains: [x.org], feeds: ['https://x.org/feed'],\n"
                    "     poll_interval_bounds_min: [90, 30]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="source 'x'.*poll_interval_bounds_min"):
        load_sources(path)


def test_a_feed_failing_for_about_a_month_is_given_up_until_asked_for_by_name():
    settings = FeedSettings()
    feed, waited = FeedState("u", "wsws"), timedelta(0)
    while not poll_schedule.is_given_up(feed, settings):
        feed = feeds.after_failure(feed, "HTTP 404", NOW + waited, settings)
        waited = feed.next_poll_at - NOW
    assert feed.failures == settings.give_up_after and timedelta(days=25) < waited < timedelta(days=35)
    assert feeds.is_due(feed, feed.next_poll_at) and not feeds.is_due(feed, feed.next_poll_at, settings)
    revived = answer(feed, 1, 60 * 24 * 40)  # `run --source wsws` polled it by name, and it answered
    assert feeds.is_due(revived, revived.next_poll_at, settings)
