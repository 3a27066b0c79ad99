"""Commands that gather: `run`, `demo` and `import`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from crawlers.config_files import ConfigError
from pipelines.cli.common import (AsJson, ConfigFile, DataDir, ExitCode, StoreUrl, Verbose, Workers, app, friendly_errors,
                                  open_pipeline, out, print_json, settings_from, worker_settings)
from pipelines.logs import console, setup_logging, tell
from pipelines.run_lock import hold_data_dir

if TYPE_CHECKING:
    from pipelines.cycle import Pipeline, RunSummary


@app.command()
@friendly_errors
def run(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
        all_feeds: Annotated[bool, typer.Option("--all-feeds", help="Poll every feed, due or not.")] = False,
        only: Annotated[list[str] | None, typer.Option("--source", help="Poll only this source's feeds, due or not (repeatable).")] = None,
        as_json: AsJson = False, workers: Workers = None) -> None:
    """One full cycle over the configured sources: poll, fetch, extract, link, index."""
    setup_logging(verbose)
    feed_options = {"ignore_schedule": all_feeds, "only_sources": only}
    settings = settings_from(data_dir, store, config, feeds={k: v for k, v in feed_options.items() if v} or None,
                             process=worker_settings(workers))
    with hold_data_dir(settings.data_dir), open_pipeline(settings, require_store=False) as pipeline:
        unknown = [key for key in only or () if pipeline.sources.get(key) is None]
        if unknown:
            raise ConfigError(f"--source {unknown[0]}: no such source in {pipeline.sources.path}")
        summary = crawl_with_progress(pipeline, verbose)
        from pipelines.alerts import after_cycle

        after_cycle(settings, pipeline.store)  # saved-search alerts; a failure is one log line, the cycle stands
    raise typer.Exit(report_run(summary, as_json))


@app.command()
@friendly_errors
def demo(data_dir: DataDir = None, store: StoreUrl = None, verbose: Verbose = False, as_json: AsJson = False) -> None:
    """Start the local replay web, run the same cycle against it (and the backfill of the archive-only outlets
    from the web archive), and show what was gathered per outlet."""
    from crawlers.backfill import archive_backfills
    from crawlers.replay.server import ReplayWeb
    from crawlers.spiders import CycleSpider

    setup_logging(verbose)
    with ReplayWeb() as replay_url:
        settings = settings_from(data_dir, store, None, feeds={"ignore_schedule": True}, fetch={"replay_url": replay_url, "politeness_scale": 0})
        with hold_data_dir(settings.data_dir), open_pipeline(settings) as pipeline:
            # The archive first: the defunct outlet's originals are in the store before the copies that credit them.
            summary = crawl_with_progress(pipeline, verbose, [*archive_backfills(pipeline.sources), (CycleSpider, {})])
            from pipelines.alerts import after_cycle

            after_cycle(settings, pipeline.store)
            stats = pipeline.store.stats()
            originated = originated_stories(pipeline.store)
    if as_json:
        print_json({"run": summary.counters, "articles": stats.articles, "by_outlet": stats.by_outlet, "stories": stats.stories})
        return
    code = report_run(summary, False)
    table = Table("outlet", "articles", "stories originated", title=f"Gathered from the replay web ({settings.data_dir})",
                  caption="stories originated: stories of two or more copies whose origin is the outlet")
    for outlet, count in stats.by_outlet.items():
        table.add_row(outlet, str(count), str(originated.get(outlet, "")))
    table.add_row("[bold]all[/]", f"[bold]{stats.articles}[/] in {stats.stories} stories")
    out.print(table)
    raise typer.Exit(code)


def originated_stories(store) -> dict[str, int]:
    """Per outlet, the stories it is the origin of that were republished (stories of two or more copies)."""
    counts: dict[str, int] = {}
    for story_id, size in store.list_stories("size", limit=10_000):
        origin = next((m for m in store.story_members(story_id) if m.is_origin), None) if size > 1 else None
        if origin is not None:
            counts[origin.outlet] = counts.get(origin.outlet, 0) + 1
    return counts


def crawl_with_progress(pipeline: Pipeline, verbose: bool, spiders: list | None = None) -> RunSummary:
    """Run the pipeline's crawl (the cycle, or the given `spiders`) with a progress bar of pages fetched."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipelines.cycle import count_pages

    columns = (TextColumn("fetching pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("fetch", total=None)
        pages: dict[object, tuple[int, int]] = {}  # per crawler (the demo runs two): pages done, pages known

        def track(crawler) -> None:
            def advance(done: int, known: int) -> None:
                pages[crawler] = (done, known)
                progress.update(task, completed=sum(d for d, _ in pages.values()), total=sum(k for _, k in pages.values()))

            count_pages(crawler, advance)

        summary = pipeline.run(verbose=verbose, on_crawler=track, spiders=spiders)
    return summary


def report_run(summary: RunSummary, as_json: bool) -> ExitCode:
    """Print the run's outcome; return the exit code that says it (README, "Exit codes")."""
    code = {"ok": ExitCode.OK, "sources_failed": ExitCode.SOURCES_FAILED, "failed": ExitCode.FAILED}[summary.outcome]
    if as_json:
        print_json({"outcome": summary.outcome, "exit_code": int(code), "counters": summary.counters,
                    "new_articles": summary.new_articles, "failed_sources": summary.failed_sources,
                    "store_error": summary.store_error})
        return code
    c = summary.counters
    tell(
        f"{summary.new_articles} new article(s). Feeds: {c.get('feed/polled', 0)} read, "
        f"{c.get('feed/not_modified', 0)} not modified, {c.get('feed/unchanged', 0)} unchanged, "
        f"{c.get('feed/failed', 0)} failed. Pages: {c.get('page/fetched', 0)} fetched, "
        f"{sum(v for k, v in c.items() if k.startswith('fetch/'))} failed."
    )
    if summary.outcome == "ok" and not summary.new_articles:
        tell("Nothing new: unchanged feeds were not fetched again and no article was added.")
    if summary.failed_sources:
        tell(f"[bold yellow]Sources that failed:[/] {', '.join(summary.failed_sources)} "
             "(each has a line above; they are retried with backoff).")
    if summary.store_error:
        tell(f"[bold red]The store was unavailable:[/] {summary.store_error}\n"
             "Fetched pages are kept in the crawl state and will be indexed by the next run.")
    return code


@app.command("import")
@friendly_errors
def import_(file: Annotated[Path, typer.Argument(help="A JSON Lines file of {url, title, text, published, html?}.", exists=True, dir_okay=False)],
            data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
            workers: Workers = None) -> None:
    """Import documents gathered elsewhere; they enter the pipeline after the fetch step."""
    from pipelines.importer import import_file

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config, process=worker_settings(workers))
    with hold_data_dir(settings.data_dir), open_pipeline(settings) as pipeline:
        imported, rejected = import_file(file, pipeline.processor, settings.importer.max_document_bytes)
        error = pipeline.processor.store_error
    console.print(f"{imported} document(s) imported, {rejected} rejected.")
    if error:
        console.print(f"[bold red]The store was unavailable:[/] {error}")
        raise typer.Exit(1)
    if rejected:  # the lines above name each one; a script must not take a partial import for a full one
        raise typer.Exit(ExitCode.FAILED)
