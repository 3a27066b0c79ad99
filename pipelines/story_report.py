"""A story as people read it: a tree for the terminal, one JSON object, and rows for `export`.

What the CLI calls: `story_tree` and `story_json` (`storytrail story URL [--json]`), `story_summaries` and
`stories_table` (`storytrail stories`), `iter_export_rows` (`storytrail export --format jsonl`). Everything
comes from the chain fields the linking step stored; only the aligned passages (`story_json` given the
source registry) are computed on demand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from pipelines.models import Article
from pipelines.stores.base import Store

if TYPE_CHECKING:
    from crawlers.sources import SourceRegistry
    from pipelines.settings import LinkSettings


class StoryNotFound(LookupError):
    """The URL is not in the store."""


def stored_url(store: Store, sources: SourceRegistry, url: str) -> str:
    """The URL under which `url`'s article is stored: as given, else on another domain of its outlet
    (journal-neo.org for journal-neo.su). Raises StoryNotFound when no variant is stored."""
    variants = sources.url_variants(url)
    found = store.get_many(variants)
    stored = next((v for v in variants if v in found), None)
    if stored is None:
        raise StoryNotFound(f"not in the store: {variants[0]}")
    return stored


def story_members(store: Store, url: str) -> tuple[Article, list[Article]]:
    """(origin, copies in publication order) of the story holding `url`; an unlinked article is a story
    of its own. Raises StoryNotFound for a URL not in the store."""
    article = store.get(url)
    if article is None:
        raise StoryNotFound(f"not in the store: {url}")
    members = store.story_members(article.story_id) if article.story_id else [article]
    origin = next((m for m in members if m.is_origin), None) or article
    copies = sorted((m for m in members if m.url != origin.url), key=_by_date)
    return origin, copies


def story_json(store: Store, url: str, sources: SourceRegistry | None = None,
               settings: LinkSettings | None = None) -> dict:
    """The story holding `url` as one object: `story_id`, `origin`, `copies` (each with `url`, `outlet`,
    `published`, `parent`, `coverage`, `added_share`, `lag_seconds`, `kind`, `evidence`, `confidence`).
    Given `sources`, each copy also gets `passages`: its text aligned with the origin's, as character
    offsets into each article's `text` (what was copied; the rest was added or cut). Every member lists the
    articles of other stories it `shares_a_source` with (a primary source both carry, pipelines/shared_sources.py),
    with the shared passages' offsets in both texts when `sources` is given."""
    origin, copies = story_members(store, url)
    rows = [_copy_row(copy) for copy in copies]
    for row, member in zip(rows, copies):
        row["shares_a_source"] = _shared_rows(member, with_passages=sources is not None)
    if sources is not None:
        from pipelines.alignment import align  # the linking modules, for --passages only
        from pipelines.comparison_text import TextCleaner, prepare

        if settings is None:
            from pipelines.settings import LinkSettings

            settings = LinkSettings()
        cleaner = TextCleaner(sources)
        origin_text = prepare(origin, store, cleaner, settings.recurring_line_articles)
        for row, copy in zip(rows, copies):
            copy_text = prepare(copy, store, cleaner, settings.recurring_line_articles)
            alignment = align(origin_text, copy_text, settings.min_run_words)
            row["passages"] = [{"origin": list(p.a_chars), "copy": list(p.b_chars)} for p in alignment.passages]
    return {
        "story_id": origin.story_id,
        "origin": {
            **_identity(origin),
            "confidence": origin.chain.confidence if origin.chain else None,
            "evidence": [asdict(e) for e in origin.chain.evidence] if origin.chain else [],
            "basis": origin.chain.basis if origin.chain else None,
            "shares_a_source": _shared_rows(origin, with_passages=sources is not None),
        },
        "copies": rows,
    }


def story_tree(store: Store, url: str) -> Tree:
    """The story holding `url` as a tree: the origin, then each copy under the copy it was taken from."""
    origin, copies = story_members(store, url)
    root = Tree(_label(origin, origin))
    nodes = {origin.url: root}
    pending = list(copies)
    while pending:  # parents before children; a parent outside the story hangs its copies on the origin
        waiting = {c.url for c in pending}
        ready = [c for c in pending if c.parent not in waiting] or pending
        for copy in ready:
            nodes[copy.url] = nodes.get(copy.parent, root).add(_label(copy, origin))
        pending = [c for c in pending if c.url not in nodes]
    return root


