"""Linking: find a new article's copies and originals and update the syndication chain of its story.

Called by the pipeline right after an article was upserted. Steps: the comparison text (boilerplate and
the outlet's learned recurring lines left out), winnowed fingerprints stored in the store's index, an index
lookup for candidates (fingerprints held by more than `max_doc_freq` articles ignored), verification of
each candidate by alignment, the page's own attribution evidence, and the chain of the story the article
joins, starts, takes over as a late origin, or merges (pipelines/chains.py). A candidate that shares only a
primary source with it (pipelines/shared_sources.py) is not merged: both get a "shares a source" relation.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from loguru import logger

from crawlers.sources import SourceRegistry
from pipelines.alignment import Alignment
from pipelines.chains import Member, Placement, build_chain, credit, precedes, story_id_for
from pipelines.models import Article
from pipelines.prepared_text import LinkingCache, TextPreparer
from pipelines.settings import LinkSettings
from pipelines.shared_sources import Relation, record, relation
from pipelines.stores.base import Store

VIRAL_PROBE_HASHES = 16  # rarest over-cap fingerprints looked up for an article copied everywhere


@dataclass(frozen=True)
class LinkOutcome:
    """What linking one article did, for the run's counters (`counter`)."""

    action: str  # new_story, joined_story, merged_stories, rebuilt_chain, unchanged
    story_id: str
    copies: int = 0  # verified copies found among the candidates
    merged: tuple[str, ...] = field(default=())  # story ids that were merged into `story_id`

    @property
    def counter(self) -> str:
        return f"link/{self.action}"


