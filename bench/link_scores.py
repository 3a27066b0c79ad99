"""Scores of a linking run against the real-prose corpus's truth (bench/real_prose.py), on one split.

Precision is pairwise: of the article pairs a system put in one story (at least one of the two in the split),
the share that truly belong to one story. Recall is per copy: the share of planted copies found in their
origin's story; partial-copy recall counts the trimmed copies, teasers and credited long quotations only.
Shared-source pairs merged: pairs of different articles carrying one primary-source passage that ended in one
story. Origin accuracy: the share of stories whose chosen origin is the true one, apart for stories whose
copies all have right dates and those where some copy's date is missing or wrong.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from real_prose import PARTIAL_KINDS, BenchArticle


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float
    recall_partial: float
    shared_merged: int
    shared_pairs: int
    shared_recorded: int | None
    citing_merged: int
    origin_dates_ok: float
    origin_dates_bad: float


def score(truth: list[BenchArticle], stories: dict[str, str], origins: dict[str, str],
          shared: set[frozenset[str]] | None = None, split: str = "held") -> Scores:
    """`stories`: URL -> predicted story; `origins`: predicted story -> its origin's URL."""
    by_url = {a.url: a for a in truth}
    in_split = {a.url for a in truth if a.split == split}
    clusters: dict[str, Counter] = defaultdict(Counter)
    members: dict[str, Counter] = defaultdict(Counter)
    for url, story in stories.items():
        clusters[story][by_url[url].story] += 1
        members[story][url in in_split] += 1
    predicted = sum(_pairs(c[True] + c[False]) - _pairs(c[False]) for c in members.values())
    correct = 0
    for story, counts in clusters.items():
        correct += sum(_pairs(n) for true_story, n in counts.items() if by_url[true_story].split == split)
    precision = correct / predicted if predicted else 1.0
    copies = [a for a in truth if a.origin and a.url in in_split]
    found = {a.url: stories[a.url] == stories[a.origin] for a in copies}
    recall = sum(found.values()) / max(1, len(found))
    partial = [found[a.url] for a in copies if a.kind in PARTIAL_KINDS]
    groups: dict[str, list[str]] = defaultdict(list)
    for a in truth:
        if a.group and a.url in in_split:
            groups[a.group].append(a.url)
    pairs = [(a, b) for a, b in groups.values()]
    citing = [(a.url, a.links[0]) for a in truth if a.kind == "citing" and a.url in in_split]
    dates_ok: dict[str, bool] = defaultdict(lambda: True)
    for a in copies:
        dates_ok[a.origin] &= a.date_ok
    right = {url: origins.get(stories[url]) == url for url in dates_ok}
    return Scores(
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        recall_partial=sum(partial) / max(1, len(partial)),
        shared_merged=sum(stories[a] == stories[b] for a, b in pairs),
        shared_pairs=len(pairs),
        shared_recorded=None if shared is None else sum(frozenset(p) in shared for p in pairs),
        citing_merged=sum(stories[a] == stories[b] for a, b in citing),
        origin_dates_ok=_share([right[u] for u in right if dates_ok[u]]),
        origin_dates_bad=_share([right[u] for u in right if not dates_ok[u]]),
    )


def earliest_origins(truth: list[BenchArticle], stories: dict[str, str]) -> dict[str, str]:
    """A baseline's origin per story: its earliest dated member (undated ones last)."""
    best: dict[str, tuple] = {}
    for a in truth:
        key = (a.published is None, a.published or "", a.url)
        story = stories[a.url]
        if story not in best or key < best[story]:
            best[story] = key
    return {story: key[2] for story, key in best.items()}


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _share(values: list[bool]) -> float:
    return sum(values) / len(values) if values else float("nan")
