"""Shared sources: two articles carrying one uncredited passage stay apart; teasers and credited quotes are copies."""

import random
from datetime import datetime, timezone

from crawlers.sources import load_sources
from pipelines.alignment import align
from pipelines.attribution import AttributionParser
from pipelines.chains import Member
from pipelines.comparison_text import TextCleaner
from pipelines.models import Article
from pipelines.settings import LinkSettings
from pipelines.shared_sources import Relation, relation

SOURCES = load_sources()
PARSER = AttributionParser(SOURCES)
CLEANER = TextCleaner(SOURCES, PARSER)
SETTINGS = LinkSettings()
DAY = datetime(2024, 1, 29, 9, 0, tzinfo=timezone.utc)
WORDS = [f"{a}{b}{c}" for a in "bdfgklmnp" for b in "aeiou" for c in ("n", "r", "s", "t", "m")]


def prose(words: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(50)).capitalize() + "." for _ in range(words // 50)]


def member(url: str, paragraphs: list[str], links: tuple[str, ...] = ()) -> Member:
    host = url.split("/")[2]
    article = Article(url=url, outlet=host, domain=host, text="\n".join(paragraphs), published=DAY, links=list(links))
    return Member.of(article, PARSER.evidence(article), SOURCES)


def related(a: Member, b: Member, settings: LinkSettings = SETTINGS) -> Relation:
    return relation(align(CLEANER.clean(a.article), CLEANER.clean(b.article), settings.min_run_words), a, b, settings)


BULLETIN = prose(150, 1)
ORIGIN = prose(600, 2)


def test_two_articles_with_text_of_their_own_around_one_bulletin_share_a_source():
    a = member("https://example.org/a", prose(400, 3) + BULLETIN + prose(200, 4))
    b = member("https://example.net/b", BULLETIN + prose(500, 5))
    assert related(a, b) is Relation.SHARES_SOURCE


def test_the_same_passage_with_a_link_to_the_other_is_a_credited_excerpt():
    a = member("https://example.org/a", prose(400, 3) + BULLETIN + prose(200, 4))
    b = member("https://example.net/b", BULLETIN + prose(500, 5), links=("https://example.org/a",))
    assert related(a, b) is Relation.COPY


def test_a_copy_with_an_intro_and_a_trimmed_copy_are_copies():
    intro = member("https://example.net/intro", prose(200, 6) + ORIGIN)
    trimmed = member("https://example.com/trim", ORIGIN[:5])
    origin = member("https://example.org/o", ORIGIN)
    assert related(origin, intro) is Relation.COPY and related(origin, trimmed) is Relation.COPY


def test_a_short_teaser_is_a_copy_only_when_it_links_its_source():
    origin = member("https://example.org/o", ORIGIN)
    words = ORIGIN[0].split()[:30]
    teaser = [" ".join(words), "Read more >>"]
    assert related(origin, member("https://example.net/t", teaser)) is Relation.NONE
    assert related(origin, member("https://example.net/t", teaser, links=("https://example.org/o",))) is Relation.COPY


def test_the_share_of_own_text_decides_between_copy_and_shared_source():
    a = member("https://example.org/a", prose(100, 7) + ORIGIN)  # a sixth of its own
    b = member("https://example.net/b", ORIGIN + prose(150, 8))
    assert related(a, b) is Relation.COPY
    assert related(a, b, SETTINGS.model_copy(update={"shared_source_own_share": 0.1})) is Relation.SHARES_SOURCE


def test_two_pages_of_one_outlet_never_share_a_source():
    a = member("https://example.org/a", prose(400, 3) + BULLETIN)
    b = member("https://example.org/b", BULLETIN + prose(500, 5))
    assert related(a, b) is Relation.NONE


def test_a_footer_two_pages_of_one_outlet_share_is_no_copy_even_when_one_credits_the_other():
    footer = prose(50, 9)[0].split()[:30]
    a = member("https://example.org/a", prose(400, 3) + [" ".join(footer)])
    b = member("https://example.org/b", prose(500, 5) + [" ".join(footer)], links=("https://example.org/a",))
    assert related(a, b) is Relation.NONE
