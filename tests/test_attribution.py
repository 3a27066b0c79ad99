"""Attribution evidence: credit lines, credit sentences, "Read more >>", canonical and body links."""

import re
import string
import sys
from pathlib import Path

import pytest

from crawlers.sources import load_sources
from pipelines.attribution import CASE_TWINS, CREDIT_WORDS_PATTERN, AttributionParser, mentions_credit
from pipelines.models import Article

SEEDS = Path(__file__).resolve().parents[1] / ".." / "shared" / "seeds"


@pytest.fixture(scope="module")
def parser() -> AttributionParser:
    return AttributionParser(load_sources())


def page(text: str, url: str = "https://alethonews.com/2024/02/03/post/", outlet: str = "alethonews", **fields) -> Article:
    domain = url.split("/")[2].removeprefix("www.")
    return Article(url=url, outlet=outlet, domain=domain, text=text, **fields)


@pytest.mark.parametrize("line, outlet", [
    ("The Cradle | February 3, 2024", "thecradle"),
    ("Sputnik – 29.01.2024", "sputnik"),
    ("By John Miles – Sputnik – 28.01.2024", "sputnik"),
    ("By Steven Sahiounie | Strategic Culture Foundation | January 22, 2024", "strategic-culture"),
    ("By MK Bhadrakumar | The Cradle | January 29, 2024", "thecradle"),
    ("Claire Bernish, Antimedia", "antimedia"),
    ("Claire Bernish, Anti Media / February 12, 2016", "antimedia"),
    ("Pepe Escobar | Sputnik International", "sputnik"),
    ("atimes.com", "atimes.com"),
    ("Press TV – July 6, 2020", ""),  # a credited site not in config, named without its domain
    ("By Cindy Harper | Reclaim The Net | July 8, 2025", ""),
])
def test_credit_lines_name_their_outlet_through_config_aliases(parser, line, outlet):
    assert parser.attribution_outlet(line) == outlet
    assert parser.is_credit_line(line)


@pytest.mark.parametrize("line", [
    "The Cradle", "America, surrounded", "Moscow, Russia", "Washington, January 5, 2024", "February 12, 2016",
    "Calling Beijing for help", "Iran has nothing to do with the drone attack, IRNA reported, citing an official.",
])
def test_headings_places_and_sentences_are_not_credit_lines(parser, line):
    assert parser.attribution_outlet(line) is None


def test_a_bare_byline_is_page_furniture_but_credits_no_outlet(parser):
    assert parser.attribution_outlet("By Trita Parsi | December 25, 2023") is None
    assert parser.is_credit_line("By Trita Parsi | December 25, 2023")


@pytest.mark.parametrize("sentence, kind, outlet", [
    ("This article was originally published on The Cradle.", "originally_published", "thecradle"),
    ("It first appeared at sputnikglobe.com on Monday.", "originally_published", "sputnik"),
    ("The original source of this article is Global Research", "original_source", "globalresearch"),
    ("First published on WSWS.", "first_published", "wsws"),
    ("Tony Cartalucci is a researcher and writer, especially for the online magazine “New Eastern Outlook” "
     "where this article was originally published.", "originally_published", "neo"),
    ("Here from the excellent Claire Bernish of Anti Media is another take on the war.", "credited", "antimedia"),
    ("This piece was originally published by asiatimes.com and is reproduced here.", "originally_published", "asiatimes.com"),
])
def test_credit_sentences_anywhere_in_the_text(parser, sentence, kind, outlet):
    evidence = parser.evidence(page(f"A first paragraph of the post.\n{sentence}\nThe end."))
    assert [(e.kind, e.outlet) for e in evidence] == [(kind, outlet)]


def test_a_date_after_first_published_is_not_an_outlet(parser):
    assert parser.evidence(page("Text.\nFirst published on January 5, 2019.")) == []


def test_a_site_crediting_itself_is_not_evidence(parser):
    text = "Body.\nThe original source of this article is Global Research\nCopyright © Author, Global Research, 2019"
    article = page(text, url="https://www.globalresearch.ca/slug/5934366", outlet="globalresearch")
    assert parser.evidence(article) == []


def test_read_more_points_at_the_last_link_off_the_site(parser):
    article = page(
        "Intro of the blogger.\nThe copied paragraph ends here. Read more >>",
        url="https://blog.example.com/2016/02/post", outlet="example.com",
        links=["https://blog.example.com/related", "https://theantimedia.org/us-allies-fighting/?utm_source=x"],
    )
    read_more = [e for e in parser.evidence(article) if e.kind == "read_more"]
    assert read_more[0].url == "https://theantimedia.org/us-allies-fighting"
    assert read_more[0].outlet == "antimedia"


