"""Evaluation: from the articles indexed since the searches' watermarks to entries in the outbox.

For every search, each story gets at most one entry per evaluation:
- `new`: a story none of whose copies this search has covered, and one of whose new articles matches the
  query (fetched after the search started); it lists every copy known so far.
- `also`: a story the search covered before that now has copies on outlets it had not been seen on
  ("now also on ..."), whether or not the new copy matches the query (a republication changes the headline).
- `copy`: for a watched story, one entry per new copy.
Copies on an outlet already covered join the ledger silently.

Articles are read from `watermark - overlap` (`alerts.overlap_min`): what a slower writer committed just
behind the watermark is read again, and the ledger keeps it from being sent twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from itertools import islice

from pipelines.alerts.ledger import AlertsDb, Entry, Seen
from pipelines.alerts.matching import Matcher, Snippet
from pipelines.alerts.saved_searches import SavedSearch
from pipelines.models import Article
from pipelines.stores.base import Store

BATCH = 2000  # new articles matched at a time (a backlog, e.g. --from a date long ago, goes in slices)


@dataclass
class Evaluation:
    """What one evaluation found, for `AlertsDb.record` to write in one transaction."""

    entries: list[Entry] = field(default_factory=list)
    ledger: dict[str, list[tuple[Seen, str | None]]] = field(default_factory=dict)  # copies covered, per search
    watermarks: dict[str, datetime] = field(default_factory=dict)
    new_articles: int = 0

    def record(self, db: AlertsDb) -> None:
        db.record(self.entries, self.ledger, self.watermarks)


def story_key(article: Article) -> str:
    return article.story_id or article.url


class _Stories:
    """The members of the stories touched by the new articles, each read from the store once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.members: dict[str, list[Article]] = {}

    def of(self, article: Article) -> list[Article]:
        key = story_key(article)
        if key not in self.members:
            members = self.store.story_members(article.story_id) if article.story_id else []
            if article.url not in {m.url for m in members}:  # a reader may see the chain a moment late
                members.append(article)
            self.members[key] = members
        return self.members[key]


def evaluate(db: AlertsDb, store: Store, searches: list[SavedSearch], now: datetime, overlap: timedelta) -> Evaluation:
    """Entries for every search and the new watermarks (`now`), not yet recorded."""
    result = Evaluation(watermarks={s.name: now for s in searches})
    if not searches:
        return result
    since = min(s.watermark for s in searches) - overlap
    queries = {s.name: s.query for s in searches if s.query is not None}
    matcher = Matcher(queries)
    new: dict[str, Article] = {}
    matches: dict[str, dict[str, Snippet]] = {}
    for batch in _batches(store.indexed_since(since), BATCH):
        for name, hits in matcher.match(batch).items():
            matches.setdefault(name, {}).update(hits)
        new.update((a.url, replace(a, text="")) for a in batch)  # the text is not needed any more
    result.new_articles = len(new)
    stories = _Stories(store)
    touched: dict[str, list[Article]] = {}
    for article in new.values():
        members = stories.of(article)
        touched[story_key(members[0])] = members
    member_urls = {m.url for members in touched.values() for m in members}
    seen = db.seen_among(member_urls)
    story_of_url = {m.url: key for key, members in touched.items() for m in members}
    for search in searches:
        known = seen.get(search.name, {})
        if search.is_watch:
            found = _watch_entries(search, db, store, stories, new, now)
        else:
            hits = {u: s for u, s in matches.get(search.name, {}).items() if _utc(new[u].fetched_at) >= search.start}
            keys = {story_of_url[u] for u in hits} | {story_of_url[u] for u in known if u in story_of_url}
            found = [_story_entry(search, touched[key], hits, known, now) for key in sorted(keys)]
        for entry, covered in filter(None, found):
            if entry is not None:
                result.entries.append(entry)
            result.ledger.setdefault(search.name, []).extend((s, entry.id if entry else None) for s in covered)
    return result


def _story_entry(search: SavedSearch, members: list[Article], hits: dict[str, Snippet], known: dict[str, Seen],
                 now: datetime) -> tuple[Entry | None, list[Seen]] | None:
    """The story's entry for this search (or None), with the copies it covers."""
    key = story_key(members[0])
    fresh = [m for m in members if m.url not in known]
    if not fresh:
        return None
    covered = [Seen(m.url, m.outlet, key) for m in fresh]
    matched = [m for m in members if m.url in hits]
    if not any(m.url in known for m in members):
        if not matched:
            return None
        snippet = hits[matched[0].url]
        return _entry(search, "new", key, members, fresh, [], snippet, now), covered
    outlets_before = {s.outlet for s in known.values() if s.url in {m.url for m in members}}
    new_outlets = sorted({m.outlet for m in fresh} - outlets_before)
    if not new_outlets:
        return None, covered  # another copy on an outlet already covered: into the ledger, no entry
    snippet = hits[matched[0].url] if matched else []
    return _entry(search, "also", key, members, fresh, new_outlets, snippet, now), covered


def _watch_entries(search: SavedSearch, db: AlertsDb, store: Store, stories: _Stories, new: dict[str, Article],
                   now: datetime) -> list[tuple[Entry, list[Seen]]]:
    """One entry per new copy of the watched story (found again by its URL: a late origin renames a story)."""
    anchor = store.get(search.watch_url)
    if anchor is None:
        return []
    members = stories.of(anchor)
    if not any(m.url in new for m in members):
        return []
    known = db.seen_among(m.url for m in members).get(search.name, {})
    key = story_key(members[0])
    found = []
    for copy in members:
        if copy.url in known:
            continue
        entry = _entry(search, "copy", key, members, [copy], [copy.outlet], [], now)
        found.append((entry, [Seen(copy.url, copy.outlet, key)]))
    return found


def _entry(search: SavedSearch, kind: str, key: str, members: list[Article], fresh: list[Article],
           new_outlets: list[str], snippet: Snippet, now: datetime) -> Entry:
    origin = next((m for m in members if m.is_origin), None) or min(members, key=_by_date)
    copies = sorted(members, key=_by_date)
    payload = {
        "headline": origin.title or fresh[0].title or origin.url,
        "origin": _identity(origin),
        "copies": [_identity(m) for m in copies],
        "fresh": [m.url for m in fresh],
        "new_outlets": new_outlets,
        "snippet": [list(piece) for piece in snippet],
    }
    digest = hashlib.sha256("\0".join([search.name, kind, key, *sorted(payload["fresh"])]).encode()).hexdigest()
    return Entry(id=digest[:24], search=search.name, story=key, kind=kind, created_at=now, payload=payload)


def _identity(article: Article) -> dict:
    kind = article.chain.kind if article.chain else ("origin" if article.is_origin else None)
    return {"url": article.url, "outlet": article.outlet, "title": article.title,
            "published": article.published.isoformat() if article.published else None, "kind": kind}


def _by_date(article: Article) -> tuple:
    return (article.published is None, article.published.isoformat() if article.published else "", article.url)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _batches(articles: Iterator[Article], size: int) -> Iterator[list[Article]]:
    while batch := list(islice(articles, size)):
        yield batch
