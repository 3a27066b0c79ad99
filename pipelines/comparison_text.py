"""The text two articles are compared on: the article's words without what every copy dresses it in.

Dropped lines: per-site boilerplate (the regular expressions in config, of every site, since copies carry
their source's footer too), lines that recur across articles of one outlet (learned from the store's
fingerprint index, not hand-listed), photo captions ("© ..." with the alt line before and the caption after)
including captions spliced into a sentence (the sentence is rejoined, also when split mid-word), credit
lines and bylines, date-only lines, credit sentences ("originally published at ...") and a trailing "Read
more >>". Words are compared case-folded without accents, so quotes, dashes and whitespace never matter;
words inside quotation marks are flagged, for the copy decision to discount (pipelines/alignment.py).
The displayed text is never changed: every word keeps its character span in it, so aligned passages are
reported as offsets into the article's `text`.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate

from crawlers.sources import SourceRegistry
from pipelines.attribution import CREDIT_SENTENCE, DATE, READ_MORE, AttributionParser, mentions_credit
from pipelines.fingerprints import stable_hash
from pipelines.models import Article
from pipelines.stores.base import Store

WORD = re.compile(r"\w+")
WORD_PIECES = re.compile(r"(\w+)")
CAPTION_START = re.compile(r"^(?:©|\(c\)\s|Photo:|Image:|Photo credit|Credit:|Featured image)", re.I)
SENTENCE_END = re.compile(r"[.!?:;\"”’)\]…»*]\s*$")
QUOTE_MARK = re.compile(r"[“”«»„\"]")
OPENING_QUOTES = "“«„"
CLOSING_QUOTES = "”»"
MIN_QUOTE_WORDS = 5  # shorter quoted bits are scare quotes ("moderates"), not quotations
MAX_CAPTION_WORDS = 60  # captions between the halves of a split sentence are never longer in the seeds (25)
MAX_CAPTION_LINES = 3
MIN_SPLIT_WORDS = 6  # a line cut mid-sentence is part of a paragraph, not a heading of a few words
MAX_CREDIT_SENTENCE_WORDS = 60  # an author bio with its credit ("... where this article was originally published")
MAX_LEARNED_SHARE = 0.5  # above this, "recurring" lines are a duplicated article, not boilerplate
SIGNATURE_WORDS = 8  # a long line is learned by its first and by its last 8 words


@dataclass(eq=False)
class ComparisonText:
    """Normalised words of an article's text with their character spans in it and whether each is quoted.
    Spans sit in one flat array (start, end, start, end, ...): linking keeps thousands of these texts, and a
    tuple per word was most of their memory."""

    text: str
    words: list[str] = field(default_factory=list)
    spans: array = field(default_factory=lambda: array("I"))
    quoted: bytearray = field(default_factory=bytearray)
    _counts: Counter[str] | None = field(default=None, repr=False)
    _positions: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def unquoted(self) -> int:
        return len(self.words) - sum(self.quoted)

    def char_span(self, start: int, end: int) -> tuple[int, int]:
        """Offsets in `text` of the words start..end-1."""
        return self.spans[2 * start], self.spans[2 * end - 1]

    def counts(self) -> Counter[str]:
        """How often each word occurs (kept: one text is aligned against many candidates)."""
        if self._counts is None:
            self._counts = Counter(self.words)
        return self._counts

    def positions(self, word: str) -> list[int]:
        """Where `word` occurs, last first (kept, like `counts`)."""
        found = self._positions.get(word)
        if found is None:
            found, at = [], -1
            for _ in range(self.counts()[word]):
                at = self.words.index(word, at + 1)
                found.append(at)
            found.reverse()
            self._positions[word] = found
        return found

    def forget_index(self) -> None:
        """Drop the word counts and positions (a dict per text: kept texts hold their words alone)."""
        self._counts = None
        self._positions.clear()


@dataclass
class _Line:
    start: int
    end: int
    text: str
    keep: bool = True
    joined_to_previous: bool = False  # the sentence continues from the previous kept line (a spliced caption)


class TextCleaner:
    """Builds comparison texts; made once from the source registry."""

    def __init__(self, sources: SourceRegistry, attribution: AttributionParser | None = None) -> None:
        self.attribution = attribution or AttributionParser(sources)
        self.boilerplate = _BoilerplatePatterns([p for source in sources for p in source.extraction.boilerplate])

    def line_hashes(self, article: Article) -> frozenset[int]:
        """Signatures of each line, salted with the outlet, for learning the outlet's recurring lines."""
        return _line_hashes(article.outlet, article.text)

    def clean(self, article: Article, recurring: Set[int] = frozenset()) -> ComparisonText:
        """The comparison text of `article`; `recurring` holds line hashes known to recur at its outlet."""
        lines = _split_lines(article.text)
        self._drop_furniture(lines)
        self._drop_learned(lines, article.outlet, recurring)
        _rejoin_split_sentences(lines)
        _trim_read_more(lines)
        return _tokenize(article.text, lines)

    def _drop_furniture(self, lines: list[_Line]) -> None:
        for i, line in enumerate(lines):
            if not line.keep:
                continue
            if CAPTION_START.match(line.text):
                _drop_caption(lines, i)
            elif not self._drop_boilerplate(lines, i) and self._is_furniture(line.text):
                line.keep = False

    def _drop_boilerplate(self, lines: list[_Line], i: int) -> bool:
        """Drops line i (and the next, for a pattern spanning a hard-wrapped line) when a pattern matches."""
        if self.boilerplate.search(lines[i].text):
            lines[i].keep = False
            return True
        if i + 1 < len(lines):
            match = self.boilerplate.search(lines[i].text + " " + lines[i + 1].text)
            if match and match.start() < len(lines[i].text) < match.end():
                lines[i].keep = lines[i + 1].keep = False
                return True
        return False

    def _is_furniture(self, text: str) -> bool:
        """A date alone, a credit line or byline, or a short credit sentence."""
        return bool(
            DATE.fullmatch(text.strip(" .*"))
            or self.attribution.is_credit_line(text)
            or (len(text.split()) <= MAX_CREDIT_SENTENCE_WORDS
                and mentions_credit(text) and CREDIT_SENTENCE.search(text))
        )

    @staticmethod
    def _drop_learned(lines: list[_Line], outlet: str, recurring: Set[int]) -> None:
        if not recurring:
            return
        learned = [line for line in lines if line.keep and not recurring.isdisjoint(_line_signatures(outlet, line.text))]
        words = sum(len(line.text.split()) for line in lines if line.keep)
        if sum(len(line.text.split()) for line in learned) > MAX_LEARNED_SHARE * words:
            return  # the same article stored twice by one site: its text is not boilerplate
        for line in learned:
            line.keep = False


