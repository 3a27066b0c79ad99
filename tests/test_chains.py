"""Chains: the origin by evidence, date, role and asymmetry; each copy's parent, kind, lag and confidence."""

import random
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from crawlers.sources import load_sources
from pipelines.alignment import align
from pipelines.attribution import AttributionParser
from pipelines.chains import Member, build_chain, choose_origin, classify, date_bounds, dated_before, story_id_for
from pipelines.comparison_text import TextCleaner
from pipelines.models import Article
from pipelines.settings import LinkSettings

SOURCES = load_sources()
PARSER = AttributionParser(SOURCES)
CLEANER = TextCleaner(SOURCES, PARSER)
SETTINGS = LinkSettings()
DAY = datetime(2024, 1, 29, 9, 0, tzinfo=timezone.utc)
WORDS = [f"{a}{b}{c}" for a in "bdfgkl" for b in "aeiou" for c in ("n", "r", "s", "t", "m")]


def prose(words: int, seed: int) -> str:
    rng = random.Random(seed)
    paragraphs = [" ".join(rng.choice(WORDS) for _ in range(50)).capitalize() + "." for _ in range(words // 50)]
    return "\n".join(paragraphs)


def member(url: str, outlet: str, text: str, published: datetime | None = None, title: str | None = "A title") -> Member:
    article = Article(url=url, outlet=outlet, domain=url.split("/")[2], text=text, published=published, title=title)
    return Member.of(article, PARSER.evidence(article), SOURCES)


def aligner(a: Article, b: Article):
    return align(CLEANER.clean(a), CLEANER.clean(b), SETTINGS.min_run_words)


def placements(members: list[Member]) -> dict:
    return {p.url: p for p in build_chain(members, aligner, SETTINGS)}


ORIGINAL = prose(500, 1)


def test_the_member_others_credit_is_the_origin_even_when_its_date_is_later():
    cradle = member("https://thecradle.co/articles/isis-exploits", "thecradle", ORIGINAL, DAY + timedelta(days=2))
    aletho = member("https://alethonews.com/2024/02/03/isis/", "alethonews", "The Cradle | February 3, 2024\n" + ORIGINAL, DAY)
    assert choose_origin([aletho, cradle], aligner).url == cradle.url


def test_the_earliest_publication_decides_without_evidence():
    first = member("https://example.org/a", "example.org", ORIGINAL, DAY)
    later = member("https://example.net/b", "example.net", ORIGINAL, DAY + timedelta(hours=3))
    assert choose_origin([later, first], aligner).url == first.url


def test_without_dates_an_origin_outlet_comes_before_a_republisher():
    sott = member("https://www.sott.net/article/1-x", "sott", ORIGINAL)
    sputnik = member("https://sputnikglobe.com/20240129/x-1116472.html", "sputnik", ORIGINAL)
    assert choose_origin([sott, sputnik], aligner).url == sputnik.url


def test_without_dates_or_roles_the_more_complete_text_is_the_origin():
    full = member("https://example.org/full", "example.org", ORIGINAL)
    teaser = member("https://example.net/teaser", "example.net", "\n".join(ORIGINAL.split("\n")[:3]) + "\nRead more >>")
    assert choose_origin([teaser, full], aligner).url == full.url


def test_a_crosspost_of_a_crosspost_points_at_the_copy_it_credits():
    neo = member("https://journal-neo.su/2019/02/20/syria/", "neo", ORIGINAL, DAY)
    gr = member("https://www.globalresearch.ca/syria/5668541", "globalresearch",
                ORIGINAL + "\nTony Cartalucci writes for “New Eastern Outlook” where this article was originally published.",
                DAY + timedelta(days=1))
    blog = member("https://blog.example.com/syria", "example.com",
                  ORIGINAL + "\nThe original source of this article is Global Research", DAY + timedelta(days=2))
    placed = placements([blog, gr, neo])
    assert placed[neo.url].is_origin
    assert placed[gr.url].parent == neo.url
    assert placed[blog.url].parent == gr.url
    assert placed[blog.url].chain.coverage == 1.0  # measured against the origin, not the parent


def test_a_copy_carrying_another_copys_additions_takes_it_as_parent():
    origin = member("https://example.org/origin", "example.org", ORIGINAL, DAY)
    with_intro = member("https://example.net/intro", "example.net", prose(100, 2) + "\n" + ORIGINAL, DAY + timedelta(hours=1))
    of_that = member("https://example.info/copy", "example.info", with_intro.article.text, DAY + timedelta(hours=2))
    plain = member("https://example.biz/plain", "example.biz", ORIGINAL, DAY + timedelta(hours=3))
    placed = placements([origin, with_intro, of_that, plain])
    assert placed[of_that.url].parent == with_intro.url
    assert placed[plain.url].parent == origin.url


def test_copy_kinds_coverage_added_share_and_lag():
    paragraphs = ORIGINAL.split("\n")
    origin = member("https://example.org/o", "example.org", ORIGINAL, DAY)
    copies = {
        "full": ORIGINAL,
        "extended": prose(150, 3) + "\n" + ORIGINAL,
        "excerpt": "\n".join(paragraphs[:4]),
        "partial": prose(300, 4) + "\n" + "\n".join(paragraphs[:4]) + "\n" + prose(300, 5),
    }
    members = [member(f"https://{kind}.example.com/x", f"{kind}.example.com", text, DAY + timedelta(minutes=90))
               for kind, text in copies.items()]
    placed = placements([origin, *members])
    assert {p.url.split(".")[0][8:]: p.chain.kind for p in placed.values() if not p.is_origin} == {k: k for k in copies}
    extended = placed["https://extended.example.com/x"].chain
    assert extended.coverage == 1.0 and extended.added_share == pytest.approx(150 / 650, abs=0.01)
    assert extended.lag_seconds == 90 * 60
    assert classify(0.95, 0.02, SETTINGS) == "full"


def test_story_ids_come_from_the_origin_and_not_from_arrival_order():
    members = [member(f"https://site{i}.example.com/x", f"site{i}.example.com", ORIGINAL, DAY + timedelta(hours=i)) for i in range(4)]
    first = placements(members)
    again = placements(list(reversed(members)))
    assert first == again
    assert {p.story_id for p in first.values()} == {story_id_for("https://site0.example.com/x")}


def test_a_missing_date_or_title_lowers_confidence_but_the_copy_is_placed():
    origin = member("https://example.org/o", "example.org", ORIGINAL, DAY)
    dated = member("https://example.net/a", "example.net", ORIGINAL, DAY + timedelta(hours=1))
    undated = member("https://example.info/b", "example.info", ORIGINAL, None, title=None)
    placed = placements([origin, dated, undated])
    assert placed[undated.url].parent == origin.url and placed[undated.url].chain.lag_seconds is None
    assert placed[undated.url].chain.confidence < placed[dated.url].chain.confidence


def test_a_date_without_a_time_does_not_put_a_copy_before_its_timed_origin():
    """"2024-01-29" read as midnight is hours before the origin's 09:00, but it means "some time that day"."""
    origin = member("https://example.org/o", "example.org", ORIGINAL, DAY)
    day_only = member("https://example.net/c", "example.net", "A blogger's intro. " + ORIGINAL, DAY.replace(hour=0))
    assert dated_before(day_only.article, origin.article) is None
    placed = placements([day_only, origin])
    assert placed[origin.url].is_origin and placed[origin.url].chain.basis == "weak"
    assert dated_before(day_only.article, member("https://x.example/y", "x.example", "", DAY + timedelta(days=1)).article)


def test_an_archive_capture_bounds_the_date_and_overrules_a_date_after_it():
    captured = DAY - timedelta(days=3)
    page = Article(url="https://example.net/c", outlet="example.net", domain="example.net", text=ORIGINAL,
                   published=DAY + timedelta(days=30), captured_at=captured)  # a date after its own capture: wrong
    assert date_bounds(page)[1] == captured
    origin = Article(url="https://example.org/o", outlet="example.org", domain="example.org", text=ORIGINAL, published=DAY)
    assert dated_before(page, origin) is True  # it was online before the other says it was published


def test_a_credited_origin_is_sure_and_an_origin_chosen_on_weak_ground_says_so():
    origin = member("https://example.org/o", "example.org", ORIGINAL, DAY)
    credited = member("https://example.net/a", "example.net", ORIGINAL + "\nOriginally published at example.org", None)
    undated = member("https://example.info/b", "example.info", ORIGINAL, None)
    sure = placements([origin, credited])[origin.url].chain
    weak = placements([origin, undated])[origin.url].chain
    assert (sure.basis, weak.basis) == ("credited", "weak")
    assert sure.confidence > weak.confidence
    dated = placements([origin, member("https://example.com/d", "example.com", ORIGINAL, DAY + timedelta(hours=2))])
    assert dated[origin.url].chain.basis == "dated"


def test_a_day_only_copy_is_never_given_a_negative_lag_but_a_timed_conflict_is():
    from pipelines.chains import lag_seconds

    origin = Article(url="https://o.example/a", outlet="o", domain="o.example", title="t", text="x",
                     published=datetime(2024, 6, 11, 9, 30, tzinfo=timezone.utc))
    day_only = replace(origin, url="https://c.example/a", published=datetime(2024, 6, 11, tzinfo=timezone.utc))
    next_day = replace(day_only, published=datetime(2024, 6, 12, tzinfo=timezone.utc))
    timed_earlier = replace(day_only, published=datetime(2024, 6, 11, 8, 0, tzinfo=timezone.utc))
    assert lag_seconds(day_only, origin) == 0.0
    assert lag_seconds(next_day, origin) == 14.5 * 3600
    assert lag_seconds(timed_earlier, origin) == -1.5 * 3600  # two timed dates that disagree with the chain: shown
    assert lag_seconds(replace(origin, published=None), origin) is None
