"""Commands for running unattended: `schedule` (the daemon) and `status` (how each source is doing)."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.table import Table

from pipelines.cli.common import AsJson, ConfigFile, DataDir, StoreUrl, Verbose, app, friendly_errors, out, print_json, settings_from
from pipelines.logs import console, setup_logging
from pipelines.run_lock import hold_data_dir


@app.command()
@friendly_errors
def schedule(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False) -> None:
    """Run as a daemon: poll each source at its own adapted interval, one cycle at a time, until SIGTERM."""
    from crawlers.sources import load_sources
    from pipelines.scheduler import Daemon, child_options

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    sources = load_sources(settings.sources_file)
    with hold_data_dir(settings.data_dir) as lock_fd:
        Daemon(settings, sources, child_options(settings, store, config, verbose), lock_fd).run_until_stopped()


@app.command()
@friendly_errors
def status(data_dir: DataDir = None, config: ConfigFile = None, as_json: AsJson = False) -> None:
    """Per source: last poll and fetch, new articles, failures, adapted interval, and what needs a look."""
    from crawlers.sources import load_sources
    from crawlers.state import CrawlState
    from pipelines.source_health import sources_health

    setup_logging(False)
    settings = settings_from(data_dir, None, config)
    sources = load_sources(settings.sources_file)
    state = CrawlState(settings.state_path) if settings.state_path.exists() else None
    now = datetime.now(timezone.utc)
    try:
        health = sources_health(sources, state, settings, now)
        last_run = state.last_run() if state else None
    finally:
        if state:
            state.close()
    if as_json:
        print_json({"checked_at": now.isoformat(), "data_dir": str(settings.data_dir),
                    "last_cycle": {"started": _iso(last_run[0]), "finished": _iso(last_run[1]), "counters": last_run[2]}
                    if last_run else None,
                    "sources": [h.as_json() for h in health]})
        return
    if state is None:
        console.print(f"Nothing gathered in {settings.data_dir} yet: `storytrail run` (or `schedule`) starts.")
    table = Table("source", "last poll", "last ok poll", "last fetch", "new 1d", "new 7d", "fails", "every", "next poll",
                  "warnings", title=f"Sources ({settings.data_dir}, {now:%Y-%m-%d %H:%M} UTC)")
    for h in health:
        table.add_row(h.key, _when(h.last_poll), _when(h.last_successful_poll), _when(h.last_fetch), str(h.new_last_day),
                      str(h.new_last_week), str(h.consecutive_failures),
                      f"{h.interval_min:g} min" if h.interval_min is not None else "-", _when(h.next_poll),
                      "\n".join(h.warnings), style="red" if h.failing else "yellow" if h.quiet else None)
    out.print(table)


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