class _BoilerplatePatterns:
    """Every site's boilerplate expressions as two alternations: those anchored at the line start are tried
    there only (one match, not a search along the whole line), the others searched."""

    def __init__(self, patterns: list[str]) -> None:
        anchored = [p[1:] for p in patterns if p.startswith("^")]
        floating = [p for p in patterns if not p.startswith("^")]
        self.anchored = re.compile("|".join(f"(?:{p})" for p in anchored)) if anchored else None
        self.floating = re.compile("|".join(f"(?:{p})" for p in floating)) if floating else None

    def search(self, text: str) -> re.Match[str] | None:
        return (self.anchored and self.anchored.match(text)) or (self.floating and self.floating.search(text)) or None


def prepare(article: Article, store: Store, cleaner: TextCleaner, min_articles: int) -> ComparisonText:
    """The comparison text of a stored article, without lines found in `min_articles` other articles of its
    outlet (the article's own fingerprints are counted out, so the answer does not depend on whether it was
    fingerprinted before)."""
    return cleaner.clean(article, recurring_lines(article.url, cleaner.line_hashes(article), store, min_articles))


def recurring_lines(url: str, lines: frozenset[int], store: Store, min_articles: int) -> frozenset[int]:
    """Which of `lines` (the line hashes of the article at `url`) are found in `min_articles` other articles
    of its outlet."""
    return recurring_lines_of({url: lines}, store, min_articles)[url]


