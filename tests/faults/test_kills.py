"""Kills at named points (pipelines/faultpoints.py): each must land mid-work, and the re-run must end with the
same store as an uninterrupted run. (The alert send/record point is tested with the alerts.)"""

from __future__ import annotations

import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from fault_helpers import copy_data_dir, replay_run, run_cli, snapshot

from pipelines.migrate import checkpoint_key, checkpoint_path, migrate
from pipelines.settings import StoreSettings
from pipelines.stores.factory import open_store
from pipelines.stores.sqlite import SqliteStore

KILL_AT = "STORYTRAIL_KILL_AT"
# A SIGKILLed writer leaves its spawned extraction workers running (pipelines/worker_pool.py); until they
# follow their parent, the kill tests run without them so that no test leaves processes behind.
NO_POOL = {"STORYTRAIL_PROCESS__WORKERS": "1"}


def page_counts(data_dir: Path) -> dict[str, int]:
    with closing(sqlite3.connect(data_dir / "state.db")) as db:
        return dict(db.execute("SELECT status, count(*) FROM pages GROUP BY status").fetchall())


def store_count(store_file: Path) -> int:
    if not store_file.exists():
        return 0
    with closing(sqlite3.connect(store_file)) as db:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0]


@pytest.mark.parametrize("point, archived, stored", [
    # after the 6th page is archived: 6 pages on disk, fewer than 6 of them stored yet
    ("spider.after_page_fetched:6", 6, None),
    # between the 4th store write and its state update: 4 in the store, only 3 marked indexed
    ("index.after_store_write:4", None, 4),
])
def test_a_kill_at_a_named_point_then_a_rerun_ends_like_an_uninterrupted_run(tmp_path, replay, reference, point,
                                                                             archived, stored):
    _, config, expected = reference
    data_dir = tmp_path / "data"
    killed = replay_run(data_dir, config, replay, env={KILL_AT: point, **NO_POOL})
    assert killed.returncode == -signal.SIGKILL, f"the run was not killed at {point}: rc {killed.returncode}"
    pages = page_counts(data_dir)
    in_store = store_count(data_dir / "storytrail.db")
    if archived is not None:
        assert pages.get("fetched", 0) + pages.get("indexed", 0) == archived, pages
        assert in_store < archived
    if stored is not None:
        assert in_store == stored and pages.get("indexed", 0) == stored - 1, (in_store, pages)
    assert in_store < len(expected), "the kill landed after the work was done"
    rerun = replay_run(data_dir, config, replay)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert snapshot(data_dir) == expected


def test_a_killed_migration_resumes_and_a_recreated_target_starts_over(tmp_path, reference):
    data_dir = copy_data_dir(reference[0], tmp_path / "data")
    expected = reference[2]
    target = tmp_path / "target.db"
    args = ("migrate", "--to", f"sqlite:///{target}", "--batch-size", "5")
    killed = run_cli(*args, data_dir=data_dir, env={KILL_AT: "migrate.after_batch:2", **NO_POOL})
    assert killed.returncode == -signal.SIGKILL
    assert store_count(target) == 10 < len(expected)
    assert list(data_dir.glob("migrate-*.checkpoint")), "no checkpoint after two batches"
    # The target is deleted and made again: the old checkpoint is not its own, so the copy starts over
    # (before: it resumed after the 10th URL and left the first 10 out, exit 0).
    target.unlink()
    again = run_cli(*args, data_dir=data_dir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resumed" not in again.stderr
    assert snapshot(data_dir, target) == expected
    assert not list(data_dir.glob("migrate-*.checkpoint"))


def test_a_resumed_migration_copies_the_rest(tmp_path, reference):
    data_dir = copy_data_dir(reference[0], tmp_path / "data")
    target = tmp_path / "target.db"
    args = ("migrate", "--to", f"sqlite:///{target}", "--batch-size", "5")
    assert run_cli(*args, data_dir=data_dir, env={KILL_AT: "migrate.after_batch:1", **NO_POOL}).returncode == -signal.SIGKILL
    resumed = run_cli(*args, data_dir=data_dir)
    assert resumed.returncode == 0 and "resumed after" in resumed.stderr, resumed.stderr[-2000:]
    assert snapshot(data_dir, target) == reference[2]


class Interrupted(SqliteStore):
    """A source that stops after 4 articles, as a killed process would."""

    def iter_articles(self, batch_size=500, after=None):
        for count, article in enumerate(super().iter_articles(batch_size, after)):
            if count == 4:
                raise KeyboardInterrupt
            yield article


def test_a_checkpoint_belongs_to_its_index_prefix(tmp_path, reference, osmem_server):
    """A migration to another index prefix on the same cluster does not resume the first one's checkpoint."""
    source_file = reference[0] / "storytrail.db"
    clone = osmem_server.clone()
    try:
        url = f"{clone.url}?compat=off"
        first = open_store(url, settings=StoreSettings(index_prefix="first"))
        key = checkpoint_key(f"sqlite:///{source_file}", url, "first", first)
        with pytest.raises(KeyboardInterrupt):
            migrate(Interrupted(source_file), first, 2, checkpoint_path(tmp_path, key), key)
        second = open_store(url, settings=StoreSettings(index_prefix="second"))
        key2 = checkpoint_key(f"sqlite:///{source_file}", url, "second", second)
        with SqliteStore(source_file) as source:
            result = migrate(source, second, 2, checkpoint_path(tmp_path, key2), key2)
        assert result.resumed_after is None and result.copied == len(reference[2])
        assert second.stats().articles == len(reference[2])
        first.close()
        second.close()
    finally:
        clone.close()
