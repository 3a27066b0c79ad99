"""Maintenance of what is already gathered: re-extract the archived pages, rebuild fingerprints and chains.

`reextract` runs every archived raw page (crawl state) through the pipeline again — extract, link, index,
the path a fetched page takes (`ArticleProcessor`) — after an extraction improvement: an article whose text
changed is updated (its previous text kept in the history) and relinked; one that did not change is left
as it is. `relink` clears every chain and links every article again in publication order
(`pipelines/linking.py`), after linking or boilerplate learning improved.

Both are resumable and idempotent. Each keeps, in the crawl state's `jobs` table, the last item it finished;
a run killed midway is continued by the next one from there (a relink killed while clearing chains clears
them again), and doing an item twice changes nothing. A finished job is forgotten, so the next command
starts over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from loguru import logger

from crawlers.state import CrawlState
from pipelines import faultpoints
from pipelines.linking import Linker, relink_order
from pipelines.processing import ArticleProcessor
from pipelines.stores.base import Store

# (items done, items in all) after each item: the command's progress bar.
Progress = Callable[[int, int], None]


@dataclass
class JobReport:
    """What one maintenance command did."""

    total: int
    done: int = 0
    resumed_after: int = 0  # items an interrupted run had already finished
    counters: Counter[str] = field(default_factory=Counter)
    store_error: str | None = None


def _begin(state: CrawlState, name: str, restart: bool) -> str | None:
    """The last item done by an interrupted run of job `name` (None: start at the beginning)."""
    found, position = state.job_position(name)
    if found and not restart:
        logger.info("{}: resuming an interrupted run{}", name, f" after {position}" if position else "")
        return position
    state.start_job(name)
    return None


def reextract(processor: ArticleProcessor, state: CrawlState, source: str | None = None, restart: bool = False,
              progress: Progress | None = None) -> JobReport:
    """Extract, link and index every archived page (of `source`) again, in URL order."""
    name = f"reextract:{source}" if source else "reextract"
    urls = state.archived_urls(source)
    position = _begin(state, name, restart)
    todo = [url for url in urls if position is None or url > position]
    report = JobReport(total=len(urls), resumed_after=len(urls) - len(todo))
    before = Counter(processor.counters)
    pages = (page for page in map(state.get_archived, todo) if page is not None)
    for page, _ in processor.process_pages(pages):  # extraction in the worker pool when there is one
        if processor.store_error:  # the page stays to do: the next run starts with it
            report.store_error = processor.store_error
            break
        state.advance_job(name, page.url)
        report.done += 1
        faultpoints.reached("reextract.after_page")
        if progress:
            progress(report.resumed_after + report.done, report.total)
    else:
        state.finish_job(name)
    report.counters = Counter(processor.counters) - before
    logger.info("{}: {} of {} pages re-extracted: {}", name, report.done, report.total, dict(report.counters))
    return report


def relink(linker: Linker, store: Store, state: CrawlState, restart: bool = False,
           progress: Progress | None = None) -> JobReport:
    """Clear every chain, then link every article again in publication order (`relink_order`)."""
    order = relink_order(store)
    position = _begin(state, "relink", restart)
    if position is None or position not in order:  # a new run, or one killed while clearing: clear (again)
        for url in order:
            store.set_chain(url, None, False, None, None)
        start = 0
    else:
        start = order.index(position) + 1
        if start < len(order):  # the article being linked when the run was killed starts afresh
            store.set_chain(order[start], None, False, None, None)
    report = JobReport(total=len(order), resumed_after=start)
    for url in order[start:]:
        article = store.get(url)
        if article is not None:
            report.counters[linker.link(article).counter] += 1
        state.advance_job("relink", url)
        report.done += 1
        faultpoints.reached("relink.after_article")
        if progress:
            progress(start + report.done, report.total)
    state.finish_job("relink")
    logger.info("relink: {} of {} articles linked: {}", report.done, report.total, dict(report.counters))
    return report
