"""Comparison text: what every copy dresses an article in is left out; offsets still point into `text`."""

from pathlib import Path

import pytest

from crawlers.sources import load_sources
from pipelines.comparison_text import TextCleaner, prepare
from pipelines.fingerprints import fingerprints
from pipelines.models import Article
from pipelines.stores.sqlite import SqliteStore

SEEDS = Path(__file__).resolve().parents[1] / ".." / "shared" / "seeds"
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds not present")


@pytest.fixture(scope="module")
def cleaner() -> TextCleaner:
    return TextCleaner(load_sources())


def page(text: str, outlet: str = "example.com", url: str = "https://example.com/a") -> Article:
    return Article(url=url, outlet=outlet, domain=url.split("/")[2], text=text)


def seed(name: str) -> str:
    return next(SEEDS.glob(f"{name}_*.txt")).read_text(encoding="utf-8")


def joined(cleaner: TextCleaner, article: Article) -> str:
    return " ".join(cleaner.clean(article).words)


def test_every_word_keeps_its_span_in_the_displayed_text(cleaner):
    text = "Kirby said: “We will respond in a time and a manner of our choosing,” he told CNN.\nMédecins Sans Frontières — again."
    result = cleaner.clean(page(text))
    assert result.words[:3] == ["kirby", "said", "we"]
    assert "medecins" in result.words and "frontieres" in result.words
    for i, word in enumerate(result.words):
        start, end = result.char_span(i, i + 1)
        assert cleaner.clean(page(text[start:end])).words == [word]


def test_quotes_dashes_case_and_accents_never_matter(cleaner):
    a = cleaner.clean(page("“The US is not looking for a wider conflict” – Kirby’s words, Médecins"))
    b = cleaner.clean(page('"the US is NOT looking for a wider conflict" - Kirby\'s words, Medecins'))
    assert a.words == b.words


def test_quotations_are_flagged_but_scare_quotes_are_not(cleaner):
    text = "The so-called “moderates” agreed. Lavrov said: “We managed to exclude this as it is unacceptable.” Then he left."
    result = cleaner.clean(page(text))
    flagged = {w for w, q in zip(result.words, result.quoted) if q}
    assert flagged == {"we", "managed", "to", "exclude", "this", "as", "it", "is", "unacceptable"}
    block = cleaner.clean(page("> A block quotation of a statement, kept whole as a quotation."))
    assert all(block.quoted)


def test_a_quotation_left_open_runs_to_the_end_of_its_paragraph(cleaner):
    result = cleaner.clean(page("“First paragraph of a long statement by the ministry\nNext paragraph is not quoted at all here."))
    assert [bool(q) for q in result.quoted] == [True] * 9 + [False] * 8


@needs_seeds
def test_spliced_captions_go_and_the_split_word_is_rejoined(cleaner):
    """SOTT (seed 002): "© Reuters" credits, alt lines and captions, one cutting "a|l-Nusra" in two."""
    text = joined(cleaner, page(seed("002"), outlet="sott", url="https://www.sott.net/article/1-x"))
    assert text.startswith("al nusra and the so called moderate rebel opposition")
    assert "obfuscates the lead role of al nusra ignores or downplays atrocities" in text
    for caption in ("jaish nusra", "one of a kind", "quds hospital satellite", "god is on your side", "denis balibouse"):
        assert caption not in text


@needs_seeds
def test_credit_lines_and_posted_by_footers_go(cleaner):
    """Aletho News (seed 001): every post opened by a credit line and closed by a "Posted by" footer."""
    text = joined(cleaner, page(seed("001"), outlet="alethonews", url="https://alethonews.com/"))
    for furniture in ("the cradle february 3 2024", "sputnik 29 01 2024", "by john miles", "posted by", "leave a comment",
                      "strategic culture foundation january 22"):
        assert furniture not in text
    assert "the iraqi army and the popular mobilization forces pmu clashed" in text


