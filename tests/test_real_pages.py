"""Extraction on the real dev set (tests/data/real): pages other people saved, with what a reader sees on them.

The thresholds are a little under what `bench/extraction.py --all` measured on the 53 pages (title 53, authors
50, date 47 of the 48 pages that show one), so a regression on any field fails here; six pages labelled after
the code froze are among them (two of them, Süddeutsche and WebMD, were looked at since, for the kicker, `h2`
headline, `<time>` and dateline rules), and two of them still fail a metadata field (see the README's benchmark
section).
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bench.extraction import BENCHMARK_DIR, REAL_DIR, boundary_match, load_real_pages, same_authors, same_date, same_title
from crawlers.extraction import _parse, _run_trafilatura, _trim, extract_article
from crawlers.sources import load_sources
from crawlers.urls import host_of

TRUTH = json.loads((REAL_DIR / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def results():
    if not BENCHMARK_DIR.exists():  # six of the pages are read from it, and the thresholds count all 53
        pytest.skip("../shared/benchmarks not present: the dev set's six benchmark pages cannot be read")
    registry = load_sources()
    names = [n for s in registry for n in (s.name, *s.aliases)]
    out = {}
    for page in load_real_pages():
        source = registry.find_by_host(host_of(page.url))
        out[page.key] = (page, extract_article(page.html, page.url, source.extraction if source else None, outlet_names=names))
    return out


def test_dev_set_is_well_formed_and_documented():
    readme = (REAL_DIR / "README.md").read_text(encoding="utf-8")
    assert len(TRUTH) >= 30 and len({e["site"] for e in TRUTH}) >= 10
    for entry in TRUTH:
        assert entry["title"] and entry["first"] and entry["last"], entry["id"]
        assert entry["date"] is None or datetime.fromisoformat(entry["date"])
        if "file" in entry:
            path = REAL_DIR / entry["file"]
            assert path.stat().st_size < 1_000_000 and gzip.decompress(path.read_bytes()), entry["id"]
        assert entry["id"] in readme or entry.get("benchmark_key", "")[:8] in readme, f"{entry['id']} not in README"
    files = {p.name for p in (REAL_DIR / "pages").iterdir()}
    assert files == {Path(e["file"]).name for e in TRUTH if "file" in e}, "pages without truth, or truth without page"


def test_titles_authors_and_dates_as_a_reader_sees_them(results):
    titles = sum(same_title(page.title, got.title) for page, got in results.values())
    authors = sum(same_authors(page, got.authors) for page, got in results.values())
    dated = [same_date(page.date, got.published) for page, got in results.values() if page.date]

    assert titles >= len(results) - 1
    assert authors >= len(results) - 4
    assert sum(dated) >= len(dated) - 2


def test_body_starts_and_ends_where_the_article_does(results):
    found_both = sum(boundary_match(page.first, page.last, got.text) == (pytest.approx(1.0, abs=0.1), 1.0)
                     for page, got in results.values())
    recall = [boundary_match(page.first, page.last, got.text)[1] for page, got in results.values()]

    assert sum(recall) / len(recall) >= 0.93
    assert found_both >= 20


def test_publisher_is_never_the_author(results):
    # issue 9: "Finian Cunningham. Sputnik International" (Sputnik's meta author), "RT" (its JSON-LD author),
    # "Our Foreign Staff", "TMZ STAFF", "JERUSALEM POST STAFF", "Deutsche Welle" on dw.com
    by_site = {page.key.split("-")[1] if page.key.startswith("benchmark") else page.key: got for page, got in results.values()}
    assert by_site["sputniknews.com"].authors == ["Finian Cunningham"]
    assert by_site["rt.com"].authors == []
    assert by_site["jpost.com"].authors == []
    assert by_site["readability-telegraph"].authors == []
    assert by_site["readability-tmz-1"].authors == []
    assert by_site["trafilatura-dw.com.colonial"].authors == ["Julia Hitz"]


def test_site_suffix_is_gone_and_the_visible_headline_wins(results):
    got = {page.key: article for page, article in results.values()}
    assert got["readability-bbc-1"].title == "Obama admits US gun laws are his 'biggest frustration'"  # " - BBC News"
    assert got["readability-citylab-1"].title == "Why Neon Is the Ultimate Symbol of the 20th Century"  # og:title differs
    assert got["readability-breitbart"].title.endswith("Any Un-Angry Trump Supporters?'")  # " - Breitbart"


def test_sputnik_page_date_and_credits(results):
    sputnik = next(article for page, article in results.values() if "sputniknews" in page.key)
    assert sputnik.published == datetime(2019, 11, 18, 21, 17, 27, tzinfo=timezone.utc)


def test_kicker_h2_headline_time_element_and_dateline_on_real_pages(results):
    got = {page.key: article for page, article in results.values()}
    sz = got["trafilatura-sueddeutsche.de.flixtrain"]  # kicker in the h1, <time> above the h2, author below
    assert (sz.title, sz.authors) == ("Flixbus attackiert Deutsche Bahn", ["Markus Balser"])
    assert sz.published.date().isoformat() == "2019-05-15"
    webmd = got["readability-webmd-1"]  # h1: the section; the date in a dateline after a "Reviewed by" line
    assert webmd.title == "Babies Who Eat Peanuts Early May Avoid Allergy"
    assert webmd.published.date().isoformat() == "2015-02-23"
    assert got["readability-cnet"].authors == ["Steven Musil"]  # "Tech Industry" before "by" is a label


def test_the_trimmed_tree_gives_trafilatura_the_same_text_in_every_pass():
    """`_trim` removes only what trafilatura's cleaning deletes unread: the fast pass, the full cascade and the
    balanced retry give the same text with it as without it (every other page of the dev set: the bench
    checked all 234 real pages)."""
    pages = load_real_pages()[::2] if BENCHMARK_DIR.exists() else []
    if not pages:
        pytest.skip("../shared/benchmarks not present: the dev set's six benchmark pages cannot be read")
    for page in pages:
        html = page.html.decode("utf-8", "replace")
        whole, trimmed = _parse(html, page.url), _parse(html, page.url)
        _trim(trimmed)
        assert len(list(trimmed.iter())) < len(list(whole.iter())), page.key
        for precision, fast in ((True, True), (True, False), (False, False)):
            assert _run_trafilatura(trimmed, page.url, favor_precision=precision, fast=fast) == _run_trafilatura(
                whole, page.url, favor_precision=precision, fast=fast), (page.key, precision, fast)
