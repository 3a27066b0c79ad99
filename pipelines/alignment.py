"""Verification of a candidate pair: which passages of one text stand in the other, and is that a copy.

Greedy tiling over word runs: scanning B, every run of `min_run` identical words found in both texts seeds a
match (A's last such run), extended as far as the words agree, and scanning goes on after it. A's runs are
looked up through their rarest word, so A needs only its word counts and the positions of the words looked up
(`ComparisonText.counts`, `positions`: kept for one linking call), not an index of every run. The result
gives containment both ways (how much of A is in B, and of B in A) and the passages with character
offsets into each article's `text`.

The copy decision uses containment, not whole-page similarity: the shared unquoted words must be at least
`min_shared_words` and at least `min_coverage` of the smaller text's unquoted words. Words inside quotation
marks in either text are left out of both counts, so two articles quoting one statement, report or third
article stay apart, while a teaser, a 30% excerpt inside a long page or a copy with an intro of its own pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat

from pipelines.comparison_text import ComparisonText
from pipelines.settings import LinkSettings

EXTEND_BLOCK = 32  # words compared at once when a match is extended
MERGE_GAP_WORDS = 5  # passages this close in both texts are shown as one (a changed word, a dropped caption)
NOT = bytes.maketrans(b"\x00\x01", b"\x01\x00")  # flips 0/1 flags


@dataclass(frozen=True)
class Passage:
    """Aligned text: words [a_start, a_end) of A match words [b_start, b_end) of B (with small gaps)."""

    a_start: int
    a_end: int
    b_start: int
    b_end: int
    a_chars: tuple[int, int]
    b_chars: tuple[int, int]


@dataclass(frozen=True)
class Alignment:
    """How two comparison texts overlap."""

    passages: tuple[Passage, ...]
    len_a: int
    len_b: int
    covered_a: bytearray  # 1 for each word of A inside a matched run
    covered_b: bytearray
    unquoted_a: int  # words of A outside quotations
    unquoted_b: int
    unquoted_shared_a: int  # words of A inside a matched run and quoted in neither text
    unquoted_shared_b: int

    @property
    def shared_a(self) -> int:
        return self.covered_a.count(1)

    @property
    def shared_b(self) -> int:
        return self.covered_b.count(1)

    @property
    def containment_a(self) -> float:
        """Share of A's words found in B."""
        return self.shared_a / self.len_a if self.len_a else 0.0

    @property
    def containment_b(self) -> float:
        """Share of B's words found in A."""
        return self.shared_b / self.len_b if self.len_b else 0.0

    @property
    def unquoted_shared(self) -> int:
        return min(self.unquoted_shared_a, self.unquoted_shared_b)

    @property
    def coverage_of_smaller(self) -> float:
        """Share of the smaller text's unquoted words that the other holds (quotations left out)."""
        shares = [s / n for s, n in ((self.unquoted_shared_a, self.unquoted_a), (self.unquoted_shared_b, self.unquoted_b)) if n]
        return max(shares, default=0.0)

    def swapped(self) -> Alignment:
        """The same alignment seen from B."""
        return Alignment(
            passages=tuple(Passage(p.b_start, p.b_end, p.a_start, p.a_end, p.b_chars, p.a_chars) for p in self.passages),
            len_a=self.len_b,
            len_b=self.len_a,
            covered_a=self.covered_b,
            covered_b=self.covered_a,
            unquoted_a=self.unquoted_b,
            unquoted_b=self.unquoted_a,
            unquoted_shared_a=self.unquoted_shared_b,
            unquoted_shared_b=self.unquoted_shared_a,
        )

    def is_copy(self, settings: LinkSettings) -> bool:
        """One text holds enough of the other to be a copy of it (or of a common original)."""
        return self.unquoted_shared >= settings.min_shared_words and self.coverage_of_smaller >= settings.min_coverage


