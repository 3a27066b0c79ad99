"""The `storytrail` command line.

Errors become friendly one-line messages here, at the edge, and nowhere deeper. Every command takes
`--data-dir` (default ./data, or STORYTRAIL_DATA_DIR); commands that print results take `--json`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.console import Console
from rich.table import Table

from crawlers.sources import ConfigError
from crawlers.urls import normalize_url
from pipelines.cycle import Pipeline, RunSummary, count_pages
from pipelines.migrate import migrate
from pipelines.story_report import StoryNotFound, iter_export_rows, stories_table, story_json, story_summaries, story_tree
from pipelines.logs import console, setup_logging
from pipelines.query import QueryError
from pipelines.settings import Settings, describe_settings, load_settings
from pipelines.stores.base import StoreError
from pipelines.stores.factory import open_store

# Results go to standard output, logs and progress to standard error; piped output is not cut at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)

app = typer.Typer(help="Follow how news stories are republished across sites.", no_args_is_help=True, add_completion=False)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where storytrail keeps its data [default: ./data].", envvar="STORYTRAIL_DATA_DIR")]
StoreUrl = Annotated[str | None, typer.Option("--store", help="sqlite:///path.db or https://host:9200 [default: SQLite in the data dir].", envvar="STORYTRAIL_STORE")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="A TOML settings file.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log detail, and Scrapy's own lines.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def friendly_errors(command: Callable) -> Callable:
    """Turn expected failures into one clear line and exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ConfigError, StoreError, QueryError) as exc:
            console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def settings_from(data_dir: Path | None, store: str | None, config: Path | None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, **overrides}
    if store:
        values["store"] = {"url": store}
    return load_settings(config, values)


@contextmanager
def open_pipeline(settings: Settings, require_store: bool = True) -> Iterator[Pipeline]:
    pipeline = Pipeline.from_settings(settings, require_store)
    try:
        yield pipeline
    finally:
        pipeline.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


# -- gathering ------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def run(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
        all_feeds: Annotated[bool, typer.Option("--all-feeds", help="Poll every feed, due or not.")] = False,
        as_json: AsJson = False) -> None:
    """One full cycle over the configured sources: poll, fetch, extract, link, index."""
    setup_logging(verbose)
    settings = settings_from(data_dir, store, config, feeds={"ignore_schedule": True} if all_feeds else None)
    with open_pipeline(settings, require_store=False) as pipeline:
        summary = crawl_with_progress(pipeline, verbose)
    report_run(summary, as_json)


@app.command()
@friendly_errors
def demo(data_dir: DataDir = None, store: StoreUrl = None, verbose: Verbose = False, as_json: AsJson = False) -> None:
    """Start the local replay web, run the same cycle against it, and show what was gathered per outlet."""
    from crawlers.replay.server import ReplayWeb

    setup_logging(verbose)
    with ReplayWeb() as replay_url:
        settings = settings_from(data_dir, store, None, feeds={"ignore_schedule": True}, fetch={"replay_url": replay_url, "politeness_scale": 0})
        with open_pipeline(settings) as pipeline:
            summary = crawl_with_progress(pipeline, verbose)
            stats = pipeline.store.stats()
    if as_json:
        print_json({"run": summary.counters, "articles": stats.articles, "by_outlet": stats.by_outlet, "stories": stats.stories})
        return
    report_run(summary, False)
    table = Table("outlet", "articles", title=f"Gathered from the replay web ({settings.data_dir})")
    for outlet, count in stats.by_outlet.items():
        table.add_row(outlet, str(count))
    table.add_row("[bold]all[/]", f"[bold]{stats.articles}[/] in {stats.stories} stories")
    out.print(table)


