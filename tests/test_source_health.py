"""`storytrail status`: how each source is doing, from the crawl state."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone

from cli_runner import REPO
from cli_runner import storytrail as run_storytrail

from crawlers.sources import load_sources
from crawlers.state import CrawlState, FeedState
from pipelines.settings import Settings
from pipelines.source_health import sources_health

FIELDS = {"key", "name", "feeds", "last_poll", "last_successful_poll", "last_fetch", "new_last_day", "new_last_week",
          "consecutive_failures", "failing", "given_up", "last_error", "interval_min", "next_poll", "last_new_items",
          "usual_gap_min", "quiet", "warnings"}
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)


def test_status_json_on_demo_data_lists_every_source_with_its_health(demo_data_dir):
    result = run_storytrail("status", "--json", data_dir=demo_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    status = json.loads(result.stdout)
    sources = {s["key"]: s for s in status["sources"]}
    configured = load_sources()
    assert list(sources) == [s.key for s in configured]
    truth = json.loads((REPO / "crawlers" / "replay" / "corpus" / "truth.json").read_text(encoding="utf-8"))["articles"]
    per_outlet = Counter(fact["outlet"] for fact in truth.values())
    for source in configured:
        entry = sources[source.key]
        assert set(entry) == FIELDS, source.key
        assert entry["new_last_day"] == entry["new_last_week"] == per_outlet[source.key], source.key
        assert entry["last_fetch"] is not None and entry["consecutive_failures"] == 0 and not entry["failing"]
        if source.feeds:
            assert entry["last_poll"] == entry["last_successful_poll"] is not None, source.key
            assert entry["interval_min"] == source.poll_interval_min  # a first answer keeps the configured one
            assert entry["warnings"] == [] and not entry["quiet"]
        else:
            assert entry["interval_min"] is None and "archive only" in entry["warnings"][0]
    assert status["last_cycle"]["counters"]["store/added"] > 0


def test_failing_quiet_and_never_polled_sources_are_warned_about(tmp_path):
    sources = load_sources()
    settings = Settings().poll
    state = CrawlState(tmp_path / "state.db")
    feed = {s.key: s.feeds[0] for s in sources if s.feeds}
    state.save_feed(FeedState(feed["wsws"], "wsws", last_polled_at=NOW, failures=settings.failing_after,
                              last_error="HTTP 503", next_poll_at=NOW + timedelta(hours=24)))
    state.save_feed(FeedState(feed["sputnik"], "sputnik", last_polled_at=NOW, last_success_at=NOW, interval_min=20,
                              last_new_at=NOW - timedelta(days=3), new_gap_min=120))  # usually every 2 h, silent 3 days
    state.save_feed(FeedState(feed["thecradle"], "thecradle", last_polled_at=NOW, last_success_at=NOW,
                              last_new_at=NOW - timedelta(hours=20), new_gap_min=120))  # 20 h: under the 24 h floor
    state.save_feed(FeedState(feed["sott"], "sott", last_polled_at=NOW, failures=2, last_error="timeout"))
    state.save_feed(FeedState(feed["neo"], "neo", last_polled_at=NOW, failures=Settings().feeds.give_up_after,
                              last_error="HTTP 404"))
    health = {h.key: h for h in sources_health(sources, state, Settings(), NOW)}
    state.close()
    assert health["wsws"].failing and health["wsws"].consecutive_failures == settings.failing_after
    assert health["wsws"].warnings == [f"failing: {settings.failing_after} failure(s) in a row, last: HTTP 503"]
    assert health["wsws"].last_successful_poll is None
    assert health["sott"].warnings == ["failed: 2 failure(s) in a row, last: timeout"] and not health["sott"].failing
    assert health["sputnik"].quiet and health["sputnik"].interval_min == 20
    assert health["sputnik"].warnings == ["quiet: nothing new for 3.0 days, usually something every 2.0 h"]
    assert not health["thecradle"].quiet and health["thecradle"].warnings == []
    assert health["offguardian"].warnings == ["never polled"] and health["offguardian"].last_poll is None
    assert health["neo"].given_up and not health["wsws"].given_up
    assert health["neo"].warnings[-1] == "given up: no longer polled on schedule; `storytrail run --source neo` tries again"


def test_status_before_anything_was_gathered_says_so(tmp_path):
    result = run_storytrail("status", data_dir=tmp_path / "empty")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Nothing gathered" in result.stderr and "never polled" in result.stdout
    assert not (tmp_path / "empty" / "state.db").exists(), "a read command creates nothing"
