"""Read commands start light: they import only what they use, create no crawl state, and a collapsed search
reads only the hits it shows. (How light, against `import scrapy, trafilatura`: bench/pipeline.py --parts startup.)"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_runner import REPO, environment

import pipelines.stores.sqlite as sqlite_module
from crawlers.state import CrawlState
from pipelines.models import Article, ChainInfo
from pipelines.stores.base import Store
from pipelines.stores.collapse import collapse_hits
from pipelines.stores.sqlite import SqliteStore

# What the crawl stack brings; a read command must start without any of it.
CRAWL_STACK = ("scrapy", "twisted", "trafilatura", "htmldate", "courlan", "networkx", "tldextract", "lxml", "feedparser")
# Nor what only other commands use: the report's templates, parquet, Datasette, the sources file's YAML,
# loguru (with the asyncio it imports) while nothing logs, and pydantic while no settings file asks for validation.
NOT_FOR_READING = (*CRAWL_STACK, "jinja2", "pyarrow", "datasette", "yaml", "loguru", "asyncio", "pydantic")
OTHER_COMMANDS = ("pipelines.cycle", "pipelines.linking", "pipelines.importer", "pipelines.report", "pipelines.spread",
                  "pipelines.alerts", "pipelines.scheduler", "pipelines.maintenance", "pipelines.run_lock",
                  "pipelines.cli.gather", "pipelines.cli.admin", "pipelines.cli.alerts", "pipelines.cli.operate")
ORIGIN = "https://thecradle.co/articles/tanker-held-off-the-harbour"
READ_COMMANDS = [
    ["search", "tanker"],
    ["search", "tanker", "--collapse", "--json"],
    ["stats", "--json"],
    ["story", ORIGIN, "--json"],
    ["stories", "--json"],
    ["export"],
]


def _articles(stories: int, copies: int) -> list[Article]:
    """`stories` stories of `copies` copies each, every text mentioning the tanker."""
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    found = []
    for s in range(stories):
        story_id = f"s{s:016d}"
        for c in range(copies):
            url = ORIGIN if (s, c) == (0, 0) else f"https://copy{c}.example.org/story-{s}"
            found.append(Article(
                url=url, outlet="thecradle" if c == 0 else "example.org", domain="example.org",
                title=f"Tanker held, story {s}", text=f"The tanker was held for {s} days outside the harbour. " * (c + 1),
                published=start + timedelta(days=s, hours=c), story_id=story_id, is_origin=c == 0,
                parent=None if c == 0 else ORIGIN, chain=ChainInfo(kind="origin" if c == 0 else "full"),
            ))
    return found


@pytest.fixture
def store_only(tmp_path: Path) -> Path:
    """A data dir holding a store and nothing else, as a copied or restored store would."""
    with SqliteStore(tmp_path / "data" / "storytrail.db") as store:
        store.upsert(_articles(3, 3))
    return tmp_path / "data"


def _run_and_list_modules(args: list[str], data_dir: Path, env: dict | None = None,
                          unwanted: tuple[str, ...] = NOT_FOR_READING) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run a command in a fresh interpreter; also return which of the `unwanted` packages and of the other
    commands' modules it had imported."""
    code = (
        "import sys\n"
        "from pipelines.cli import main\n"
        f"sys.argv = ['storytrail', *{args!r}, '--data-dir', {str(data_dir)!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    code = exit.code\nelse:\n    code = 0\n"
        f"loaded = sorted(({{m.split('.')[0] for m in sys.modules}} & set({unwanted!r})) | (set(sys.modules) & set({OTHER_COMMANDS!r})))\n"
        "print('MODULES=' + ','.join(loaded), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**environment(None), **(env or {})},
                            capture_output=True, text=True, timeout=120)
    line = next(line for line in result.stderr.splitlines() if line.startswith("MODULES="))
    return result, [m for m in line[len("MODULES="):].split(",") if m]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a[:1] + a[2:]))
def test_read_commands_import_only_what_they_use_and_create_no_state(store_only: Path, args: list[str]):
    result, loaded = _run_and_list_modules(args, store_only)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()
    assert loaded == []
    assert sorted(p.name for p in store_only.iterdir() if not p.name.startswith("storytrail.db")) == []


def test_a_gathering_command_does_import_the_crawl_stack(store_only: Path, tmp_path: Path):
    """The check above can fail: `import` brings the extraction stack, loguru and its own command module."""
    documents = tmp_path / "docs.jsonl"
    documents.write_text(json.dumps({"url": "https://a.example.org/x", "html": "<p>Some text of a page.</p>"}) + "\n")
    result, loaded = _run_and_list_modules(["import", str(documents), "--workers", "1"], store_only)
    assert {"trafilatura", "loguru", "pipelines.cli.gather"} <= set(loaded)


def test_stats_reads_an_existing_crawl_state_without_writing_it(store_only: Path):
    state = CrawlState(store_only / "state.db")
    run_id = state.start_run()
    state.finish_run(run_id, {"store/added": 9})
    state.close()
    before = (store_only / "state.db").read_bytes()
    result, _ = _run_and_list_modules(["stats", "--json"], store_only)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["last_run"]["counters"] == {"store/added": 9}
    assert (store_only / "state.db").read_bytes() == before  # (SQLite may add its WAL index file beside it)


