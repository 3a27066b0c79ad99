"""The records that flow through the pipeline and into the stores.

An `Article` is one copy of a story at one URL. Its identity is its normalised URL (see crawlers/urls.py):
re-fetching or re-importing the same page updates the same record. The chain fields (`story_id`,
`is_origin`, `parent`, `chain`) are filled in by the linking step and say where this copy sits in its
story's syndication chain.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from pydantic import BaseModel, Field


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Evidence(BaseModel):
    """One reason to believe a copy came from a given outlet or page."""

    kind: str = Field(description="attribution_line, originally_published, read_more, canonical, body_link, ...")
    text: str = Field(description="The words or link on the page that say it.")
    outlet: str | None = Field(None, description="Source key or registered domain it points at.")
    url: str | None = Field(None, description="Normalised URL it points at, when the page links it.")


class SharedSource(BaseModel):
    """A long passage this article shares with a different article that neither credits: a primary source
    (a bulletin, a court filing) both carry. The two stay separate stories (pipelines/shared_sources.py)."""

    url: str = Field(description="The other article.")
    own: list[tuple[int, int]] = Field(default_factory=list, description="Character offsets of the passages in this text.")
    other: list[tuple[int, int]] = Field(default_factory=list, description="The same passages' offsets in the other text.")
    words: int = Field(0, description="Words shared.")


class ChainInfo(BaseModel):
    """Where a copy sits in its story: filled in by the linking step."""

    coverage: float = Field(1.0, description="Share of the origin's compared text found in this copy.")
    added_share: float = Field(0.0, description="Share of this copy's compared text not in the origin.")
    lag_seconds: float | None = Field(None, description="Seconds after the origin was published.")
    kind: str = Field("origin", description="origin, full, excerpt, extended, partial, ...")
    confidence: float = Field(1.0, ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    shared_sources: list[SharedSource] = Field(default_factory=list, description="Articles of other stories this one shares a source with.")
    basis: str | None = Field(None, description="For an origin, what chose it: credited, dated, or weak (undated or "
                              "unreliable dates, chosen by role or containment).")


class Article(BaseModel):
    """One article copy, as stored and indexed."""

    url: str = Field(description="Normalised URL: the article's identity.")
    outlet: str = Field(description="Source key from config, or the registered domain for other sites.")
    domain: str = Field(description="Registered domain of the URL.")
    title: str | None = None
    authors: list[str] = Field(default_factory=list)
    published: datetime | None = None
    language: str | None = None
    text: str = ""
    description: str | None = None
    canonical_url: str | None = None
    links: list[str] = Field(default_factory=list, description="Outbound links found in the main text.")
    fetched_at: datetime = Field(default_factory=utcnow)
    fetched_from: str | None = Field(None, description="The URL as discovered, before normalisation.")
    captured_at: datetime | None = Field(
        None, description="When the web archive captured the page this was read from: an upper bound of publication."
    )
    capture_url: str | None = Field(None, description="The web-archive capture this was read from (backfill).")
    story_id: str | None = None
    is_origin: bool = False
    parent: str | None = Field(None, description="URL of the copy this one was taken from.")
    chain: ChainInfo | None = None

    @property
    def text_hash(self) -> str:
        """Identifies the text version; a changed hash means the article was edited."""
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


class UpsertResult(BaseModel):
    """What an upsert did, for the run's counters."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


class SearchHit(BaseModel):
    """One search result; `copies` counts the story's other copies when results are collapsed."""

    article: Article
    score: float = 0.0
    copies: int = 0


class StoreStats(BaseModel):
    articles: int
    by_outlet: dict[str, int]
    stories: int
    last_fetched: dict[str, datetime] = Field(default_factory=dict, description="Per outlet, newest fetch.")
