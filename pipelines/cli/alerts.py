"""`storytrail alerts ...`: saved searches and watched stories, sent by e-mail (pipelines/alerts/)."""

from __future__ import annotations

import sqlite3
import sys
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.common import (AsJson, ConfigFile, DataDir, ExitCode, StoreUrl, Verbose, app, friendly_errors, out,
                                  print_json, settings_from)
from pipelines.logs import console, setup_logging

alerts_app = typer.Typer(help="Saved searches and watched stories, sent by e-mail: one entry per story.",
                         no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

Every = Annotated[str, typer.Option("--every", help="immediate (each run), daily or weekly digest.")]
To = Annotated[str, typer.Option("--to", help="Recipient address(es), comma-separated.")]


@alerts_app.command("add")
@friendly_errors
def add(name: Annotated[str, typer.Argument(help="A short name: letters, digits, - and _.")],
        query: Annotated[str, typer.Option("--query", help="The search, in `storytrail search` syntax.")],
        to: To, every: Every = "immediate",
        start: Annotated[str | None, typer.Option("--from", help="Alert on what was indexed since this date (default: from now on).")] = None,
        data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Save a search; from now on (or --from DATE) each new matching story is sent once."""
    from pipelines.alerts import open_db
    from pipelines.alerts.saved_searches import AlertInputError, new_search

    setup_logging(False)
    settings = settings_from(data_dir, None, config)
    search = new_search(name, query, to, every, start)
    db = open_db(settings)
    try:
        db.add(search)
    except sqlite3.IntegrityError:
        raise AlertInputError(f"a saved search named {name!r} exists already (`storytrail alerts remove {name}` first)") from None
    finally:
        db.close()
    console.print(f"saved search {name}: {query} -> {', '.join(search.recipients)} ({every}), "
                  f"from {search.start:%Y-%m-%d %H:%M} UTC")


@alerts_app.command("watch")
@friendly_errors
def watch(story: Annotated[str, typer.Argument(help="A story id (from `storytrail stories`) or the URL of any of its copies.")],
          to: To, every: Every = "immediate",
          name: Annotated[str | None, typer.Option("--name", help="Name of the watch [default: watch-<story id>].")] = None,
          data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None) -> None:
    """Follow one story: each new copy of it is sent once."""
    from crawlers.urls import normalize_url
    from pipelines.alerts import open_db
    from pipelines.alerts.evaluation import story_key
    from pipelines.alerts.ledger import Seen
    from pipelines.alerts.saved_searches import AlertInputError, SavedSearch, check_addresses, check_name, check_schedule
    from pipelines.stores.factory import open_store

    setup_logging(False)
    settings = settings_from(data_dir, store, config)
    with open_store(settings.store_url, settings=settings.store) as opened:
        members = opened.story_members(story) if "://" not in story else []
        if not members:
            anchor = opened.get(normalize_url(story)) if "://" in story else None
            if anchor is None:
                raise AlertInputError(f"no story {story!r} in the store (give a story id or a stored URL)")
            members = opened.story_members(anchor.story_id) if anchor.story_id else [anchor]
    key = story_key(members[0])
    search = SavedSearch(name=check_name(name or f"watch-{key}"[:64]), recipients=check_addresses(to),
                         every=check_schedule(every), watch_url=members[0].url)
    db = open_db(settings)
    try:
        db.add(search, [Seen(m.url, m.outlet, key) for m in members])
    except sqlite3.IntegrityError:
        raise AlertInputError(f"a saved search named {search.name!r} exists already") from None
    finally:
        db.close()
    console.print(f"watching story {key} ({len(members)} copies so far) as {search.name} -> {', '.join(search.recipients)}")


@alerts_app.command("list")
@friendly_errors
def list_(data_dir: DataDir = None, config: ConfigFile = None, as_json: AsJson = False) -> None:
    """Saved searches and watches, with what each has sent and what waits."""
    from pipelines.alerts import open_db, sync_config_searches

    setup_logging(False)
    settings = settings_from(data_dir, None, config)
    db = open_db(settings)
    try:
        sync_config_searches(db, settings.alerts.searches_file)
        searches, counts = db.searches(), db.counts()
    finally:
        db.close()
    rows = [{"name": s.name, "query": s.query, "watch_url": s.watch_url, "to": s.recipients, "every": s.every,
             "declared_in": "alerts add" if s.origin == "cli" else str(settings.alerts.searches_file),
             "start": s.start.isoformat(), "evaluated_until": s.watermark.isoformat(),
             "stories": counts.get(s.name, {}).get("stories", 0), "waiting": counts.get(s.name, {}).get("waiting", 0),
             "messages_sent": counts.get(s.name, {}).get("sent", 0)} for s in searches]
    if as_json:
        print_json(rows)
        return
    table = Table("name", "query / story", "to", "every", "evaluated until", "stories", "waiting", "sent",
                  title=f"{len(rows)} saved search(es)")
    for row in rows:
        table.add_row(row["name"], row["query"] or f"story {row['watch_url']}", ", ".join(row["to"]), row["every"],
                      row["evaluated_until"][:16], str(row["stories"]), str(row["waiting"]), str(row["messages_sent"]))
    out.print(table)


@alerts_app.command("remove")
@friendly_errors
def remove(name: str, data_dir: DataDir = None, config: ConfigFile = None) -> None:
    """Delete a saved search or watch, with its ledger and waiting entries."""
    from pipelines.alerts import open_db
    from pipelines.alerts.saved_searches import AlertInputError

    setup_logging(False)
    settings = settings_from(data_dir, None, config)
    db = open_db(settings)
    try:
        search = db.get(name)
        if search is None:
            raise AlertInputError(f"no saved search named {name!r} (see `storytrail alerts list`)")
        if search.origin == "config":
            raise AlertInputError(f"{name} is declared in {settings.alerts.searches_file}; remove it there")
        db.remove(name)
    finally:
        db.close()
    console.print(f"removed saved search {name}")


@alerts_app.command("preview")
@friendly_errors
def preview_(name: str, data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None) -> None:
    """Print exactly what the next run would send for this search; nothing is sent or recorded."""
    from pipelines.alerts import preview
    from pipelines.stores.factory import open_store

    setup_logging(False)
    settings = settings_from(data_dir, store, config)
    with open_store(settings.store_url, settings=settings.store) as opened:
        what, text = preview(settings, opened, name)
    console.print(what)
    sys.stdout.write(text)  # as it would be sent: not re-wrapped to the terminal


@alerts_app.command("run")
@friendly_errors
def run_(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
         as_json: AsJson = False) -> None:
    """Evaluate every saved search now and send what is due (a cycle does this at its end)."""
    from pipelines.alerts import run_alerts
    from pipelines.stores.factory import open_store

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    with open_store(settings.store_url, settings=settings.store) as opened:
        summary = run_alerts(settings, opened)
    if as_json:
        print_json(summary.__dict__)
    else:
        console.print(f"{summary.searches} search(es): {summary.entries} new entr(ies), {summary.sent} message(s) sent, "
                      f"{summary.waiting} entr(ies) waiting" + (f" (mail: {summary.mail_error})" if summary.mail_error else ""))
    if summary.mail_error:
        raise typer.Exit(ExitCode.FAILED)
