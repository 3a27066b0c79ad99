"""The Elasticsearch store's read requests as data: search bodies, filters and aggregations built from
storytrail's arguments, and answers turned back into storytrail's types. No I/O: ElasticsearchStore sends
them, so what a read asks the cluster for can be read (and tested) apart from how it is sent."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pipelines.models import SearchHit, StoreStats
from pipelines.query import to_es
from pipelines.stores import es_mapping as m

COLLAPSE_FETCH = 10  # without server collapse, fetch this many times `limit` hits to collapse here
MAX_WINDOW = 10_000  # index.max_result_window: the most hits one search returns
DEFAULT_SORT = [{"_score": "desc"}, {"published": {"order": "desc", "missing": "_last"}}]
SOURCE_EXCLUDES = [m.FINGERPRINTS]
STORY_ORDERS = {"size": [{"_count": "desc"}, {"newest": "desc"}], "new": [{"newest": "desc"}, {"_count": "desc"}]}
STATS_AGGS = {
    "outlets": {
        "terms": {"field": "outlet", "size": 10_000, "order": {"_key": "asc"}},
        "aggs": {"last": {"top_hits": {"size": 1, "sort": [{"fetched_at": "desc"}], "_source": ["fetched_at"]}}},
    },
    # Exact below 40,000 stories (the precision threshold), within a few per cent above.
    "stories": {"cardinality": {"field": m.STORY_KEY, "precision_threshold": 40_000}},
}


def search_body(query: str, limit: int) -> dict[str, Any]:
    """A search for the query language's `query` (pipelines/query.py), best first, newest among equals."""
    return {"query": to_es(query), "sort": DEFAULT_SORT, "track_scores": True,
            "_source": {"excludes": SOURCE_EXCLUDES}, "size": min(limit, MAX_WINDOW)}


def server_collapsed(body: dict[str, Any]) -> dict[str, Any]:
    """The search collapsed on the server to one hit per story, counting the story's hits with inner_hits."""
    return {**body, "collapse": {"field": m.STORY_KEY, "inner_hits": {"name": "copies", "size": 0}}}


def client_collapse_size(limit: int) -> int:
    """How many hits to fetch when the stories are collapsed here, so that `limit` stories remain."""
    return min(max(limit * COLLAPSE_FETCH, 200), MAX_WINDOW)


def to_hit(hit: dict, copies: int = 0) -> SearchHit:
    return SearchHit(article=m.from_document(hit["_source"]), score=hit.get("_score") or 0.0, copies=copies)


def stats_from(answer: dict) -> StoreStats:
    """StoreStats from the answer to a search with STATS_AGGS."""
    buckets = answer["aggregations"]["outlets"]["buckets"]
    return StoreStats(
        articles=answer["hits"]["total"]["value"],
        by_outlet={b["key"]: b["doc_count"] for b in buckets},
        stories=int(answer["aggregations"]["stories"]["value"]),
        last_fetched={
            b["key"]: datetime.fromisoformat(b["last"]["hits"]["hits"][0]["_source"]["fetched_at"]) for b in buckets
        },
    )


def indexed_since_query(since: datetime) -> dict[str, Any]:
    """Articles whose record was written at or after `since`."""
    moment = since.astimezone(timezone.utc).isoformat()
    return {"bool": {"minimum_should_match": 1, "should": [
        {"range": {m.INDEXED_AT: {"gte": moment}}},
        # written before the field existed: its fetch time stands in, as in SqliteStore
        {"bool": {"must_not": [{"exists": {"field": m.INDEXED_AT}}], "filter": [{"range": {"fetched_at": {"gte": moment}}}]}},
    ]}}


def candidates_query(fingerprints: list[str], exclude_url: str | None) -> dict[str, Any]:
    """Articles holding any of the fingerprints, but the one at `exclude_url`."""
    query: dict[str, Any] = {"bool": {"filter": [{"terms": {m.FINGERPRINTS: fingerprints}}]}}
    if exclude_url:
        query["bool"]["must_not"] = [{"term": {"url": exclude_url}}]
    return query


def stories_aggs(order: str, limit: int) -> dict[str, Any]:
    """The `limit` largest or newest stories (`order` "size" or "new"), as a terms aggregation on story_id."""
    if order not in STORY_ORDERS:
        raise ValueError(f"order must be one of {sorted(STORY_ORDERS)}, not {order!r}")
    return {"stories": {
        "terms": {"field": "story_id", "size": limit, "shard_size": max(limit * 10, 1000), "order": STORY_ORDERS[order]},
        "aggs": {"newest": {"max": {"field": m.SORT_DATE}}},
    }}
