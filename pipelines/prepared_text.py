"""Linking's per-article work done once: comparison texts, line hashes, evidence and alignments, kept in
bounded caches keyed by what each depends on.

A candidate comes up again and again (each new copy of a story is aligned with the members it joins), so
its comparison text is cleaned and tokenised once, not per `Linker.link` call. Each entry's key is
exactly what its value depends on, so a cached value always equals a fresh one:

- comparison text: (text hash, outlet, the outlet's recurring lines this text holds). The recurring lines
  come from the store and change as the store learns an outlet's boilerplate, so they are part of the key;
- recurring lines: (URL, text hash), each kept with its outlet's generation. A line's signature names its
  outlet, so an article's recurring lines change only when the stored fingerprints of an article of the same
  outlet change: `Linker.link` bumps that outlet's generation (`outlet_changed`) before it writes them, and
  an entry of an older generation is read again (one indexed lookup for all of a new article's candidates).
  The run is the store's one writer (the data dir's run lock), and a store error ends its writing
  (`ArticleProcessor.store_error`), so no rolled-back write leaves an entry behind;
- line hashes: (outlet, text hash);
- evidence (attribution credits, role, normalised links): (URL, text hash, canonical URL, links);
- alignments: the two comparison texts' keys.

Fingerprints are made for the article being linked only and not kept: a candidate needs its text alone.
A text prepared ahead in a worker process (pipelines/worker_pool.py) is offered here under the key it
was prepared with; the writer uses it (and its fingerprints) only when that key is the one the store gives
at link time. Its line hashes are offered too (their key, outlet and text hash, never goes stale): the
writer would otherwise hash every line again to read the key. Entries are evicted least recently used
first, texts by total words (`link.cache_words`), so memory stays bounded whatever the store's size.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from crawlers.sources import SourceRegistry
from pipelines.alignment import Alignment, align
from pipelines.attribution import AttributionParser
from pipelines.chains import Member
from pipelines.comparison_text import ComparisonText, TextCleaner, recurring_lines, recurring_lines_of
from pipelines.fingerprints import fingerprints
from pipelines.models import Article
from pipelines.settings import LinkSettings
from pipelines.stores.base import Store

TextKey = tuple[str, str, frozenset[int]]  # (text hash, outlet, recurring line hashes)
EvidenceKey = tuple[str, str, str | None, tuple[str, ...]]
V = TypeVar("V")
OFFERED_FINGERPRINTS = 1000  # far more than the pages a pool has in flight
EVIDENCE_KEPT = 4_000  # articles' chain members (a few kB each: their evidence, cited URLs)
ALIGNMENTS_KEPT = 8_000  # pairs (two bytes a word of both texts, and the passages)
RECURRING_KEPT = 20_000  # articles' recurring line hashes (usually none or a few)


@dataclass(frozen=True)
class PreparedText:
    """One article's comparison text and its winnowed fingerprints, and the key they were made under; its
    line hashes, which depend on its outlet and text alone, hold whatever the key."""

    key: TextKey
    text: ComparisonText
    fingerprints: frozenset[int]
    lines: frozenset[int]


@dataclass(frozen=True)
class PreparedEvidence:
    """A page's chain `Member` (its credits, role and cited URLs); its chain fields are the article's as
    it was prepared, so `member` puts the current article in."""

    key: EvidenceKey
    member: Member


class TextPreparer:
    """Makes comparison texts, fingerprints and evidence; the same code in the writer and in the workers."""

    def __init__(self, sources: SourceRegistry, settings: LinkSettings, attribution: AttributionParser | None = None,
                 cleaner: TextCleaner | None = None) -> None:
        self.sources = sources
        self.settings = settings
        self.attribution = attribution or AttributionParser(sources)
        self.cleaner = cleaner or TextCleaner(sources, self.attribution)

    def comparison_text(self, article: Article, key: TextKey) -> ComparisonText:
        return self.cleaner.clean(article, key[2])

    def fingerprints(self, text: ComparisonText) -> frozenset[int]:
        return frozenset(fingerprints(text.words, self.settings.shingle_words, self.settings.winnow_window))

    def prepare(self, article: Article, store: Store) -> PreparedText:
        """What a worker makes ahead of linking, under the key the store gives now: the line hashes that key
        is read from are made once, and travel with the text."""
        lines = self.cleaner.line_hashes(article)
        recurring = recurring_lines(article.url, lines, store, self.settings.recurring_line_articles)
        key = (article.text_hash, article.outlet, recurring)
        text = self.comparison_text(article, key)
        return PreparedText(key, text, self.fingerprints(text), lines)

    def evidence(self, article: Article) -> PreparedEvidence:
        return PreparedEvidence(evidence_key(article), Member.of(article, self.attribution.evidence(article), self.sources))


def evidence_key(article: Article) -> EvidenceKey:
    return article.url, article.text_hash, article.canonical_url, tuple(article.links)


class _Lru(Generic[V]):
    """Least recently used entries evicted first once the summed `weight` of the entries passes `capacity`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.weight = 0
        self.entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        self.entries.move_to_end(key)
        return entry[0]

    def pop(self, key: Hashable) -> V | None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return None
        self.weight -= entry[1]
        return entry[0]

    def put(self, key: Hashable, value: V, weight: int = 1) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        self.entries[key] = (value, weight)
        self.weight += weight
        while self.weight > self.capacity and len(self.entries) > 1:
            _, (_, dropped) = self.entries.popitem(last=False)
            self.weight -= dropped