def recurring_lines_of(lines: Mapping[str, frozenset[int]], store: Store, min_articles: int) -> dict[str, frozenset[int]]:
    """`recurring_lines` of several articles, given each one's line hashes by URL, with one doc-frequency
    lookup: a new article's candidates are read together. An article's own stored fingerprints are read
    only when they decide it (a line held by exactly `min_articles`)."""
    wanted = sorted(set().union(*lines.values()))
    counts = store.doc_freqs(wanted) if wanted else {}
    found: dict[str, frozenset[int]] = {}
    for url, hashes in lines.items():
        held = {h: counts[h] for h in hashes if h in counts}
        own = store.get_fingerprints(url) if min_articles in held.values() else frozenset()
        found[url] = frozenset(h for h, n in held.items() if n - (h in own) >= min_articles)
    return found


def _split_lines(text: str) -> list[_Line]:
    """Non-blank lines with the offsets of their stripped content."""
    lines = []
    for match in re.finditer(r"[^\n]+", text):
        content = match.group()
        stripped = content.strip()
        if stripped:
            start = match.start() + content.index(stripped)
            lines.append(_Line(start, start + len(stripped), stripped))
    return lines


def _drop_caption(lines: list[_Line], i: int) -> None:
    """The "© credit" line, the image's alt line before it and the caption after it."""
    lines[i].keep = False
    if i > 0 and _is_caption_title(lines[i - 1].text):
        lines[i - 1].keep = False
    if i + 1 < len(lines) and len(lines[i + 1].text.split()) <= MAX_CAPTION_WORDS:
        lines[i + 1].keep = False


def _is_caption_title(text: str) -> bool:
    """An image's alt line before its "©" credit: a few words without a full stop."""
    return len(text.split()) <= 8 and not SENTENCE_END.search(text)


def _rejoin_split_sentences(lines: list[_Line]) -> None:
    """A sentence cut by a caption (or a stray line break) goes on in a later paragraph-sized line starting
    in lower case: drop the caption lines between and mark the join."""
    for i, line in enumerate(lines):
        if not line.keep or SENTENCE_END.search(line.text) or len(line.text.split()) < MIN_SPLIT_WORDS:
            continue
        for j in range(i + 1, min(i + 2 + MAX_CAPTION_LINES, len(lines))):
            following = lines[j]
            if sum(len(between.text.split()) for between in lines[i + 1 : j]) > MAX_CAPTION_WORDS:
                break  # paragraphs, not a caption: "eZ Systems ..." three paragraphs on does not continue it
            if _continues_sentence(following.text):
                for between in lines[i + 1 : j]:
                    between.keep = False
                following.keep = following.joined_to_previous = True
                break
            if len(following.text.split()) > MAX_CAPTION_WORDS:
                break


def _continues_sentence(text: str) -> bool:
    """The rest of a split sentence: starts with a word in lower case (not a brand such as "eZ" or "iPhone")
    and is paragraph-like (an image's alt line, also lower case, is a few words without a full stop)."""
    first = text.split()[0]
    return first[0].islower() and not first[1:2].isupper() and (
        len(text.split()) >= MIN_SPLIT_WORDS * 2 or bool(SENTENCE_END.search(text))
    )


def _trim_read_more(lines: list[_Line]) -> None:
    """"... Read more >>" / "Full article" at the end of a teaser is not the article's text."""
    kept = [line for line in lines if line.keep]
    for line in kept[-3:]:
        match = READ_MORE.search(line.text)
        if match:
            line.end = line.start + match.start()
            line.text = line.text[: match.start()]