def test_cross_domain_canonical_and_body_links_to_configured_outlets(parser):
    article = page(
        "Body text.", canonical_url="https://thecradle.co/articles/isis-exploits-us-strikes",
        links=["https://sputnikglobe.com/20240129/us-vows-response-1116472.html", "https://alethonews.com/tag/iraq/",
               "https://example.org/elsewhere"],
    )
    found = {(e.kind, e.outlet, e.url) for e in parser.evidence(article)}
    assert found == {
        ("canonical", "thecradle", "https://thecradle.co/articles/isis-exploits-us-strikes"),
        ("body_link", "sputnik", "https://sputnikglobe.com/20240129/us-vows-response-1116472.html"),
    }
    same_site = page("Body.", canonical_url="https://www.alethonews.com/2024/02/03/post/")
    assert parser.evidence(same_site) == []


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present")
def test_seed_pages_give_their_credits(parser):
    blog = parser.evidence(page((SEEDS / "000_9d5a950fd5bf1e8b.txt").read_text(), url="https://blog.example.com/p", outlet="example.com"))
    assert {(e.kind, e.outlet) for e in blog} >= {("attribution_line", "antimedia"), ("credited", "antimedia"), ("read_more", None)}
    front_page = parser.evidence(page((SEEDS / "001_ed242abd35aef32e.txt").read_text()))
    assert {e.outlet for e in front_page if e.kind == "attribution_line"} >= {"thecradle", "sputnik", "strategic-culture"}
    crosspost = parser.evidence(page((SEEDS / "004_1cb430fbabefe94c.txt").read_text(),
                                     url="https://www.globalresearch.ca/syria/5668541", outlet="globalresearch"))
    assert [(e.kind, e.outlet) for e in crosspost] == [("originally_published", "neo")]


@pytest.mark.parametrize("ending", ["The talks will continue", "Protests continue.", "You can read more about it on our site.",
                                    "This is the full article"])
def test_a_sentence_ending_in_continue_or_read_more_is_no_teaser_ending(parser, ending):
    article = page(f"First paragraph of the post.\n{ending}", url="https://blog.example.com/p", outlet="example.com",
                   links=["https://theantimedia.org/us-allies-fighting/"])
    assert [e for e in parser.evidence(article) if e.kind == "read_more"] == []


@pytest.mark.parametrize("ending", ["Read more >>", "The copied paragraph ends here. Read more »", "Continue reading →",
                                    "…continue", "And then [...]", "Read the full article"])
def test_teaser_endings_point_at_their_source(parser, ending):
    article = page(f"First paragraph of the post.\n{ending}", url="https://blog.example.com/p", outlet="example.com",
                   links=["https://theantimedia.org/us-allies-fighting/"])
    [read_more] = [e for e in parser.evidence(article) if e.kind == "read_more"]
    assert read_more.outlet == "antimedia"


def test_only_the_case_twins_make_a_lowered_search_differ_from_the_case_insensitive_pattern():
    """`mentions_credit` searches the lowered line unless it holds a CASE_TWINS letter: that is exact only if no
    other character matches an ASCII letter case-insensitively or lowers to (or around) one."""
    letter = re.compile(f"[{string.ascii_lowercase}]", re.I)
    for code in range(128, sys.maxunicode + 1):
        char = chr(code)
        if char in CASE_TWINS or 0xD800 <= code <= 0xDFFF:
            continue
        assert not letter.fullmatch(char), hex(code)
        assert len(char.lower()) == 1 and not char.lower().isascii(), hex(code)


@pytest.mark.parametrize("line", [
    "Originally PUBLISHED at Antimedia", "It appeared first in print", "Posted by the editors",
    "The original source of this article is Global Research", "Here from Claire Bernish", "Reprinted with consent",
    "Via Sputnik", "viaduct closed", "The viaduct closed", "“Quoted” words — with curly quotes, nothing else",
    "S\u017fource: the \u017f twin", "Republ\u0130shed from", "Pub\u0131ished", "\u212aeep reading", "Nothing here at all",
    "Publi-shed", "here  from", "",
])
def test_the_first_look_for_a_credit_agrees_with_the_case_insensitive_pattern(line):
    assert mentions_credit(line) == bool(CREDIT_WORDS_PATTERN.search(line))
