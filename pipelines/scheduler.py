"""The `storytrail schedule` daemon: each source polled at its own interval, each cycle in a child process.

An APScheduler 3.x `BackgroundScheduler` holds one interval job per source that has feeds. A job's next run
is the moment its source is due in the crawl state (`next_poll_at`: the adapted interval after an answer,
the backoff after a failure), and its interval is the source's adapted one, so the jobs follow
crawlers/poll_schedule.py instead of a fixed timetable. One worker thread runs the jobs, so cycles never
overlap; a job that fires runs `storytrail run --source KEY ...` in a child process (Scrapy's reactor cannot
restart in one process) for its source and every other source due within a moment, so sources due together
share one cycle. The child is the very command cron runs, alert evaluation included. An archive-only source
(Antimedia) gets a job of its own: `storytrail backfill KEY` over the whole archive at its poll interval,
which fetches only captures not gathered before.

Job options: `coalesce` (runs missed while the machine slept collapse into one), `max_instances=1`, and a
misfire grace of half the source's interval (APScheduler checks it when the worker starts the job, so a job
that waited behind a long cycle for longer is skipped; the end of every cycle moves each job to its source's
due time again, so nothing is skipped for long). The daemon holds the data dir's lock for its whole life and hands it to each child
(pipelines/run_lock.py), so a manual `run` or a second daemon is refused with exit code 75.

SIGTERM or SIGINT stops it cleanly: no new cycle starts, the cycle in flight is asked to stop (Scrapy then
finishes the requests in flight; what it did not fetch stays queued for the next cycle), and the daemon exits
0 once the child has exited.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from crawlers import poll_schedule
from crawlers.sources import Source, SourceRegistry
from crawlers.state import CrawlState, FeedState
from pipelines.run_lock import child_environment
from pipelines.settings import Settings

# Sources due within this share of their interval (at most BATCH_WINDOW) join the cycle that is starting.
BATCH_SHARE = 0.25
BATCH_WINDOW = timedelta(seconds=60)
# The web archive's first year: archive-only sources are backfilled from there (crawlers/backfill.py's
# ARCHIVE_START, not imported: it would load Scrapy into the daemon, which never crawls itself).
ARCHIVE_SINCE = "1996-01-01"
# When a source whose every feed is given up is looked at again (it is polled only when asked for by name).
GIVEN_UP_WAKE = timedelta(days=365)
# How long the main thread sleeps between checks for a stop request.
WAKE_S = 0.5


@dataclass
class CycleResult:
    """One child cycle: which sources it polled, how it ended, and the counters `run --json` printed."""

    sources: list[str]
    exit_code: int
    seconds: float
    counters: dict[str, int] = field(default_factory=dict)
    failed_sources: list[str] = field(default_factory=list)

    def describe(self) -> str:
        c = self.counters
        failed_pages = sum(v for k, v in c.items() if k.startswith("fetch/"))
        return (f"exit {self.exit_code} in {self.seconds:.1f}s: {c.get('store/added', 0)} new article(s); feeds "
                f"{c.get('feed/polled', 0)} read, {c.get('feed/not_modified', 0) + c.get('feed/unchanged', 0)} "
                f"unchanged, {c.get('feed/failed', 0)} failed; pages {c.get('page/fetched', 0)} fetched, "
                f"{failed_pages} failed" + (f"; failed sources: {', '.join(self.failed_sources)}" if self.failed_sources else ""))


@dataclass(frozen=True)
class SourceTiming:
    """When a source is next due and its current (adapted) interval, from its feeds' state."""

    due: datetime
    interval: timedelta

    def batch_window(self) -> timedelta:
        return min(BATCH_WINDOW, self.interval * BATCH_SHARE)


def source_timing(source: Source, feeds: list[FeedState], settings: Settings, now: datetime) -> SourceTiming:
    """The earliest due time of the source's feeds (now for a feed never polled) and their shortest interval.
    Feeds given up are left out; a source with nothing else is due in a year (its job re-reads the state after
    every cycle, so a `run --source` that revives it puts it back on schedule)."""
    live = [f for f in feeds if not poll_schedule.is_given_up(f, settings.feeds)]
    due = min((f.next_poll_at or now for f in live), default=now if not feeds else now + GIVEN_UP_WAKE)
    minutes = min((poll_schedule.current_interval(f, source, settings.poll) for f in feeds),
                  default=poll_schedule.clamp(source.poll_interval_min, source, settings.poll))
    return SourceTiming(due=due, interval=timedelta(minutes=minutes))


