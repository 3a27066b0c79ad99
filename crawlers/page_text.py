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
    return "\n".join(line for line in lines if line and not _is_boilerplate(line, compiled))


def _is_boilerplate(line: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    folded = line.translate(_STRAIGHT_QUOTES)
    return any(p.search(line) or p.search(folded) for p in patterns)


@lru_cache(maxsize=64)
def _compile(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)
