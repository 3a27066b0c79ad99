"""The replay corpus's truth: what the pipeline should find in it (each article's facts, the labelled copy and
not-copy pairs, each story's origin), generated from the very data the pages are rendered from."""

from __future__ import annotations

import json
from itertools import combinations

from crawlers.replay.articles import Article, Corpus, iso


def build_truth(corpus: Corpus) -> dict:
    """What the pipeline should find: each article's facts, the copy and not-copy pairs, each story's origin."""
    articles = {}
    for article in sorted(corpus.articles, key=lambda a: a.url):
        entry = {
            "outlet": article.site.outlet,
            "title": article.title,
            "authors": _credited_authors(article),
            "published": iso(article.published),
            "in_feed": article.in_feed,
            "story": article.story,
            "is_origin": article.is_origin,
            "copy_of": article.source.url if article.source else None,
            "kind": article.kind,
        }
        if article.captures:
            entry["archive_url"] = article.page_urls[0]
        articles[article.url] = entry
    return {
        "articles": articles,
        "pairs": _copy_pairs(corpus) + _hard_negatives(corpus),
        "origins": {a.story: a.url for a in sorted(corpus.articles, key=lambda a: a.story) if a.is_origin},
    }


def _credited_authors(article: Article) -> list[str]:
    """An original's authors; for a copy, only those its page names (a bare "The Cradle | date" credits none)."""
    if article.source is None:
        return list(article.authors)
    shown = (article.text + "\n" + article.title).casefold()
    return [name for name in article.authors if name.casefold() in shown]


def _copy_pairs(corpus: Corpus) -> list[dict]:
    pairs = []
    for copy in sorted((a for a in corpus.articles if a.source), key=lambda a: a.url):
        note = f"{copy.kind}: {copy.site.name} copy of {copy.source.site.name}"
        pairs.append({"a": copy.url, "b": copy.source.url, "label": "copy", "note": note})
        if copy.origin is not copy.source:
            note = f"copy of a copy: {copy.site.name} via {copy.source.site.name} of {copy.origin.site.name}"
            pairs.append({"a": copy.url, "b": copy.origin.url, "label": "copy", "note": note})
    return pairs


def _hard_negatives(corpus: Corpus) -> list[dict]:
    """Different articles about the same event: same names, places and quoted statements, not copies."""
    pairs = []
    for event, description in corpus.events.items():
        members = [a for a in corpus.articles if a.event == event]
        for a, b in combinations(members, 2):
            if a.story != b.story:
                note = f"same event, different articles: {description}"
                pairs.append({"a": a.url, "b": b.url, "label": "not_copy", "note": note})
    return pairs


def truth_json(corpus: Corpus) -> str:
    """truth.json's text, exactly as checked in (so a stale file shows as a difference)."""
    return json.dumps(build_truth(corpus), indent=1, ensure_ascii=False) + "\n"
