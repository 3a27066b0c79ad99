"""`storytrail reextract` and `storytrail relink` (pipelines/maintenance.py): idempotent, and resumable after a
kill, on a copy of the demo's data."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cli_runner import REPO, command, environment
from cli_runner import storytrail as run_storytrail

from crawlers.state import CrawlState
from pipelines.faultpoints import KILL_AT_VARIABLE
from pipelines.run_lock import hold_data_dir

TAMPERED = " [as an older extractor left it]"


def copy_of(demo_data_dir: Path, target: Path) -> Path:
    shutil.copytree(demo_data_dir, target, ignore=shutil.ignore_patterns("*.lock"))
    return target


def storytrail(*args: str, data_dir: Path) -> dict:
    result = run_storytrail(*args, "--json", data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def killed(*args: str, data_dir: Path, at: str, env: dict[str, str] | None = None) -> None:
    """Run a command that SIGKILLs itself at the named point (output to a file: pool workers may linger)."""
    log_path = data_dir.parent / f"{data_dir.name}-killed.log"
    with open(log_path, "w") as log:
        result = subprocess.run(command(*args, data_dir=data_dir), cwd=REPO, env=environment(None) | {KILL_AT_VARIABLE: at} | (env or {}),
                                stdout=log, stderr=log, timeout=300)
    assert result.returncode == -9, log_path.read_text()[-3000:]


def rows(data_dir: Path, columns: str = "url, story_id, is_origin, parent, chain, text_hash") -> dict[str, tuple]:
    with sqlite3.connect(data_dir / "storytrail.db") as db:
        return {r[0]: tuple(r[1:]) for r in db.execute(f"SELECT {columns} FROM articles")}


def fingerprints(data_dir: Path) -> set[tuple]:
    with sqlite3.connect(data_dir / "storytrail.db") as db:
        return set(db.execute("SELECT a.url, f.hash FROM fingerprints f JOIN articles a ON a.id = f.article_id"))


def job(data_dir: Path, name: str) -> tuple[bool, str | None]:
    state = CrawlState(data_dir / "state.db")
    try:
        return state.job_position(name)
    finally:
        state.close()


@pytest.fixture(scope="module")
def relinked(demo_data_dir, tmp_path_factory) -> Path:
    """The demo's data after one uninterrupted relink: what a resumed relink must end with."""
    data_dir = copy_of(demo_data_dir, tmp_path_factory.mktemp("relinked") / "data")
    report = storytrail("relink", data_dir=data_dir)
    assert (report["done"], report["total"], report["resumed_after"]) == (74, 74, 0)
    return data_dir


def test_relink_rebuilds_the_demos_stories_and_a_second_relink_changes_nothing(demo_data_dir, relinked, tmp_path):
    stories = {url: row[:3] for url, row in rows(demo_data_dir).items()}
    assert {url: row[:3] for url, row in rows(relinked).items()} == stories  # story, origin and parent of each copy
    again = copy_of(relinked, tmp_path / "data")
    storytrail("relink", data_dir=again)
    assert rows(again) == rows(relinked) and fingerprints(again) == fingerprints(relinked)
    assert job(again, "relink") == (False, None)


def test_a_killed_relink_resumes_where_it_stopped_and_ends_like_an_uninterrupted_one(demo_data_dir, relinked, tmp_path):
    data_dir = copy_of(demo_data_dir, tmp_path / "data")
    killed("relink", data_dir=data_dir, at="relink.after_article:30")
    linked = sum(story is not None for story, *_ in rows(data_dir).values())
    assert linked == 30 and job(data_dir, "relink")[0], "the kill did not land mid-work"
    report = storytrail("relink", data_dir=data_dir)
    assert (report["resumed_after"], report["done"]) == (30, 44)
    assert rows(data_dir) == rows(relinked)


def test_a_killed_reextract_resumes_updates_each_article_once_and_a_second_changes_nothing(demo_data_dir, tmp_path):
    data_dir = copy_of(demo_data_dir, tmp_path / "data")
    with sqlite3.connect(data_dir / "storytrail.db") as db:  # the texts an older, worse extractor stored
        db.execute("UPDATE articles SET text = text || ?", (TAMPERED,))
    # pages are stored 8 to a commit and recorded done after it: killed after the 20th is recorded, 24 are stored
    groups = {"STORYTRAIL_PROCESS__GROUP_ARTICLES": "8", "STORYTRAIL_PROCESS__GROUP_SECONDS": "600"}
    killed("reextract", data_dir=data_dir, at="reextract.after_page:20", env=groups)
    texts = rows(data_dir, "url, text")
    assert sum(not text.endswith(TAMPERED) for text, in texts.values()) == 24, "the kill did not land mid-group"
    report = storytrail("reextract", data_dir=data_dir)  # pages 21 to 24 again: unchanged
    assert (report["resumed_after"], report["done"], report["counters"]["store/updated"]) == (20, 54, 50)
    assert not any(text.endswith(TAMPERED) for text, in rows(data_dir, "url, text").values())
    with sqlite3.connect(data_dir / "storytrail.db") as db:
        versions = dict(db.execute("SELECT url, count(*) FROM article_versions GROUP BY url"))
    assert len(versions) == 74 and set(versions.values()) == {1}  # each older text kept once, none twice
    assert job(data_dir, "reextract") == (False, None)
    after = rows(data_dir)
    again = storytrail("reextract", data_dir=data_dir)  # nothing changed since: nothing to do
    assert again["counters"] == {"store/unchanged": 74, "link/unchanged": 74} and rows(data_dir) == after


def test_reextract_of_one_source_a_bad_source_name_and_a_held_lock(demo_data_dir, tmp_path):
    data_dir = copy_of(demo_data_dir, tmp_path / "data")
    report = storytrail("reextract", "--source", "antimedia", data_dir=data_dir)
    assert report["total"] == report["done"] == 8
    bad = run_storytrail("reextract", "--source", "nosuch", data_dir=data_dir)
    assert bad.returncode == 2 and "nosuch" in bad.stderr and "Traceback" not in bad.stderr
    with hold_data_dir(data_dir, "a test holding the lock"):
        locked = run_storytrail("relink", data_dir=data_dir)
    assert locked.returncode == 75 and "a test holding the lock" in locked.stderr
