"""Keeping the store and the crawl state in agreement about what is indexed.

state.db marks a page `indexed` once its article is in the store; that mark is only true of the store it
was written to. Restore an older `storytrail.db`, truncate it, or point storytrail at a new cluster, and
state.db would keep saying "indexed" for articles the store no longer has: every run would report
nothing new while the raw HTML sits archived. So the store carries a generation id (made with the store,
kept for life; `Store.generation`) and state.db records the generation it indexed into. When they differ,
or the store holds fewer articles than state.db marked indexed, every indexed page is looked up in the
store and the missing ones go back to `fetched`, so the next indexing pass stores them from the archive.
`run` does the cheap comparison at every start; `storytrail check` and `storytrail reindex` look up every
page whatever the comparison says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from loguru import logger

from crawlers.state import CrawlState
from pipelines.stores.base import Store

GENERATION_KEY = "store_generation"


@dataclass
class Agreement:
    """What the comparison found; `missing` are URLs marked indexed that the store lacks."""

    store_generation: str
    recorded_generation: str | None
    store_articles: int
    state_indexed: int
    looked_up: bool = False
    missing: list[str] = field(default_factory=list)

    @property
    def suspicious(self) -> bool:
        """The cheap signs that the store lost articles: another generation, or fewer articles."""
        return self.recorded_generation != self.store_generation or self.store_articles < self.state_indexed

    def describe(self) -> str:
        generation = ("same generation" if self.recorded_generation == self.store_generation
                      else f"store generation {self.store_generation}, state.db recorded {self.recorded_generation or 'none'}")
        missing = f"{len(self.missing)} archived article(s) missing from the store" if self.looked_up else "not looked up"
        return f"{self.store_articles} article(s) in the store, {self.state_indexed} page(s) marked indexed; {generation}; {missing}"


def compare(store: Store, state: CrawlState, look_up: bool = False) -> Agreement:
    """Compare generation and counts; look every indexed page up in the store when asked or suspicious."""
    agreement = Agreement(
        store_generation=store.generation(),
        recorded_generation=state.get_meta(GENERATION_KEY),
        store_articles=store.stats().articles,
        state_indexed=state.count_by_status().get("indexed", 0),
    )
    if look_up or agreement.suspicious:
        agreement.looked_up = True
        for urls in state.indexed_urls():
            found = store.get_many(urls)
            agreement.missing.extend(u for u in urls if u not in found)
    return agreement


def reconcile(store: Store, state: CrawlState, look_up: bool = False) -> Agreement:
    """Send what the store lacks back to `fetched` (to be indexed from the archive) and record the store's
    generation in state.db. Returns what was found."""
    agreement = compare(store, state, look_up)
    if agreement.missing:
        state.mark_for_reindex(agreement.missing)
        logger.bind(source="check").warning("store and crawl state disagree ({}): re-indexing them from the archive",
                                            agreement.describe())
    state.set_meta(GENERATION_KEY, agreement.store_generation)
    return agreement
