"""The records that flow through the pipeline and into the stores.

An `Article` is one copy of a story at one URL. Its identity is its normalised URL (see crawlers/urls.py):
re-fetching or re-importing the same page updates the same record. The chain fields (`story_id`,
`is_origin`, `parent`, `chain`) are filled in by the linking step and say where this copy sits in its
story's syndication chain.

Plain dataclasses, not pydantic models: every value here is built by our own code from typed values (what
comes from outside, an import file or a settings file, is validated where it is read), and a read command
such as `search` then starts without importing pydantic (issue 11). `to_json`/`from_json` give the stores
their JSON form: the same JSON pydantic wrote for these records before, so stored records read back as they were.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Evidence:
    """One reason to believe a copy came from a given outlet or page."""

    kind: str  # attribution_line, originally_published, read_more, canonical, body_link, ...
    text: str  # the words or link on the page that say it
    outlet: str | None = None  # source key or registered domain it points at
    url: str | None = None  # normalised URL it points at, when the page links it


@dataclass
class SharedSource:
    """A long passage this article shares with a different article that neither credits: a primary source
    (a bulletin, a court filing) both carry. The two stay separate stories (pipelines/shared_sources.py)."""

    url: str  # the other article
    own: list[tuple[int, int]] = field(default_factory=list)  # character offsets of the passages in this text
    other: list[tuple[int, int]] = field(default_factory=list)  # the same passages' offsets in the other text
    words: int = 0  # words shared

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SharedSource:
        return cls(data["url"], [tuple(s) for s in data.get("own", [])], [tuple(s) for s in data.get("other", [])],
                   data.get("words", 0))


@dataclass
class ChainInfo:
    """Where a copy sits in its story: filled in by the linking step."""

    coverage: float = 1.0  # share of the origin's compared text found in this copy
    added_share: float = 0.0  # share of this copy's compared text not in the origin
    lag_seconds: float | None = None  # seconds after the origin was published
    kind: str = "origin"  # origin, full, excerpt, extended, partial, ...
    confidence: float = 1.0  # 0 to 1
    evidence: list[Evidence] = field(default_factory=list)
    shared_sources: list[SharedSource] = field(default_factory=list)  # articles of other stories it shares a source with
    # for an origin, what chose it: credited, dated, or weak (undated or unreliable dates, chosen by role or containment)
    basis: str | None = None

    def to_json(self) -> str:
        """`asdict`'s JSON, without its deep copy: every object here is a dataclass of plain fields."""
        return json.dumps(self, default=vars, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChainInfo:
        return cls(**{**data, "evidence": [Evidence(**e) for e in data.get("evidence", [])],
                      "shared_sources": [SharedSource.from_dict(s) for s in data.get("shared_sources", [])]})

    @classmethod
    def from_json(cls, text: str) -> ChainInfo:
        return cls.from_dict(json.loads(text))


DATETIME_FIELDS = ("published", "fetched_at", "captured_at")


@dataclass
class Article:
    """One article copy, as stored and indexed."""

    url: str  # normalised URL: the article's identity
    outlet: str  # source key from config, or the registered domain for other sites
    domain: str  # registered domain of the URL
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    language: str | None = None
    text: str = ""
    description: str | None = None
    canonical_url: str | None = None
    links: list[str] = field(default_factory=list)  # outbound links found in the main text
    fetched_at: datetime = field(default_factory=utcnow)
    fetched_from: str | None = None  # the URL as discovered, before normalisation
    captured_at: datetime | None = None  # when the web archive captured the page read: an upper bound of publication
    capture_url: str | None = None  # the web-archive capture this was read from (backfill)
    story_id: str | None = None
    is_origin: bool = False
    parent: str | None = None  # URL of the copy this one was taken from
    chain: ChainInfo | None = None

    @property
    def text_hash(self) -> str:
        """Identifies the text version; a changed hash means the article was edited. Kept beside the very
        text it was taken of (linking asks a candidate for it many times), so a new text gets a new hash."""
        kept = self.__dict__.get("_text_hash")
        if kept is None or kept[0] is not self.text:
            kept = self.__dict__["_text_hash"] = (self.text, hashlib.sha1(self.text.encode("utf-8")).hexdigest())
        return kept[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 text (UTC as "Z"), the chain as a dict."""
        data = asdict(self)
        for name in DATETIME_FIELDS:
            if data[name] is not None:
                data[name] = _iso(data[name])
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        """From `to_dict`'s form (a stored record, an Elasticsearch document); keys that are no field are left out."""
        values = {k: data[k] for k in ARTICLE_FIELDS if k in data}
        for name in DATETIME_FIELDS:
            if isinstance(values.get(name), str):
                values[name] = datetime.fromisoformat(values[name])
        if isinstance(values.get("chain"), dict):
            values["chain"] = ChainInfo.from_dict(values["chain"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Article:
        return cls.from_dict(json.loads(text))


ARTICLE_FIELDS = tuple(f.name for f in fields(Article))


def with_chain_of(article: Article, old: Article) -> Article:
    """`article` as re-fetched, keeping `old`'s place in its story: a re-fetch does not know the chain."""
    if article.story_id is not None:
        return article
    return replace(article, story_id=old.story_id, is_origin=old.is_origin, parent=old.parent, chain=old.chain)


def same_content(old: Article, new: Article) -> bool:
    """Unchanged apart from when and from where it was fetched (both stores apply this rule)."""
    return all(getattr(old, name) == getattr(new, name) for name in ARTICLE_FIELDS if name not in ("fetched_at", "fetched_from"))


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass
class UpsertResult:
    """What an upsert did, for the run's counters."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: UpsertResult) -> UpsertResult:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


@dataclass
class SearchHit:
    """One search result; `copies` counts the story's other copies when results are collapsed."""

    article: Article
    score: float = 0.0
    copies: int = 0


@dataclass
class StoreStats:
    articles: int
    by_outlet: dict[str, int]
    stories: int
    last_fetched: dict[str, datetime] = field(default_factory=dict)  # per outlet, newest fetch
