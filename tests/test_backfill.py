"""Backfill (crawlers/backfill.py, `storytrail backfill`): sitemaps, listings and the web archive, bounded by
dates, through the same pipeline as a cycle, safe to kill; and the demo that includes the archive backfill."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import yaml
from cli_runner import REPO, command, environment, story_groups, export_rows
from cli_runner import storytrail as run_storytrail
from scrapy.http import HtmlResponse

from crawlers.backfill import Window, day_in_text, day_in_url, days_in_query, read_listing, read_sitemap
from crawlers.replay.server import ReplayWeb
from crawlers.sources import load_sources
from crawlers.urls import normalize_url
from pipelines.faultpoints import KILL_AT_VARIABLE
from pipelines.models import Article
from pipelines.stores.sqlite import SqliteStore

TRUTH = json.loads((REPO / "crawlers" / "replay" / "corpus" / "truth.json").read_text(encoding="utf-8"))["articles"]
FEB_TO_JULY = Window.of_days(date(2016, 2, 1), date(2016, 7, 20))


def truth_urls(outlet: str, window: Window) -> set[str]:
    """The outlet's articles published inside the window, as stored (normalised)."""
    return {normalize_url(u) for u, e in TRUTH.items()
            if e["outlet"] == outlet and window.holds(datetime.fromisoformat(e["published"]))}


def storytrail(*args: str, data_dir: Path, replay: ReplayWeb) -> subprocess.CompletedProcess:
    return run_storytrail(*args, data_dir=data_dir, replay_url=replay.base_url)


def stored(data_dir: Path) -> dict:
    with SqliteStore(data_dir / "storytrail.db") as store:
        return {a.url: a for a in store.iter_articles()}


# ----------------------------------------------------------------------------------------------- discovery


SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://sputnikglobe.com/sitemap_article.xml?date_start=20240201&amp;date_end=20240229</loc><lastmod>2024-02-20T10:00:00+00:00</lastmod></sitemap>
<sitemap><loc>https://sputnikglobe.com/sitemap_article.xml?date_start=20240101&amp;date_end=20240131</loc><lastmod>2024-01-29T10:00:00+00:00</lastmod></sitemap>
<sitemap><loc>https://sputnikglobe.com/sitemap_article.xml?date_start=20231201&amp;date_end=20231231</loc></sitemap>
<sitemap><loc>https://example.org/sitemap-old.xml</loc><lastmod>2023-06-01</lastmod></sitemap>
</sitemapindex>"""

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://sputnikglobe.com/20240129/in-range-1116468321.html</loc><lastmod>2024-03-05</lastmod></url>
<url><loc>https://sputnikglobe.com/20231231/before-1116000000.html</loc></url>
<url><loc>https://www.globalresearch.ca/modified-in-range/5600001</loc><lastmod>2024-01-10T08:00:00Z</lastmod></url>
<url><loc>https://www.globalresearch.ca/modified-later/5600002</loc><lastmod>2024-02-01T00:00:00Z</lastmod></url>
<url><loc>https://www.globalresearch.ca/undated/5600003</loc></url>
</urlset>"""


def test_a_sitemap_index_is_read_only_where_it_can_hold_the_window():
    children, pages = read_sitemap(SITEMAP_INDEX, Window.of_days(date(2024, 1, 1), date(2024, 1, 31)))
    assert pages == []
    assert children == ["https://sputnikglobe.com/sitemap_article.xml?date_start=20240101&date_end=20240131"]


def test_a_page_is_dated_by_its_url_first_then_by_lastmod():
    _, pages = read_sitemap(URLSET, Window.of_days(date(2024, 1, 1), date(2024, 1, 31)))
    assert [url for url, _ in pages] == [
        "https://sputnikglobe.com/20240129/in-range-1116468321.html",  # the URL's day wins over a later lastmod
        "https://www.globalresearch.ca/modified-in-range/5600001",
        "https://www.globalresearch.ca/undated/5600003",  # nothing dates it: kept rather than lost
    ]


