"""Different articles that carry one primary source stay apart; the passage they share is recorded.

A government bulletin, a court filing or a ministry statement is carried by many articles, often without
quotation marks. Two such articles share a long passage and pass a plain copy test, yet neither is a copy of
the other. What tells them from real copies: neither credits the other (no attribution naming the other's
outlet or URL, no link to it), and each holds much text of its own outside the shared passage
(`link.shared_source_own_share`). A real excerpt stays a copy: a teaser holds little text of its own, and a
long quotation with a credit line or a link is credited. Such a pair gets a "shares a source" relation, with
the passage's offsets in each text, stored in both articles' chain (`ChainInfo.shared_sources`), and shown by
`storytrail story URL --json --passages`.
"""

from __future__ import annotations

from dataclasses import replace
from enum import Enum

from pipelines.alignment import Alignment
from pipelines.chains import Member, credit
from pipelines.models import Article, SharedSource
from pipelines.settings import LinkSettings
from pipelines.stores.base import Store

MAX_RELATIONS = 50  # shared-source relations kept per article (a bulletin carried by hundreds of sites)


class Relation(Enum):
    NONE = "none"
    COPY = "copy"
    SHARES_SOURCE = "shares_source"


def relation(alignment: Alignment, a: Member, b: Member, settings: LinkSettings) -> Relation:
    """How two articles' texts are related, given their alignment (A = `a`, B = `b`)."""
    shared = alignment.unquoted_shared
    if a.article.outlet == b.article.outlet:  # a site's own footers and repeated furniture are not a source
        enough = shared >= settings.min_shared_words and alignment.coverage_of_smaller >= settings.same_outlet_coverage
        return Relation.COPY if enough else Relation.NONE
    if shared < settings.min_shared_words:
        credited = shared >= settings.min_credited_words and (credit(a, b.article) or credit(b, a.article))
        return Relation.COPY if credited else Relation.NONE  # a short teaser that links its source
    if credit(a, b.article) or credit(b, a.article):
        return Relation.COPY  # a long quotation with a credit line or a link is an excerpt
    most = 1.0 - settings.shared_source_own_share
    if alignment.coverage_of_smaller < settings.min_coverage or (
        alignment.containment_a <= most and alignment.containment_b <= most
    ):
        return Relation.SHARES_SOURCE
    return Relation.COPY


def record(store: Store, url: str, shared: dict[str, Alignment]) -> int:
    """Stores the relation on both sides for each article in `shared` (URL -> alignment, A = that article,
    B = `url`) that ended in another story than `url`; returns how many were recorded."""
    if not shared:
        return 0
    current = store.get_many([url, *shared])
    article = current.get(url)
    if article is None or article.chain is None:
        return 0
    mine: list[SharedSource] = []
    for other_url, alignment in sorted(shared.items()):
        other = current.get(other_url)
        if other is None or other.chain is None or other.story_id == article.story_id:
            continue
        a_chars = [p.a_chars for p in alignment.passages]
        b_chars = [p.b_chars for p in alignment.passages]
        words = alignment.unquoted_shared
        mine.append(SharedSource(url=other_url, own=b_chars, other=a_chars, words=words))
        _add(store, other, [SharedSource(url=url, own=a_chars, other=b_chars, words=words)])
    _add(store, article, mine)
    return len(mine)


def _add(store: Store, article: Article, entries: list[SharedSource]) -> None:
    if not entries or article.chain is None:
        return
    new = {e.url for e in entries}
    kept = [s for s in article.chain.shared_sources if s.url not in new] + entries
    kept.sort(key=lambda s: (-s.words, s.url))
    chain = replace(article.chain, shared_sources=kept[:MAX_RELATIONS])
    store.set_chain(article.url, article.story_id, article.is_origin, article.parent, chain)
