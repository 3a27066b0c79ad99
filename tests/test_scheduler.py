"""`storytrail schedule` for real: the daemon in its own process, its cycles in child processes, against the
replay web behind a small proxy that makes one source's feed fail and then recover.

Intervals are shortened through the sources file (`poll_interval_bounds_min`) and the backoff setting, so a
few cycles take seconds, not hours; nothing else differs from production.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from cli_runner import REPO, command, environment, sources_subset
from cli_runner import storytrail as run_storytrail

from crawlers.urls import normalize_url
from pipelines.run_lock import hold_data_dir
from pipelines.scheduler import SourceTiming, _grace, source_timing
from pipelines.settings import Settings
from pipelines.stores.sqlite import SqliteStore

SOURCES = ("wsws", "sputnik", "thecradle", "antimedia")  # antimedia: archive only, backfilled by its own job
FAILING_FEED = "/https/sputnikglobe.com/export/rss2/archive/index.xml"
FAILURES = 2
BOUNDS_MIN = [0.05, 0.1]  # 3 to 6 seconds between polls of a feed
STARTED = re.compile(r"cycle \d+ started")
ENDED = re.compile(r"cycle \d+: exit")


class FlakyProxy:
    """Forwards every request to the replay web, except the first FAILURES requests for FAILING_FEED (503)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.hits: Counter[str] = Counter()
        self.failed = 0
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with lock:
                    proxy.hits[self.path] += 1
                    fail = self.path == FAILING_FEED and proxy.failed < FAILURES
                    proxy.failed += fail
                if fail:
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                connection = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                connection.request("GET", self.path, headers=forwarded)
                answer = connection.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                connection.close()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FlakyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


def expected_urls() -> set[str]:
    truth = json.loads((REPO / "crawlers" / "replay" / "corpus" / "truth.json").read_text(encoding="utf-8"))["articles"]
    return {normalize_url(url) for url, fact in truth.items() if fact["outlet"] in SOURCES}


def test_schedule_polls_each_source_recovers_from_a_failing_feed_and_stops_on_sigterm(tmp_path, replay, smtp_server):
    data_dir = tmp_path / "data"
    log_path = tmp_path / "schedule.log"
    smtp_server.start()
    with FlakyProxy(replay.base_url) as proxy:
        env = environment(proxy.url) | {
            "STORYTRAIL_SOURCES_FILE": str(sources_subset(tmp_path, SOURCES, poll_interval_bounds_min=BOUNDS_MIN)),
            "STORYTRAIL_FEEDS__BACKOFF_BASE_MIN": "0.04",
            "STORYTRAIL_PROCESS__WORKERS": "1",  # no extraction pool: each child cycle starts in a second or two
            "STORYTRAIL_MAIL__HOST": "127.0.0.1", "STORYTRAIL_MAIL__PORT": str(smtp_server.port), "STORYTRAIL_MAIL__TLS": "none",
            "STORYTRAIL_ALERTS__SEARCHES_FILE": str(tmp_path / "no-declared-searches.yaml"),
        }
        # Alerts are evaluated at the end of each cycle: the failing source's stories come once it recovers.
        added = subprocess.run(command("alerts", "add", "sputnik-news", "--query", "outlet:sputnik", "--to",
                                       "desk@example.org", data_dir=data_dir), cwd=REPO, env=env, capture_output=True,
                               text=True, timeout=60)
        assert added.returncode == 0, added.stderr[-2000:]
        with log_path.open("w") as log:
            daemon = subprocess.Popen(command("schedule", data_dir=data_dir), cwd=REPO, env=env, stdout=log, stderr=log)
        try:
            wait_for(lambda: count(ENDED, log_path) >= 4 and stored_urls(data_dir) >= expected_urls(), 90,
                     "four cycles and every article of the three sources")

            # One cycle at a time, whichever way started: a manual run and a second daemon are refused, naming the daemon.
            for second in ("run", "schedule"):
                refused = run_storytrail(second, data_dir=data_dir, replay_url=proxy.url, timeout=60)
                assert refused.returncode == 75, refused.stderr[-2000:]
                assert f"pid {daemon.pid}" in refused.stderr and "schedule" in refused.stderr, refused.stderr[-2000:]

            # SIGTERM while a cycle is in flight: it finishes, the daemon exits 0.
            started = count(STARTED, log_path)
            wait_for(lambda: count(STARTED, log_path) > started, 30, "the next cycle to start")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=60) == 0, log_path.read_text()[-3000:]
        finally:
            if daemon.poll() is None:
                daemon.kill()
    log_text = log_path.read_text()
    assert "scheduler stopped after" in log_text, log_text[-3000:]

    # What was polled: the failing feed until it answered, the others again and again (conditional GETs).
    feed_hits = {path: n for path, n in proxy.hits.items() if path.endswith((".xml", "/feed"))}
    assert feed_hits[FAILING_FEED] >= FAILURES + 1, feed_hits
    assert feed_hits["/https/www.wsws.org/en/rss.xml"] >= 2 and feed_hits["/https/thecradle.co/feed"] >= 2, feed_hits
    assert not any("globalresearch" in path for path in proxy.hits), "a source not in the sources file was polled"

    # The failure was logged per cycle with a non-zero outcome, then recovered.
    failed_cycles = [line for line in log_text.splitlines() if "failed sources: sputnik" in line]
    assert failed_cycles and all("exit 3" in line for line in failed_cycles), log_text[-3000:]
    with sqlite3.connect(data_dir / "state.db") as db:
        feeds = dict(db.execute("SELECT source, failures FROM feeds").fetchall())
        runs = db.execute("SELECT count(*), count(finished_at) FROM runs").fetchone()
    assert feeds == {"wsws": 0, "sputnik": 0, "thecradle": 0}
    # The cycle in flight at SIGTERM finished (Scrapy's graceful stop) or was stopped before its crawl began
    # (then nothing of it is lost: the crawl state is safe to kill); every earlier cycle finished.
    assert runs[0] >= 4 and runs[1] >= runs[0] - 1, f"runs recorded / finished: {runs}"

    # What was stored: every article of the three sources, once.
    with SqliteStore(data_dir / "storytrail.db") as store:
        urls = [a.url for a in store.iter_articles()]
    assert sorted(urls) == sorted(expected_urls())

    # What was alerted: every Sputnik article, each in one message only, although most cycles sent nothing.
    texts = [message.text for message in smtp_server.received]
    sputnik = [url for url in expected_urls() if "sputnikglobe.com" in url]
    assert texts and all(sum(url in text for text in texts) == 1 for url in sputnik), texts

    # The lock went with the daemon.
    with hold_data_dir(data_dir):
        pass