def crawl_with_progress(pipeline: Pipeline, verbose: bool) -> RunSummary:
    columns = (TextColumn("fetching pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("fetch", total=None)
        summary = pipeline.run(
            verbose=verbose,
            on_crawler=lambda crawler: count_pages(crawler, lambda done, known: progress.update(task, completed=done, total=known)),
        )
    return summary


def report_run(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        print_json({"counters": summary.counters, "new_articles": summary.new_articles, "store_error": summary.store_error})
        if summary.store_error:
            raise typer.Exit(1)
        return
    c = summary.counters
    console.print(
        f"{summary.new_articles} new article(s). Feeds: {c.get('feed/polled', 0)} read, "
        f"{c.get('feed/not_modified', 0)} not modified, {c.get('feed/unchanged', 0)} unchanged, "
        f"{c.get('feed/failed', 0)} failed. Pages: {c.get('page/fetched', 0)} fetched, "
        f"{sum(v for k, v in c.items() if k.startswith('fetch/'))} failed."
    )
    if not summary.new_articles and not c.get("feed/failed") and not summary.store_error:
        console.print("Nothing new: unchanged feeds were not fetched again and no article was added.")
    if summary.store_error:
        console.print(f"[bold red]The store was unavailable:[/] {summary.store_error}\n"
                      "Fetched pages are kept in the crawl state and will be indexed by the next run.")
        raise typer.Exit(1)


@app.command("import")
@friendly_errors
def import_(file: Annotated[Path, typer.Argument(help="A JSON Lines file of {url, title, text, published, html?}.", exists=True, dir_okay=False)],
            data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False) -> None:
    """Import documents gathered elsewhere; they enter the pipeline after the fetch step."""
    from pipelines.importer import import_file

    setup_logging(verbose)
    with open_pipeline(settings_from(data_dir, store, config)) as pipeline:
        imported, rejected = import_file(file, pipeline.processor)
        error = pipeline.processor.store_error
    console.print(f"{imported} document(s) imported, {rejected} rejected.")
    if error:
        console.print(f"[bold red]The store was unavailable:[/] {error}")
        raise typer.Exit(1)


# -- reading --------------------------------------------------------------------------------------
@app.command()
@friendly_errors
def search(query: Annotated[str, typer.Argument(help='Lucene-style: "exact phrase" AND outlet:sputnik NOT title:ukraine')],
           data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None,
           limit: Annotated[int, typer.Option(help="Most hits to show.")] = 20,
           collapse: Annotated[bool, typer.Option("--collapse/--all-copies", help="One hit per story.")] = False,
           as_json: AsJson = False) -> None:
    """Search the stored articles."""
    setup_logging(False)
    with open_pipeline(settings_from(data_dir, store, config)) as pipeline:
        hits = pipeline.store.search(query, limit=limit, collapse_stories=collapse)
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
    table = Table("published", "outlet", "title", "url", title=f"{len(rows)} hit(s) for {query}")
    for row in rows:
        table.add_row((row["published"] or "")[:10], row["outlet"], row["title"] or "", row["url"])
    out.print(table)


@app.command()
@friendly_errors
def stats(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, as_json: AsJson = False) -> None:
    """Articles per outlet, and when each source was last polled and fetched."""
    setup_logging(False)
    with open_pipeline(settings_from(data_dir, store, config)) as pipeline:
        store_stats = pipeline.store.stats()
        feeds = pipeline.state.list_feeds()
        pages = pipeline.state.count_by_status()
        last_run = pipeline.state.last_run()
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
def story(url: Annotated[str, typer.Argument(help="Any copy's URL: the whole story is shown.")],
          data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, as_json: AsJson = False,
          passages: Annotated[bool, typer.Option("--passages", help="With --json: the copied passages as character offsets.")] = False) -> None:
    """The syndication chain of the story holding URL: its origin, then every copy."""
    setup_logging(False)
    with open_pipeline(settings_from(data_dir, store, config)) as pipeline:
        key = normalize_url(url)
        try:
            if as_json:
                print_json(story_json(pipeline.store, key, pipeline.sources if passages else None, pipeline.settings.link))
            else:
                out.print(story_tree(pipeline.store, key))
        except StoryNotFound as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None


@app.command()
@friendly_errors
def stories(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, as_json: AsJson = False,
            order: Annotated[str, typer.Option(help="size (largest first) or new (newest first).")] = "size",
            limit: Annotated[int, typer.Option(help="How many stories.")] = 20) -> None:
    """The largest or newest stories."""
    if order not in ("size", "new"):
        raise typer.BadParameter("--order is size or new")
    setup_logging(False)
    with open_pipeline(settings_from(data_dir, store, config)) as pipeline:
        summaries = story_summaries(pipeline.store, order, limit)
    if as_json:
        print_json(summaries)
    else:
        out.print(stories_table(summaries))


@app.command()
@friendly_errors
def export(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None,
           format_: Annotated[str, typer.Option("--format", help="jsonl: one JSON object per article.")] = "jsonl",
           output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of standard output.")] = None) -> None:
    """Every article with its story and place in the chain."""
    if format_ != "jsonl":
        raise typer.BadParameter("the only format is jsonl")
    setup_logging(False)
    with open_pipeline(settings_from(data_dir, store, config)) as pipeline:
        sink = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for row in iter_export_rows(pipeline.store):
                sink.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        finally:
            if output:
                sink.close()


# -- stores ---------------------------------------------------------------------------------------
@app.command("migrate")
@friendly_errors
def migrate_(to: Annotated[str, typer.Option("--to", help="The store to copy into: sqlite:///path.db or https://host:9200.")],
             data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
             batch_size: Annotated[int, typer.Option(help="Articles per batch (and per checkpoint).")] = 500) -> None:
    """Copy the store into another; an interrupted copy resumes, and copying twice changes nothing."""
    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    checkpoint = settings.data_dir / f"migrate-{hashlib.sha1(to.encode()).hexdigest()[:12]}.checkpoint"
    with open_store(settings.store_url, settings=settings.store) as source, open_store(to, settings=settings.store) as target:
        result = migrate(source, target, batch_size, checkpoint)
    written = result.written
    console.print(f"{result.copied} article(s) copied ({written.added} new, {written.updated} updated, "
                  f"{written.unchanged} unchanged), {result.fingerprinted} fingerprint set(s)"
                  + (f", resumed after {result.resumed_after}" if result.resumed_after else "") + ".")


# -- settings -------------------------------------------------------------------------------------
@app.command("config")
@friendly_errors
def config_(help_settings: Annotated[bool, typer.Option("--help-settings", help="List every setting with its default.")] = False,
            markdown: Annotated[bool, typer.Option("--markdown", help="With --help-settings: a Markdown table (the README's).")] = False,
            data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None) -> None:
    """Show the settings in force (or, with --help-settings, every setting and its default)."""
    if help_settings and markdown:
        sys.stdout.write("| setting | default | meaning |\n|---|---|---|\n")
        for name, default, help_text in describe_settings():
            sys.stdout.write(f"| `{name}` | `{default}` | {help_text.replace('|', '/')} |\n")
        return
    if help_settings:
        table = Table("setting", "default", "meaning")
        for name, default, help_text in describe_settings():
            table.add_row(name, default, help_text)
        out.print(table)
        return
    settings = settings_from(data_dir, store, config)
    print_json(settings.model_dump(mode="json"))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