def test_dates_are_read_from_urls_queries_and_listing_text():
    assert day_in_url("https://www.wsws.org/en/articles/2016/08/09/alep-a09.html") == datetime(2016, 8, 9, tzinfo=timezone.utc)
    assert day_in_url("https://sputnikglobe.com/20240129/x-1116468321.html") == datetime(2024, 1, 29, tzinfo=timezone.utc)
    assert day_in_url("https://www.globalresearch.ca/slug/5934366") is None
    start, end = days_in_query("https://sputnikglobe.com/sitemap_article.xml?date_start=20240201&date_end=20240229")
    assert (start.date(), end.date()) == (date(2024, 2, 1), date(2024, 2, 29))
    assert day_in_text("By John Miles, January 29, 2024") == datetime(2024, 1, 29, tzinfo=timezone.utc)


def test_a_listing_page_gives_the_outlets_articles_with_their_dates_and_the_next_page():
    html = b"""<html><body>
    <article><h3><a href="/new-article/5600010">New</a></h3><p class="meta">By A, March 2, 2024</p></article>
    <article><h3><a href="https://www.globalresearch.ca/older-article/5600009">Old</a></h3><time datetime="2023-12-30T10:00:00Z">x</time></article>
    <article><a href="https://elsewhere.example/x/5600008">Off-site</a><a href="/theme/syria">Topic</a></article>
    <nav class="pagination"><a href="/page/2">Next page</a></nav></body></html>"""
    response = HtmlResponse("https://www.globalresearch.ca/latest-news-and-top-stories", body=html)
    items, next_page = read_listing(response, load_sources().get("globalresearch"))
    assert items == [("https://www.globalresearch.ca/new-article/5600010", datetime(2024, 3, 2, tzinfo=timezone.utc)),
                     ("https://www.globalresearch.ca/older-article/5600009", datetime(2023, 12, 30, 10, tzinfo=timezone.utc))]
    assert next_page == "https://www.globalresearch.ca/page/2"


