"""The whole gathering path, end to end, against the local replay web, through the real CLI.

Each cycle runs in its own process (Scrapy's reactor runs once per process), exactly as cron runs it.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from cli_runner import REPO, command, environment
from cli_runner import storytrail as run_storytrail

from crawlers.replay.server import ReplayWeb
from crawlers.sources import load_sources
from crawlers.urls import normalize_url
from pipelines.stores.sqlite import SqliteStore

TRUTH = REPO / "crawlers" / "replay" / "corpus" / "truth.json"


def load_truth() -> dict:
    return json.loads(TRUTH.read_text(encoding="utf-8"))


def storytrail(*args: str, data_dir: Path, replay: ReplayWeb, **kwargs) -> subprocess.CompletedProcess:
    return run_storytrail(*args, data_dir=data_dir, replay_url=replay.base_url, **kwargs)


def run_cycle(data_dir: Path, replay: ReplayWeb, *extra: str) -> dict:
    result = storytrail("run", "--all-feeds", "--json", *extra, data_dir=data_dir, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def store_snapshot(data_dir: Path) -> dict[str, tuple]:
    with SqliteStore(data_dir / "storytrail.db") as store:
        return {a.url: (a.outlet, a.title, a.text_hash) for a in store.iter_articles()}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, replay):
    data_dir = tmp_path_factory.mktemp("cycle")
    before = replay.hits.copy()
    summary = run_cycle(data_dir, replay)
    return data_dir, summary, replay.hits - before


def test_every_feed_article_is_gathered_once_with_correct_metadata(first_run):
    data_dir, summary, hits = first_run
    truth = load_truth()["articles"]
    expected = {normalize_url(url): (url, fact) for url, fact in truth.items() if fact["in_feed"]}
    with SqliteStore(data_dir / "storytrail.db") as store:
        stored = {a.url: a for a in store.iter_articles()}
    assert set(expected) <= set(stored), f"missing: {sorted(set(expected) - set(stored))[:5]}"
    for real_url, _ in expected.values():
        assert hits[real_url] == 1, f"{real_url} fetched {hits[real_url]} times"
    correct = 0
    for url, (_, fact) in expected.items():
        article = stored[url]
        same_date = article.published is not None and article.published.date().isoformat() == fact["published"][:10]
        same_author = {a.lower() for a in fact["authors"]} <= {a.lower() for a in article.authors}
        if article.outlet == fact["outlet"] and article.title == fact["title"] and same_author and same_date:
            correct += 1
    assert correct / len(expected) >= 0.95, f"{correct}/{len(expected)} with outlet, title, author and date right"
    assert summary["counters"]["store/added"] == len(stored)


def test_a_second_run_fetches_no_unchanged_feed_and_adds_nothing(first_run, replay):
    data_dir, _, _ = first_run
    before = store_snapshot(data_dir)
    result = storytrail("run", "--all-feeds", data_dir=data_dir, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing new" in result.stderr
    assert "feed not modified" in result.stderr
    assert store_snapshot(data_dir) == before
    stats = json.loads(storytrail("stats", "--json", data_dir=data_dir, replay=replay).stdout)
    feeds = sum(len(s.feeds) for s in load_sources())
    assert stats["last_run"]["counters"]["feed/not_modified"] == feeds
    assert "store/added" not in stats["last_run"]["counters"]


@pytest.mark.parametrize("point, done", [("spider.after_page_fetched:3", 3), ("spider.after_page_fetched:40", 40)])
def test_a_killed_run_then_a_rerun_ends_like_an_uninterrupted_run(first_run, replay, tmp_path, point, done):
    """Killed at a named point (pipelines/faultpoints.py), so the kill is known to land mid-work: after `done`
    pages are archived, fewer than that stored, and the rest not even fetched. (Killing after a fixed time
    could land before anything was on disk or after the run had ended.) tests/faults/test_kills.py kills at
    the other points."""
    reference = store_snapshot(first_run[0])
    env = environment(replay.base_url) | {"STORYTRAIL_KILL_AT": point, "STORYTRAIL_PROCESS__WORKERS": "1"}
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: nothing the killed run leaves can hold the test
        process = subprocess.run(command("run", "--all-feeds", data_dir=tmp_path), cwd=REPO, env=env,
                                 stdout=subprocess.DEVNULL, stderr=log, timeout=300)
    assert process.returncode == -signal.SIGKILL, f"not killed at {point}"
    with sqlite3.connect(tmp_path / "state.db") as db:
        archived = db.execute("SELECT count(*) FROM pages WHERE html IS NOT NULL").fetchone()[0]
    assert archived == done
    assert len(store_snapshot(tmp_path)) < done < len(reference)
    run_cycle(tmp_path, replay)
    assert store_snapshot(tmp_path) == reference


def test_search_and_stats_speak_json(first_run, replay):
    data_dir, _, _ = first_run
    hits = json.loads(storytrail("search", "Aleppo", "--json", data_dir=data_dir, replay=replay).stdout)
    assert hits and {"url", "outlet", "title", "authors", "published"} <= set(hits[0])
    stats = json.loads(storytrail("stats", "--json", data_dir=data_dir, replay=replay).stdout)
    assert stats["articles"] == sum(stats["by_outlet"].values()) > 0


BAD_SOURCES = """
sources:
  - key: badnews
    name: Bad News
    role: origin
    domains: [badnews.example]
    feeds:
      - https://www.badnews.example/feed.xml
      - https://www.badnews.example/broken-feed.xml
      - https://www.badnews.example/feed-429.xml
      - https://www.badnews.example/feed-atom.xml
      - https://dead-host.badnews.example/feed.xml
    politeness: {delay_s: 0, concurrency: 4}