def test_collapsed_search_on_sqlite_reads_only_the_hits_it_shows(tmp_path: Path, monkeypatch):
    with SqliteStore(tmp_path / "storytrail.db") as store:
        store.upsert(_articles(stories=6, copies=4))
        everything = store.search("tanker", limit=100)
        read: list[str] = []
        original = sqlite_module._from_row
        monkeypatch.setattr(sqlite_module, "_from_row", lambda row: read.append(row["url"]) or original(row))
        hits = store.search("tanker", limit=2, collapse_stories=True)
    assert len(everything) == 24
    assert len(hits) == 2 and len(read) == 2  # two stories shown, two rows read: not all 24 matches
    assert len({h.article.story_id for h in hits}) == 2
    assert all(h.copies == 3 for h in hits)  # each story's other matching copies are counted
    best = {}
    for hit in everything:  # the best-scored copy of each story, in the order of the uncollapsed search
        best.setdefault(hit.article.story_id, hit.article.url)
    assert [h.article.url for h in hits] == list(best.values())[:2]


def test_collapsed_search_stops_at_the_limit_on_every_store(store: Store):
    store.upsert(_articles(stories=6, copies=4))
    hits = store.search("tanker", limit=3, collapse_stories=True)
    assert len(hits) == 3
    assert len({h.article.story_id for h in hits}) == 3
    assert all(h.copies == 3 for h in hits)
    if hasattr(store, "_server_collapse"):  # Elasticsearch and its look-alikes collapse on the server
        assert store._server_collapse is True


def test_a_read_command_that_logs_loads_loguru_and_logs_in_storytrails_format(store_only: Path):
    """loguru is configured when something first imports it: a warning still comes out as one of our lines."""
    result, loaded = _run_and_list_modules(["search", "tanker", "--json"], store_only, env={"STORYTRAIL_NO_SUCH": "1"},
                                           unwanted=("loguru",))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "loguru" in loaded
    warning = [line for line in result.stderr.splitlines() if "STORYTRAIL_NO_SUCH" in line]
    assert len(warning) == 1 and re.fullmatch(r"\d\d:\d\d:\d\d WARNING - +ignored environment variable\(s\) .*", warning[0])


def test_every_command_is_listed_with_the_module_that_defines_it():
    """The CLI imports a command's module from this table: a command missing from it could not be run."""
    from typer.main import get_command_name

    from pipelines.cli.common import COMMAND_MODULES, LazyCommands, app

    LazyCommands(name="storytrail").list_commands(None)  # imports every command module
    defined = {info.name or get_command_name(info.callback.__name__): info.callback.__module__
               for info in app.registered_commands}
    groups = {info.name: info.typer_instance for info in app.registered_groups}
    assert groups == {"alerts": sys.modules["pipelines.cli.alerts"].alerts_app} and COMMAND_MODULES["alerts"] == "alerts"
    assert defined == {name: f"pipelines.cli.{module}" for name, module in COMMAND_MODULES.items() if name not in groups}


def test_a_read_command_validates_a_settings_file_when_there_is_one(store_only: Path):
    """Skipping pydantic is for when nothing asks for validation: a settings file is still checked in full."""
    (store_only / "storytrail.toml").write_text("[link]\nmin_run_words = 1\n")
    result, loaded = _run_and_list_modules(["search", "tanker"], store_only, unwanted=("pydantic",))
    assert result.returncode == 2
    assert "setting 'link.min_run_words'" in result.stderr and "Traceback" not in result.stderr
    assert "pydantic" in loaded


@settings(max_examples=30, deadline=None)
@given(copies=st.lists(st.lists(st.integers(1, 4), min_size=1, max_size=5), min_size=1, max_size=6),
       limit=st.integers(1, 8))
def test_a_collapsed_search_keeps_each_storys_best_hit_of_the_full_ranking(copies: list[list[int]], limit: int):
    """Whatever the stories' sizes and the texts' repetitions (ties in score included, broken by date as the
    uncollapsed order breaks them), collapsing in the store equals collapsing the whole uncollapsed ranking."""
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    articles = [
        Article(url=f"https://c{c}.example.org/{s}", outlet="example.org", domain="example.org", title=f"Story {s}",
                text="The tanker was held outside the harbour. " * repeat + f"Copy {c}.",
                published=start + timedelta(hours=s * 10 + c), story_id=f"s{s}" if len(story) > 1 else None)
        for s, story in enumerate(copies) for c, repeat in enumerate(story)
    ]
    with SqliteStore(":memory:") as store:
        store.upsert(articles)
        collapsed = store.search("tanker", limit=limit, collapse_stories=True)
        expected = collapse_hits(store.search("tanker", limit=1000), limit, True)
    assert [(h.article.url, h.copies) for h in collapsed] == [(h.article.url, h.copies) for h in expected]


def test_a_collapsed_search_reads_its_hits_in_chunks(tmp_path: Path, monkeypatch):
    """`--limit` goes up to 100,000 stories, past SQLite's 32,766 bound variables: the hits' rows are read
    IN_CHUNK ids at a time, and come back in the ranking's order. (Here SQLite binds 3 at most, IN_CHUNK is 2.)"""
    monkeypatch.setattr(sqlite_module, "IN_CHUNK", 2)
    with SqliteStore(tmp_path / "storytrail.db") as store:
        store.upsert(_articles(stories=5, copies=2))
        store.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 3)
        hits = store.search("tanker", limit=5, collapse_stories=True)
        expected = collapse_hits(store.search("tanker", limit=100), 5, True)
    assert [(h.article.url, h.copies) for h in hits] == [(h.article.url, h.copies) for h in expected]
