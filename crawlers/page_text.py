"""Page text for a source's extraction hints: CSS selection, the text of what a selector finds, and the
removal of boilerplate lines."""

from __future__ import annotations

import re
from functools import lru_cache

from cssselect import SelectorError as _CssSelectorError
from lxml.html import HtmlElement

# Elements that start a new line of text; everything else is inline.
BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd details div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section summary table tbody td th thead tr ul".split()
)
# Elements whose content is never text a reader sees.
SKIPPED_TAGS = frozenset("script style noscript template iframe svg button select input textarea".split())
# Lines that widgets put into the text: audio players, share and follow bars, newsletter sign-ups. Matched on
# short lines only (WIDGET_LINE_MAX_CHARS), so a sentence that happens to start with "Share" stays.
WIDGET_LINES = re.compile(
    r"AudioNative Player|^Loading the .{0,60}Player\b|^Listen to (?:this|the) (?:article|story|podcast)\b"
    r"|^(?:Share|Tweet|Email|Print|Save|Comments?|Share this(?: story| article)?|Share on \w+|Share via \w+)$"
    r"|^(?:Click|Tap) (?:here )?to (?:share|print|email)\b|^Like this (?:story|article)\? Share it"
    r"|^(?:Sign up|Subscribe)(?: now)?(?: for| to) (?:our|the) .{0,40}newsletter\b|newsletter$"
    r"|^Get short URL$|^Follow \w+(?: \w+)? on$|^\d[\d,.]*[kK]? (?:Shares|Comments|Views)$",
    re.IGNORECASE,
)
WIDGET_LINE_MAX_CHARS = 80
# What a page puts before or after the article that is not its text: a lone date (related articles' dates),
# "Read more:", "Related", "Advertisement". Dropped from the two ends of the text only.
EDGE_LINES = re.compile(
    r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w*,?\s+)?(?:\d{1,2}\s+)?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\w*\.?"
    r"(?:\s+\d{1,2})?,?\s+\d{4}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$"
    r"|^(?:Read more|Related(?: coverage| articles| stories)?|More|See also|Advertisement|Topics|Tags)\s*:?$",
    re.IGNORECASE,
)
# A heading that opens a list of other articles after the text ("Other Opinion Columns", "More stories",
# "You may also like"): the text is cut there when it comes after TAIL_HEADING_FROM of the text's characters
# (set, not swept: a heading in the first half is more likely the article's own section).
TAIL_HEADINGS = re.compile(
    r"^(?:(?:More|Other|Related|Recommended|Popular|Latest|Top|Trending)\b.{0,30}\b(?:stories|articles|news|columns|"
    r"posts|reads|reading|videos|coverage)|You (?:may|might) also like|More from .{1,40}|Most (?:read|popular|viewed)"
    r"|Recommended(?: for you)?)\s*:?$",
    re.IGNORECASE,
)
TAIL_HEADING_FROM = 0.5
# Boilerplate patterns are also tried on the line with typographic quotes made straight.
_STRAIGHT_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


class SelectorError(ValueError):
    """A CSS selector from the configuration cannot be compiled."""


def select(tree: HtmlElement, selector: str) -> list[HtmlElement]:
    """Elements matching a CSS selector, in document order."""
    try:
        return tree.cssselect(selector)
    except (_CssSelectorError, ValueError) as exc:
        raise SelectorError(f"{selector!r}: {exc}") from exc


def selected_text(tree: HtmlElement, selector: str, exclude: list[str]) -> tuple[str, list[str]]:
    """Text of the elements `selector` finds, minus those `exclude` finds (anywhere in the page, so an
    exclusion may name ancestors), one block per line; and the raw hrefs of the links in that text.
    An element nested inside another match counts once."""
    matches = select(tree, selector)
    # sets of the elements themselves, not of id()s: lxml builds element proxies on access and frees them
    # when unreferenced, so an id() can come back for another node
    excluded = {e for sel in exclude for e in select(tree, sel)}
    chosen = set(matches)
    lines: list[str] = []
    hrefs: list[str] = []
    for element in matches:
        if any(a in chosen for a in element.iterancestors()):
            continue
        parts: list[str] = []
        _walk(element, parts, hrefs, excluded)
        lines.extend(" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line), hrefs


def _walk(element: HtmlElement, parts: list[str], hrefs: list[str], excluded: set[HtmlElement]) -> None:
    """Append the text inside `element` (not its tail) to `parts`, "\\n" around block elements.
    Recursion depth is bounded: libxml2 refuses to nest deeper than 256 levels."""
    tag = element.tag.lower() if isinstance(element.tag, str) else ""
    if not tag or tag in SKIPPED_TAGS or element in excluded:
        return
    block = tag in BLOCK_TAGS
    if block:
        parts.append("\n")
    if tag == "a" and element.get("href"):
        hrefs.append(element.get("href"))
    parts.append(element.text or "")
    for child in element:
        _walk(child, parts, hrefs, excluded)
        parts.append(child.tail or "")
    if block:
        parts.append("\n")


def drop_boilerplate(text: str, patterns: tuple[str, ...]) -> str:
    """`text` without the lines a boilerplate pattern matches: re.search on the stripped line, and on the
    line with typographic quotes made straight (config says "Global Research's", pages print a ’)."""
    compiled = _compile(patterns)
    lines = (line.strip() for line in text.splitlines())
    if not compiled:
        return "\n".join(line for line in lines if line)
    return "\n".join(line for line in lines if line and not _is_boilerplate(line, compiled))


def drop_widget_lines(text: str, title: str | None = None) -> str:
    """`text` without widget lines (players, share bars, newsletter sign-ups), without the list of other
    articles after a "More stories" heading in its second half, without a first line that repeats the headline
    (generic extraction sometimes keeps the `h1`) and without lone dates and "Read more:" lines at either end."""
    lines = [line for line in text.splitlines() if not (len(line) <= WIDGET_LINE_MAX_CHARS and WIDGET_LINES.search(line))]
    lines = lines[: _tail_heading(lines)]
    if lines and title and _same_words(lines[0], title) and len(lines) > 1:
        lines = lines[1:]
    while len(lines) > 1 and EDGE_LINES.search(lines[-1]):
        lines.pop()
    while len(lines) > 1 and EDGE_LINES.search(lines[0]):
        lines.pop(0)
    return "\n".join(lines)


def _tail_heading(lines: list[str]) -> int | None:
    """Index of the first "More stories" heading after TAIL_HEADING_FROM of the text's characters, or None."""
    total, seen = sum(map(len, lines)), 0
    for index, line in enumerate(lines):
        if seen >= total * TAIL_HEADING_FROM and TAIL_HEADINGS.search(line):
            return index
        seen += len(line)
    return None


def _same_words(a: str, b: str) -> bool:
    return re.findall(r"\w+", a.casefold()) == re.findall(r"\w+", b.casefold())


def _is_boilerplate(line: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    folded = line.translate(_STRAIGHT_QUOTES)
    return any(p.search(line) or p.search(folded) for p in patterns)


@lru_cache(maxsize=64)
def _compile(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)
