"""The alerts database, `<data_dir>/alerts.db` (SQLite, beside the crawl state, whatever the store):
saved searches with their watermarks, the ledger and the outbox.

- `searches`: each saved search or watch, with `start` (nothing fetched before it is sent) and `watermark`
  (evaluated up to here).
- `seen`: the ledger of copies per search: every URL an entry has covered, with its outlet and story. A story
  gets a second entry only for a URL not in here on an outlet not in here.
- `entries`: the outbox, one row per entry, its content frozen as JSON when it was found; `message_id`
  stays empty until a message carrying it is handed to the SMTP server.
- `messages`: one row per message from the moment it is handed over (`sending`) until the server accepted it
  (`sent`). A row still `sending` when the next run starts means the process died between the two records;
  it is reconciled as sent (see delivery.py for why).

Entries, ledger rows and the new watermark are written in one transaction: the watermark moves only when the
entries are safely in the outbox.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipelines.alerts.saved_searches import SavedSearch

SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (
    name TEXT PRIMARY KEY,
    query TEXT,
    watch_url TEXT,
    recipients TEXT NOT NULL,
    every TEXT NOT NULL,
    origin TEXT NOT NULL,
    start TEXT NOT NULL,
    watermark TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seen (
    search TEXT NOT NULL,
    url TEXT NOT NULL,
    outlet TEXT NOT NULL,
    story TEXT NOT NULL,
    entry TEXT,
    PRIMARY KEY (search, url)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_url ON seen(url);
CREATE TABLE IF NOT EXISTS entries (
    id TEXT PRIMARY KEY,
    search TEXT NOT NULL,
    story TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    message_id TEXT
);
CREATE INDEX IF NOT EXISTS entries_waiting ON entries(search, message_id);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    search TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    state TEXT NOT NULL,
    handed_at TEXT NOT NULL,
    sent_at TEXT,
    reconciled INTEGER NOT NULL DEFAULT 0
);
"""

IN_CHUNK = 500


@dataclass
class Entry:
    """One entry of the outbox: a story for one search, as it was when found."""

    id: str
    search: str
    story: str
    kind: str  # new (first entry of a story), also (now also on a new outlet), copy (a watched story's new copy)
    created_at: datetime
    payload: dict

    def row(self) -> tuple:
        return (self.id, self.search, self.story, self.kind, self.created_at.isoformat(), json.dumps(self.payload, ensure_ascii=False))


@dataclass(frozen=True)
class Seen:
    url: str
    outlet: str
    story: str


