"""crawlers.metadata: what a page declares about itself (JSON-LD, <meta>, __NEXT_DATA__) and byline lines."""

from __future__ import annotations

from datetime import datetime, timezone

import lxml.html

from crawlers.metadata import (
    PageElements,
    find_byline_in_text,
    find_dateline_in_text,
    parse_datetime,
    read_json_ld,
    read_meta_tags,
)


def _elements(head: str, body: str = "") -> PageElements:
    return PageElements(lxml.html.fromstring(f"<html><head>{head}</head><body>{body}<p>x</p></body></html>"))


def test_json_ld_organisation_author_is_a_publisher_not_an_author():
    # rt.com and aljazeera.com declare "author": {"@type": "Organization", "name": "RT"}
    elements = _elements('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Clashes in Bolivia",'
                 '"author": {"@type": "Organization", "name": "RT"}, "publisher": {"@type": "Organization", "name": "RT International"},'
                 '"datePublished": "2019-11-20T05:47:00+00:00"}</script>')

    found = read_json_ld(elements, "https://www.rt.com/news/1/")

    assert found.authors == []
    assert found.organisations == ["RT", "RT International"]
    assert found.published == datetime(2019, 11, 20, 5, 47, tzinfo=timezone.utc)


def test_json_ld_person_authors_are_kept():
    elements = _elements('<script type="application/ld+json">{"@type": "BlogPosting", "author": [{"@type": "Person", "name": "Alex Heath"}],'
                 '"publisher": {"name": "The Verge"}}</script>')

    found = read_json_ld(elements, "https://www.theverge.com/x")

    assert found.authors == ["Alex Heath"]
    assert found.organisations == ["The Verge"]


def test_meta_tags_give_title_author_and_date():
    elements = _elements('<meta property="og:title" content="Royal Self-Indicting Arrogance">'
                 '<meta name="author" content="Finian Cunningham">'
                 '<meta property="article:published_time" content="2019-11-18T21:17:27Z">')

    found = read_meta_tags(elements, "https://sputniknews.com/x")

    assert (found.title, found.authors) == ("Royal Self-Indicting Arrogance", ["Finian Cunningham"])
    assert found.published == datetime(2019, 11, 18, 21, 17, 27, tzinfo=timezone.utc)


def test_attribution_and_written_by_lines_name_the_author():
    assert find_byline_in_text("By John Miles – Sputnik – 28.01.2024\nText.") == ["John Miles"]
    assert find_byline_in_text("Courtesy of Forests News\nWritten by: Julie Mollins\nText.") == ["Julie Mollins"]
    assert find_byline_in_text("The minister said so.\nText.") == []


def test_parse_datetime_needs_a_year():
    assert parse_datetime("March 18 at 3:57 PM") is None
    assert parse_datetime("21:17 18.11.2019") == datetime(2019, 11, 18, 21, 17, tzinfo=timezone.utc)


def test_microdata_meta_tags_give_author_and_date():
    # Seattle Times: <meta itemprop="author">; Sputnik: name="pubdate" itemprop="datePublished" on one tag
    elements = _elements('<meta itemprop="author" content="Benjamin Romano">'
                 '<meta content="2019-11-18T21:17:27Z" itemprop="datePublished" name="pubdate">')

    found = read_meta_tags(elements, "https://www.seattletimes.com/x")

    assert found.authors == ["Benjamin Romano"]
    assert found.published == datetime(2019, 11, 18, 21, 17, 27, tzinfo=timezone.utc)


def test_a_dateline_opening_the_text_gives_the_date():
    assert find_dateline_in_text("Feb. 23, 2015 -- Life-threatening peanut allergies") == datetime(2015, 2, 23, tzinfo=timezone.utc)
    assert find_dateline_in_text("Reviewed by Ana Ruiz, MD\n9 August 2016 — The council met.") == datetime(2016, 8, 9, tzinfo=timezone.utc)
    assert find_dateline_in_text("On Feb. 23, 2015 -- the council met.") is None  # not at the start
    assert find_dateline_in_text("Feb. 23, 2015 was a Monday.") is None  # no dateline dash