def _tokenize(text: str, lines: list[_Line]) -> ComparisonText:
    out = ComparisonText(text)
    kept = [line for line in lines if line.keep]
    vocabulary = _vocabulary(kept) if any(line.joined_to_previous for line in kept) else Counter()
    for line in kept:
        words, spans = _words(text, line.start, line.end)
        if not words:
            continue
        if line.joined_to_previous and out.words:
            joined = out.words[-1] + words[0]
            if vocabulary[joined] and vocabulary[words[0]] == 1:  # "a" + "l-Nusra": a word split in two
                out.words[-1] = joined
                out.spans[-1] = spans[1]
                words, spans = words[1:], spans[2:]
        quoted_ranges = _quoted_ranges(text, line)
        out.words.extend(words)
        out.spans.extend(spans)
        out.quoted.extend(_quoted_flags(spans[::2], quoted_ranges))
    return out


def _words(text: str, start: int, end: int) -> tuple[list[str], list[int]]:
    """The normalised words of text[start:end] and their offsets in `text` (start, end, start, end, ...): the
    text split around its words, so the offsets are the running sums of the pieces' lengths."""
    pieces = WORD_PIECES.split(text[start:end])  # separator, word, separator, ..., word, separator
    offsets = list(accumulate(map(len, pieces), initial=start))
    return list(map(_normalise, pieces[1::2])), offsets[1:-1]


def _quoted_flags(starts: list[int], ranges: list[tuple[int, int]]) -> bytearray:
    """1 for each word (by its start offset, ascending) inside one of the quoted character ranges."""
    flags = bytearray(len(starts))
    for low, high in ranges:
        first, end = bisect_left(starts, low), bisect_left(starts, high)
        flags[first:end] = b"\x01" * (end - first)
    return flags


def _vocabulary(lines: list[_Line]) -> Counter[str]:
    return Counter(_normalise(w) for line in lines for w in WORD.findall(line.text))


def _quoted_ranges(text: str, line: _Line) -> list[tuple[int, int]]:
    """Character ranges of quotations of at least MIN_QUOTE_WORDS words in one paragraph. A paragraph
    opened by a quotation mark and never closed is quoted to its end (multi-paragraph quotations); a
    markdown block quote ("> ") is quoted whole."""
    if line.text.startswith(">"):
        return [(line.start, line.end)]
    ranges: list[tuple[int, int]] = []
    opened: int | None = None
    for match in QUOTE_MARK.finditer(text, line.start, line.end):
        mark = match.group()
        if opened is None and mark not in CLOSING_QUOTES:
            opened = match.end()
        elif opened is not None and mark not in OPENING_QUOTES:
            ranges.append((opened, match.start()))
            opened = None
        elif opened is None:  # a closing mark with no opening one: the quotation began the paragraph
            ranges.append((line.start, match.start()))
    if opened is not None:
        ranges.append((opened, line.end))
    return [(a, b) for a, b in ranges if len(WORD.findall(text, a, b)) >= MIN_QUOTE_WORDS]


@lru_cache(maxsize=200_000)
def _normalise(word: str) -> str:
    word = word.casefold()
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=256)
def _line_hashes(outlet: str, text: str) -> frozenset[int]:
    return frozenset(h for line in _split_lines(text) for h in _line_signatures(outlet, line.text))


@lru_cache(maxsize=100_000)
def _line_signatures(outlet: str, line: str) -> tuple[int, ...]:
    """A short line is known by its words; a long one by its opening and by its closing words, so that a
    footer naming each article's title ("This article (<title>) is free and open source ... edits@...")
    is still recognised."""
    words = WORD.findall(line)  # normalised below only where the signature reads them
    if not words:
        return ()
    if len(words) < 2 * SIGNATURE_WORDS:
        return (stable_hash(f"line\n{outlet}\n{' '.join(map(_normalise, words))}"),)
    return (stable_hash(f"head\n{outlet}\n{' '.join(map(_normalise, words[:SIGNATURE_WORDS]))}"),
            stable_hash(f"tail\n{outlet}\n{' '.join(map(_normalise, words[-SIGNATURE_WORDS:]))}"))