class AlertsDb:
    """alerts.db; one connection, autocommit outside `transaction()`."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self, keep: bool = True) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; with keep=False always rolled back (`alerts preview`)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT" if keep else "ROLLBACK")

    # -- searches ---------------------------------------------------------------------------------
    def searches(self) -> list[SavedSearch]:
        return [_search(r) for r in self.db.execute("SELECT * FROM searches ORDER BY name")]

    def get(self, name: str) -> SavedSearch | None:
        row = self.db.execute("SELECT * FROM searches WHERE name = ?", (name,)).fetchone()
        return _search(row) if row else None

    def add(self, search: SavedSearch, seen: Iterable[Seen] = ()) -> None:
        """A new search (a watch with the copies it starts from); raises sqlite3.IntegrityError on a taken name."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO searches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (search.name, search.query, search.watch_url, json.dumps(search.recipients), search.every,
                 search.origin, search.start.isoformat(), search.watermark.isoformat()),
            )
            self.db.executemany("INSERT OR IGNORE INTO seen (search, url, outlet, story) VALUES (?, ?, ?, ?)",
                                [(search.name, s.url, s.outlet, s.story) for s in seen])

    def update_definition(self, search: SavedSearch) -> None:
        """A config search whose query, recipients or schedule changed keeps its ledger and watermark."""
        self.db.execute("UPDATE searches SET query = ?, recipients = ?, every = ? WHERE name = ?",
                        (search.query, json.dumps(search.recipients), search.every, search.name))

    def remove(self, name: str) -> bool:
        with self.transaction():
            gone = self.db.execute("DELETE FROM searches WHERE name = ?", (name,)).rowcount
            for table in ("seen", "entries", "messages"):
                self.db.execute(f"DELETE FROM {table} WHERE search = ?", (name,))
        return bool(gone)

    # -- ledger -----------------------------------------------------------------------------------
    def seen_among(self, urls: Iterable[str]) -> dict[str, dict[str, Seen]]:
        """{search: {url: Seen}} for the given URLs, every search at once."""
        found: dict[str, dict[str, Seen]] = {}
        unique = sorted(set(urls))
        for start in range(0, len(unique), IN_CHUNK):
            chunk = unique[start : start + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT search, url, outlet, story FROM seen WHERE url IN ({marks})", chunk):
                found.setdefault(row["search"], {})[row["url"]] = Seen(row["url"], row["outlet"], row["story"])
        return found

    def record(self, entries: list[Entry], seen: dict[str, list[tuple[Seen, str | None]]],
               watermarks: dict[str, datetime]) -> None:
        """Entries into the outbox, their copies into the ledger and the searches' new watermarks, at once.
        Call inside `transaction()`."""
        self.db.executemany("INSERT OR IGNORE INTO entries (id, search, story, kind, created_at, payload) "
                            "VALUES (?, ?, ?, ?, ?, ?)", [e.row() for e in entries])
        self.db.executemany(
            "INSERT OR IGNORE INTO seen (search, url, outlet, story, entry) VALUES (?, ?, ?, ?, ?)",
            [(search, s.url, s.outlet, s.story, entry) for search, rows in seen.items() for s, entry in rows],
        )
        self.db.executemany("UPDATE searches SET watermark = ? WHERE name = ?",
                            [(moment.isoformat(), name) for name, moment in watermarks.items()])

    # -- outbox -----------------------------------------------------------------------------------
    def waiting(self, search: str | None = None) -> list[Entry]:
        """Entries not yet handed to the SMTP server, oldest first."""
        sql = "SELECT * FROM entries WHERE message_id IS NULL" + (" AND search = ?" if search else "")
        rows = self.db.execute(sql + " ORDER BY created_at, id", (search,) if search else ())
        return [Entry(r["id"], r["search"], r["story"], r["kind"], datetime.fromisoformat(r["created_at"]),
                      json.loads(r["payload"])) for r in rows]

    def handing_over(self, message_id: str, search: str, recipients: list[str], subject: str, entry_ids: list[str],
                     now: datetime) -> None:
        """Recorded before the message's data goes to the server."""
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO messages (id, search, recipients, subject, state, handed_at) "
                            "VALUES (?, ?, ?, ?, 'sending', ?)",
                            (message_id, search, json.dumps(recipients), subject, now.isoformat()))
            self.db.executemany("UPDATE entries SET message_id = ? WHERE id = ?", [(message_id, e) for e in entry_ids])

    def sent(self, message_id: str, now: datetime) -> None:
        """Recorded after the server accepted the message."""
        self.db.execute("UPDATE messages SET state = 'sent', sent_at = ? WHERE id = ?", (now.isoformat(), message_id))

    def not_sent(self, message_id: str) -> None:
        """The server refused the data: its entries wait again."""
        with self.transaction():
            self.db.execute("UPDATE entries SET message_id = NULL WHERE message_id = ?", (message_id,))
            self.db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def interrupted(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM messages WHERE state = 'sending' ORDER BY handed_at").fetchall()

    def reconcile(self, message_id: str, now: datetime) -> None:
        self.db.execute("UPDATE messages SET state = 'sent', sent_at = ?, reconciled = 1 WHERE id = ?",
                        (now.isoformat(), message_id))

    def counts(self) -> dict[str, dict[str, int]]:
        """Per search: stories in the ledger, entries waiting, messages sent (for `alerts list`)."""
        result: dict[str, dict[str, int]] = {}
        queries = {
            "stories": "SELECT search, count(DISTINCT story) FROM seen GROUP BY search",
            "waiting": "SELECT search, count(*) FROM entries WHERE message_id IS NULL GROUP BY search",
            "sent": "SELECT search, count(*) FROM messages WHERE state = 'sent' GROUP BY search",
        }
        for key, sql in queries.items():
            for name, n in self.db.execute(sql):
                result.setdefault(name, {})[key] = n
        return result


def _search(row: sqlite3.Row) -> SavedSearch:
    return SavedSearch(
        name=row["name"], query=row["query"], watch_url=row["watch_url"], recipients=json.loads(row["recipients"]),
        every=row["every"], origin=row["origin"], start=datetime.fromisoformat(row["start"]),
        watermark=datetime.fromisoformat(row["watermark"]),
    )