def story_summaries(store: Store, order: str = "size", limit: int = 20) -> list[dict]:
    """The largest (`order="size"`) or newest (`"new"`) stories: id, size and their origin."""
    summaries = []
    for story_id, size in store.list_stories(order=order, limit=limit):
        members = store.story_members(story_id)
        origin = next((m for m in members if m.is_origin), members[0])
        newest = max((m.published for m in members if m.published), default=None)
        summaries.append({"story_id": story_id, "size": size, "newest": _iso(newest), "origin": _identity(origin)})
    return summaries


def stories_table(summaries: list[dict]) -> Table:
    table = Table(title="Stories")
    for column in ("story", "copies", "origin outlet", "published", "newest copy", "title"):
        table.add_column(column)
    for s in summaries:
        origin = s["origin"]
        table.add_row(s["story_id"], str(s["size"] - 1), origin["outlet"], _day(origin["published"]),
                      _day(s["newest"]), origin["title"] or origin["url"])
    return table


def iter_export_rows(store: Store) -> Iterator[dict]:
    """One row per article, in URL order, for `export --format jsonl`."""
    for article in store.iter_articles():
        yield {**_copy_row(article), "domain": article.domain, "story_id": article.story_id, "is_origin": article.is_origin}


def _identity(article: Article) -> dict:
    return {"url": article.url, "outlet": article.outlet, "title": article.title, "published": _iso(article.published)}


def _copy_row(copy: Article) -> dict:
    chain = copy.chain
    return {
        **_identity(copy),
        "parent": copy.parent,
        "coverage": chain.coverage if chain else None,
        "added_share": chain.added_share if chain else None,
        "lag_seconds": chain.lag_seconds if chain else None,
        "kind": chain.kind if chain else None,
        "confidence": chain.confidence if chain else None,
        "evidence": [asdict(e) for e in chain.evidence] if chain else [],
    }


def _shared_rows(article: Article, with_passages: bool) -> list[dict]:
    rows = []
    for shared in article.chain.shared_sources if article.chain else []:
        row = {"url": shared.url, "words": shared.words}
        if with_passages:
            row["passages"] = [{"this": list(own), "other": list(other)} for own, other in zip(shared.own, shared.other)]
        rows.append(row)
    return rows


def _label(article: Article, origin: Article) -> Text:
    label = Text()
    label.append(article.outlet, style="bold")
    label.append(f"  {_day(_iso(article.published)) or 'no date'}")
    chain = article.chain
    if article.url == origin.url:
        label.append("  origin", style="green")
        if chain and chain.basis == "weak":
            label.append("  (chosen on weak ground: no credit, dates missing or unreliable)", style="dim")
    elif chain:
        lag = f"+{_duration(chain.lag_seconds)}" if chain.lag_seconds is not None else "lag unknown"
        label.append(f"  {lag}  {chain.kind}  {chain.coverage:.0%} of origin, {chain.added_share:.0%} added", style="cyan")
        label.append(f"  confidence {chain.confidence:.2f}", style="dim")
    label.append(f"\n{article.title or '(no title)'}\n{article.url}", style="dim")
    if chain and chain.evidence:
        shown = "; ".join(f"{e.kind}: {e.text[:60]}" for e in chain.evidence[:3])
        more = f" (+{len(chain.evidence) - 3} more)" if len(chain.evidence) > 3 else ""
        label.append(f"\nevidence: {shown}{more}", style="yellow")
    if chain and chain.shared_sources:
        others = ", ".join(f"{s.url} ({s.words} words)" for s in chain.shared_sources[:3])
        more = f" (+{len(chain.shared_sources) - 3} more)" if len(chain.shared_sources) > 3 else ""
        label.append(f"\nshares a source with: {others}{more}", style="magenta")
    return label


def _duration(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h" if days else f"{hours}h {minutes}m" if hours else f"{minutes}m"


def _by_date(article: Article) -> tuple:
    return (article.published is None, article.published.isoformat() if article.published else "", article.url)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _day(iso: str | None) -> str:
    return iso[:10] if iso else ""
