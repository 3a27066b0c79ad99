"""The Elasticsearch index layout: names, explicit mappings, and Article <-> document.

Articles live in a versioned index (`storytrail-articles-v1`) behind an alias (`storytrail-articles`) that
every read and write goes through, so a mapping change is: bump MAPPING_VERSION, create the new index from
the template, reindex, swap the alias (ElasticsearchStore.reindex_to). Earlier texts of edited articles go
to a separate `storytrail-versions` index, one document per archived version, whose record is stored but
not indexed: it never needs a reindex, and the articles index stays one document per URL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pipelines.models import Article

# Bump when ARTICLE_MAPPINGS changes in a way existing indices cannot take (a field's type or analyzer);
# adding a field needs no bump (dynamic is off, so the field is kept in _source until the next reindex).
MAPPING_VERSION = 1

# Fields the store adds to each article document; not part of Article.
STORY_KEY = "story_key"  # story_id, else url: what search collapses on and `stats` counts as stories
ROLE = "role"  # chain kind (origin, full, excerpt, ...), else "origin" for an origin: the query field role:
SORT_DATE = "date"  # published, else fetched_at: what list_stories(order="new") sorts by
FINGERPRINTS = "fingerprints"  # linking's text fingerprints, as keywords (exact at 61 bits, unlike JSON numbers)
VERSIONS = "versions"  # how many earlier versions are archived: the number of the next one
INDEXED_AT = "indexed_at"  # when the store last wrote the article's record (not the chain): Store.indexed_since
INTERNAL_FIELDS = (STORY_KEY, ROLE, SORT_DATE, "text_hash", FINGERPRINTS, VERSIONS, INDEXED_AT)


@dataclass(frozen=True)
class IndexNames:
    prefix: str = "storytrail"

    @property
    def alias(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def template(self) -> str:
        return f"{self.prefix}-articles"

    @property
    def pattern(self) -> str:
        return f"{self.prefix}-articles-v*"

    @property
    def versions(self) -> str:
        return f"{self.prefix}-versions"

    def index(self, version: int) -> str:
        return f"{self.prefix}-articles-v{version}"

    def version_of(self, index: str) -> int | None:
        tail = index.removeprefix(f"{self.prefix}-articles-v")
        return int(tail) if tail != index and tail.isdigit() else None


def _english() -> dict:
    """Stemmed English for search, and an unstemmed `.exact` subfield for prefixes and exact wording."""
    return {"type": "text", "analyzer": "english", "fields": {"exact": {"type": "text", "analyzer": "standard"}}}


_KEYWORD = {"type": "keyword"}
_URL = {"type": "keyword", "ignore_above": 4096}  # links and canonical URLs: long ones kept, not indexed
_STORED_ONLY = {"type": "keyword", "index": False, "doc_values": False}

ARTICLE_MAPPINGS: dict[str, Any] = {
    "dynamic": False,  # a field added to Article is kept in _source but not indexed until mapped here
    "properties": {
        "url": _KEYWORD,
        "outlet": _KEYWORD,
        "domain": _KEYWORD,
        "language": _KEYWORD,
        "title": _english(),
        "text": _english(),
        "description": {"type": "text", "analyzer": "english"},
        "authors": {"type": "text", "analyzer": "standard", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        "published": {"type": "date"},
        "fetched_at": {"type": "date"},
        "fetched_from": _STORED_ONLY,
        "captured_at": {"type": "date"},
        "capture_url": _URL,
        "canonical_url": _URL,
        "links": _URL,
        "text_hash": _KEYWORD,
        "story_id": _KEYWORD,
        "is_origin": {"type": "boolean"},
        "parent": _KEYWORD,
        "chain": {
            "properties": {
                "coverage": {"type": "float"},
                "added_share": {"type": "float"},
                "lag_seconds": {"type": "float"},
                "kind": _KEYWORD,
                "confidence": {"type": "float"},
                "evidence": {
                    "type": "nested",  # so "kind X pointing at outlet Y" matches within one piece of evidence
                    "properties": {
                        "kind": _KEYWORD,
                        "text": {"type": "text", "analyzer": "english"},
                        "outlet": _KEYWORD,
                        "url": _URL,
                    },
                },
            }
        },
        STORY_KEY: _KEYWORD,
        ROLE: _KEYWORD,
        SORT_DATE: {"type": "date"},
        FINGERPRINTS: _KEYWORD,
        VERSIONS: {"type": "integer", "index": False},
        INDEXED_AT: {"type": "date"},
    },
}
# Fields mapped after the first release: put into the mapping of an existing index when the store opens it.
ADDED_FIELDS = (INDEXED_AT,)

VERSION_MAPPINGS: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "url": _KEYWORD,
        "n": {"type": "integer"},
        "fetched_at": {"type": "date"},
        "archived_at": {"type": "date"},
        "text_hash": _KEYWORD,
        "record": {"type": "object", "enabled": False},  # the whole earlier Article, stored, not indexed
    },
}


def index_settings(shards: int, replicas: int) -> dict:
    return {"number_of_shards": shards, "number_of_replicas": replicas}


def doc_id(url: str) -> str:
    """The document id of an article: sha1 of its normalised URL (ids are capped at 512 bytes; URLs are not)."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def version_id(url: str, n: int) -> str:
    return f"{doc_id(url)}-{n}"


def to_document(article: Article, fingerprints: list[str], versions: int, indexed_at: str | None = None) -> dict[str, Any]:
    """The document for `article`; `indexed_at` keeps an earlier write time (a chain update), else now."""
    doc = article.to_dict()
    doc[STORY_KEY] = article.story_id or article.url
    doc[ROLE] = article.chain.kind if article.chain else ("origin" if article.is_origin else None)
    doc[SORT_DATE] = doc["published"] or doc["fetched_at"]
    doc["text_hash"] = article.text_hash
    doc[FINGERPRINTS] = fingerprints
    doc[VERSIONS] = versions
    doc[INDEXED_AT] = indexed_at or datetime.now(timezone.utc).isoformat(timespec="microseconds")
    return doc


def from_document(source: dict[str, Any]) -> Article:
    return Article.from_dict(source)


def version_document(old: Article, n: int) -> dict[str, Any]:
    return {
        "url": old.url,
        "n": n,
        "fetched_at": old.fetched_at.isoformat(),
        "archived_at": datetime.now(timezone.utc).isoformat(),
        "text_hash": old.text_hash,
        "record": old.to_dict(),
    }

