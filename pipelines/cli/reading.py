"""Commands that read the store: `search`, `stats`, `story` and `stories` (`export` is in research.py).

They open the store alone (`common.read_store`): never the crawl stack, never a crawl state they would
create; `stats` reads an existing state.db read-only. What only one command needs is imported inside it, and
the settings are validated only when a settings file or variable gives something to validate (`ReadSettings`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.cli.common import (AsJson, ConfigFile, DataDir, ExitCode, ReadSettings, StoreUrl, app, friendly_errors, out,
                                  print_json, read_store)
from pipelines.logs import console, setup_logging

if TYPE_CHECKING:
    from crawlers.sources import SourceRegistry
    from pipelines.stores.base import Store

# The most hits or stories one command prints; beyond it, use `export`.
MAX_LIMIT = 100_000


@app.command()
@friendly_errors
def search(query: Annotated[str, typer.Argument(help='Lucene-style: "exact phrase" AND outlet:sputnik NOT title:ukraine')],
           data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None,
           limit: Annotated[int, typer.Option(help="Most hits to show.", min=1, max=MAX_LIMIT)] = 20,
           collapse: Annotated[bool, typer.Option("--collapse/--all-copies", help="One hit per story.")] = False,
           as_json: AsJson = False) -> None:
    """Search the stored articles."""
    setup_logging(False)
    with read_store(ReadSettings(data_dir, store, config)) as opened:
        hits = opened.search(query, limit=limit, collapse_stories=collapse)
    rows = [
        {
            "url": h.article.url,
            "outlet": h.article.outlet,
            "title": h.article.title,
            "authors": h.article.authors,
            "published": h.article.published.isoformat() if h.article.published else None,
            "story_id": h.article.story_id,
            "is_origin": h.article.is_origin,
            "other_copies": h.copies,
            "score": round(h.score, 3),
        }
        for h in hits
    ]
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table("published", "outlet", "title", "url", title=f"{len(rows)} hit(s) for {query}")
    for row in rows:
        table.add_row((row["published"] or "")[:10], row["outlet"], row["title"] or "", row["url"])
    out.print(table)


@app.command()
@friendly_errors
def stats(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, as_json: AsJson = False) -> None:
    """Articles per outlet, and when each source was last polled and fetched."""
    setup_logging(False)
    settings = ReadSettings(data_dir, store, config)
    with read_store(settings) as opened:
        store_stats = opened.stats()
    feeds, pages, last_run = [], {}, None
    if settings.state_path.exists():  # a data dir that never ran a crawl has none, and gets none
        from crawlers.state import CrawlState

        state = CrawlState(settings.state_path, read_only=True)
        try:
            feeds, pages, last_run = state.list_feeds(), state.count_by_status(), state.last_run()
        finally:
            state.close()
    sources = {}
    for feed in feeds:
        entry = sources.setdefault(feed.source, {"last_poll": None, "feed_errors": []})
        if feed.last_polled_at and (entry["last_poll"] is None or feed.last_polled_at.isoformat() > entry["last_poll"]):
            entry["last_poll"] = feed.last_polled_at.isoformat()
        if feed.last_error:
            entry["feed_errors"].append(f"{feed.url}: {feed.last_error}")
    for outlet, when in store_stats.last_fetched.items():
        sources.setdefault(outlet, {"last_poll": None, "feed_errors": []})["last_fetch"] = when.isoformat()
    result = {
        "articles": store_stats.articles,
        "by_outlet": store_stats.by_outlet,
        "stories": store_stats.stories,
        "sources": sources,
        "pages": pages,
        "last_run": {"started": last_run[0], "finished": last_run[1], "counters": last_run[2]} if last_run else None,
    }
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    table = Table("outlet", "articles", "last poll", "last fetch", "feed errors", title=f"{store_stats.articles} articles, {store_stats.stories} stories")
    for outlet in sorted(set(sources) | set(store_stats.by_outlet)):
        entry = sources.get(outlet, {})
        table.add_row(outlet, str(store_stats.by_outlet.get(outlet, 0)), (entry.get("last_poll") or "-")[:16],
                      (entry.get("last_fetch") or "-")[:16], "\n".join(entry.get("feed_errors", [])))
    out.print(table)
    out.print(f"pages: {pages}")


# -- stories --------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def story(url: Annotated[str, typer.Argument(help="Any copy's URL, or a story id as `stories` prints it: the whole story is shown.")],
          data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, as_json: AsJson = False,
          passages: Annotated[bool, typer.Option("--passages", help="With --json: the copied passages, and those shared with other stories, as character offsets.")] = False) -> None:
    """The syndication chain of the story holding URL: its origin, then every copy."""
    from pipelines.story_report import StoryNotFound, story_json, story_tree

    setup_logging(False)
    settings = ReadSettings(data_dir, store, config)

    @cache
    def sources() -> SourceRegistry:
        """The sources file, read once and only when needed (a URL not stored as given, --passages)."""
        from crawlers.sources import load_sources

        return load_sources(settings.full.sources_file)

    with read_store(settings) as opened:
        try:
            key = _story_key(opened, sources, url)
            if as_json and passages:
                print_json(story_json(opened, key, sources(), settings.full.link))
            elif as_json:
                print_json(story_json(opened, key))
            else:
                out.print(story_tree(opened, key))
        except StoryNotFound as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(ExitCode.BAD_INPUT) from None


def _story_key(store: Store, sources: Callable[[], SourceRegistry], given: str) -> str:
    """The stored URL of a story named by any copy's URL or by its story id."""
    from crawlers.urls import normalize_url
    from pipelines.story_report import StoryNotFound, stored_url

    given = given.strip()
    if not given:
        raise StoryNotFound("give the URL of any copy, or a story id as `storytrail stories` prints it")
    if "://" not in given:
        members = store.story_members(given)
        if members:
            return members[0].url
        if "." not in given:
            raise StoryNotFound(f"no story with id {given!r}, and it is not a URL")
        given = "https://" + given
    try:
        if normalize_url(given) == given and store.get_many([given]):
            return given  # stored as given: no need to read the sources for its outlet's other domains
        return stored_url(store, sources(), given)
    except ValueError as exc:
        raise StoryNotFound(str(exc)) from None


@app.command()
@friendly_errors
def stories(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, as_json: AsJson = False,
            order: Annotated[str, typer.Option(help="size (largest first) or new (newest first).")] = "size",
            limit: Annotated[int, typer.Option(help="How many stories.", min=1, max=MAX_LIMIT)] = 20) -> None:
    """The largest or newest stories."""
    if order not in ("size", "new"):
        raise typer.BadParameter("--order is size or new")
    from pipelines.story_report import stories_table, story_summaries

    setup_logging(False)
    with read_store(ReadSettings(data_dir, store, config)) as opened:
        summaries = story_summaries(opened, order, limit)
    if as_json:
        print_json(summaries)
    else:
        out.print(stories_table(summaries))
