"""One hit per story: shared by the stores that collapse search results on the client side.

SQLite always does (`best_of_each_story`, over the matches' ids and scores); Elasticsearch does when the server
cannot `collapse` (`collapse_hits`, see elasticsearch.py).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class StoryBest:
    id: int  # the best-scored matching article of the story
    score: float
    copies: int  # the story's other matching articles


def best_of_each_story(matches: Iterable[tuple[int, str, float, str | None]], limit: int) -> list[StoryBest]:
    """From (article id, story, score, published) of every match, in any order: the `limit` best stories, each
    by its best article, ranked as an uncollapsed search ranks (score, then newest published; undated last)."""
    best: dict[str, tuple[tuple[float, str], int]] = {}
    counts: dict[str, int] = {}
    for article_id, story, score, published in matches:
        key = (score, published or "")
        found = best.get(story)
        if found is None:
            best[story], counts[story] = (key, article_id), 0
        else:
            counts[story] += 1
            if key > found[0]:
                best[story] = (key, article_id)
    top = heapq.nlargest(limit, best.items(), key=lambda item: item[1][0])
    return [StoryBest(article_id, key[0], counts[story]) for story, (key, article_id) in top]
