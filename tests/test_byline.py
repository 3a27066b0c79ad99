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
