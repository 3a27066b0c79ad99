"""crawlers.extraction on small hand-written pages shaped like the outlets' (../shared/reference/outlets.md),
with the hints from the real config/sources.yaml; and the benchmark's metric on hand-made examples."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from pathlib import Path

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.extraction import score, shingle_match
from crawlers import extraction
from crawlers.extraction import DEFAULT_OPTIONS, ExtractedArticle, ExtractionError, extract_article
from crawlers.metadata import split_authors
from crawlers.page_text import drop_widget_lines
from crawlers.sources import ExtractionHints, load_sources

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
WSWS_URL = "https://www.wsws.org/en/articles/2026/07/03/dock-j03.html"
SPUTNIK_URL = "https://sputnikglobe.com/20240129/grain-corridor-talks-1116475000.html"
GLOBALRESEARCH_URL = "https://www.globalresearch.ca/living-most-corrupt-democracy-imagined/5934366"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def sources():
    return load_sources()


def test_wsws_page_uses_hints_and_next_data(sources):
    article = extract_article(fixture("wsws.html"), WSWS_URL, sources.get("wsws").extraction)

    assert article.title == "Dock workers strike across the port"
    assert article.authors == ["Ana Ruiz", "Tom Hale"]
    assert article.published == datetime(2026, 7, 3, 4, 0, tzinfo=timezone.utc)
    assert article.canonical_url == WSWS_URL
    assert article.site_name == "World Socialist Web Site"
    assert article.language == "en"
    assert article.text.splitlines() == [
        "Thousands of dock workers walked out on Thursday morning, halting the loading of container ships "
        "along the whole length of the port.",
        "The strike began after the port authority announced a new shift system that would cut pay for night "
        "work by a fifth.",
        "Workers told reporters that the union had known of the plans for months and said nothing to its members.",
    ]
    # the aside's link is excluded with the aside; relative links are made absolute
    assert article.links == ["https://example.org/report.pdf", "https://www.wsws.org/en/special/pages/contact.html"]


def test_wsws_without_header_falls_back_to_next_data(sources):
    html = fixture("wsws.html").decode("utf-8")
    html = html[: html.index("<header>")] + html[html.index("</header>") + len("</header>") :]

    article = extract_article(html, WSWS_URL, sources.get("wsws").extraction)

    assert article.authors == ["Ana Ruiz", "Tom Hale"]
    assert article.published == datetime.fromtimestamp(1783051200, tz=timezone.utc)


def test_sputnik_page_drops_photo_captions(sources):
    article = extract_article(fixture("sputnik.html"), SPUTNIK_URL, sources.get("sputnik").extraction)

    assert article.title == "Grain corridor talks resume in Istanbul"
    assert article.published == datetime(2024, 1, 29, 15, 0, tzinfo=timezone.utc)  # data-unixtime 1706540400
    assert article.site_name == "Sputnik International"
    assert article.image == "https://cdn1.img.sputnikglobe.com/img/07e8/01/1d/1116475.jpg"
    assert "©" not in article.text
    assert article.text.splitlines()[-1].startswith("Earlier, officials said that shipping insurance")
    assert "Turkey" not in article.text and "World" not in article.text
    assert article.links == ["https://sputnikglobe.com/20231101/corridor-1114671.html"]


def test_globalresearch_page_drops_boilerplate_keeps_attribution(sources):
    article = extract_article(fixture("globalresearch.html"), GLOBALRESEARCH_URL, sources.get("globalresearch").extraction)

    assert article.title == "Living in the Most Corrupt Democracy Imagined"
    assert article.authors == ["John Smith"]  # JSON-LD "By John Smith"
    assert article.published == datetime(2026, 7, 2, 14, 30, tzinfo=timezone.utc)
    assert article.canonical_url == GLOBALRESEARCH_URL
    assert article.text.splitlines() == [
        "Campaign money now flows through so many channels that no regulator can follow it from donor to candidate.",
        "A study by New Eastern Outlook found that most of it is never reported at all.",
        "This article was originally published on New Eastern Outlook.",
    ]
    assert article.links == ["https://journal-neo.su/2026/06/30/money-politics/"]


def test_json_ld_only_page():
    article = extract_article(fixture("jsonld_only.html"), "https://harbourdaily.example/news/bridge-reopens?ref=rss")

    assert article.title == "Harbour bridge reopens after repairs"
    assert article.authors == ["Maria Lopez", "Ken Ito"]  # the URL-valued author is dropped
    assert article.published == datetime(2025, 3, 14, 13, 15, tzinfo=timezone.utc)
    assert article.canonical_url == "https://harbourdaily.example/news/bridge-reopens"
    assert article.language == "es"
    assert article.site_name == "Harbour Daily"
    assert article.description == "The bridge was closed for six months."
    assert article.image == "https://harbourdaily.example/img/bridge.jpg"
    assert article.text.startswith("The harbour bridge reopened to traffic on Friday morning")
    assert len(article.text.splitlines()) == 4


def test_date_only_in_visible_text_found_by_htmldate():
    article = extract_article(fixture("date_in_text.html"), "https://blog.example/village-fair")

    assert article.published == datetime(2021, 3, 3, tzinfo=timezone.utc)
    assert article.canonical_url is None
    assert "Posted" not in article.authors
    assert "More than four thousand visitors came to the village fair" in article.text


def test_windows_1252_page_labelled_utf8_keeps_accents_and_quotes():
    html = (
        '<html><head><meta charset="utf-8"><title>Café society</title></head><body><article>'
        "<p>The café on the corner served “proper” coffee to the whole neighbourhood for forty years, said René.</p>"
        "<p>Its naïve murals — painted by a former customer — will be kept when the building becomes flats.</p>"
        "<p>Regulars say the place will not be the same: “it’s the end of an era,” one of them told the paper.</p>"
        "</article></body></html>"
    )

    article = extract_article(html.encode("cp1252"), "https://news.example/cafe", encoding="utf-8")

    assert article.title == "Café society"
    assert "“proper”" in article.text and "naïve" in article.text and "it’s" in article.text
    assert "\ufffd" not in article.text


def test_utf8_page_declaring_latin1_is_read_as_utf8():
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Zoë’s “naïve” café reopened on Monday.</p></body></html>'

    article = extract_article(html.encode("utf-8"), "https://news.example/zoe", encoding="iso-8859-1")

    assert article.text == "Zoë’s “naïve” café reopened on Monday."


@pytest.mark.parametrize("html", [b"", b"  \n ", "", b"<html><head></head><body></body></html>", b"%PDF-1.7\n\x00\x01"])
def test_page_without_text_raises_extraction_error_naming_url(html):
    with pytest.raises(ExtractionError, match="https://news.example/empty"):
        extract_article(html, "https://news.example/empty")


def test_broken_html_with_unclosed_tags_is_extracted():
    article = extract_article(fixture("broken.html"), "https://news.example/storm")

    assert article.title == "Storm damage in the valley"
    assert article.text.startswith("Heavy rain overnight flooded several roads")
    assert "Residents were asked to avoid travel" in article.text


def test_hints_whose_selectors_find_nothing_fall_back_to_generic():
    hints = ExtractionHints(
        title_selector=".no-such-title",
        author_selector=".no-such-byline",
        date_selector="time.nowhere",
        body_selector="div.no-such-body",
        body_exclude=["aside"],
        next_data=True,  # the page has no __NEXT_DATA__ either
    )
    url = "https://harbourdaily.example/news/bridge-reopens"

    hinted = extract_article(fixture("jsonld_only.html"), url, hints)

    assert hinted == extract_article(fixture("jsonld_only.html"), url)
    assert hinted.title == "Harbour bridge reopens after repairs"


def test_boilerplate_patterns_apply_to_generic_text():
    hints = ExtractionHints(boilerplate=["^Local shop owners"])

    article = extract_article(fixture("jsonld_only.html"), "https://harbourdaily.example/x", hints)

    assert "Local shop owners" not in article.text
    assert len(article.text.splitlines()) == 3


@pytest.mark.parametrize(
    ("bylines", "names"),
    [
        (["By Ana Ruiz and Tom Hale"], ["Ana Ruiz", "Tom Hale"]),
        (["Ana Ruiz, Tom Hale; Li Wei"], ["Ana Ruiz", "Tom Hale", "Li Wei"]),
        (["Our reporters"], ["Our reporters"]),
        (["Ana Ruiz", "ana ruiz", "", "https://example.com/ana", "Posted"], ["Ana Ruiz"]),
    ],
)
def test_split_authors(bylines, names):
    assert split_authors(bylines) == names


@pytest.mark.parametrize("cap", [3000, extraction.MAX_TRAFILATURA_HTML_CHARS])
def test_long_page_is_cut_for_trafilatura_but_metadata_is_read_whole(monkeypatch, cap):
    monkeypatch.setattr(extraction, "MAX_TRAFILATURA_HTML_CHARS", cap)
    paragraph = "<p>The council met on Tuesday evening and voted to keep the library open for another year.</p>"
    html = (
        f"<html><head><title>Library stays open</title></head><body><article>{paragraph * 60}"
        "<p>The last paragraph of the article, which a cut at 3,000 characters never reaches.</p></article>"
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": {"name": "Li Wei"}}</script>'
        "</body></html>"
    )

    article = extract_article(html, "https://news.example/library")

    assert article.text.startswith("The council met on Tuesday evening")
    assert ("The last paragraph" in article.text) is (cap > len(html))
    assert article.authors == ["Li Wei"]


def test_article_is_frozen():
    article = extract_article(fixture("jsonld_only.html"), "https://harbourdaily.example/x")

    assert isinstance(article, ExtractedArticle)
    with pytest.raises(dataclasses.FrozenInstanceError):
        article.title = "changed"  # type: ignore[misc]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500),
        st.text(max_size=500).map(lambda t: f"<html><body><p>{t}</p>".encode("utf-8", "surrogatepass")),
    )
)
def test_arbitrary_input_raises_nothing_but_extraction_error(data):
    try:
        article = extract_article(data, "https://news.example/fuzz", encoding="utf-8")
    except ExtractionError:
        return
    assert article.text


# --- the benchmark's metric ---------------------------------------------------------------------------------


def test_metric_identical_texts_are_all_true_positives():
    assert shingle_match("one two three four five", "one two three four five") == (1.0, 0.0, 0.0)


def test_metric_counts_shingles_as_multisets_and_normalises():
    # truth: 2 shingles; prediction: the same 2 plus "five six" -> 3 more shingles, all false positives
    tp, fp, fn = shingle_match("one two three four five", "one two three four five six seven eight")

    assert (tp, fp, fn) == (2 / 5, 3 / 5, 0.0)
    # a repeated shingle is matched once per occurrence
    assert shingle_match("a b c d", "a b c d a b c d")[0] == pytest.approx(1 / 5 * 5 / 5 * 1)
    assert shingle_match("a b c d", "a b c d a b c d") == pytest.approx((1 / 5, 4 / 5, 0.0))


def test_metric_short_text_is_one_shingle_and_punctuation_is_ignored():
    assert shingle_match("Hello, world!", "hello world") == (0.0, 0.5, 0.5)  # case-sensitive tokens
    assert shingle_match("Hello, world!", "Hello world") == (1.0, 0.0, 0.0)


def test_score_averages_pages_and_skips_empty_predictions_for_precision():
    perfect = shingle_match("a b c d e", "a b c d e")
    half = shingle_match("a b c d e f", "a b c d x y")  # 1 tp of 3 true, 1 of 3 predicted
    missed = shingle_match("a b c d e", "")

    scores = score([perfect, half, missed])

    assert scores.precision == pytest.approx((1.0 + 1 / 3) / 2)  # the missed page has no prediction
    assert scores.recall == pytest.approx((1.0 + 1 / 3 + 0.0) / 3)
    assert scores.f1 == pytest.approx(2 * scores.precision * scores.recall / (scores.precision + scores.recall))


def test_a_republishers_attribution_line_names_the_author():
    html = ("<html><body><article><div class='entry-content'><p>By John Miles – Sputnik – 28.01.2024</p>"
            + "<p>" + "The base was attacked at dawn by drones launched from the east. " * 12 + "</p></div></article></body></html>")
    article = extract_article(html, "https://alethonews.com/2024/01/29/base-attacked/")
    assert article.authors == ["John Miles"]


# --- metadata that checks itself (issue 9) and work done once (issue 11) -----------------------------------


def test_wsws_audio_player_label_does_not_lead_the_text(sources):
    html = fixture("wsws.html").decode("utf-8").replace(
        '<div class="content">',
        '<div class="content"><div id="elevenlabs-audionative-widget">Loading the '
        '<a href="https://elevenlabs.io/text-to-speech">Elevenlabs Text to Speech</a> AudioNative Player...</div>',
        1,
    )
    article = extract_article(html, WSWS_URL, sources.get("wsws").extraction)

    assert "AudioNative" not in article.text
    assert article.text.startswith("Thousands of dock workers walked out")


def test_sott_repost_gets_title_without_suffix_byline_and_original_outlet(sources):
    names = [n for s in sources for n in (s.name, *s.aliases)]
    paragraph = "<p>The campaign against the government in Damascus entered a new phase this week, officials said. </p>"
    html = (
        "<html><head><title>Washington escalates covert backing -- Sott.net</title></head><body>"
        "<div id='header'><a id='logo'>Sott.net - Signs of the Times</a></div>"
        "<h1>Washington escalates covert backing</h1>"
        "<div class='article-info'><a class='author' href='/author/1-Finian-Cunningham'>Finian Cunningham</a> "
        "<span class='source'>Strategic Culture Foundation</span> <span class='date'>Fri, 06 Dec 2019 09:12 UTC</span></div>"
        f"<div class='article-body'>{paragraph * 8}</div></body></html>"
    )
    article = extract_article(html, "https://www.sott.net/article/425000-Washington-escalates", sources.get("sott").extraction,
                              outlet_names=names)

    assert article.title == "Washington escalates covert backing"
    assert article.authors == ["Finian Cunningham"]
    assert article.credited_outlet == "Strategic Culture Foundation"
    assert article.published == datetime(2019, 12, 6, 9, 12, tzinfo=timezone.utc)


def test_publisher_and_alias_are_not_authors(sources):
    names = [n for s in sources for n in (s.name, *s.aliases)]
    html = (
        "<html><head><title>Talks resume - Sputnik International</title>"
        '<meta name="author" content="Finian Cunningham. Sputnik International">'
        '<script type="application/ld+json">{"@type": "NewsArticle", "author": {"@type": "Organization", "name": "Sputnik"},'
        '"datePublished": "2024-01-29T15:00:00Z"}</script></head><body><h1>Talks resume</h1><article>'
        + "<p>Grain corridor talks resumed in Istanbul on Monday after a pause of three weeks, officials said.</p>" * 6
        + "</article></body></html>"
    )
    article = extract_article(html, "https://sputnikglobe.com/20240129/talks-1116475000.html", outlet_names=names)

    assert article.title == "Talks resume"
    assert article.authors == ["Finian Cunningham"]


def test_a_date_hint_far_from_the_declared_date_is_dropped():
    hints = ExtractionHints(date_selector="aside time")  # picks a related article's date
    html = (
        '<html><head><meta property="article:published_time" content="2025-03-14T13:15:00Z"></head><body><article>'
        + "<p>The harbour bridge reopened to traffic on Friday morning after six months of repairs.</p>" * 5
        + '</article><aside><time datetime="2019-01-01T00:00:00Z">1 January 2019</time></aside></body></html>'
    )
    article = extract_article(html, "https://harbourdaily.example/news/bridge", hints)

    assert article.published == datetime(2025, 3, 14, 13, 15, tzinfo=timezone.utc)


def test_page_is_parsed_once_and_extensive_date_search_runs_only_without_a_declared_date(monkeypatch):
    import trafilatura

    parsed, trees, extensive = [], [], []
    real_load, real_bare, real_find = trafilatura.load_html, trafilatura.bare_extraction, extraction.find_date
    monkeypatch.setattr(trafilatura, "load_html", lambda *a, **k: parsed.append(1) or real_load(*a, **k))
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda tree, **k: trees.append(tree) or real_bare(tree, **k))
    monkeypatch.setattr(extraction, "find_date", lambda *a, **k: extensive.append(1) or real_find(*a, **k))

    dated = extract_article(fixture("jsonld_only.html"), "https://harbourdaily.example/news/bridge-reopens")
    assert dated.published is not None and extensive == []
    assert len(parsed) == 1 and trees and all(isinstance(t, lxml.html.HtmlElement) for t in trees)

    html = "<html><body><article>" + "<p>The village fair drew a record crowd to the green this spring.</p>" * 5 + "</article></body></html>"
    undated = extract_article(html, "https://blog.example/village-fair")
    assert extensive == [1]  # nothing before it found a date: the slow search ran, once
    assert undated.published is None


def test_full_cascade_runs_only_when_the_fast_text_is_or_will_be_short(monkeypatch):
    import trafilatura

    modes = []
    real_bare = trafilatura.bare_extraction
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda tree, **k: modes.append(k["options"].fast) or real_bare(tree, **k))
    monkeypatch.setattr(trafilatura, "extract_metadata", lambda *a, **k: pytest.fail("trafilatura's metadata pass ran"))
    paragraphs = [f"<p>In its meeting number {i} the harbour board approved a new ferry timetable.</p>" for i in range(60)]

    long = extract_article(f"<html><body><article>{''.join(paragraphs)}</article></body></html>", "https://a.example/long")
    assert modes == [True]  # long enough in fast mode: readability/justext never run
    assert len(long.text) > DEFAULT_OPTIONS.cascade_first_below_chars

    modes.clear()  # paragraphs too short for a long fast text: the full cascade at once
    extract_article(f"<html><body><article>{''.join(paragraphs[:3])}</article></body></html>", "https://a.example/short")
    assert modes and True not in modes  # no fast pass (the second pass is the retry in balanced mode)

    modes.clear()  # long paragraphs, but the fast text (comments pruned) is short: the full cascade decides
    comments = f"<div class='comments'>{''.join(paragraphs)}</div>"
    extract_article(f"<html><body><article>{''.join(paragraphs[:3])}</article>{comments}</body></html>", "https://a.example/c")
    assert modes[:2] == [True, False]


def test_a_more_stories_heading_in_the_second_half_cuts_the_teasers():
    article = "\n".join(f"Paragraph {i} of the article about the harbour strike and its consequences." for i in range(6))
    teasers = "Other Opinion Columns\nFraser's lasting legacy\nMALCOLM Fraser was an effective prime minister."
    assert drop_widget_lines(f"{article}\n{teasers}") == article
    # the same words as a section heading in the first half of an article stay
    lines = article.splitlines()
    early = "\n".join([lines[0], "More stories", *lines[1:]])
    assert drop_widget_lines(early) == early


def test_a_date_only_in_the_footer_is_still_found_though_trafilatura_never_sees_the_footer():
    paragraphs = "".join(f"<p>Paragraph {i} of the report on the harbour board's new ferry timetable.</p>" for i in range(8))
    page = (f"<html><body><article><h1>Ferry timetable</h1>{paragraphs}</article>"
            "<footer><p>Published on 14 March 2021</p></footer></body></html>")
    article = extract_article(page, "https://a.example/ferry")
    assert article.published is not None and article.published.date().isoformat() == "2021-03-14"
    assert "Published on" not in article.text
