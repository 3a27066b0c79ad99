"""Storage faults are failures, told in one line: a full disk, a read-only data dir, corrupted databases."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cli_runner import REPO, environment
from fault_helpers import copy_data_dir, replay_run, run_cli, snapshot

HERE = Path(__file__).parent


@contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small file system of its own (needs CAP_SYS_ADMIN; the test is skipped without it)."""
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}): the injected fault test covers it")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def assert_one_line_failure(result: subprocess.CompletedProcess, says: str) -> None:
    log = result.stderr
    assert result.returncode != 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    events = [line for line in log.splitlines() if says in line and re.match(r"\d\d:\d\d:\d\d ", line)]
    said = [line for line in log.splitlines() if says in line]
    assert len(events) <= 1 and 1 <= len(said) <= 2, f"one event (and the summary) saying {says!r}:\n{log[-3000:]}"
    assert "<p>" not in log and "<html" not in log.lower() and len(log) < 20_000, "page HTML in the log"


def pages_by_status(data_dir: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(data_dir / "state.db") as db:
        return dict(db.execute("SELECT status, count(*) FROM pages GROUP BY status").fetchall())


def test_a_full_disk_stops_indexing_keeps_pages_and_the_next_run_completes(tmp_path, replay, reference):
    """Only the store on a full file system: the pages are archived in state.db for the next run."""
    _, config, expected = reference
    with tmpfs(tmp_path / "small", "320k") as small:
        store = ["--store", f"sqlite:///{small / 'storytrail.db'}"]
        result = replay_run(tmp_path / "data", config, replay, *store)
        assert_one_line_failure(result, "database or disk is full")
        pages = pages_by_status(tmp_path / "data")
        assert pages.get("fetched", 0) > 0, pages  # archived, waiting for the store
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
        again = replay_run(tmp_path / "data", config, replay, *store)
        assert again.returncode == 0, again.stderr[-3000:]
        assert snapshot(tmp_path / "data", small / "storytrail.db") == expected


def test_a_full_data_dir_stops_the_run_in_a_few_lines_and_the_next_run_completes(tmp_path, replay, reference):
    """The whole data dir on a full file system: the crawl stops at the first page it cannot archive."""
    _, config, expected = reference
    with tmpfs(tmp_path / "small", "400k") as small:
        result = replay_run(small / "data", config, replay)
        log = result.stderr
        assert result.returncode != 0 and "Traceback" not in log, log[-3000:]
        assert 1 <= len([line for line in log.splitlines() if "database or disk is full" in line]) <= 4, log[-3000:]
        assert "<p>" not in log and len(log) < 10_000
        subprocess.run(["mount", "-o", "remount,size=64m", str(small)], check=True)
        again = replay_run(small / "data", config, replay)
        assert again.returncode == 0, again.stderr[-3000:]
        assert snapshot(small / "data") == expected


def test_an_injected_full_disk_is_one_line_and_exit_1(tmp_path, replay, reference):
    _, config, _ = reference
    data_dir = tmp_path / "data"
    cmd = [sys.executable, str(HERE / "faulty_run.py"), "5", "run", "--all-feeds", "--config", str(config),
           "--data-dir", str(data_dir)]
    result = subprocess.run(cmd, cwd=REPO, env=environment(replay.base_url), capture_output=True, text=True, timeout=120)
    assert_one_line_failure(result, "database or disk is full")
    assert result.returncode == 1
    assert len(snapshot(data_dir)) == 5 and pages_by_status(data_dir).get("fetched", 0) > 0
    # (that the next run completes the store is shown on a real full file system above)


def test_read_commands_work_on_a_read_only_data_dir(tmp_path, reference):
    source, _, expected = reference
    with tmpfs(tmp_path / "ro", "16m") as mount:
        data_dir = copy_data_dir(source, mount / "data")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        url = sorted(expected)[0]
        for args in (["search", "outlet:thecradle", "--json"], ["stats", "--json"], ["export"], ["story", url, "--json"]):
            result = run_cli(*args, data_dir=data_dir)
            assert result.returncode == 0, (args, result.stderr[-3000:])
            assert result.stdout.strip(), args
        assert len(run_cli("export", data_dir=data_dir).stdout.splitlines()) == len(expected)
        written = run_cli("run", "--all-feeds", data_dir=data_dir)
        assert_one_line_failure(written, "Read-only file system")


@pytest.mark.parametrize("damaged", ["state.db", "storytrail.db"])
def test_a_corrupted_database_is_one_line_for_every_command(tmp_path, reference, damaged):
    data_dir = copy_data_dir(reference[0], tmp_path / "data")
    with open(data_dir / damaged, "r+b") as file:
        file.write(b"this is not a SQLite database at all" * 200)
    # `run` with a damaged store crawls on and keeps the pages (the store is "down"), so it is tried on state.db only
    commands = [["stats"], ["check"], ["run", "--all-feeds"]] if damaged == "state.db" else [["search", "aleppo"], ["check"]]
    for args in commands:
        result = run_cli(*args, data_dir=data_dir)
        assert_one_line_failure(result, damaged)
        assert "not a database" in result.stderr, (args, result.stderr[-2000:])
