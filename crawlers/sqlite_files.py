"""Opening storytrail's SQLite files (the store and the crawl state) for writing, or for reading only.

Both files run in WAL mode. A reader on a read-only data dir (a restored backup mounted read-only, a
snapshot, a file owned by another user) cannot create the `-shm` and `-wal` files WAL needs, so the usual
open fails; `search`, `stats`, `export` and `story` must still work there. They fall back to a read-only
connection, and to SQLite's `immutable` mode when even that cannot open: on a read-only file system
nothing can change the file under the reader.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote


def connect(path: str, schema: str, read_only: bool = False) -> tuple[sqlite3.Connection, bool]:
    """(connection, read_only): read-write with `schema` applied when possible, else read-only on an
    existing file. Raises sqlite3.DatabaseError (or OSError for an unusable directory) otherwise.
    With `read_only`, the file is only ever read (and must exist)."""
    if read_only:
        if not Path(path).is_file():
            raise sqlite3.OperationalError(f"{path}: no such file")
        return _open_read_only(path), True
    if path != ":memory:" and not Path(path).exists():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        db = _open(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(schema)
        return db, False
    except sqlite3.OperationalError as exc:
        if path == ":memory:" or not Path(path).is_file() or not _is_read_only_error(exc):
            raise
    return _open_read_only(path), True


def _open_read_only(path: str) -> sqlite3.Connection:
    for mode in ("mode=ro", "immutable=1"):
        try:
            db = _open(f"file:{quote(str(Path(path).resolve()))}?{mode}", uri=True)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            continue
    raise sqlite3.OperationalError(f"{path}: cannot open, even read-only")


def _open(target: str, uri: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(target, timeout=30, isolation_level=None, check_same_thread=False, uri=uri)
    db.row_factory = sqlite3.Row
    return db


def _is_read_only_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text
