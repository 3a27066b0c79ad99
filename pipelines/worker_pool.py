"""Pages extracted, and their comparison texts prepared, in worker processes; one writer stores and links.

The CPU-heavy half of processing a page (trafilatura, metadata, the comparison text, the attribution
evidence) needs nothing but the page; the other half (upsert, fingerprints, candidate lookup, chains) reads
and writes the store and must see every earlier article. So `PagePool` hands pages to worker processes and
gives the results back to the one process that writes, in the order the pages went in: the store ends
exactly as a serial run leaves it. At most `workers x pages_in_flight` pages are out at once, so memory stays
bounded however many pages wait (a backfill of 100,000 archived pages holds a handful in memory).

The writer is one of the `workers`: the pool has one process fewer, and in a batch run (import, reextract,
relink) the writer extracts too, taking pages no worker has started whenever the next result is not ready
(`ordered`). With one process per core, none waits for a core: on bench/pipeline.py's import with 2
workers, 2 pool processes beside the writer took 32.9 and 34.6 s, 1 beside a writer that takes pages
30.7 and 32.3 s. In a crawl, the writer (the Scrapy process) fetches and links, and the pool extracts.

Workers never write anything: not the store, not the crawl state, not the log. A worker's log lines come
back with its result and the writer logs them, so a log file has one writer. A worker reads the store only
to learn an outlet's recurring lines for the comparison text; the writer uses the prepared text only when
the store, at link time, gives the same lines (pipelines/prepared_text.py), else prepares it again.

Processes are spawned, not forked: the writer holds SQLite connections and, in a crawl, Twisted's threads,
neither of which survives a fork. A killed writer takes its workers with it (they read from its pipe).
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from loguru import logger

from pipelines.settings import LinkSettings, Settings, StoreSettings

if TYPE_CHECKING:
    from crawlers.state import ArchivedPage
    from pipelines.models import Article
    from pipelines.prepared_text import PreparedEvidence, PreparedText

T = TypeVar("T")
WRITER_CHECK_S = 0.5  # how often a worker checks that its writer is still there


def worker_count(setting: int) -> int:
    """`process.workers` as a number of processes: 0 means one per core."""
    return setting or os.cpu_count() or 1


def page_pool(settings: Settings, linking: bool) -> PagePool | None:
    """The pool `process.workers` asks for: the writer is one of the workers, so it starts one process
    fewer; None for one worker (the writer alone)."""
    workers = worker_count(settings.process.workers)
    if workers <= 1:
        return None
    setup = WorkerSetup(settings.sources_file, settings.store_url if linking else None, settings.store, settings.link)
    return PagePool(setup, workers - 1, workers * settings.process.pages_in_flight)


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker process builds its parts from (sent once, when it starts)."""

    sources_file: Path
    store_url: str | None  # read for learned recurring lines; None: extraction only (linking is off)
    store: StoreSettings
    link: LinkSettings


@dataclass
class PageResult:
    """A worker's work on one page: the article (or why there is none), what linking will need, its log."""

    article: Article | None
    error: str | None = None
    prepared: PreparedText | None = None
    evidence: PreparedEvidence | None = None
    log: list[tuple[str, str, dict]] = field(default_factory=list)  # (level, message, extra)
    seconds: dict[str, float] = field(default_factory=dict)  # CPU seconds per stage, in the worker

    def replay_log(self) -> None:
        """Log the worker's lines from the writer, as they were."""
        for level, message, extra in self.log:
            logger.bind(**extra).log(level, message)


