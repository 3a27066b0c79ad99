"""`spread`: per-outlet figures from the chains, the same on SQLite and on Elasticsearch (osmem-server), checked
against figures worked out by hand from the replay corpus's truth.json, and the command on the demo data."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from cli_runner import storytrail

from crawlers.urls import normalize_url, registered_domain
from pipelines.chains import story_id_for
from pipelines.models import Article, ChainInfo
from pipelines import spread
from pipelines.spread import copy_pairs, outlet_spread, percentile, period_of, select_stories, spread_json, timeline
from pipelines.stores.base import Store
from pipelines.stores.sqlite import SqliteStore

TRUTH = json.loads((Path(__file__).resolve().parents[1] / "crawlers/replay/corpus/truth.json").read_text(encoding="utf-8"))
H, M = 3600, 60


def truth_articles() -> list[Article]:
    """Every replay article with the chain truth.json gives it: origin, parent (`copy_of`), lag from the origin."""
    articles = TRUTH["articles"]
    found = []
    for url, entry in articles.items():
        origin_url = TRUTH["origins"][entry["story"]]
        published = datetime.fromisoformat(entry["published"])
        is_origin = url == origin_url
        lag = (published - datetime.fromisoformat(articles[origin_url]["published"])).total_seconds()
        found.append(Article(
            url=normalize_url(url), outlet=entry["outlet"], domain=registered_domain(url), title=entry["title"],
            text=entry["title"], published=published, story_id=story_id_for(normalize_url(origin_url)), is_origin=is_origin,
            parent=None if is_origin else normalize_url(entry["copy_of"]),
            chain=ChainInfo(kind="origin" if is_origin else entry["kind"], lag_seconds=0.0 if is_origin else lag),
        ))
    return found


@pytest.fixture
def truth_store(store: Store) -> Store:
    """The replay truth in every store kind."""
    store.upsert(truth_articles())
    return store


@pytest.fixture
def truth_sqlite(tmp_path) -> Iterator[SqliteStore]:
    """The replay truth in a SQLite store (test_spread runs the same figures on every store kind)."""
    store = SqliteStore(tmp_path / "truth.db")
    store.upsert(truth_articles())
    yield store
    store.close()


# Worked out by hand from truth.json for the ten stories with "Syria" in a title: each origin, each copy,
# its `copy_of` and the minutes between their `published` times.
SYRIA = {
    # outlet: (originated, copies, copied by others, first appearance, median lag s, p90 lag s, copies most from, most copied by)
    "sputnik": (3, 0, 3, "2024-01-16T11:47:00+00:00", None, None, None, ("alethonews", 3)),
    "thecradle": (2, 0, 1, "2024-01-26T12:40:00+00:00", None, None, None, ("alethonews", 1)),
    "wsws": (2, 0, 1, "2024-01-30T02:15:00+00:00", None, None, None, ("alethonews", 1)),
    "neo": (1, 0, 1, "2019-02-26T09:30:00+00:00", None, None, None, ("globalresearch", 1)),
    "antimedia": (1, 0, 1, "2016-02-12T21:00:00+00:00", None, None, None, ("offguardian", 1)),
    # copies neo's story 1d 8h 40m later; sott takes both its Syria stories from it (one via the copy)
    "globalresearch": (1, 1, 2, "2016-05-10T14:20:00+00:00", 32 * H + 40 * M, 32 * H + 40 * M, ("neo", 1), ("sott", 2)),
    # lags 6h35m, 7h44m, 7h50m, 8h33m, 19h16m: nearest-rank median the 3rd, p90 the 5th
    "alethonews": (0, 5, 0, "2024-01-16T20:20:00+00:00", 7 * H + 50 * M, 19 * H + 16 * M, ("sputnik", 3), None),
    # 17h43m (gr-nusra) and 1d 19h 25m from neo's origin (neo-cartalucci, taken from Global Research's copy)
    "sott": (0, 2, 0, "2016-05-11T08:03:00+00:00", 17 * H + 43 * M, 43 * H + 25 * M, ("globalresearch", 2), None),
    "offguardian": (0, 1, 0, "2016-02-13T11:25:00+00:00", 14 * H + 25 * M, 14 * H + 25 * M, ("antimedia", 1), None),
}
SYRIA_PAIRS = [("sputnik", "alethonews", 3), ("globalresearch", "sott", 2), ("antimedia", "offguardian", 1),
               ("neo", "globalresearch", 1), ("thecradle", "alethonews", 1), ("wsws", "alethonews", 1)]


def test_spread_of_syria_matches_the_figures_worked_out_from_truth(truth_store):
    selection = select_stories(truth_store, "title:syria")
    assert len(selection.stories) == 10
    rows = {r.outlet: r for r in outlet_spread(selection)}
    assert set(rows) == set(SYRIA)
    for outlet, expected in SYRIA.items():
        r = rows[outlet]
        most_from = (r.copies_most_from, r.copies_most_from_n) if r.copies_most_from else None
        most_by = (r.most_copied_by, r.most_copied_by_n) if r.most_copied_by else None
        got = (r.originated, r.copies, r.copied_by_others, r.first_appearance, r.median_lag_seconds, r.p90_lag_seconds,
               most_from, most_by)
        assert got == expected, outlet
    assert [(p.source, p.copier, p.copies) for p in copy_pairs(selection)] == SYRIA_PAIRS


def test_many_matching_stories_are_read_in_one_pass_with_the_same_result(truth_store, monkeypatch):
    by_lookup = spread_json(select_stories(truth_store, "title:syria"))
    monkeypatch.setattr(spread, "ONE_PASS_STORIES", 3)
    monkeypatch.setattr(truth_store, "story_members", None)  # a lookup per story would now fail
    assert spread_json(select_stories(truth_store, "title:syria")) == by_lookup


def test_every_story_counts_as_truth_says(truth_store):
    """Without a query: each outlet's origins and copies, and each pair, as truth.json's labels count them."""
    selection = select_stories(truth_store)
    entries = TRUTH["articles"].values()
    assert len(selection.stories) == len(TRUTH["origins"])
    rows = {r.outlet: r for r in outlet_spread(selection)}
    for outlet in {e["outlet"] for e in entries}:
        mine = [e for e in entries if e["outlet"] == outlet]
        assert rows[outlet].originated == sum(e["is_origin"] for e in mine), outlet
        assert rows[outlet].copies == sum(not e["is_origin"] for e in mine), outlet
        assert rows[outlet].first_appearance == min(e["published"] for e in mine), outlet
    pairs = {}
    for e in entries:
        if not e["is_origin"]:
            key = (TRUTH["articles"][e["copy_of"]]["outlet"], e["outlet"])
            pairs[key] = pairs.get(key, 0) + 1
    assert {(p.source, p.copier): p.copies for p in copy_pairs(selection)} == {k: v for k, v in pairs.items() if k[0] != k[1]}


def test_since_and_until_select_by_the_origins_day(truth_store):
    selection = select_stories(truth_store, "title:syria", since=date(2024, 1, 26), until=date(2024, 1, 30))
    assert sorted(s.origin.outlet for s in selection.stories) == ["sputnik", "thecradle", "thecradle", "wsws"]
    assert select_stories(truth_store, "title:syria", since=date(2030, 1, 1)).stories == []


def test_timeline_by_week_counts_origins_and_copies(truth_store):
    cells = timeline(select_stories(truth_store, "title:syria"), "week")
    week = {c["outlet"]: c for c in cells if c["period"] == "2024-W05"}  # 29 Jan - 4 Feb 2024
    assert week["sputnik"] == {"period": "2024-W05", "outlet": "sputnik", "articles": 1, "originated": 1, "copies": 0}
    assert week["alethonews"]["copies"] == 3 and week["wsws"]["originated"] == 2


def test_periods_and_percentiles():
    moment = datetime.fromisoformat("2024-01-01T10:00:00+00:00")
    assert [period_of(moment, by) for by in ("day", "week", "month")] == ["2024-01-01", "2024-W01", "2024-01"]
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([5, 1, 3, 2, 4], 90) == 5 and percentile([], 50) is None
    with pytest.raises(ValueError):
        period_of(moment, "year")


def test_json_lists_outlets_pairs_and_timeline(truth_store):
    data = spread_json(select_stories(truth_store, "title:syria"), "month")
    assert data["stories"] == 10 and data["articles"] == 19 and not data["truncated"]
    assert {o["outlet"] for o in data["outlets"]} == set(SYRIA)
    assert data["pairs"][0] == {"source": "sputnik", "copier": "alethonews", "copies": 3, "stories": 3,
                                "median_lag_seconds": 8 * H + 33 * M, "kinds": {"full": 3}}


# -- the command, on the demo data (real crawl, extraction and linking) ---------------------------------------
def test_spread_syria_json_lists_every_outlet_with_a_matching_story(demo_data_dir):
    result = storytrail("spread", "Syria", "--json", data_dir=demo_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    from pipelines.stores.sqlite import SqliteStore

    store = SqliteStore(demo_data_dir / "storytrail.db")
    try:
        articles = list(store.iter_articles())
    finally:
        store.close()
    matching = {a.story_id for a in articles if re.search(r"\bsyria\b", f"{a.title} {a.text}", re.I)}
    expected = {a.outlet for a in articles if a.story_id in matching}
    assert data["stories"] == len(matching) > 5
    assert {o["outlet"] for o in data["outlets"]} == expected
    assert sum(o["originated"] for o in data["outlets"]) == len(matching)


def test_spread_table_and_csv(demo_data_dir):
    table = storytrail("spread", "Syria", "--by", "week", data_dir=demo_data_dir)
    assert table.returncode == 0, table.stderr[-2000:]
    assert "Who copies whom" in table.stdout and "By week" in table.stdout and "alethonews" in table.stdout
    as_csv = storytrail("spread", "Syria", "--csv", data_dir=demo_data_dir)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert rows and {"outlet", "originated", "copies", "median_lag_seconds", "copies_most_from"} <= set(rows[0])


@pytest.mark.parametrize("args, words", [
    (("spread", "Syria", "--since", "yesterday"), "not a day"),
    (("spread", "Syria", "--by", "year"), "day, week or month"),
    (("spread", "title:(unclosed"), "bad query"),
])
def test_bad_input_is_one_line_and_exit_2(demo_data_dir, args, words):
    result = storytrail(*args, data_dir=demo_data_dir)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


def test_a_missing_store_is_an_error_not_a_new_empty_store(tmp_path):
    result = storytrail("spread", "Syria", data_dir=tmp_path)
    assert result.returncode == 2 and "no store at" in result.stderr
    assert not (tmp_path / "storytrail.db").exists()


def test_research_commands_import_neither_scrapy_nor_trafilatura(demo_data_dir, tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from pipelines.cli import app\n"
        "for args in (['spread', 'Syria'], ['report', 'Syria', '-o', sys.argv[2]], ['export', '--format', 'gexf', '-o', sys.argv[2] + '.gexf']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            app(args + ['--data-dir', sys.argv[1]])\n"
        "        except SystemExit as exit:\n"
        "            assert not exit.code, (args, exit.code)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'trafilatura', 'twisted', 'datasette'}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(demo_data_dir), str(tmp_path / "r.html")],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