class Linker:
    """Links articles of one store; built once per run from the settings."""

    def __init__(self, store: Store, sources: SourceRegistry, settings: LinkSettings) -> None:
        self.store = store
        self.sources = sources
        self.settings = settings
        self.preparer = TextPreparer(sources, settings)
        self.cache = LinkingCache(store, self.preparer, settings.cache_words)

    def link(self, article: Article) -> LinkOutcome:
        """Fingerprint `article` (already in the store), find and verify its copies, update the chains."""
        log = logger.bind(source=article.outlet, url=article.url)
        article = self.store.get(article.url) or article  # the stored record carries its current chain
        work = self.cache.begin()
        work.outlet_changed(article.outlet)  # its record was just written, its fingerprints are written below
        hashes = set(work.fingerprints(article))
        stored = hashes | work.line_hashes(article)
        if article.story_id and article.chain and self.store.get_fingerprints(article.url) == stored:
            return LinkOutcome("unchanged", article.story_id)
        self.store.put_fingerprints(article.url, sorted(stored))
        matches, shared = self._verified_copies(article, hashes, work)
        outcome = self._update_stories(article, matches, work)
        record(self.store, article.url, shared)  # a primary source both carry: related, not merged
        level = "DEBUG" if outcome.action == "new_story" else "INFO"
        log.log(level, "{}: story {} ({} copies verified)", outcome.action, outcome.story_id, outcome.copies)
        return outcome

    def relink_all(self) -> Counter[str]:
        """Rebuild every chain from the store: chains cleared, then articles linked in publication order
        (undated ones last), as if they had arrived in that order."""
        order = relink_order(self.store)
        for url in order:
            self.store.set_chain(url, None, False, None, None)
        counters: Counter[str] = Counter()
        for url in order:
            article = self.store.get(url)
            if article is not None:
                counters[self.link(article).counter] += 1
        logger.info("relinked {} articles: {}", len(order), dict(counters))
        return counters

    # -- candidates -------------------------------------------------------------------------------
    def _verified_copies(
        self, article: Article, hashes: set[int], work: LinkingCache
    ) -> tuple[dict[str, tuple[Article, Alignment]], dict[str, Alignment]]:
        """Linked articles that are copies of `article` or that it copies, with the alignment (A = them),
        and those that share a source with it (pipelines/shared_sources.py)."""
        settings = self.settings
        counts = self.store.find_candidates(list(hashes), settings.max_doc_freq, exclude_url=article.url)
        wanted = {u: n for u, n in counts.items() if n >= settings.min_shared_fingerprints}
        if not wanted:
            wanted = self._viral_candidates(article, hashes)
        best = sorted(wanted, key=lambda u: (-wanted[u], u))[: settings.max_candidates]
        found, shared = {}, {}
        # not linked yet: a candidate finds this article when its own turn comes
        linked = {url: c for url, c in self.store.get_many(best).items() if c.story_id is not None}
        work.learn_keys(list(linked.values()))
        for url, candidate in linked.items():
            alignment = work.align(candidate, article)
            related = relation(alignment, work.member(candidate), work.member(article), settings)
            if related is Relation.COPY:
                found[url] = (candidate, alignment)
            elif related is Relation.SHARES_SOURCE:
                shared[url] = alignment
        return found, shared

    def _viral_candidates(self, article: Article, hashes: set[int]) -> dict[str, int]:
        """For an article whose text is mostly over the doc-frequency cap (a story copied by hundreds of
        sites), the articles holding its rarest common fingerprints."""
        settings = self.settings
        if len(hashes) < settings.min_shared_fingerprints:
            return {}
        freqs = self.store.doc_freqs(list(hashes))
        common = sorted((h for h in hashes if freqs.get(h, 0) > settings.max_doc_freq), key=lambda h: (freqs[h], h))
        if len(common) < settings.viral_share * len(hashes):
            return {}
        probe = common[:VIRAL_PROBE_HASHES]
        logger.bind(url=article.url).debug("text copied widely: probing {} common fingerprints", len(probe))
        counts = self.store.find_candidates(probe, freqs[probe[-1]], exclude_url=article.url)
        return {u: n for u, n in counts.items() if n >= settings.min_shared_fingerprints}

    # -- stories ----------------------------------------------------------------------------------
    def _update_stories(self, article: Article, matches: dict[str, tuple[Article, Alignment]], work: LinkingCache) -> LinkOutcome:
        previous = article.story_id
        if not matches:
            self._leave(article, previous, work)
            self._write(build_chain([work.member(article)], work.align, self.settings), [article])
            return LinkOutcome("new_story", story_id_for(article.url))
        newcomer = work.member(article)
        stories: dict[str, list[Article]] = {}
        for candidate, _ in matches.values():
            if candidate.story_id not in stories:
                stories[candidate.story_id] = [m for m in self.store.story_members(candidate.story_id) if m.url != article.url]
        taken_over = [sid for sid, members in stories.items() if _precedes_origin(newcomer, members, work)]
        if taken_over:
            taken_over = list(stories)  # a late origin gathers every story holding a copy of it
            members = [article] + [m for sid in taken_over for m in stories[sid]]
            placements = build_chain([work.member(m) for m in members], work.align, self.settings)
            action = "merged_stories" if len(taken_over) > 1 else "rebuilt_chain"
        else:
            target = max(stories, key=lambda sid: _strength(matches, sid))
            taken_over = [target]
            placements = self._join(article, stories[target], matches, work)
            action = "joined_story" if previous != target else "rebuilt_chain"
        self._write(placements, [article, *(m for sid in taken_over for m in stories[sid])])
        story_id = placements[0].story_id
        if previous and previous not in taken_over:
            self._leave(article, previous, work)
        return LinkOutcome(action, story_id, len(matches), tuple(sid for sid in taken_over if sid != story_id))

    def _join(
        self, article: Article, members: list[Article], matches: dict[str, tuple[Article, Alignment]], work: LinkingCache
    ) -> list[Placement]:
        """`article` joins a story as a copy: it is placed, and so are the members it may now be the
        parent of (later ones it was verified against, and those crediting it)."""
        newcomer = work.member(article)
        verified = set(matches)
        hints = {article.url: verified} | {url: {article.url} for url in verified}
        later = {m.url for m in members if m.url in verified and _later(m, article)}
        to_place = {article.url} | later | {m.url for m in members if credit(work.member(m), article)}
        everyone = [newcomer] + [work.member(m) for m in members]
        return build_chain(everyone, work.align, self.settings, to_place=to_place, hints=hints)

    def _leave(self, article: Article, story_id: str | None, work: LinkingCache) -> None:
        """`article` no longer belongs to `story_id` (its text changed): rebuild what is left of it."""
        if not story_id:
            return
        rest = [m for m in self.store.story_members(story_id) if m.url != article.url]
        if rest:
            self._write(build_chain([work.member(m) for m in rest], work.align, self.settings), rest)

    def _write(self, placements: list[Placement], current: list[Article]) -> None:
        """Record the placements that differ from `current`, the members' records as read in this call."""
        stored = {a.url: a for a in current}
        for placement in placements:
            if placement.differs_from(stored[placement.url]):
                self.store.set_chain(placement.url, placement.story_id, placement.is_origin, placement.parent, placement.chain)


def relink_order(store: Store) -> list[str]:
    """Every article's URL in the order a relink links them: by publication (undated ones last), then URL."""
    keys = sorted((a.published is None, a.published.isoformat() if a.published else "", a.url) for a in store.iter_articles())
    return [url for _, _, url in keys]


def _precedes_origin(newcomer: Member, members: list[Article], work: LinkingCache) -> bool:
    """The newcomer came before the story's origin: it is the story's late-arriving origin."""
    origin = next((m for m in members if m.is_origin), None)
    return origin is not None and precedes(newcomer, work.member(origin), work.align)


def _strength(matches: dict[str, tuple[Article, Alignment]], story_id: str) -> tuple[int, str]:
    """How much text the newcomer shares with its best match in a story (ties: the story id)."""
    return max(a.unquoted_shared for c, a in matches.values() if c.story_id == story_id), story_id


def _later(member: Article, article: Article) -> bool:
    """`member` may have taken its text from `article` (published after it, or a date is missing)."""
    return member.published is None or article.published is None or member.published > article.published