@needs_seeds
def test_the_blog_intro_stays_but_its_credit_and_read_more_go(cleaner):
    """Seed 000: the blogger's intro is text of its own (added); the credit, date and "Read more >>" are not."""
    text = joined(cleaner, page(seed("000")))
    assert text.startswith("us allies now fighting cia backed terror groups")
    assert "claire bernish antimedia february 12 2016" not in text
    assert text.endswith("to bring control of the syrian city back to assad")


@needs_seeds
def test_site_footers_and_disclaimers_go_even_on_other_sites(cleaner):
    """WSWS's contact footer (wrapped over two lines) and Global Research's boilerplate, disclaimer and credit."""
    wsws = joined(cleaner, page(seed("003")))
    assert wsws.endswith("poses the gravest dangers for humanity")
    crosspost = joined(cleaner, page(seed("004"), outlet="globalresearch", url="https://www.globalresearch.ca/x/5668541"))
    assert crosspost.endswith("presided over the last stronghold for so long")
    for furniture in ("in depth report", "note to readers", "new eastern outlook", "disclaimer", "articles by"):
        assert furniture not in crosspost


def test_lines_recurring_at_an_outlet_are_learned_from_the_store(cleaner, tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    footer = "Support independent journalism: subscribe to the Daily Truth newsletter today."
    articles = [page(f"Article number {i} has its own words about event {i}.\n{footer}", url=f"https://dailytruth.net/{i}",
                     outlet="dailytruth.net") for i in range(4)]
    store.upsert(articles)
    for article in articles[:3]:
        store.put_fingerprints(article.url, sorted(cleaner.line_hashes(article)))
    fourth = prepare(articles[3], store, cleaner, min_articles=3)
    assert "subscribe" not in fourth.words and "event" in fourth.words
    second = prepare(articles[1], store, cleaner, min_articles=3)  # its own copy of the line is not counted
    assert "subscribe" in second.words
    elsewhere = page(f"Another site quotes it.\n{footer}", url="https://other.org/x", outlet="other.org")
    assert "subscribe" in prepare(elsewhere, store, cleaner, min_articles=3).words


def test_an_article_stored_twice_by_one_site_is_not_boilerplate(cleaner, tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    body = "The same article, posted at four addresses by one site.\nIts second paragraph, also the same."
    articles = [page(body, url=f"https://dup.net/{i}", outlet="dup.net") for i in range(4)]
    store.upsert(articles)
    for article in articles[:3]:
        store.put_fingerprints(article.url, sorted(cleaner.line_hashes(article) | fingerprints(["x"] * 5, 5, 12)))
    assert len(prepare(articles[3], store, cleaner, min_articles=3)) == len(cleaner.clean(articles[3]))


def test_paragraphs_after_a_heading_are_not_taken_for_a_caption_before_a_brand_in_lower_case(cleaner):
    """A real page (shared benchmark): a heading without a full stop, two paragraphs, then "eZ Systems ist ...":
    "eZ" is a brand, not the rest of a sentence split by a caption, so nothing between is dropped."""
    paragraphs = [
        "comwrap und eZ auf der DMEXCO",
        "Dieses Jahr sind wir in Kooperation mit unserem Technologie-Partner eZ Systems auf der DMEXCO vertreten.",
        "Unsere Expertise erstreckt sich dabei über die Themen Enterprise Content Management und E-Commerce.",
        "eZ Systems ist ein globaler Content-Management-Plattform-Anbieter, gegründet 1999 in Norwegen, mit Kunden in 25 Ländern.",
    ]
    text = joined(cleaner, page("\n".join(paragraphs)))
    assert "dieses jahr sind wir" in text and "unsere expertise" in text


def test_a_caption_group_is_short_and_a_long_gap_is_not_a_caption(cleaner):
    long_paragraphs = [" ".join(["Word"] * 40) + ".", " ".join(["Other"] * 40) + "."]
    text = "A sentence cut by nothing at all and going\n" + "\n".join(long_paragraphs) + "\non in lower case to its end here."
    assert "word word" in joined(cleaner, page(text))