class LinkingCache:
    """What `Linker` asks of each article, computed at most once while it stays in the caches."""

    def __init__(self, store: Store, preparer: TextPreparer, cache_words: int) -> None:
        self.store = store
        self.preparer = preparer
        self.texts: _Lru[ComparisonText] = _Lru(cache_words)
        self.lines: _Lru[frozenset[int]] = _Lru(cache_words // 10)  # line hashes: about one per 20 words
        self.offered: _Lru[frozenset[int]] = _Lru(OFFERED_FINGERPRINTS)  # made by a worker, used once at link time
        self.evidence: _Lru[PreparedEvidence] = _Lru(EVIDENCE_KEPT)
        self.alignments: _Lru[Alignment] = _Lru(ALIGNMENTS_KEPT)
        self.recurring: _Lru[tuple[int, frozenset[int]]] = _Lru(RECURRING_KEPT)  # (outlet generation, lines)
        self._generations: Counter[str] = Counter()
        self._members: dict[int, tuple[Article, Member]] = {}  # by id(): made once per call
        self._in_use: list[ComparisonText] = []

    def begin(self) -> LinkingCache:
        """Start linking one article: what was made once per `link` call is dropped (recurring lines are kept
        across calls, by outlet generation)."""
        self._members.clear()
        for text in self._in_use:  # kept texts hold their words, not the word counts one call's alignments built
            text.forget_index()
        self._in_use.clear()
        return self

    def offer(self, prepared: PreparedText | None = None, evidence: PreparedEvidence | None = None) -> None:
        """Keep what a worker prepared ahead of linking."""
        if prepared is not None:
            self.texts.put(prepared.key, prepared.text, max(1, len(prepared.text)))
            self.offered.put(prepared.key, prepared.fingerprints)
            text_hash, outlet, _ = prepared.key
            self.lines.put((outlet, text_hash), prepared.lines, max(1, len(prepared.lines)))
        if evidence is not None:
            self.evidence.put(evidence.key, evidence)

    def outlet_changed(self, outlet: str) -> None:
        """The stored fingerprints of an article of `outlet` are about to change: its articles' recurring
        lines are read from the store again."""
        self._generations[outlet] += 1

    def learn_keys(self, articles: Sequence[Article]) -> None:
        """Know the text keys of `articles`: the recurring lines not kept for their outlet's current generation
        are read from the store in one lookup (a new article's candidates)."""
        unknown = {a.url: a for a in articles if self._kept_lines(a) is None}
        if unknown:
            lines = {url: self.line_hashes(a) for url, a in unknown.items()}
            recurring = recurring_lines_of(lines, self.store, self.preparer.settings.recurring_line_articles)
            for url, a in unknown.items():
                self.recurring.put((url, a.text_hash), (self._generations[a.outlet], recurring[url]))

    def key(self, article: Article) -> TextKey:
        """What the comparison text of `article` depends on, as the store stands."""
        lines = self._kept_lines(article)
        if lines is None:
            self.learn_keys([article])
            lines = self._kept_lines(article)
        return article.text_hash, article.outlet, lines

    def _kept_lines(self, article: Article) -> frozenset[int] | None:
        """The article's recurring lines, if kept since its outlet last changed."""
        kept = self.recurring.get((article.url, article.text_hash))
        return kept[1] if kept is not None and kept[0] == self._generations[article.outlet] else None

    def line_hashes(self, article: Article) -> frozenset[int]:
        """The signatures of the article's lines (`TextCleaner.line_hashes`), kept: every use of a text
        reads which of its lines recur."""
        key = (article.outlet, article.text_hash)
        found = self.lines.get(key)
        if found is None:
            found = self.preparer.cleaner.line_hashes(article)
            self.lines.put(key, found, max(1, len(found)))
        return found

    def text(self, article: Article) -> ComparisonText:
        key = self.key(article)
        found = self.texts.get(key)
        if found is None:
            found = self.preparer.comparison_text(article, key)
            self.texts.put(key, found, max(1, len(found)))
        self._in_use.append(found)
        return found

    def fingerprints(self, article: Article) -> frozenset[int]:
        """The fingerprints of `article` (a worker's, when it made them under the current key). Only the
        article being linked needs them, so they are not kept: candidates keep their text alone."""
        found = self.offered.pop(self.key(article))
        return found if found is not None else self.preparer.fingerprints(self.text(article))

    def member(self, article: Article) -> Member:
        return _once(self._members, article, lambda: self._member(article))

    def _member(self, article: Article) -> Member:
        key = evidence_key(article)
        found = self.evidence.get(key)
        if found is None:
            found = self.preparer.evidence(article)
            self.evidence.put(key, found)
        return replace(found.member, article=article)

    def align(self, a: Article, b: Article) -> Alignment:
        key = (self.key(a), self.key(b))
        found = self.alignments.get(key)
        if found is None:
            reverse = self.alignments.get(key[::-1])
            found = reverse.swapped() if reverse is not None else align(
                self.text(a), self.text(b), self.preparer.settings.min_run_words)
            self.alignments.put(key, found)
        return found


def _once(memo: dict[int, tuple[Article, V]], article: Article, make: Callable[[], V]) -> V:
    """`make()` for `article`, made once per `link` call: kept by id(), with the article itself, so a new
    object given the id of a dropped one is never taken for it."""
    entry = memo.get(id(article))
    if entry is None or entry[0] is not article:
        entry = memo[id(article)] = (article, make())
    return entry[1]
