"""`storytrail browse`: the SQLite store in Datasette, read-only, with canned queries for the spread.

Datasette serves the store file in immutable mode (opened with `immutable=1`: nothing can write, and no
lock is taken that would hold up a run). Immutable mode reads only the main database file, not its WAL, so
the WAL is checkpointed into it first; when a run is writing at that moment the checkpoint cannot finish and
the store is served `mode=ro` instead (live, still read-only), as with `--live`.

The canned queries (stories by copies, one story's chain, outlet statistics, who copies whom, full-text
search) and the table settings are in `datasette_metadata.yaml`; the articles table gets Datasette's search
box from the store's FTS5 index. Datasette listens on 127.0.0.1 only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from loguru import logger

if TYPE_CHECKING:
    from datasette.app import Datasette

METADATA = Path(__file__).with_name("datasette_metadata.yaml")
SETTINGS = {"truncate_cells_html": 160, "default_page_size": 50, "allow_download": True, "sql_time_limit_ms": 5000}


def metadata_for(db_path: Path) -> dict:
    """The metadata under the database name Datasette gives the file (its stem)."""
    database = yaml.safe_load(METADATA.read_text(encoding="utf-8"))
    database["title"] = f"storytrail store: {db_path.name}"
    return {"title": "storytrail", "description": "Articles, stories and syndication chains gathered by storytrail.",
            "databases": {db_path.stem: database}}


def checkpoint(db_path: Path) -> bool:
    """Move the WAL's pages into the database file; False when a writer kept some of them back."""
    try:
        db = sqlite3.connect(db_path, timeout=5)
        try:
            busy, log_pages, moved = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            db.close()
    except sqlite3.Error as exc:  # a store we may not write to (its WAL stays as it is)
        logger.bind(source="browse").info("cannot checkpoint {}: {}", db_path, exc)
        return False
    return busy == 0 and log_pages in (moved, 0, -1)


def make_datasette(db_path: Path, live: bool = False) -> Datasette:
    """A Datasette for the store: immutable unless `live` or a writer is busy (see the module docstring)."""
    from datasette.app import Datasette

    if not live and not checkpoint(db_path):
        logger.bind(source="browse").warning("a run is writing to {}: serving it live (read-only) instead of immutable", db_path)
        live = True
    files, immutables = ([str(db_path)], []) if live else ([], [str(db_path)])
    return Datasette(files=files, immutables=immutables, metadata=metadata_for(db_path), settings=SETTINGS)


def serve(db_path: Path, port: int, live: bool = False, open_browser: bool = True) -> None:
    """Serve until interrupted (Ctrl-C)."""
    import asyncio
    import webbrowser

    import uvicorn

    datasette = make_datasette(db_path, live)
    asyncio.run(datasette.invoke_startup())
    url = f"http://127.0.0.1:{port}/{db_path.stem}"
    logger.bind(source="browse", url=url).info("Datasette on {} ({}); Ctrl-C stops it", url, "live" if live else "immutable")
    if open_browser:
        webbrowser.open(url)
    uvicorn.run(datasette.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