def align(a: ComparisonText, b: ComparisonText, min_run: int) -> Alignment:
    """Align `b` against `a`: greedy tiling seeded by runs of `min_run` words."""
    runs = _matched_runs(a, b, min_run)
    covered_a, covered_b = bytearray(len(a)), bytearray(len(b))
    unquoted_a, unquoted_b = bytearray(len(a)), bytearray(len(b))
    for i, j, length in runs:
        covered_a[i : i + length] = covered_b[j : j + length] = b"\x01" * length
        quoted_a, quoted_b = a.quoted[i : i + length], b.quoted[j : j + length]
        if 1 not in quoted_a and 1 not in quoted_b:
            unquoted_a[i : i + length] = unquoted_b[j : j + length] = b"\x01" * length
            continue
        neither = _or(quoted_a, quoted_b).translate(NOT)
        unquoted_a[i : i + length] = _or(unquoted_a[i : i + length], neither)  # runs may overlap in A
        unquoted_b[j : j + length] = _or(unquoted_b[j : j + length], neither)
    return Alignment(
        passages=tuple(_passages(a, b, runs)),
        len_a=len(a),
        len_b=len(b),
        covered_a=covered_a,
        covered_b=covered_b,
        unquoted_a=a.unquoted,
        unquoted_b=b.unquoted,
        unquoted_shared_a=unquoted_a.count(1),
        unquoted_shared_b=unquoted_b.count(1),
    )


def _or(x: bytes | bytearray, y: bytes | bytearray) -> bytes:
    """Bytewise OR of two equally long runs of 0/1 flags (done on two integers, not flag by flag)."""
    return (int.from_bytes(x, "big") | int.from_bytes(y, "big")).to_bytes(len(x), "big")


def _matched_runs(a: ComparisonText, b: ComparisonText, min_run: int) -> list[tuple[int, int, int]]:
    """(start in A, start in B, length) of each match, in B's order: at each position of B not inside a match,
    the last run of A equal to B's next `min_run` words. Such a run holds, at the same offset, the word of B's
    window that is rarest in A, so only that word's positions in A are tried (latest first), and a window
    holding a word A lacks is skipped past it: A needs its word counts, not an index of all its runs."""
    counts = a.counts()
    words_a, words_b = a.words, b.words
    in_a = list(map(counts.get, words_b, repeat(0)))  # how often each word of B occurs in A
    runs: list[tuple[int, int, int]] = []
    j, end = 0, len(words_b) - min_run + 1
    while j < end:
        window = in_a[j : j + min_run]
        rarest = min(window)
        if not rarest:
            j += window.index(0) + 1
            continue
        offset = window.index(rarest)
        seed = words_b[j : j + min_run]
        for position in a.positions(words_b[j + offset]):
            i = position - offset
            if i >= 0 and words_a[i : i + min_run] == seed:
                break
        else:
            j += 1
            continue
        length = _extend(words_a, words_b, i, j, min_run)
        runs.append((i, j, length))
        j += length
    return runs


def _extend(words_a: list[str], words_b: list[str], i: int, j: int, length: int) -> int:
    """How far the match at (i, j) of `length` words goes on: whole blocks of words are compared at once
    (a copy agrees with its original for hundreds of words), then the last block word by word."""
    while True:
        block_a = words_a[i + length : i + length + EXTEND_BLOCK]
        block_b = words_b[j + length : j + length + EXTEND_BLOCK]
        if len(block_a) == len(block_b) == EXTEND_BLOCK and block_a == block_b:
            length += EXTEND_BLOCK
            continue
        for word_a, word_b in zip(block_a, block_b):
            if word_a != word_b:
                break
            length += 1
        return length


def _passages(a: ComparisonText, b: ComparisonText, runs: list[tuple[int, int, int]]) -> list[Passage]:
    merged: list[list[int]] = []
    for i, j, length in runs:
        last = merged[-1] if merged else None
        if last and 0 <= j - last[3] <= MERGE_GAP_WORDS and 0 <= i - last[1] <= MERGE_GAP_WORDS:
            last[1], last[3] = i + length, j + length
        else:
            merged.append([i, i + length, j, j + length])
    return [Passage(a0, a1, b0, b1, a.char_span(a0, a1), b.char_span(b0, b1)) for a0, a1, b0, b1 in merged]
