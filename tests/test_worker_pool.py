"""Extraction in worker processes, one writer: the same store as a serial run, memory bounded, logs kept."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from cli_runner import REPO, command, environment, storytrail

from crawlers.state import CrawlState
from pipelines.stores.sqlite import SqliteStore
from pipelines.worker_pool import ordered, worker_count

REAL_PAGES = Path(__file__).parent / "data" / "real" / "pages"
INTRO = ("<p>Republished with a note of our own: the report below is shared for our readers, who asked us to "
         "follow this story and to add the context the original left out of its first paragraphs.</p>")


def _documents(path: Path) -> Path:
    """Four real pages at three URLs each (one copy with a paragraph added), an empty page, a text-only
    article: every kind of line `import` takes, in an order where copies arrive after their origins."""
    pages = sorted(REAL_PAGES.glob("*.html.gz"))[:4]
    htmls = [gzip.decompress(p.read_bytes()).decode("utf-8", "replace") for p in pages]
    lines = []
    for round_ in range(3):
        for i, html in enumerate(htmls):
            if round_ == 2 and i == 0:
                html = htmls[1].replace("<p>", INTRO + "<p>", 1)
            lines.append({"url": f"https://site{round_}.example.org/{i}.html", "html": html})
    lines.append({"url": "https://empty.example.org/nothing.html", "html": "<html><body></body></html>"})
    lines.append({"url": "https://text.example.org/only-text", "title": "Text only",
                  "text": "A text given as such goes through linking like any other article.\n" * 5})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _store_contents(data_dir: Path) -> tuple[list[tuple], dict[str, list[int]]]:
    with SqliteStore(data_dir / "storytrail.db") as store:
        articles = sorted(
            (a.url, a.title, a.text_hash, a.story_id, a.is_origin, a.parent, a.chain.to_json() if a.chain else None)
            for a in store.iter_articles()
        )
        prints = {row[0]: sorted(store.get_fingerprints(row[0])) for row in articles}
    return articles, prints


def test_pool_import_leaves_the_same_store_as_a_serial_one(tmp_path: Path):
    documents = _documents(tmp_path / "docs.jsonl")
    serial = storytrail("import", str(documents), "--workers", "1", data_dir=tmp_path / "serial")
    pooled = storytrail("import", str(documents), "--workers", "2", data_dir=tmp_path / "pooled")
    assert "13 document(s) imported" in serial.stderr, serial.stderr[-2000:]
    assert "13 document(s) imported" in pooled.stderr, pooled.stderr[-2000:]
    assert "in the writer and 1 worker process(es)" in pooled.stderr and "worker process" not in serial.stderr
    articles, prints = _store_contents(tmp_path / "pooled")
    assert (articles, prints) == _store_contents(tmp_path / "serial")
    assert len({a[3] for a in articles}) < len(articles)  # copies were linked into shared stories
    assert all(prints.values())
    # the worker's extraction failure came back to the writer: logged with its URL, page kept as failed
    assert "no article extracted" in pooled.stderr and "empty.example.org/nothing.html" in pooled.stderr
    state = CrawlState(tmp_path / "pooled" / "state.db")
    assert state.count_by_status() == {"indexed": 12, "failed": 1}
    state.close()


def test_ordered_keeps_input_order_and_bounds_what_is_in_flight():
    submitted: list[int] = []
    done: list[int] = []

    def later(item: int) -> int:
        time.sleep((5 - item % 5) * 0.002)  # later items finish first
        return item * 10

    with ThreadPoolExecutor(4) as pool:
        def submit(item: int) -> Future:
            submitted.append(item)
            return pool.submit(later, item)

        for item, result in ordered(range(30), submit, in_flight=4):
            assert len(submitted) - len(done) <= 4  # read ahead by at most in_flight items
            assert result == item * 10
            done.append(item)
    assert done == list(range(30))


def test_the_caller_takes_items_no_worker_has_started_instead_of_waiting():
    started: list[int] = []
    here: list[int] = []

    def slow(item: int) -> int:
        started.append(item)
        time.sleep(0.05)
        return item * 10

    def work_here(item: int) -> int:
        here.append(item)
        if item == 7:
            raise ValueError("page 7 is bad")
        return item * 10

    results = []
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(ValueError, match="page 7"):  # raised at item 7's turn, after 0-6 came out
            for item, result in ordered(range(12), lambda item: pool.submit(slow, item), in_flight=6, here=work_here):
                results.append((item, result))
    assert results == [(i, i * 10) for i in range(7)]
    assert here and started  # both worked, each on items of its own
    assert not set(here) & set(started)
    assert here[0] == 1  # the first item no worker had started: the soonest needed


def test_worker_count_zero_means_one_per_core():
    import os

    assert worker_count(0) == (os.cpu_count() or 1)
    assert worker_count(3) == 3


def test_a_writer_killed_mid_import_leaves_no_worker_behind_and_a_rerun_completes(tmp_path: Path):
    documents = _documents(tmp_path / "docs.jsonl")
    data = tmp_path / "killed"
    env = {**environment(None), "STORYTRAIL_KILL_AT": "index.before_commit:5", "STORYTRAIL_PROCESS__GROUP_ARTICLES": "2"}
    writer = subprocess.Popen(command("import", str(documents), "--workers", "2", data_dir=data), cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    workers = []
    while writer.poll() is None:  # the workers, while the writer lives
        workers = subprocess.run(["ps", "--ppid", str(writer.pid), "-o", "pid="], capture_output=True, text=True).stdout.split() or workers
        time.sleep(0.05)
    assert writer.returncode == -signal.SIGKILL  # killed at its 5th article write, two groups committed: mid-work
    assert workers
    deadline = time.monotonic() + 10
    while any(_alive(int(pid)) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(int(pid)) for pid in workers)
    with SqliteStore(data / "storytrail.db") as store:
        assert 0 < store.stats().articles < 12
    again = storytrail("import", str(documents), "--workers", "2", data_dir=data)
    assert "13 document(s) imported" in again.stderr, again.stderr[-2000:]
    serial = storytrail("import", str(documents), "--workers", "1", data_dir=tmp_path / "serial")
    assert serial.returncode == again.returncode
    assert _store_contents(data) == _store_contents(tmp_path / "serial")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"  # a zombie has exited