"""


def test_bad_input_is_logged_once_each_and_the_run_goes_on(tmp_path, replay):
    sources = tmp_path / "sources.yaml"
    sources.write_text(BAD_SOURCES)
    config = tmp_path / "settings.toml"
    config.write_text(f'sources_file = "{sources}"\n[fetch]\ntimeout_s = 2\nretries = 0\nmax_page_bytes = 2000000\n')
    result = storytrail("run", "--all-feeds", "--config", str(config), data_dir=tmp_path / "data", replay=replay)
    log = result.stderr
    assert result.returncode == 3, log[-3000:]  # some sources failed (429, dead host); the rest was gathered
    expectations = {
        "/articles/missing.html": "HTTP 404",
        "/articles/error.html": "HTTP 500",
        "/articles/slow.html": "timed out",
        "/articles/loop-a.html": "too many redirects",
        "/articles/huge.html": "size cap",
        "evil.example.net/article.html": "another domain",
        "127.0.0.1:9/admin": "unsafe address",
        "169.254.169.254/latest/meta-data/": "unsafe address",
        "10.0.0.7/internal": "unsafe address",
        "[::1]/x": "unsafe address",
        "/private/secret.html": "robots.txt",
        "broken-feed.xml": "malformed feed",
        "feed-429.xml": "HTTP 429",
        "dead-host.badnews.example": "feed failed",
    }
    for where, what in expectations.items():
        lines = [line for line in log.splitlines() if where in line and what in line]
        assert len(lines) == 1, f"expected one line about {where} saying {what!r}, got {lines}\n{log[-4000:]}"
    with SqliteStore(tmp_path / "data" / "storytrail.db") as store:
        titles = {a.url: a for a in store.iter_articles()}
    assert "https://badnews.example/articles/good-1.html" in titles
    latin = titles["https://badnews.example/articles/latin1.html"]
    assert "\ufffd" not in latin.text and any(ch in latin.text for ch in "éèà’“”")
    assert not any("169.254" in url or "127.0.0.1" in url for url in replay.hits), "an unsafe address reached the network"
