"""crawlers.titles: the headline a reader sees, checked against the page's own metadata."""

from __future__ import annotations

import lxml.html
import pytest

from crawlers.titles import TitleOptions, choose_title, is_site_name, page_headings, strip_site_suffix

GR_NAMES = ["Global Research", "Centre for Research on Globalization", "globalresearch.ca", "globalresearch"]


@pytest.mark.parametrize(
    ("title", "names", "expected"),
    [
        ("Syria: Is US Fighting ISIS or Liquidating Assets? - Global Research", GR_NAMES, "Syria: Is US Fighting ISIS or Liquidating Assets?"),
        ("The US, Al-Nusra and the moderates -- Sott.net", ["SOTT", "Sott.net"], "The US, Al-Nusra and the moderates"),
        ("ISIS exploits US strikes | The Cradle", ["The Cradle", "Cradle"], "ISIS exploits US strikes"),
        ("‘He died in my hands’ — RT World News", ["RT International"], "‘He died in my hands’"),
        ("Despite everything, U.S. emissions dipped in 2019 | Salon.com", ["salon"], "Despite everything, U.S. emissions dipped in 2019"),
        ("Global Research", GR_NAMES, "Global Research"),  # nothing but the site's name: left for the caller to reject
        ("Sputnik V: a vaccine - analysis", ["Sputnik"], "Sputnik V: a vaccine - analysis"),  # a headline mentioning the site
    ],
)
def test_site_suffix_is_stripped(title, names, expected):
    assert strip_site_suffix(title, names) == expected


def test_site_name_variants_are_recognised_but_headlines_are_not():
    assert is_site_name("SOTT.NET", ["Sott.net"])
    assert is_site_name("The Guardian", ["theguardian"])
    assert is_site_name("Sputnik International", ["Sputnik"])
    assert not is_site_name("Sputnik vaccine trials resume", ["Sputnik"])


def test_a_title_hint_that_yields_the_site_name_falls_back_to_the_headline():
    # issue 9: the `h1` hint picks Global Research's logo; the page's own metadata has the headline
    title = choose_title(
        hinted="Global Research",
        declared=[None, None, "Syria: Is US Fighting ISIS?", "Syria: Is US Fighting ISIS? - Global Research"],
        headings=["Global Research", "Syria: Is US Fighting ISIS?"],
        site_names=GR_NAMES,
    )
    assert title == "Syria: Is US Fighting ISIS?"


def test_a_title_hint_that_disagrees_with_the_metadata_is_dropped():
    title = choose_title(hinted="Most read this week", declared=[None, "Dock workers strike", None, None],
                         headings=["Dock workers strike"], site_names=["WSWS"])
    assert title == "Dock workers strike"


def test_a_hint_that_agrees_is_kept_in_its_visible_form():
    title = choose_title(hinted="Dock workers strike across the port",
                         declared=[None, None, "Dock workers strike across the port - WSWS", None],
                         headings=[], site_names=["WSWS"])
    assert title == "Dock workers strike across the port"


def test_the_visible_heading_wins_over_an_seo_title_when_they_agree():
    title = choose_title(hinted=None, declared=[None, None, "Apple’s Vision Pro is the Retina display moment for headsets",
                                                "Apple’s Vision Pro hands-on: the Retina display moment for headsets - The Verge"],
                         headings=["Apple’s Vision Pro is the Retina display moment for headsets"], site_names=["The Verge"])
    assert title == "Apple’s Vision Pro is the Retina display moment for headsets"


def test_heading_when_disagreeing_option_decides_between_heading_and_metadata():
    arguments = dict(hinted=None, declared=[None, None, "The Modern Ambitions Behind Neon", "A Brief History of Neon Signage - CityLab"],
                     headings=["Why Neon Is the Ultimate Symbol of the 20th Century"], site_names=["CityLab"])
    assert choose_title(**arguments) == "Why Neon Is the Ultimate Symbol of the 20th Century"
    assert choose_title(**arguments, options=TitleOptions(heading_when_disagreeing=False)) == "The Modern Ambitions Behind Neon"


def test_page_headings_in_document_order_without_duplicates():
    tree = lxml.html.fromstring(
        "<html><body><h1>Aletho News</h1><h2 class='entry-title'>Base attacked</h2><h1>Base attacked</h1>"
        "<span itemprop='headline'>Base attacked</span></body></html>"
    )
    assert page_headings(tree) == ["Aletho News", "Base attacked"]


def test_an_h2_headline_agreeing_with_the_title_wins_over_a_section_name_h1():
    # WebMD: the h1 is the section ("Allergies Health Center"), the headline an h2 equal to <title>
    title = choose_title(hinted=None, declared=[None, None, None, "Babies Who Eat Peanuts Early May Avoid Allergy"],
                         headings=["Allergies Health Center"], site_names=["webmd"],
                         subheadings=["Tools & Resources", "Babies Who Eat Peanuts Early May Avoid Allergy"])
    assert title == "Babies Who Eat Peanuts Early May Avoid Allergy"
    # subheadings that agree with nothing are never taken
    assert choose_title(hinted=None, declared=[], headings=[], site_names=[], subheadings=["Tools & Resources"]) is None


def test_a_kicker_the_declared_title_leaves_out_is_dropped():
    arguments = dict(hinted=None, headings=["Deutschlandtakt: Flixbus attackiert Deutsche Bahn"], site_names=["sueddeutsche"])
    assert choose_title(declared=[None, None, "Flixbus attackiert Deutsche Bahn", None], **arguments) == "Flixbus attackiert Deutsche Bahn"
    # the same heading is kept whole when the page's own title has the kicker too
    assert (choose_title(declared=[None, None, "Deutschlandtakt: Flixbus attackiert Deutsche Bahn", None], **arguments)
            == "Deutschlandtakt: Flixbus attackiert Deutsche Bahn")
