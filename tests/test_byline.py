"""crawlers.byline: author names that are people, and the byline block under a headline."""

from __future__ import annotations

from datetime import datetime, timezone

import lxml.html
import pytest

from crawlers.byline import clean_authors, read_byline_block

PUBLISHERS = ["Sputnik", "Sputnik International", "RT", "Strategic Culture Foundation", "SOTT", "sott.net", "sott"]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["Finian Cunningham. Sputnik International"], ["Finian Cunningham"]),  # "Name. Outlet"
        (["Sputnik"], []),  # the publisher
        (["RT"], []),
        (["Strategic Culture Foundation"], []),  # an outlet alias from config
        (["Our Foreign Staff"], []),
        (["TMZ STAFF"], []),
        (["Editor"], []),
        (["Our reporters", "News Desk"], ["Our reporters", "News Desk"]),  # collective bylines stay
        (["JEFFREY GETTLEMAN"], ["Jeffrey Gettleman"]),
        (["@NatGeoUK"], []),
        (["Julia Hitz (eg)"], ["Julia Hitz"]),
        (["The Russian", "Syrian defense ministries"], []),
        (["Ursula von der Leyen", "Richard (R.J.) Eskow"], ["Ursula von der Leyen", "Richard (R.J.) Eskow"]),
        (["Ana Ruiz", "ana ruiz"], ["Ana Ruiz"]),
    ],
)
def test_clean_authors_keeps_people_only(names, expected):
    assert clean_authors(names, PUBLISHERS) == expected


def test_initials_of_the_site_are_the_publisher():
    assert clean_authors(["Deutsche Welle"], ["dw", "DW.COM"]) == []


def test_sott_repost_byline_block_gives_author_original_outlet_and_date():
    tree = lxml.html.fromstring(
        "<html><body><div class='menu'><a class='author-link' href='/authors'>Authors</a></div>"
        "<h1>Washington escalates covert backing</h1>"
        "<div class='article-info'><a class='author' href='/author/1'>Finian Cunningham</a>"
        "<span class='source'>Strategic Culture Foundation</span><span class='date'>Fri, 06 Dec 2019 09:12 UTC</span></div>"
        "<div class='article-body'><p>Text.</p></div></body></html>"
    )
    byline = read_byline_block(tree, "Washington escalates covert backing", PUBLISHERS)

    assert byline.authors == ["Finian Cunningham"]
    assert byline.outlet == "Strategic Culture Foundation"
    assert byline.published == datetime(2019, 12, 6, 9, 12, tzinfo=timezone.utc)


def test_byline_block_with_role_and_inline_date():
    tree = lxml.html.fromstring(
        "<html><body><h1>Tracking</h1><div class='blog-author'>By <a>Daniel Kahn Gillmor</a>, Senior Staff "
        "Technologist, ACLU Speech, Privacy, and Technology Project</div>"
        "<div class='post__title__author-date'>By Joshua Sokol May 20, 2019</div></body></html>"
    )
    byline = read_byline_block(tree, "Tracking", [])

    assert byline.authors == ["Daniel Kahn Gillmor"]


def test_no_byline_block_gives_nothing():
    tree = lxml.html.fromstring("<html><body><h1>Title</h1><p>Just text, 12 May 2020.</p></body></html>")
    byline = read_byline_block(tree, "Title", [])
    assert (byline.authors, byline.outlet, byline.published) == ([], None, None)


def test_byline_above_the_headline_and_time_element_near_it():
    # Boing Boing prints its byline above the h1; Süddeutsche a <time> above its headline and the author in a
    # camelCase-named container below it, after a kicker
    tree = lxml.html.fromstring(
        "<html><body><div class='navbyline'><span class='author'><a>Cory Doctorow</a></span></div>"
        "<section><time datetime='2019-05-15 05:28:29'>15. Mai 2019</time><h2>Deutschlandtakt: Flixbus greift an</h2></section>"
        "<p>Text.</p><div class='authorProfileContainer'>Von\n<span>Markus Balser</span>, Berlin</div>"
        "<aside><time datetime='2019-06-01'>1. Juni</time></aside></body></html>"
    )
    byline = read_byline_block(tree, "Flixbus greift an", [])

    assert byline.authors == ["Markus Balser"]  # the nearest block after the headline wins over the one above
    assert byline.published == datetime(2019, 5, 15, 5, 28, 29, tzinfo=timezone.utc)
    assert read_byline_block(tree, "No such headline", []).published is None  # no headline: no <time> guess


def test_words_before_by_are_a_label_not_a_name():
    tree = lxml.html.fromstring(
        "<html><body><h1>Zuckerberg offers peek</h1><div class='authorInfo'><a>Tech Industry</a><span>by</span>"
        "<a>Steven Musil</a><time>January 18, 2017</time></div></body></html>"
    )
    assert read_byline_block(tree, "Zuckerberg offers peek", []).authors == ["Steven Musil"]