class PagePool:
    """A process pool for pages, started on first use; `map` keeps order and bounds what is in flight."""

    def __init__(self, setup: WorkerSetup, processes: int, in_flight: int) -> None:
        self.setup = setup
        self.processes = processes
        self.in_flight = in_flight
        self._executor: ProcessPoolExecutor | None = None

    def submit(self, page: ArchivedPage | Article) -> Future[PageResult]:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.processes, mp_context=get_context("spawn"),
                                                 initializer=_start_worker, initargs=(self.setup, os.getpid()))
            logger.info("extracting pages in the writer and {} worker process(es)", self.processes)
        return self._executor.submit(_work_on_page, page)

    def map(self, pages: Iterable[ArchivedPage | Article], here: Callable[[ArchivedPage | Article], PageResult] | None = None,
            ) -> Iterator[tuple[ArchivedPage | Article, PageResult]]:
        """(page, result) in the order of `pages`; reads ahead at most `in_flight` pages. With `here`, the
        writer works on pages itself rather than wait (`ordered`)."""
        return ordered(pages, self.submit, self.in_flight, here)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def ordered(items: Iterable[T], submit: Callable[[T], Future], in_flight: int,
            here: Callable[[T], object] | None = None) -> Iterator[tuple[T, object]]:
    """Submit each item, yield (item, result) in input order, with at most `in_flight` items submitted
    and not yet yielded. A worker's exception is raised here, at its item. With `here`, the caller works
    rather than wait: while the next result is not ready, it takes the first item no worker has started,
    the soonest needed (`_take_one`)."""
    pending: deque[tuple[T, Future]] = deque()
    try:
        for item in items:
            pending.append((item, submit(item)))
            if len(pending) >= in_flight:
                yield _first(pending, here)
        while pending:
            yield _first(pending, here)
    finally:
        for _, future in pending:
            future.cancel()


def _first(pending: deque[tuple[T, Future]], here: Callable[[T], object] | None) -> tuple[T, object]:
    if here is not None:
        while not pending[0][1].done() and _take_one(pending, here):
            pass
    first, future = pending.popleft()
    return first, future.result()


def _take_one(pending: deque[tuple[T, Future]], here: Callable[[T], object]) -> bool:
    """Work here on the first pending item no worker has started (its future cancelled, the result put in
    its place): the one whose result is needed soonest. False when the workers have started every one."""
    for place, (item, future) in enumerate(pending):
        if future.done() or not future.cancel():  # finished, taken here earlier, or running in a worker
            continue
        taken: Future = Future()
        try:
            taken.set_result(here(item))
        except Exception as exc:  # raised at the item's turn, as a worker's is
            taken.set_exception(exc)
        pending[place] = (item, taken)
        return True
    return False


# -- in the worker processes ------------------------------------------------------------------------
_worker: _Worker | None = None


class _Worker:
    """One worker process's parts, built once from the setup."""

    def __init__(self, setup: WorkerSetup) -> None:
        from crawlers.sources import load_sources
        from pipelines.prepared_text import TextPreparer
        from pipelines.processing import ArticleProcessor
        from pipelines.stores.factory import open_store

        sources = load_sources(setup.sources_file)
        self.processor = ArticleProcessor(sources, None, None, None)  # its extraction half only
        self.preparer = TextPreparer(sources, setup.link) if setup.store_url else None
        self.store = open_store(setup.store_url, settings=setup.store) if setup.store_url else None
        self.log: list[tuple[str, str, dict]] = []


def _start_worker(setup: WorkerSetup, writer: int) -> None:
    global _worker
    from pipelines.processing import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)  # a worker does nothing but process pages
    threading.Thread(target=_exit_with_writer, args=(writer,), daemon=True).start()
    logger.remove()
    _worker = _Worker(setup)
    # Every line goes back; the writer's own sinks filter them by level, as they do its own lines.
    logger.add(lambda message: _worker.log.append(_line(message.record)), level="DEBUG", format="{message}")


def _exit_with_writer(writer: int) -> None:
    """A writer killed mid-run (SIGKILL, OOM) cannot shut its pool down: a worker whose parent is gone exits
    by itself, within a second, instead of waiting forever for pages that will not come."""
    while os.getppid() == writer:
        time.sleep(WRITER_CHECK_S)
    os._exit(0)


def _line(record: dict) -> tuple[str, str, dict]:
    extra = {k: v for k, v in record["extra"].items() if isinstance(v, (str, int, float, bool, type(None)))}
    return record["level"].name, record["message"], extra


def _work_on_page(item: ArchivedPage | Article) -> PageResult:
    """Extract a page (an article given as such skips that), then prepare what linking will need."""
    worker = _worker
    worker.log = []
    result = worker.processor.page_result(item, "extract")
    result.log = worker.log
    if result.article is not None and worker.preparer is not None:
        extracted = time.process_time()
        result.prepared = worker.preparer.prepare(result.article, worker.store)
        result.evidence = worker.preparer.evidence(result.article)
        result.seconds["prepare"] = time.process_time() - extracted
    return result