# ----------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def paged_archive(tmp_path_factory) -> str:
    """A settings file whose sources ask the capture index for 2 rows per answer, so the resumption keys are used."""
    folder = tmp_path_factory.mktemp("paged-archive")
    config = yaml.safe_load((REPO / "config" / "sources.yaml").read_text(encoding="utf-8"))
    config["web_archive"]["cdx_page_rows"] = 2
    (folder / "sources.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    (folder / "settings.toml").write_text(f'sources_file = "{folder / "sources.yaml"}"\n', encoding="utf-8")
    return str(folder / "settings.toml")


@pytest.fixture(scope="module")
def antimedia_backfill(tmp_path_factory, replay, paged_archive):
    data_dir = tmp_path_factory.mktemp("backfill-antimedia")
    before = replay.hits.copy()
    result = storytrail("backfill", "antimedia", "--since", "2016-02-01", "--until", "2016-07-20", "--json",
                        "--config", paged_archive, data_dir=data_dir, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    return data_dir, json.loads(result.stdout), replay.hits - before


def test_archive_backfill_gathers_exactly_the_window_once_with_the_capture_recorded(antimedia_backfill):
    data_dir, summary, hits = antimedia_backfill
    articles = stored(data_dir)
    assert set(articles) == truth_urls("antimedia", FEB_TO_JULY) and len(articles) == 4
    assert summary["new_articles"] == 4
    index_answers = [url for url in hits if "/cdx/search/cdx?" in url]  # per domain: theantimedia.org and .com
    in_window = [u for u in index_answers if "url=theantimedia.org" in u and "from=20160201000000" in u]
    assert len(in_window) == 2  # its 4 rows, 2 per answer
    for article in articles.values():
        assert article.outlet == "antimedia" and article.url.startswith("https://theantimedia.org/")
        stamp = article.capture_url.split("/web/")[1].split("/")[0]
        assert article.capture_url == f"https://web.archive.org/web/{stamp}/{article.url}/"
        assert article.captured_at == datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
        assert article.published is None or article.published <= article.captured_at
        assert "Wayback Machine" not in article.text and "captures" not in article.text
        assert hits[f"https://web.archive.org/web/{stamp}id_/{article.url}/"] == 1  # the original content, once
    assert not any("/web/" in url and "id_/" not in url for url in hits), "a capture with the banner was fetched"


def test_a_page_captured_before_the_window_is_left_out(tmp_path, replay):
    """The Syria article (published 12 February 2016) was captured on 13 February and again on 20 March."""
    result = storytrail("backfill", "antimedia", "--since", "2016-03-01", "--until", "2016-03-31", "--json",
                        data_dir=tmp_path, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    counters = json.loads(result.stdout)["counters"]
    assert counters["backfill/captured_before_window"] == 1 and not stored(tmp_path)
    assert truth_urls("antimedia", Window.of_days(date(2016, 3, 1), date(2016, 3, 31))) == set()


def test_a_second_archive_backfill_fetches_and_adds_nothing(antimedia_backfill, replay):
    data_dir, _, _ = antimedia_backfill
    before_articles, before_hits = stored(data_dir), replay.hits.copy()
    result = storytrail("backfill", "antimedia", "--since", "2016-02-01", "--until", "2016-07-20", "--json",
                        data_dir=data_dir, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["new_articles"] == 0 and summary["counters"]["backfill/already_known"] == 4
    assert stored(data_dir) == before_articles
    assert not [u for u in replay.hits - before_hits if "id_/" in u]


def test_a_killed_archive_backfill_resumes_without_duplicates_or_gaps(tmp_path, replay, paged_archive):
    args = ("backfill", "antimedia", "--since", "2016-02-01", "--until", "2016-07-20", "--config", paged_archive)
    env = environment(replay.base_url) | {KILL_AT_VARIABLE: "backfill.after_page:2"}
    # Output to files, not pipes: worker processes may outlive the killed writer for a moment.
    with open(tmp_path / "killed.log", "w") as log:
        killed = subprocess.run(command(*args, data_dir=tmp_path), cwd=REPO, env=env, stdout=log, stderr=log, timeout=120)
    assert killed.returncode == -9, (tmp_path / "killed.log").read_text()[-3000:]
    before_rerun = stored(tmp_path)
    assert 0 < len(before_rerun) < 4, "the kill did not land mid-work"
    hits = replay.hits.copy()
    result = storytrail(*args, data_dir=tmp_path, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    after = stored(tmp_path)
    assert set(after) == truth_urls("antimedia", FEB_TO_JULY)
    assert {u: a.text_hash for u, a in after.items() if u in before_rerun} == {u: a.text_hash for u, a in before_rerun.items()}
    refetched = [u for u in replay.hits - hits if "id_/" in u]
    assert not [u for u in refetched if normalize_url(u) in before_rerun], "a page stored before the kill was fetched again"


def test_sitemap_backfill_of_a_live_outlet_stays_within_the_dates(tmp_path, replay):
    january = Window.of_days(date(2024, 1, 1), date(2024, 1, 31))
    before = replay.hits.copy()
    result = storytrail("backfill", "sputnik", "--since", "2024-01-01", "--until", "2024-01-31", data_dir=tmp_path, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = truth_urls("sputnik", january)
    assert expected and set(stored(tmp_path)) == expected
    monthly = [u for u in replay.hits - before if "sitemap_article.xml?" in u]
    assert monthly == ["https://sputnikglobe.com/sitemap_article.xml?date_start=20240101&date_end=20240131"]


def test_sitemap_and_listing_backfill_find_each_page_once(tmp_path, replay):
    window = Window.of_days(date(2023, 1, 1), date(2024, 1, 31))
    result = storytrail("backfill", "globalresearch", "--since", "2023-01-01", "--until", "2024-01-31", "--json",
                        data_dir=tmp_path, replay=replay)
    assert result.returncode == 0, result.stderr[-3000:]
    counters = json.loads(result.stdout)["counters"]
    expected = truth_urls("globalresearch", window)
    assert expected and set(stored(tmp_path)) == expected
    assert counters["page/discovered"] == len(expected) and counters["backfill/listing_pages_read"] >= 1


def test_bad_backfill_arguments_are_one_line_each(tmp_path, replay):
    unknown = storytrail("backfill", "nosuch", "--since", "2024-01-01", data_dir=tmp_path, replay=replay)
    assert unknown.returncode == 2 and "no source 'nosuch'" in unknown.stderr and "Traceback" not in unknown.stderr
    reversed_dates = storytrail("backfill", "sputnik", "--since", "2024-02-01", "--until", "2024-01-01", data_dir=tmp_path, replay=replay)
    assert reversed_dates.returncode == 2 and "before --since" in reversed_dates.stderr


def test_a_sitemap_that_fails_is_one_line_and_exit_code_3(tmp_path, replay):
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - {key: badnews, name: Bad News, role: origin, domains: [badnews.example],\n"
                       "     sitemaps: ['https://www.badnews.example/no-sitemap.xml']}\n", encoding="utf-8")
    config = tmp_path / "settings.toml"
    config.write_text(f'sources_file = "{sources}"\n', encoding="utf-8")
    result = storytrail("backfill", "badnews", "--since", "2024-01-01", "--config", str(config), data_dir=tmp_path / "data", replay=replay)
    lines = [line for line in result.stderr.splitlines() if "no-sitemap.xml" in line]
    assert result.returncode == 3 and len(lines) == 1 and "HTTP 404" in lines[0], result.stderr[-3000:]


def test_both_stores_keep_the_capture_and_an_older_sqlite_store_gains_the_fields(store, tmp_path):
    captured = datetime(2016, 2, 13, 4, 45, 12, tzinfo=timezone.utc)
    article = Article(url="https://theantimedia.org/x", outlet="antimedia", domain="theantimedia.org", text="Some text.",
                      captured_at=captured, capture_url="https://web.archive.org/web/20160213044512/https://theantimedia.org/x/")
    store.upsert([article])
    back = store.get(article.url)
    assert (back.captured_at, back.capture_url) == (captured, article.capture_url)
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as db:  # an articles table as stores made before this release have it
        db.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, outlet TEXT NOT NULL, domain TEXT NOT NULL, "
                   "title TEXT, authors TEXT NOT NULL DEFAULT '[]', published TEXT, language TEXT, text TEXT NOT NULL DEFAULT '', "
                   "description TEXT, canonical_url TEXT, links TEXT NOT NULL DEFAULT '[]', fetched_at TEXT NOT NULL, "
                   "fetched_from TEXT, text_hash TEXT NOT NULL, story_id TEXT, is_origin INTEGER NOT NULL DEFAULT 0, parent TEXT, chain TEXT)")
    with SqliteStore(old) as reopened:
        reopened.upsert([article])
        assert reopened.get(article.url).capture_url == article.capture_url


def test_the_demo_stores_the_whole_corpus_antimedia_linked_to_its_copies(demo_data_dir):
    articles = stored(demo_data_dir)
    assert set(articles) == {normalize_url(u) for u in TRUTH}
    antimedia = {u: a for u, a in articles.items() if a.outlet == "antimedia"}
    assert len(antimedia) == 8 and all(a.capture_url and a.captured_at for a in antimedia.values())
    truth_groups: dict[str, set[str]] = {}
    for url, entry in TRUTH.items():
        truth_groups.setdefault(entry["story"], set()).add(normalize_url(url))
    groups = story_groups(export_rows(demo_data_dir))
    originated = [g for g in truth_groups.values() if len(g) > 1 and g & set(antimedia)]
    assert len(originated) == 6 and all(frozenset(g) in groups for g in originated)
    for group in originated:
        (origin,) = [articles[u] for u in group if articles[u].is_origin]
        assert origin.outlet == "antimedia"