class Daemon:
    """The scheduler, its jobs, and the child cycle in flight."""

    def __init__(self, settings: Settings, sources: SourceRegistry, child_options: list[str], lock_fd: int) -> None:
        self.settings = settings
        self.sources = [s for s in sources if s.feeds]
        self.archives = [s for s in sources if s.archive_only and not s.feeds]
        self.child_options = child_options
        self.lock_fd = lock_fd
        self.stopping = False  # set by the signal handler; a plain flag, as a handler must not take locks
        self._cycle_lock = threading.Lock()  # held by the worker for a whole cycle, rescheduling included
        self.cycles: list[CycleResult] = []
        self._child: subprocess.Popen | None = None
        self._asked_to_stop: subprocess.Popen | None = None
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=timezone.utc,
        )
        # "Run time of job ... was missed": a job that waited behind another source's cycle, which polled its
        # source along (or the next reschedule moves it); not news for the log.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.ERROR)

    # -- running --------------------------------------------------------------------------------
    def run_until_stopped(self) -> None:
        """Serve until SIGTERM or SIGINT, then let the cycle in flight end and return."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        timings = self.timings()
        for source in self.sources:
            timing = timings[source.key]
            self.scheduler.add_job(self.cycle, self._trigger(timing), args=[source.key], id=source.key,
                                   name=f"poll {source.key}", misfire_grace_time=_grace(timing))
        for source in self.archives:  # a defunct outlet: its web-archive captures, checked at its own interval
            self.scheduler.add_job(self.archive_cycle, IntervalTrigger(minutes=source.poll_interval_min, timezone=timezone.utc),
                                   args=[source.key], id=f"archive:{source.key}", name=f"archive {source.key}",
                                   next_run_time=datetime.now(timezone.utc), misfire_grace_time=source.poll_interval_min * 30)
        self.scheduler.start()
        logger.bind(event="schedule/started").info(
            "scheduler started: {} source(s) with feeds, {} archive-only; first cycle {}", len(self.sources),
            len(self.archives), self._next_cycle_text())
        while not self.stopping:
            time.sleep(WAKE_S)
        logger.bind(event="schedule/stopping").info("stop requested: no new cycle starts; waiting for the one in flight")
        # The cycle ends first: APScheduler's shutdown holds its job store lock while it waits for the worker,
        # and a worker still rescheduling would wait for that lock in turn.
        with self._cycle_lock:
            self.scheduler.shutdown(wait=False)  # jobs still queued find `stopping` set and return at once
        logger.bind(event="schedule/stopped").info("scheduler stopped after {} cycle(s)", len(self.cycles))

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        self._ask_child_to_stop()

    def _ask_child_to_stop(self) -> None:
        """Once per child: Scrapy stops gracefully on a first SIGTERM (requests in flight finish, the rest stays
        queued for the next cycle); a second one would make it stop at once."""
        child = self._child
        if child is not None and child is not self._asked_to_stop and child.poll() is None:
            self._asked_to_stop = child
            child.send_signal(signal.SIGTERM)

    # -- one cycle ------------------------------------------------------------------------------
    def cycle(self, key: str) -> None:
        """The job of source `key`: poll it and every source due about now, in one child cycle."""
        with self._cycle_lock:
            if not self.stopping:
                self._cycle(key)

    def _cycle(self, key: str) -> None:
        now = datetime.now(timezone.utc)
        timings = self.timings(now)
        due = [k for k, t in timings.items() if t.due <= now + t.batch_window()]
        if key not in due:  # an earlier cycle polled it along with its own source
            logger.bind(source=key, event="schedule/skip").debug("already polled; next at {:%H:%M:%S}", timings[key].due)
            self.reschedule()
            return
        logger.bind(source=",".join(due), event="schedule/cycle_started").info("cycle {} started", len(self.cycles) + 1)
        result = self.run_child(due, ["run", *[a for k in due for a in ("--source", k)]])
        self.cycles.append(result)
        self.log_cycle(result)
        # A source the cycle did not poll after all (the child crashed, a bad setting) is still due: it waits
        # one interval, instead of starting cycle after cycle.
        self.reschedule(not_before={k: now + timings[k].interval for k in due})

    def archive_cycle(self, key: str) -> None:
        """The job of an archive-only source: `storytrail backfill KEY` over the whole archive. Captures already
        gathered are skipped, so after the first time it fetches only what the archive captured since."""
        with self._cycle_lock:
            if self.stopping:
                return
            logger.bind(source=key, event="schedule/cycle_started").info("cycle {} started (archive)", len(self.cycles) + 1)
            result = self.run_child([key], ["backfill", key, "--since", ARCHIVE_SINCE])
            self.cycles.append(result)
            self.log_cycle(result)

    def run_child(self, keys: list[str], args: list[str]) -> CycleResult:
        """`storytrail ARGS --json` on the same data dir and settings, in a child holding the daemon's lock; in
        its own session, so a Ctrl-C in the terminal reaches the daemon only, which passes it on once."""
        command = [sys.executable, "-m", "pipelines.cli", *args, "--json", *self.child_options]
        started = time.monotonic()
        env = {**os.environ, **child_environment(self.lock_fd)}
        # Its summary goes to a file, not a pipe: a child killed mid-cycle may leave worker processes behind
        # that would hold a pipe open, and the daemon would wait for them.
        with tempfile.TemporaryFile("w+", encoding="utf-8") as summary:
            child = subprocess.Popen(command, env=env, pass_fds=(self.lock_fd,), stdout=summary,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
            self._child = child
            if self.stopping:  # the stop request came while the child was being started
                self._ask_child_to_stop()
            child.wait()
            self._child = None
            summary.seek(0)
            return CycleResult(keys, child.returncode, time.monotonic() - started, **_summary_of(summary.read()))

    def log_cycle(self, result: CycleResult) -> None:
        n = len(self.cycles)
        log = logger.bind(source=",".join(result.sources), event="schedule/cycle", counters=result.counters)
        level = "INFO" if result.exit_code == 0 else "WARNING"
        log.log(level, "cycle {}: {}; next {}", n, result.describe(), self._next_cycle_text())
        self.report_failing(result.sources)

    def report_failing(self, keys: list[str]) -> None:
        """A warning for each polled feed that has failed `poll.failing_after` times in a row."""
        state = CrawlState(self.settings.state_path)
        try:
            for feed in state.list_feeds():
                if feed.source in keys and poll_schedule.is_failing(feed, self.settings.poll):
                    logger.bind(source=feed.source, url=feed.url, event="feed/failing").warning(
                        "feed failing: {} failures in a row, last: {}; probed again at {:%Y-%m-%d %H:%M} UTC",
                        feed.failures, feed.last_error, feed.next_poll_at)
        finally:
            state.close()

    # -- timing ---------------------------------------------------------------------------------
    def timings(self, now: datetime | None = None) -> dict[str, SourceTiming]:
        """Each scheduled source's due time and interval, read from the crawl state."""
        now = now or datetime.now(timezone.utc)
        state = CrawlState(self.settings.state_path)
        try:
            return {s.key: source_timing(s, [state.get_feed(url, s.key) for url in s.feeds], self.settings, now)
                    for s in self.sources}
        finally:
            state.close()

    def reschedule(self, not_before: dict[str, datetime] | None = None) -> None:
        """Move each job to its source's due time and adapted interval, as the cycle left them (and no source
        before its time in `not_before`)."""
        if self.stopping:
            return
        now = datetime.now(timezone.utc)
        for key, timing in self.timings(now).items():
            job = self.scheduler.get_job(key)
            if job is None:
                continue
            if not_before and key in not_before and timing.due <= now:  # polled, yet still due: not polled after all
                timing = SourceTiming(not_before[key], timing.interval)
            moved = job.next_run_time is None or abs(job.next_run_time - _start(timing)) > timedelta(seconds=1)
            if moved or job.trigger.interval != timing.interval:
                self.scheduler.modify_job(key, misfire_grace_time=_grace(timing))
                self.scheduler.reschedule_job(key, trigger=self._trigger(timing))

    def _trigger(self, timing: SourceTiming) -> IntervalTrigger:
        return IntervalTrigger(seconds=timing.interval.total_seconds(), start_date=_start(timing), timezone=timezone.utc)

    def _next_cycle_text(self) -> str:
        jobs = [j for j in self.scheduler.get_jobs() if j.next_run_time is not None]
        if not jobs:
            return "not planned"
        job = min(jobs, key=lambda j: j.next_run_time)
        return f"{job.id} at {job.next_run_time:%Y-%m-%d %H:%M:%S} UTC"


def child_options(settings: Settings, store: str | None, config: Path | None, verbose: bool) -> list[str]:
    """The options that give a child cycle the daemon's data dir, store and settings file."""
    command = ["--data-dir", str(settings.data_dir.resolve())]
    if store:
        command += ["--store", store]
    if config:
        command += ["--config", str(config.resolve())]
    if verbose:
        command.append("--verbose")
    return command


def _start(timing: SourceTiming) -> datetime:
    """The first run: the due time, or a moment from now when it is already past."""
    return max(timing.due, datetime.now(timezone.utc) + timedelta(milliseconds=200))


def _grace(timing: SourceTiming) -> int:
    """Misfire grace: half the interval, at least a second."""
    return max(1, int(timing.interval.total_seconds() / 2))


def _summary_of(stdout: str) -> dict:
    """The counters and failed sources from `run --json`; nothing when the child died before printing them."""
    try:
        summary = json.loads(stdout)
    except ValueError:
        return {}
    return {"counters": summary.get("counters", {}), "failed_sources": summary.get("failed_sources", [])}