def count(pattern: re.Pattern, log_path: Path) -> int:
    return len(pattern.findall(log_path.read_text()))


def stored_urls(data_dir: Path) -> set[str]:
    if not (data_dir / "storytrail.db").exists():
        return set()
    try:
        with sqlite3.connect(f"file:{data_dir / 'storytrail.db'}?mode=ro", uri=True) as db:
            return {row[0] for row in db.execute("SELECT url FROM articles")}
    except sqlite3.Error:
        return set()


def test_a_source_is_due_at_its_earliest_feed_and_its_grace_is_half_its_interval():
    from datetime import datetime, timedelta, timezone

    from crawlers.sources import load_sources
    from crawlers.state import FeedState

    settings = Settings()
    sputnik = load_sources().get("sputnik")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    never = source_timing(sputnik, [FeedState("u", "sputnik")], settings, now)
    assert never == SourceTiming(due=now, interval=timedelta(minutes=30))
    later = FeedState("u", "sputnik", next_poll_at=now + timedelta(minutes=7), interval_min=45)
    sooner = FeedState("v", "sputnik", next_poll_at=now + timedelta(minutes=3), interval_min=90)
    timing = source_timing(sputnik, [later, sooner], settings, now)
    assert timing == SourceTiming(due=now + timedelta(minutes=3), interval=timedelta(minutes=45))
    assert _grace(timing) == 45 * 60 // 2
    assert timing.batch_window() == timedelta(seconds=60)


CRASHING = """
import sys
from pathlib import Path
from crawlers.sources import load_sources
from pipelines.logs import setup_logging
from pipelines.run_lock import hold_data_dir
from pipelines.scheduler import Daemon
from pipelines.settings import load_settings

setup_logging()
data_dir = Path(sys.argv[1])
settings = load_settings(None, {"data_dir": data_dir, "sources_file": sys.argv[2]})
with hold_data_dir(data_dir) as fd:  # children that fail at once, before polling anything
    Daemon(settings, load_sources(settings.sources_file), ["--data-dir", str(data_dir), "--no-such-option"], fd).run_until_stopped()
"""


def test_a_cycle_that_dies_before_polling_waits_an_interval_instead_of_looping(tmp_path):
    sources = sources_subset(tmp_path, ("wsws",), poll_interval_bounds_min=[1, 1])
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen([sys.executable, "-c", CRASHING, str(tmp_path / "data"), str(sources)], cwd=REPO,
                                  env=environment(None), stdout=log, stderr=log)
    try:
        wait_for(lambda: count(ENDED, log_path) >= 1, 60, "the first cycle")
        time.sleep(5)  # a looping daemon would start several more cycles meanwhile
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    text = log_path.read_text()
    assert count(ENDED, log_path) == 1 and "cycle 1: exit 2" in text, text[-3000:]


def test_a_source_whose_feeds_are_all_given_up_leaves_the_schedule():
    from datetime import datetime, timedelta, timezone

    from crawlers.sources import load_sources
    from crawlers.state import FeedState

    settings = Settings()
    wsws = load_sources().get("wsws")
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    dead = FeedState("u", "wsws", failures=settings.feeds.give_up_after, next_poll_at=now - timedelta(hours=1))
    assert source_timing(wsws, [dead], settings, now).due == now + timedelta(days=365)
    alive = FeedState("v", "wsws", next_poll_at=now + timedelta(minutes=5))
    assert source_timing(wsws, [dead, alive], settings, now).due == now + timedelta(minutes=5)
