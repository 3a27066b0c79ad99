"""Linking's per-article work done once: comparison texts, fingerprints, evidence and alignments, kept in
bounded caches keyed by what each depends on.

A candidate comes up again and again (each new copy of a story is aligned with the members it joins), so
its comparison text is cleaned and tokenised once, not per `Linker.link` call. Each entry's key is
exactly what its value depends on, so a cached value always equals a fresh one:

- comparison text and fingerprints: (text hash, outlet, the outlet's recurring lines this text holds).
  The recurring lines come from the store and change as the store learns an outlet's boilerplate, so
  they are read for every use (one indexed lookup of the text's few line hashes) and are part of the key;
- evidence (attribution credits, role, normalised links): (URL, text hash, canonical URL, links);
- alignments: the two comparison texts' keys.

A text prepared ahead in a worker process (pipelines/worker_pool.py) is offered here under the key it
was prepared with; the writer uses it only when that key is the one the store gives at link time.
Entries are evicted least recently used first, texts by total words (`link.cache_words`), so memory stays
bounded whatever the store's size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from crawlers.sources import SourceRegistry
from pipelines.alignment import Alignment, align
from pipelines.attribution import AttributionParser
from pipelines.chains import Member
from pipelines.comparison_text import ComparisonText, TextCleaner, recurring_lines
from pipelines.fingerprints import fingerprints
from pipelines.models import Article
from pipelines.settings import LinkSettings
from pipelines.stores.base import Store

TextKey = tuple[str, str, frozenset[int]]  # (text hash, outlet, recurring line hashes)
EvidenceKey = tuple[str, str, str | None, tuple[str, ...]]
V = TypeVar("V")


@dataclass(frozen=True)
class PreparedText:
    """One article's comparison text and its winnowed fingerprints, and the key they were made under."""

    key: TextKey
    text: ComparisonText
    fingerprints: frozenset[int]


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

    def text_key(self, article: Article, store: Store) -> TextKey:
        recurring = recurring_lines(article, store, self.cleaner, self.settings.recurring_line_articles)
        return article.text_hash, article.outlet, recurring

    def prepare(self, article: Article, key: TextKey) -> PreparedText:
        text = self.cleaner.clean(article, key[2])
        hashes = fingerprints(text.words, self.settings.shingle_words, self.settings.winnow_window)
        return PreparedText(key, text, frozenset(hashes))

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
        self.texts: _Lru[PreparedText] = _Lru(cache_words)
        self.evidence: _Lru[PreparedEvidence] = _Lru(max(1000, cache_words // 100))
        self.alignments: _Lru[Alignment] = _Lru(max(1000, cache_words // 100))
        self._keys: dict[tuple[str, str], TextKey] = {}
        self._in_use: list[ComparisonText] = []

    def begin(self) -> LinkingCache:
        """Start linking one article. Each text's key is read from the store once per `link` call, as the
        store's learned lines change between calls, not within one."""
        self._keys.clear()
        for text in self._in_use:  # kept texts hold their words, not the run indexes one alignment built
            text.forget_runs()
        self._in_use.clear()
        return self

    def offer(self, prepared: PreparedText | None = None, evidence: PreparedEvidence | None = None) -> None:
        """Keep what a worker prepared ahead of linking."""
        if prepared is not None:
            self.texts.put(prepared.key, prepared, max(1, len(prepared.text)))
        if evidence is not None:
            self.evidence.put(evidence.key, evidence)

    def prepared(self, article: Article) -> PreparedText:
        """The comparison text and fingerprints of `article` as the store stands."""
        memo = (article.url, article.text_hash)
        key = self._keys.get(memo)
        if key is None:
            key = self._keys[memo] = self.preparer.text_key(article, self.store)
        found = self.texts.get(key)
        if found is None:
            found = self.preparer.prepare(article, key)
            self.texts.put(key, found, max(1, len(found.text)))
        self._in_use.append(found.text)
        return found

    def text(self, article: Article) -> ComparisonText:
        return self.prepared(article).text

    def member(self, article: Article) -> Member:
        key = evidence_key(article)
        found = self.evidence.get(key)
        if found is None:
            found = self.preparer.evidence(article)
            self.evidence.put(key, found)
        return replace(found.member, article=article)

    def align(self, a: Article, b: Article) -> Alignment:
        prepared_a, prepared_b = self.prepared(a), self.prepared(b)
        key = (prepared_a.key, prepared_b.key)
        found = self.alignments.get(key)
        if found is None:
            reverse = self.alignments.get((prepared_b.key, prepared_a.key))
            found = reverse.swapped() if reverse is not None else align(
                prepared_a.text, prepared_b.text, self.preparer.settings.min_run_words)
            self.alignments.put(key, found)
        return found
