"""Commands that manage stores and settings: `migrate` and `config`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.common import ConfigFile, DataDir, StoreUrl, Verbose, app, friendly_errors, out, print_json, settings_from
from pipelines.logs import console, setup_logging
from pipelines.settings import describe_settings
from pipelines.stores.credentials import redact_url
from pipelines.stores.factory import open_store


@app.command("migrate")
@friendly_errors
def migrate_(to: Annotated[str, typer.Option("--to", help="The store to copy into: sqlite:///path.db or https://host:9200.")],
             data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
             batch_size: Annotated[int, typer.Option(help="Articles per batch (and per checkpoint).")] = 500) -> None:
    """Copy the store into another; an interrupted copy resumes, and copying twice changes nothing. Holds the
    data dir's lock: no run writes while it copies."""
    from pipelines.migrate import checkpoint_key, checkpoint_path, migrate
    from pipelines.run_lock import hold_data_dir

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    # A run writing while the copy reads could leave articles behind the checkpoint: one writer at a time.
    with hold_data_dir(settings.data_dir), open_store(settings.store_url, settings=settings.store) as source, \
            open_store(to, settings=settings.store) as target:
        key = checkpoint_key(settings.store_url, to, settings.store.index_prefix, target)
        result = migrate(source, target, batch_size, checkpoint_path(settings.data_dir, key), key)
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
    shown = settings.model_dump(mode="json")
    if shown["store"]["url"]:  # the settings file may hold a URL with a password in it: never print it
        shown["store"]["url"] = redact_url(shown["store"]["url"])
    print_json(shown)
