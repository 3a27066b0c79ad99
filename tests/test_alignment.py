"""Verification: containment both ways, passages as offsets, and the copy decision."""

import random
from array import array

import pytest

from crawlers.sources import load_sources
from pipelines.alignment import _matched_runs, align
from pipelines.comparison_text import ComparisonText, TextCleaner
from pipelines.models import Article
from pipelines.settings import LinkSettings

SETTINGS = LinkSettings()
VOCABULARY = [f"{a}{b}" for a in ("ka", "lo", "mi", "ne", "su", "ta", "ve", "ro", "di", "pa") for b in
              ("ran", "tel", "mos", "bik", "dun", "sar", "vol", "gem", "hut", "lip", "nor", "zed", "fax", "qui")]


def prose(words: int, seed: int) -> list[str]:
    """Paragraphs of made-up words: two texts of it share no run of words by chance."""
    rng = random.Random(seed)
    paragraphs, count = [], 0
    while count < words:
        size = min(rng.randint(30, 60), words - count)
        paragraphs.append(" ".join(rng.choice(VOCABULARY) for _ in range(size)).capitalize() + ".")
        count += size
    return paragraphs


@pytest.fixture(scope="module")
def cleaner() -> TextCleaner:
    return TextCleaner(load_sources())


def compared(cleaner, paragraphs: list[str]):
    return cleaner.clean(Article(url="https://example.com/a", outlet="example.com", domain="example.com",
                                 text="\n".join(paragraphs)))


def test_a_copy_with_an_intro_of_its_own_holds_all_of_the_original(cleaner):
    original = prose(400, 1)
    copy = prose(150, 2) + original
    alignment = align(compared(cleaner, original), compared(cleaner, copy), SETTINGS.min_run_words)
    assert alignment.containment_a == 1.0
    assert alignment.containment_b == pytest.approx(400 / 550, abs=0.01)
    assert alignment.is_copy(SETTINGS)


def test_a_30_percent_excerpt_inside_a_long_page_is_a_copy(cleaner):
    original = prose(600, 3)
    excerpt = original[3:7]
    share = sum(len(p.split()) for p in excerpt) / 600
    page = prose(800, 4) + excerpt + prose(700, 5)
    alignment = align(compared(cleaner, original), compared(cleaner, page), SETTINGS.min_run_words)
    assert alignment.containment_a == pytest.approx(share, abs=0.01) and 0.28 < share < 0.4
    assert alignment.containment_b < 0.15  # whole-page similarity would call these unrelated
    assert alignment.is_copy(SETTINGS)


def test_a_teaser_of_the_first_paragraphs_is_a_copy(cleaner):
    original = prose(700, 6)
    teaser = original[:2] + ["Read more >>"]
    alignment = align(compared(cleaner, original), compared(cleaner, teaser), SETTINGS.min_run_words)
    assert alignment.containment_b == 1.0
    assert alignment.is_copy(SETTINGS)


def test_two_articles_quoting_one_statement_are_not_copies(cleaner):
    statement = " ".join(prose(90, 7))
    a = prose(120, 8) + [f"The ministry said: “{statement}”"] + prose(60, 9)
    b = prose(80, 10) + [f"In its statement the ministry wrote: “{statement}”"] + prose(40, 11)
    alignment = align(compared(cleaner, a), compared(cleaner, b), SETTINGS.min_run_words)
    assert alignment.shared_a >= 90  # the statement is found...
    assert alignment.unquoted_shared == 0  # ...but it is a quotation in both
    assert not alignment.is_copy(SETTINGS)


def test_a_few_shared_sentences_without_quotation_marks_are_not_a_copy(cleaner):
    shared = prose(45, 12)
    a = prose(200, 13) + shared + prose(200, 14)
    b = prose(250, 15) + shared + prose(150, 16)
    alignment = align(compared(cleaner, a), compared(cleaner, b), SETTINGS.min_run_words)
    assert alignment.unquoted_shared == 45
    assert not alignment.is_copy(SETTINGS)


def test_passages_are_offsets_into_each_displayed_text(cleaner):
    original = prose(300, 17)
    copy = ["An intro of the blog."] + original[:2] + ["© Reuters", "A caption of the photo."] + original[2:]
    a, b = compared(cleaner, original), compared(cleaner, copy)
    alignment = align(a, b, SETTINGS.min_run_words)
    assert alignment.passages
    for passage in alignment.passages:
        shown_a = a.text[passage.a_chars[0] : passage.a_chars[1]]
        shown_b = b.text[passage.b_chars[0] : passage.b_chars[1]]
        assert shown_a.split()[:5] == shown_b.split()[:5]
        assert shown_a.split()[-5:] == shown_b.split()[-5:]
    assert sum(p.a_end - p.a_start for p in alignment.passages) == 300


def test_the_alignment_seen_from_the_other_side(cleaner):
    a, b = compared(cleaner, prose(300, 18)), compared(cleaner, prose(100, 19) + prose(300, 18)[:3])
    forward, backward = align(a, b, SETTINGS.min_run_words), align(b, a, SETTINGS.min_run_words)
    assert forward.swapped().containment_a == pytest.approx(backward.containment_a)
    assert forward.swapped().containment_b == pytest.approx(backward.containment_b)
    assert forward.is_copy(SETTINGS) == backward.is_copy(SETTINGS)


def tiling_by_run_index(a: ComparisonText, b: ComparisonText, k: int) -> list[tuple[int, int, int]]:
    """The tiling's definition, spelled out: an index of every run of A (its last start), B scanned in order."""
    runs_a = list(zip(*(a.words[i:] for i in range(k))))
    index = dict(zip(runs_a, range(len(runs_a))))
    found, j = [], 0
    while j + k <= len(b.words):
        i = index.get(tuple(b.words[j : j + k]))
        if i is None:
            j += 1
            continue
        length = k
        while i + length < len(a.words) and j + length < len(b.words) and a.words[i + length] == b.words[j + length]:
            length += 1
        found.append((i, j, length))
        j += length
    return found


@pytest.mark.parametrize("seed", range(40))
def test_the_rarest_word_lookup_finds_the_runs_an_index_of_every_run_finds(seed):
    """Texts of a few words, so runs repeat (the last one counts), overlap and hold words the other lacks; quoted
    words overlapping in A are counted once."""
    rng = random.Random(seed)
    words = ["w0", "w1", "w2", "w3", "w4"][: rng.randint(2, 5)]
    source = [rng.choice(words) for _ in range(rng.randint(0, 300))]
    copy = [w for w in source[rng.randint(0, 50):] if rng.random() > 0.03] + source[: rng.randint(0, 80)]
    copy = copy + [rng.choice(["x", *words]) for _ in range(rng.randint(0, 40))]
    a, b = (ComparisonText("", text, array("I", range(2 * len(text))), bytearray(rng.random() < 0.2 for _ in text))
            for text in (source, copy))
    for k in (3, 8):
        assert _matched_runs(a, b, k) == tiling_by_run_index(a, b, k)
    runs = _matched_runs(a, b, 3)
    flags_a = bytearray(len(source))
    for i, j, length in runs:
        for t in range(length):
            if not (a.quoted[i + t] or b.quoted[j + t]):
                flags_a[i + t] = 1
    assert align(a, b, 3).unquoted_shared_a == flags_a.count(1)
