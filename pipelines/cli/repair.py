"""Commands that check and repair what storytrail keeps: `check` and `reindex`.

`check` only reads: are state.db and the SQLite store intact, and does the store hold every article the crawl
state marks indexed? `reindex` repairs the second: it looks every indexed page up in the store and indexes
again, from the archived HTML, each one the store lacks (after restoring an older store backup, or on a new
cluster). `run` does the same at its start whenever the cheap signs (the store's generation id, the counts)
say the two disagree (pipelines/store_state_check.py).
"""

from __future__ import annotations

import typer

from pipelines.cli.common import (AsJson, ConfigFile, DataDir, ExitCode, StoreUrl, Verbose, app, friendly_errors,
                                  open_pipeline, print_json, settings_from)
from pipelines.logs import console, setup_logging
from pipelines.run_lock import hold_data_dir


@app.command()
@friendly_errors
def check(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
          as_json: AsJson = False) -> None:
    """Check that state.db and the store are intact and agree; exit 1 when they do not (`reindex` repairs)."""
    from pipelines.store_state_check import compare

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    with open_pipeline(settings) as pipeline:
        damaged = [f"{name}: {result}" for name, result in _integrity(pipeline).items() if result != "ok"]
        agreement = compare(pipeline.store, pipeline.state, look_up=True)
    result = {"intact": not damaged, "damaged": damaged, "store_articles": agreement.store_articles,
              "state_indexed": agreement.state_indexed, "store_generation": agreement.store_generation,
              "recorded_generation": agreement.recorded_generation, "missing_from_store": len(agreement.missing),
              "missing_examples": agreement.missing[:5]}
    if as_json:
        print_json(result)
    else:
        for line in damaged:
            console.print(f"damaged: {line}", markup=False)
        console.print(agreement.describe(), markup=False)
        if agreement.missing:
            console.print("run `storytrail reindex` to index them again from the archived HTML", markup=False)
    if damaged or agreement.missing:
        raise typer.Exit(ExitCode.FAILED)


@app.command()
@friendly_errors
def reindex(data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, verbose: Verbose = False,
            as_json: AsJson = False) -> None:
    """Index again, from the archived HTML, every article the crawl state marks indexed but the store lacks."""
    from pipelines.store_state_check import reconcile

    setup_logging(verbose)
    settings = settings_from(data_dir, store, config)
    with hold_data_dir(settings.data_dir), open_pipeline(settings) as pipeline:
        agreement = reconcile(pipeline.store, pipeline.state, look_up=True)
        pipeline.processor.index_pending()
        counters = dict(pipeline.processor.counters)
        error = pipeline.processor.store_error
    if as_json:
        print_json({"missing_from_store": len(agreement.missing), "counters": counters, "store_error": error})
    else:
        console.print(f"{len(agreement.missing)} article(s) were missing from the store; "
                      f"{counters.get('store/added', 0)} indexed again from the archive.", markup=False)
    if error:
        console.print(f"error: the store failed: {error}", markup=False)
        raise typer.Exit(ExitCode.FAILED)


def _integrity(pipeline) -> dict[str, str]:
    """SQLite's quick_check of state.db and of a SQLite store: 'ok', or the first problem found."""
    from pipelines.stores.sqlite import SqliteStore

    files = {pipeline.state.path: pipeline.state.db}
    if isinstance(pipeline.store, SqliteStore):
        files[pipeline.store.path] = pipeline.store.db
    return {path: db.execute("PRAGMA quick_check").fetchone()[0] for path, db in files.items()}
