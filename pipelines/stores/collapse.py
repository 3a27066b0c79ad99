"""One hit per story: shared by the stores that collapse search results on the client side.

SQLite always does; Elasticsearch does when the server cannot `collapse` (see elasticsearch.py).
"""

from __future__ import annotations

from pipelines.models import SearchHit


def collapse_hits(hits: list[SearchHit], limit: int, collapse_stories: bool) -> list[SearchHit]:
    """Keep the best hit of each story (counting the others) when asked; then cut to `limit`.

    `hits` must be best first; an article without a story is a story of its own."""
    if not collapse_stories:
        return hits[:limit]
    best: dict[str, SearchHit] = {}
    for hit in hits:
        key = hit.article.story_id or hit.article.url
        if key in best:
            best[key].copies += 1
        else:
            best[key] = hit
    return list(best.values())[:limit]
