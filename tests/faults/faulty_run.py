"""Runs a storytrail command whose SQLite store reports a full disk after N articles written.

    python faulty_run.py N storytrail-args...

The fault is injected where SQLite raises it, under the store's own error handling: the (N+1)-th article
write raises sqlite3.OperationalError("database or disk is full"), SQLITE_FULL, exactly what a full disk
gives. For machines where the test cannot mount a small file system (test_storage_faults.py uses one when
it can).
"""

from __future__ import annotations

import sqlite3
import sys

from pipelines.stores.sqlite import SqliteStore

def install(allowed: int) -> None:
    real_upsert_one = SqliteStore._upsert_one
    written = [0]

    def upsert_one(self, article):
        if written[0] >= allowed:
            raise sqlite3.OperationalError("database or disk is full")
        written[0] += 1
        return real_upsert_one(self, article)

    SqliteStore._upsert_one = upsert_one


if __name__ == "__main__":  # not in the extraction workers, which import this module again
    from pipelines.cli import main

    install(int(sys.argv[1]))
    sys.argv = ["storytrail", *sys.argv[2:]]
    main()
