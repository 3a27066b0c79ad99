"""A kill in the middle of a group of articles (pipelines/processing.py writes an import's articles a group per
store commit): the group's written articles vanish with its transaction, their pages stay `fetched`, and the
re-run ends with every page once, as an uninterrupted import leaves it."""

from __future__ import annotations

import gzip
import json
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

from fault_helpers import run_cli, snapshot

REAL_PAGES = Path(__file__).parents[1] / "data" / "real" / "pages"
DOCUMENTS = 12
GROUP = {"STORYTRAIL_PROCESS__GROUP_ARTICLES": "4", "STORYTRAIL_PROCESS__GROUP_SECONDS": "600",
         "STORYTRAIL_PROCESS__WORKERS": "1"}


def documents(path: Path) -> Path:
    """Six real pages at two sites each: the second site's copies join the first site's stories."""
    pages = sorted(REAL_PAGES.glob("*.html.gz"))[: DOCUMENTS // 2]
    lines = [{"url": f"https://site{i // len(pages)}.example.org/{i % len(pages)}.html",
              "html": gzip.decompress(pages[i % len(pages)].read_bytes()).decode("utf-8", "replace")}
             for i in range(DOCUMENTS)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def statuses(data_dir: Path) -> dict[str, int]:
    with closing(sqlite3.connect(data_dir / "state.db")) as db:
        return dict(db.execute("SELECT status, count(*) FROM pages GROUP BY status").fetchall())


def stored(data_dir: Path) -> int:
    with closing(sqlite3.connect(data_dir / "storytrail.db")) as db:
        return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def test_a_kill_mid_group_loses_the_group_and_the_rerun_stores_every_page_once(tmp_path: Path):
    corpus = documents(tmp_path / "corpus.jsonl")
    whole = run_cli("import", str(corpus), data_dir=tmp_path / "whole", env=GROUP)
    assert whole.returncode == 0, whole.stderr[-3000:]
    expected = snapshot(tmp_path / "whole")
    assert len(expected) == DOCUMENTS and len({story for *_, story in expected.values()}) < DOCUMENTS

    data_dir = tmp_path / "killed"
    # killed after writing its 6th article: the first group of 4 committed, the 5th and 6th written, not committed
    killed = run_cli("import", str(corpus), data_dir=data_dir, env={**GROUP, "STORYTRAIL_KILL_AT": "index.before_commit:6"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert stored(data_dir) == 4
    assert statuses(data_dir) == {"indexed": 4, "fetched": 2}  # the lost group's pages wait for the next run
    assert sum("new article" in line for line in killed.stderr.splitlines()) == 6  # six were written

    rerun = run_cli("import", str(corpus), data_dir=data_dir, env=GROUP)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"{DOCUMENTS} document(s) imported" in rerun.stderr
    assert statuses(data_dir) == {"indexed": DOCUMENTS}
    assert stored(data_dir) == DOCUMENTS
    assert snapshot(data_dir) == expected
