"""Saved-search alerts by e-mail: one entry per story, never missed, never sent twice.

    run_alerts(settings, store)   evaluate every saved search, then send what is due (end of each cycle,
                                  `storytrail alerts run`)
    after_cycle(settings, store)  the same for `run` and `demo`: any failure is one log line, never the cycle's
    preview(settings, store, name)  what the next run would send for one search; nothing is sent or recorded

The parts, in the order data flows: saved_searches.py (what is asked), evaluation.py with matching.py (new
articles -> one entry per story), ledger.py (alerts.db: searches, ledger, outbox), messages.py with
templates/ (one e-mail per search), delivery.py (SMTP, recorded before and after each send).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from loguru import logger

from pipelines.alerts.delivery import deliver, due_messages, window_start
from pipelines.alerts.evaluation import evaluate
from pipelines.alerts.ledger import AlertsDb
from pipelines.alerts.messages import Composed
from pipelines.alerts.saved_searches import AlertInputError, load_config_searches
from pipelines.settings import Settings
from pipelines.stores.base import Store

DB_FILE = "alerts.db"
LOCK_FILE = "alerts.lock"


@dataclass
class AlertsSummary:
    searches: int = 0
    new_articles: int = 0
    entries: int = 0
    sent: int = 0
    waiting: int = 0
    held_back: int = 0
    reconciled: int = 0
    mail_error: str | None = None
    skipped: str | None = None  # why nothing was done (another process is at it)


def open_db(settings: Settings) -> AlertsDb:
    return AlertsDb(Path(settings.data_dir) / DB_FILE)


def run_alerts(settings: Settings, store: Store | None, now: datetime | None = None) -> AlertsSummary:
    """Evaluate every search against what was indexed since its watermark (skipped when `store` is None: the
    store is down, and waiting entries are still sent), then send what is due."""
    now = now or datetime.now(timezone.utc)
    db = open_db(settings)
    try:
        with _exclusive(Path(settings.data_dir)) as held:
            if not held:
                logger.bind(source="alerts").info("another storytrail process is evaluating alerts; skipped")
                return AlertsSummary(skipped="another process is evaluating alerts")
            sync_config_searches(db, settings.alerts.searches_file)
            searches = db.searches()
            summary = AlertsSummary(searches=len(searches))
            if store is not None and searches:
                found = evaluate(db, store, searches, now, timedelta(minutes=settings.alerts.overlap_min))
                with db.transaction():
                    found.record(db)
                summary.new_articles, summary.entries = found.new_articles, len(found.entries)
            delivery = deliver(db, searches, settings.mail, settings.alerts, now)
            summary.sent, summary.waiting, summary.held_back = len(delivery.sent), delivery.waiting_entries, delivery.held_back
            summary.reconciled, summary.mail_error = delivery.reconciled, delivery.error
    finally:
        db.close()
    if summary.searches:
        logger.bind(source="alerts").info("alerts: {} search(es), {} new article(s) read, {} entr(ies) found, "
                                          "{} message(s) sent, {} entr(ies) waiting", summary.searches,
                                          summary.new_articles, summary.entries, summary.sent, summary.waiting)
    return summary


def after_cycle(settings: Settings, store: Store | None) -> AlertsSummary | None:
    """run_alerts for the end of a cycle: whatever goes wrong is one log line, and the cycle stands."""
    try:
        return run_alerts(settings, store)
    except Exception as exc:  # noqa: BLE001 - the cycle's work is already stored; alerts retry next cycle
        logger.bind(source="alerts").error("alerts not evaluated: {}", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None


def preview(settings: Settings, store: Store, name: str, now: datetime | None = None) -> tuple[str, str]:
    """(what the next run does for search `name`, the plain-text part it would send); nothing is recorded."""
    now = now or datetime.now(timezone.utc)
    db = open_db(settings)
    try:
        search = db.get(name)
        if search is None:
            raise AlertInputError(f"no saved search named {name!r} (see `storytrail alerts list`)")
        with db.transaction(keep=False):
            evaluate(db, store, [search], now, timedelta(minutes=settings.alerts.overlap_min)).record(db)
            messages, not_due = due_messages(db, [search], settings.mail, settings.alerts, now)
            if messages:
                return f"the next run sends this message to {', '.join(search.recipients)}:", _shown(messages[0])
            if not_due:
                closes = window_start(search.every, now, settings.alerts) + timedelta(days=7 if search.every == "weekly" else 1)
                later, _ = due_messages(db, [search], settings.mail, settings.alerts, closes + timedelta(seconds=1))
                return (f"nothing is due yet: the {search.every} digest window closes at {closes:%Y-%m-%d %H:%M} UTC; "
                        "with what is found so far it would be:", _shown(later[0]))
            return "the next run sends nothing for this search: no new story matches.", ""
    finally:
        db.close()


def sync_config_searches(db: AlertsDb, path: Path) -> None:
    """Searches declared in the YAML file join (starting now, or at their `from`), change, or leave."""
    declared = load_config_searches(path)
    existing = {s.name: s for s in db.searches()}
    for search in declared:
        old = existing.get(search.name)
        if old is None:
            db.add(search)
            logger.bind(source="alerts").info("saved search {} from {} starts at {:%Y-%m-%d %H:%M} UTC", search.name, path, search.start)
        elif old.origin != "config":
            logger.bind(source="alerts").warning("{}: search {} has the name of one added with `alerts add`; "
                                                 "the YAML one is ignored", path, search.name)
        elif (old.query, old.recipients, old.every) != (search.query, search.recipients, search.every):
            db.update_definition(search)
    names = {s.name for s in declared}
    for name, old in existing.items():
        if old.origin == "config" and name not in names:
            db.remove(name)
            logger.bind(source="alerts").info("saved search {} is no longer in {}: removed", name, path)


def _shown(composed: Composed) -> str:
    headers = "".join(f"{k}: {v}\n" for k, v in composed.message.items())
    return headers + "\n" + composed.text


@contextmanager
def _exclusive(data_dir: Path) -> Iterator[bool]:
    """An OS lock on <data_dir>/alerts.lock while alerts are evaluated and sent (released when the process
    dies, however it dies); yields False at once when another process holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
