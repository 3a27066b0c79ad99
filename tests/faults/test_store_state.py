"""One truth about what is indexed: a store restored from an older backup, truncated or replaced gets every
archived article back, on the next run or with `storytrail reindex`; `storytrail check` reports the gap."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from cli_runner import storytrail
from fault_helpers import copy_data_dir, replay_run

from pipelines.stores.sqlite import SqliteStore


def urls(data_dir: Path) -> set[str]:
    with SqliteStore(data_dir / "storytrail.db") as store:
        return {a.url for a in store.iter_articles()}


@pytest.fixture
def gathered(reference) -> tuple[Path, set[str], Path]:
    data_dir, config, shot = reference
    return data_dir, set(shot), config


def make_older(store_file: Path, drop: int) -> None:
    """What an older backup looks like: the same store (same generation) without its newest articles."""
    with sqlite3.connect(store_file) as db:
        db.execute("DELETE FROM articles WHERE id IN (SELECT id FROM articles ORDER BY id DESC LIMIT ?)", (drop,))
        db.execute("DELETE FROM fingerprints WHERE article_id NOT IN (SELECT id FROM articles)")
        db.execute("DELETE FROM fingerprint_df")
        db.execute("INSERT INTO fingerprint_df (hash, n) SELECT hash, count(*) FROM fingerprints GROUP BY hash")


def test_restoring_an_older_store_backup_ends_with_every_archived_article(gathered, replay, tmp_path):
    source, everything, config = gathered
    data_dir = copy_data_dir(source, tmp_path / "data")
    make_older(data_dir / "storytrail.db", 7)
    assert len(urls(data_dir)) == len(everything) - 7
    check = storytrail("check", "--json", data_dir=data_dir)
    assert check.returncode == 1 and json.loads(check.stdout)["missing_from_store"] == 7, check.stdout + check.stderr
    result = replay_run(data_dir, config, replay, "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert urls(data_dir) == everything
    assert json.loads(result.stdout)["counters"]["store/added"] == 7
    assert storytrail("check", data_dir=data_dir).returncode == 0


@pytest.mark.parametrize("how", ["deleted", "truncated"])
def test_a_replaced_store_is_rebuilt_from_the_archive_by_reindex(gathered, tmp_path, how):
    source, everything, _ = gathered
    data_dir = copy_data_dir(source, tmp_path / "data")
    store_file = data_dir / "storytrail.db"
    if how == "deleted":
        store_file.unlink()
    else:
        store_file.write_bytes(b"")
    result = storytrail("reindex", "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["missing_from_store"] == len(everything)
    assert urls(data_dir) == everything


def test_a_fresh_store_with_more_articles_than_the_state_is_still_checked(gathered, tmp_path):
    """Counts alone would miss it: the generation id tells a different store apart."""
    source, everything, _ = gathered
    data_dir = copy_data_dir(source, tmp_path / "data")
    other = tmp_path / "other.db"
    with SqliteStore(other) as store, SqliteStore(data_dir / "storytrail.db") as full:
        store.upsert([replace(a, url=a.url + "-other") for a in full.iter_articles()])
        store.upsert([next(full.iter_articles())])
    check = storytrail("check", "--json", "--store", f"sqlite:///{other}", data_dir=data_dir)
    assert json.loads(check.stdout)["missing_from_store"] == len(everything) - 1, check.stderr[-2000:]
