"""The store interface that both the embedded SQLite store and the Elasticsearch store implement.

Everything the pipeline keeps goes through these methods, so the rest of storytrail never knows which
store it talks to. A contract test suite (tests/test_store_contract.py) runs the same behaviours against
every implementation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, nullcontext
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from pipelines.models import Article, ChainInfo, SearchHit, StoreStats, UpsertResult


class StoreError(Exception):
    """The store could not do what was asked (down, rejected the write, bad query)."""


class Store(ABC):
    """Articles keyed by normalised URL, their text fingerprints, and their chain fields."""

    # -- articles -------------------------------------------------------------------------------
    @abstractmethod
    def upsert(self, articles: Iterable[Article]) -> UpsertResult:
        """Insert or update by URL. A changed text keeps the previous version in the history;
        the chain fields of an existing article are kept unless the new one sets them."""

    @abstractmethod
    def get(self, url: str) -> Article | None: ...

    def get_many(self, urls: Iterable[str]) -> dict[str, Article]:
        """Articles by URL; missing URLs are left out."""
        found = {}
        for url in urls:
            article = self.get(url)
            if article is not None:
                found[url] = article
        return found

    @abstractmethod
    def iter_articles(self, batch_size: int = 500, after: str | None = None) -> Iterator[Article]:
        """Every article, in URL order, without loading the whole store at once; with `after`, only the
        URLs that sort after it (how an interrupted migration resumes)."""

    @abstractmethod
    def indexed_since(self, since: datetime, batch_size: int = 500) -> Iterator[Article]:
        """Articles this store added, or whose record changed, at or after `since` (the store's write time,
        not the fetch time: a page indexed a day late still counts), in URL order. Alerts read it."""

    @abstractmethod
    def generation(self) -> str:
        """An id this store got when it was created and keeps for life: a re-created, truncated or replaced
        store has another. state.db and migrate checkpoints record it (pipelines/store_state_check.py)."""

    @abstractmethod
    def history(self, url: str) -> list[Article]:
        """Earlier versions of an article whose text changed, oldest first."""

    @abstractmethod
    def search(self, query: str, limit: int = 20, collapse_stories: bool = False) -> list[SearchHit]:
        """Articles matching a Lucene-style query, best first; with `collapse_stories`, one hit per story."""

    @abstractmethod
    def stats(self) -> StoreStats: ...

    # -- fingerprints (used by linking) -----------------------------------------------------------
    @abstractmethod
    def put_fingerprints(self, url: str, hashes: Sequence[int]) -> None:
        """Replace the fingerprint set of an article."""

    @abstractmethod
    def find_candidates(self, hashes: Sequence[int], max_doc_freq: int, exclude_url: str | None = None) -> dict[str, int]:
        """URLs sharing fingerprints with `hashes`, with the count shared. Fingerprints held by more than
        `max_doc_freq` articles are ignored: they are quotes everyone repeats or boilerplate."""

    @abstractmethod
    def doc_freqs(self, hashes: Sequence[int]) -> dict[int, int]:
        """How many articles hold each of `hashes`; hashes no article holds are left out. Linking reads it to
        learn each outlet's recurring lines (stored as fingerprints salted with the outlet) and to find
        the rarest fingerprints of an article whose text is copied everywhere."""

    @abstractmethod
    def get_fingerprints(self, url: str) -> set[int]:
        """The fingerprint set last stored for an article (empty when none or unknown URL)."""

    # -- chains -----------------------------------------------------------------------------------
    @abstractmethod
    def set_chain(self, url: str, story_id: str | None, is_origin: bool, parent: str | None, chain: ChainInfo | None) -> None:
        """Record where an article sits in its story."""

    @abstractmethod
    def story_members(self, story_id: str) -> list[Article]:
        """Every article of a story."""

    @abstractmethod
    def list_stories(self, order: str = "size", limit: int = 20) -> list[tuple[str, int]]:
        """(story id, number of copies) for the largest (`order="size"`) or newest (`"new"`) stories."""

    def batch(self) -> AbstractContextManager[None]:
        """Group the writes of one unit of work (the upserts, fingerprints and chain updates of one article, or
        of a group of them: pipelines/processing.py) so they land together: on SQLite one commit instead of one
        per statement. The default groups nothing (Elasticsearch writes as it goes)."""
        return nullcontext()

    def close(self) -> None:
        """Release connections; the default has none."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
