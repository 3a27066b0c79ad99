"""Commands that work on what is already gathered, or gather the past: `backfill`, `reextract`, `relink`.

All three write, so each holds the data dir's lock (pipelines/run_lock.py) like `run`; all three can be
killed and run again: they continue where they stopped and add nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from crawlers.config_files import ConfigError
from pipelines.cli.common import (AsJson, ConfigFile, DataDir, ExitCode, StoreUrl, Verbose, app, friendly_errors,
                                  open_pipeline, print_json, settings_from)
from pipelines.logs import console, setup_logging
from pipelines.run_lock import hold_data_dir
from pipelines.stores.base import StoreError

if TYPE_CHECKING:
    from pipelines.maintenance import JobReport

Restart = Annotated[bool, typer.Option("--restart", help="Start over instead of resuming an interrupted run.")]
OUTCOME_CODES = {"ok": ExitCode.OK, "sources_failed": ExitCode.SOURCES_FAILED, "failed": ExitCode.FAILED}


@app.command()
@friendly_errors
def backfill(
    source: Annotated[str, typer.Argument(help="The source's key in config/sources.yaml, e.g. sputnik or antimedia.")],
    since: Annotated[datetime, typer.Option("--since", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help="First day (UTC) to gather.")],
    until: Annotated[datetime | None, typer.Option("--until", formats=["%Y-%m-%d"], metavar="YYYY-MM-DD", help="Last day (UTC) to gather; default: today.")] = None,
    data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
    as_json: AsJson = False,
) -> None:
    """Gather a source's articles between two dates: from its sitemaps and listings, or, for an archive-only
    outlet, from the web archive's captures. Safe to kill and run again."""
    from crawlers.backfill import BackfillPlan, BackfillSpider, Window
    from pipelines.alerts import after_cycle
    from pipelines.cli.gather import crawl_with_progress

    setup_logging(verbose)
    if until is not None and until < since:
        raise ConfigError(f"--until {until:%Y-%m-%d} is before --since {since:%Y-%m-%d}")
    settings = settings_from(data_dir, store, config)
    with hold_data_dir(settings.data_dir), open_pipeline(settings, require_store=False) as pipeline:
        chosen = pipeline.sources.get(source)
        if chosen is None:
            raise ConfigError(f"no source '{source}' in {pipeline.sources.path}; "
                              f"known: {', '.join(s.key for s in pipeline.sources)}")
        plan = BackfillPlan(chosen, Window.of_days(since.date(), until.date() if until else None))
        summary = crawl_with_progress(pipeline, verbose, [(BackfillSpider, {"plan": plan})])
        after_cycle(settings, pipeline.store)  # saved-search alerts, as after a cycle; a failure is one log line
    code = OUTCOME_CODES[summary.outcome]
    c = summary.counters
    if as_json:
        print_json({"source": source, "since": plan.window.since, "until": plan.window.until, "outcome": summary.outcome,
                    "exit_code": int(code), "new_articles": summary.new_articles, "counters": c,
                    "store_error": summary.store_error})
    else:
        console.print(
            f"Backfill of {source}, {plan.window.describe()}: {c.get('page/discovered', 0)} new page(s) found "
            f"({c.get('backfill/already_known', 0)} already known, {c.get('page/resumed', 0)} resumed), "
            f"{c.get('page/fetched', 0)} fetched, {summary.new_articles} new article(s)."
        )
        if summary.store_error:
            console.print(f"[bold red]The store was unavailable:[/] {summary.store_error}\n"
                          "Fetched pages are kept in the crawl state and will be indexed by the next run.")
        elif summary.failed_sources:
            console.print("[bold yellow]Discovery failed[/] (the line above says where); run the backfill again.")
    raise typer.Exit(code)


@app.command()
@friendly_errors
def reextract(
    source: Annotated[str | None, typer.Option("--source", help="Only this source's pages.")] = None,
    restart: Restart = False, data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None,
    verbose: Verbose = False, as_json: AsJson = False,
) -> None:
    """Extract every archived page again (after an extraction improvement), and relink what changed."""
    from pipelines.maintenance import reextract as reextract_pages

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    with hold_data_dir(settings.data_dir), open_pipeline(settings) as pipeline:
        if source is not None and pipeline.sources.get(source) is None:
            raise ConfigError(f"--source {source}: no such source in {pipeline.sources.path}")
        with _progress("re-extracting pages") as advance:
            report = reextract_pages(pipeline.processor, pipeline.state, source, restart, advance)
    _report("re-extracted", "page(s)", report, as_json)


@app.command()
@friendly_errors
def relink(restart: Restart = False, data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None,
           verbose: Verbose = False, as_json: AsJson = False) -> None:
    """Rebuild every fingerprint and syndication chain (after linking or boilerplate learning improved)."""
    from pipelines.maintenance import JobReport, relink as relink_articles

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    with hold_data_dir(settings.data_dir), open_pipeline(settings) as pipeline:
        linker = pipeline.processor.linker
        if linker is None:
            raise ConfigError("link.enabled is false in the settings: nothing to relink")
        with _progress("relinking articles") as advance:
            try:
                report = relink_articles(linker, pipeline.store, pipeline.state, restart, advance)
            except StoreError as exc:
                report = JobReport(total=0, store_error=str(exc))
    _report("relinked", "article(s)", report, as_json)


@contextmanager
def _progress(what: str) -> Iterator:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # not for read commands

    columns = (TextColumn(what), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(what, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def _report(done: str, unit: str, report: JobReport, as_json: bool) -> None:
    code = ExitCode.FAILED if report.store_error else ExitCode.OK
    if as_json:
        print_json({"total": report.total, "done": report.done, "resumed_after": report.resumed_after,
                    "counters": dict(sorted(report.counters.items())), "store_error": report.store_error,
                    "exit_code": int(code)})
    else:
        resumed = f" (resumed after {report.resumed_after} done by an interrupted run)" if report.resumed_after else ""
        counts = ", ".join(f"{k}={v}" for k, v in sorted(report.counters.items())) or "nothing changed"
        console.print(f"{report.done} of {report.total} {unit} {done}{resumed}: {counts}.")
        if report.store_error:
            console.print(f"[bold red]The store was unavailable:[/] {report.store_error}\nRun the command again: "
                          "it resumes where it stopped.")
    raise typer.Exit(code)
