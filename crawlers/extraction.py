"""The extraction step: one article page's HTML to its fields (title, authors, date, main text, links...).

The page is parsed once; trafilatura gets the parsed tree. Generic extraction is trafilatura's; a source's
`ExtractionHints` (config/sources.yaml) give the body when their selector finds text, and their boilerplate
patterns drop lines from whichever text was kept; widget lines (players, share bars) are dropped everywhere.
Metadata checks itself: a hint is kept only when the page's own metadata agrees with it (a title hint that
yields the site's name, or a date far from the declared one, is dropped); titles lose the site's suffix
(crawlers/titles.py); authors lose publishers, outlet aliases, staff lines and "Name. Outlet" tails
(crawlers/byline.py). Order per field: hints, `__NEXT_DATA__` (when `hints.next_data`), JSON-LD, OpenGraph and
other `<meta>` tags, the byline block near the headline, a dateline opening the text; htmldate's extensive
date search runs only when nothing before it gave a date. trafilatura's own metadata pass is not run: on the
real dev set it changed no title, author or date once the byline block reader looked above the headline and
read microdata `<meta>` tags (bench/extraction.py, both halves), and it took 1.2 of 9.7 profiled seconds over
the benchmark's 181 pages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from copy import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from urllib.parse import urlsplit

import trafilatura
from htmldate import find_date
from loguru import logger
from lxml.etree import strip_elements, strip_tags
from lxml.html import HtmlElement
from trafilatura.settings import Extractor
from trafilatura.xml import xmltotxt

from crawlers.decoding import decode_html
from crawlers.byline import clean_authors, read_byline_block
from crawlers.metadata import (
    PageElements,
    PageMetadata,
    absolute_url,
    find_byline_in_text,
    find_dateline_in_text,
    parse_datetime,
    read_json_ld,
    read_meta_tags,
    read_next_data,
    split_authors,
)
from crawlers.page_text import SelectorError, drop_boilerplate, drop_widget_lines, select, selected_text
from crawlers.sources import ExtractionHints
from crawlers.titles import DEFAULT_TITLE_OPTIONS, TitleOptions, choose_title, heading_texts, is_site_name, page_headings

# trafilatura's time grows with page size (about 2.7 s per MB of text-dense HTML, trafilatura 2.3.1, one
# core), so it sees at most the first 2 million characters: a pathological multi-MB page costs seconds, not
# minutes. The article body sits near the top of a page, and the largest page of the article-extraction
# benchmark (1.49 MB) is under the cap. Our own metadata and selector reading still see the whole page.
MAX_TRAFILATURA_HTML_CHARS = 2_000_000

# trafilatura settings chosen on the article-extraction benchmark (181 pages, bench/extraction.py):
#   defaults (include_comments=True)               P 0.928 R 0.978 F1 0.953
#   include_comments=False                         P 0.942 R 0.978 F1 0.960
#   + favor_precision                              P 0.958 R 0.969 F1 0.963 (0.964 without include_links)
#   + retry in balanced mode under 500 characters  P 0.960 R 0.974 F1 0.967
# Precision mode switches off trafilatura's own rescue of short extractions (baseline and recall escalation);
# the retry restores it. Both thresholds are re-chosen on the tuning half by `bench/extraction.py --tune`
# (see ExtractionOptions). The settings are made once per mode (`_trafilatura_settings`).
# Elements trafilatura's tree cleaning deletes unread (its MANUALLY_CLEANED list), removed once before its passes
# (each pass copies the tree and runs whole-tree XPath prunes before that cleaning): 28% less CPU over the
# fast, full and balanced passes of the 181 benchmark pages and the real dev set (the trimming and a copy of the
# tree included), with every pass's text identical on all 234 pages (tests/test_real_pages.py checks half the
# dev set). Kept: noscript (readability reads it: a benchmark page's full-cascade text changed without
# it), math (trafilatura salvages formulas), template (stripped, not deleted: its text stays), JSON-LD scripts
# (trafilatura's forum detection and baseline read them) and header, form and figure (not always deleted).
TRAFILATURA_DISCARDS = (
    "style", "svg", "iframe", "link", "meta", "nav", "footer", "aside", "button", "select", "input", "textarea",
    "label", "option", "canvas", "video", "audio", "object", "embed", "picture",
)
# A hinted date this far from the date the page declares came from somewhere else (a related article).
HINT_DATE_TOLERANCE = timedelta(days=2)


@dataclass(frozen=True)
class ExtractionOptions:
    """Tuned choices (bench/extraction.py --tune sweeps them on the tuning half of the real dev set and the
    shared benchmark; figures in the README). `full_cascade_below_chars`: trafilatura first runs in fast mode
    (no readability/justext comparison, about half its cost); a fast text shorter than this is extracted again
    with the full cascade. Every value from 500 up scored the same body F1 on the tuning half (its pages that
    need the cascade give under 500 characters in fast mode), so speed chose: the largest value swept whose
    tuning-half speed reached issue 11's target, 0.9x bare `trafilatura.extract`: 2000 (ratio 0.92; 1000: 1.05;
    4000: 0.74; never fast: 0.58, before `_trim`). Not blind: the held-out pages were seen in that session, and
    two of them give 1,131 and 1,656 characters in fast mode and need the cascade (500 or 1000 would lose them).
    Re-swept with the trimmed tree, every page fast first: 2000: 1.16, 1000: 1.23, 4000: 0.95; kept at 2000.
    `cascade_first_below_chars`: a page whose `<p>` elements hold fewer characters than this (after `_trim`)
    skips the fast pass and gets the full cascade at once. On all 234 pages the full cascade gave the fast text
    whenever that was 2,000 characters or more, so this changes no text, only the time (every text identical,
    bench/extraction.py both halves). Chosen on the tuning half (124 pages, CPU of the passes run against
    fast-then-full): 1,000: 0.94, 2,000: 0.88, 2,500: 0.85, 3,000: 0.85, 4,000: 0.88, 5,000: 0.91; held-out
    half at 3,000: 0.91. `bench/extraction.py --tune` (speed ratio to bare trafilatura.extract, tuning half):
    0: 1.12, 1,000: 1.21, 2,000: 1.24, 3,000: 1.28, 4,000: 1.24, 5,000: 1.20.
    `precision_retry_below_chars`: a precision-mode text shorter than this is retried in balanced mode
    (chosen: 500; benchmark tuning half F1 0.966, against 0.958 at 0 and 250, 0.964 at 1,000, 0.965 at 2,000).
    `title`: see crawlers.titles.TitleOptions."""

    full_cascade_below_chars: int = 2000
    cascade_first_below_chars: int = 3000
    precision_retry_below_chars: int = 500
    title: TitleOptions = DEFAULT_TITLE_OPTIONS


DEFAULT_OPTIONS = ExtractionOptions()


class ExtractionError(Exception):
    """The page has no extractable text (empty, not HTML, or nothing found); the message names the URL."""


@dataclass(frozen=True, kw_only=True)
class ExtractedArticle:
    """What one article page says. `text` holds one paragraph (heading, list item) per line, lines
    separated by a single "\\n", no blank lines. `published` is timezone-aware UTC; `canonical_url` is the
    one the page declares (rel=canonical, og:url, JSON-LD), None if it declares none; `links` are the
    absolute http(s) hrefs inside the main text, in order, without duplicates or same-page anchors."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    canonical_url: str | None = None
    language: str | None = None
    text: str
    description: str | None = None
    links: list[str] = field(default_factory=list)
    site_name: str | None = None
    image: str | None = None
    # the outlet a repost's byline block credits ("Strategic Culture Foundation" on a SOTT page), None when
    # the block names none or names the page's own site
    credited_outlet: str | None = None


def extract_article(
    html: str | bytes,
    url: str,
    hints: ExtractionHints | None = None,
    *,
    encoding: str | None = None,
    outlet_names: Collection[str] = (),
    options: ExtractionOptions = DEFAULT_OPTIONS,
) -> ExtractedArticle:
    """Fields of the article at `url`. `encoding` is the HTTP header's charset when known; `outlet_names` are
    the configured outlets' names and aliases, never taken for an author or a title.
    Raises ExtractionError when the page holds no extractable text."""
    hints = hints or ExtractionHints()
    text_html = decode_html(bytes(html), url, encoding) if isinstance(html, (bytes, bytearray)) else html
    if not text_html or not text_html.strip():
        raise ExtractionError(f"empty page: {url}")
    tree = _parse(text_html, url)
    elements = PageElements(tree)
    base_url = absolute_url(url, _base_href(elements)) or url

    hinted = _hinted_metadata(tree, hints, url)
    next_data = read_next_data(elements, url) if hints.next_data else PageMetadata()
    json_ld, meta_tags = read_json_ld(elements, base_url), read_meta_tags(elements, base_url)
    declared = next_data.merged_over(json_ld).merged_over(meta_tags)
    site_names = _site_names(declared, json_ld, url, outlet_names)
    page_title = _page_title(elements)
    title = choose_title(
        hinted=hinted.title,
        declared=[next_data.title, json_ld.title, meta_tags.title, page_title],
        headings=page_headings(tree),
        subheadings=heading_texts(tree.iter("h2")),
        site_names=site_names,
        options=options.title,
    )
    byline = read_byline_block(tree, title, site_names)
    authors = _first_authors([hinted.authors, next_data.authors, json_ld.authors, meta_tags.authors, byline.authors], site_names)
    published = _checked_hint_date(hinted.published, declared.published, url) or declared.published or byline.published

    body = _hinted_body(tree, hints, base_url, url)
    date_tree = tree  # htmldate reads the whole page: a copy of it, when it may be needed, before _generic_body trims it
    if body is None:
        date_tree = copy(tree) if published is None else None
        body = _generic_body(tree, text_html, base_url, url, options)
    text = drop_boilerplate(drop_widget_lines(body[0], title), tuple(hints.boilerplate))
    text = unicodedata.normalize("NFC", text)
    if not text:
        raise ExtractionError(f"no extractable text (only boilerplate lines): {url}")
    if published is None:
        published = find_dateline_in_text(text) or _extensive_date(date_tree, url)
    logger.debug("extracted {} chars, {} links url={}", len(text), len(body[1]), url)
    return ExtractedArticle(
        title=title,
        authors=authors or clean_authors(find_byline_in_text(text), site_names),
        published=published,
        canonical_url=declared.canonical_url,
        language=declared.language,
        text=text,
        description=declared.description,
        links=body[1],
        site_name=declared.site_name,
        image=declared.image,
        credited_outlet=_credited_outlet(byline.outlet, declared, json_ld, url),
    )


def _site_names(declared: PageMetadata, json_ld: PageMetadata, url: str, outlet_names: Collection[str]) -> list[str]:
    """Names that are a site, not an article's title or author: the page's own (og:site_name, JSON-LD
    publisher and organisation authors, the host's labels: "salon", "tmz") and the configured outlets'."""
    return [*_own_names(declared, json_ld, url), *outlet_names]


def _own_names(declared: PageMetadata, json_ld: PageMetadata, url: str) -> list[str]:
    host = (urlsplit(url).hostname or "").lower()
    labels = [label for label in host.split(".")[:-1] if label not in ("www", "m", "amp", "co", "com", "org", "net")]
    return [n for n in (declared.site_name, *json_ld.organisations, *labels, host) if n]


def _credited_outlet(outlet: str | None, declared: PageMetadata, json_ld: PageMetadata, url: str) -> str | None:
    return outlet if outlet and not is_site_name(outlet, _own_names(declared, json_ld, url)) else None


def _first_authors(candidates: list[list[str]], site_names: list[str]) -> list[str]:
    """The first source whose names survive cleaning (publishers, aliases, staff lines dropped)."""
    for names in candidates:
        cleaned = clean_authors(names, site_names)
        if cleaned:
            return cleaned
    return []


def _checked_hint_date(hinted: datetime | None, declared: datetime | None, url: str) -> datetime | None:
    """The hinted date, unless the page declares a date more than HINT_DATE_TOLERANCE away from it."""
    if hinted and declared and abs(hinted - declared) > HINT_DATE_TOLERANCE:
        logger.debug("date hint {} disagrees with declared {}, using the declared url={}", hinted, declared, url)
        return None
    return hinted


def _extensive_date(tree: HtmlElement, url: str) -> datetime | None:
    """htmldate's extensive search (dates in the visible text): the slow path, for pages that declare none."""
    try:
        found = find_date(tree, url=url, extensive_search=True, original_date=True, outputformat="%Y-%m-%dT%H:%M:%S%z")
    except Exception as exc:  # htmldate failing on odd markup: no date, and the reason in the log
        logger.warning("htmldate failed ({}: {}) url={}", type(exc).__name__, exc, url)
        return None
    return parse_datetime(found)


def _parse(text_html: str, url: str) -> HtmlElement:
    try:
        tree = trafilatura.load_html(text_html)
    except Exception as exc:  # lxml or trafilatura failing on odd input: the page is unusable, keep the cause
        raise ExtractionError(f"cannot parse HTML ({type(exc).__name__}): {url}") from exc
    if tree is None:
        raise ExtractionError(f"not an HTML page: {url}")
    return tree


def _base_href(elements: PageElements) -> str | None:
    return next((base.get("href") for base in elements.of("base") if base.get("href") is not None), None)


def _page_title(elements: PageElements) -> str | None:
    """The first `<title>`'s text ("" when it is empty), None without one: what `tree.findtext(".//title")` gives."""
    titles = elements.of("title")
    return (titles[0].text or "") if titles else None


def _hinted_body(tree: HtmlElement, hints: ExtractionHints, base_url: str, url: str) -> tuple[str, list[str]] | None:
    """Main text and links from `hints.body_selector`, or None (generic extraction) when it finds no text."""
    if not hints.body_selector:
        return None
    try:
        text, hrefs = selected_text(tree, hints.body_selector, hints.body_exclude)
    except SelectorError as exc:
        logger.warning("bad body selector, using generic text: {} url={}", exc, url)
        return None
    if not text:
        logger.debug("body selector {!r} found no text, using generic text url={}", hints.body_selector, url)
        return None
    return text, _absolute_links(hrefs, base_url, url)


def _generic_body(
    tree: HtmlElement, text_html: str, base_url: str, url: str, options: ExtractionOptions
) -> tuple[str, list[str]]:
    """trafilatura's main text in precision mode: fast mode first, the full cascade when that is short, balanced
    mode when still short (see ExtractionOptions and the figures). `tree` is trimmed in place (`_trim`)."""
    if len(text_html) > MAX_TRAFILATURA_HTML_CHARS:
        logger.debug("page of {} chars cut to {} for trafilatura url={}", len(text_html), MAX_TRAFILATURA_HTML_CHARS, url)
        tree = _parse(text_html[:MAX_TRAFILATURA_HTML_CHARS], url)
    _trim(tree)
    text, hrefs = _precision_text(tree, url, options)
    if len(text) < options.precision_retry_below_chars:
        balanced = _run_trafilatura(tree, url, favor_precision=False, fast=False)
        logger.debug("precision text of {} chars, balanced retry gave {} url={}", len(text), len(balanced[0]), url)
        text, hrefs = balanced if len(balanced[0]) > len(text) else (text, hrefs)
    if not text:
        raise ExtractionError(f"no extractable text: {url}")
    return text, _absolute_links(hrefs, base_url, url)


def _precision_text(tree: HtmlElement, url: str, options: ExtractionOptions) -> tuple[str, list[str]]:
    """Precision mode's text: the fast pass's, or the full cascade's when the fast text is short (the fast one
    when the cascade finds nothing). A page whose paragraphs are short gets the cascade at once: its fast text
    would be short too."""
    if not _holds_paragraph_chars(tree, options.cascade_first_below_chars):
        full = _run_trafilatura(tree, url, favor_precision=True, fast=False)
        return full if full[0] else _run_trafilatura(tree, url, favor_precision=True, fast=True)
    fast = _run_trafilatura(tree, url, favor_precision=True, fast=True)
    if len(fast[0]) >= options.full_cascade_below_chars:
        return fast
    full = _run_trafilatura(tree, url, favor_precision=True, fast=False)
    logger.debug("fast text of {} chars, full cascade gave {} url={}", len(fast[0]), len(full[0]), url)
    return full if full[0] else fast


def _holds_paragraph_chars(tree: HtmlElement, wanted: int) -> bool:
    """The page's `<p>` elements hold at least `wanted` characters (whitespace runs counted as one): read
    until they do, not to the end of a long page."""
    held = 0
    for paragraph in tree.iter("p"):
        held += len(" ".join(paragraph.text_content().split()))
        if held >= wanted:
            return True
    return False


def _trim(tree: HtmlElement) -> None:
    """Remove what every trafilatura pass discards unread (TRAFILATURA_DISCARDS, and scripts other than JSON-LD):
    each pass copies the tree and runs its XPath prunes over all of it before its own cleaning."""
    strip_elements(tree, *TRAFILATURA_DISCARDS, with_tail=False)
    for script in [s for s in tree.iter("script") if s.get("type") != "application/ld+json"]:
        script.drop_tree()  # keeps its tail text


def _run_trafilatura(tree: HtmlElement, url: str, *, favor_precision: bool, fast: bool) -> tuple[str, list[str]]:
    """Main text (one block per line) and the raw hrefs of its links. trafilatura gets no URL: it would resolve
    every href against the page's URL (most of its link handling, cProfile on the benchmark), and `_absolute_links` resolves them
    against the page's `<base href>`, which is right where the two differ."""
    try:
        document = trafilatura.bare_extraction(tree, options=_trafilatura_settings(favor_precision, fast))
    except Exception as exc:  # trafilatura raising on odd markup: no text, and the reason in the log
        logger.warning("trafilatura failed ({}: {}) url={}", type(exc).__name__, exc, url)
        return "", []
    if document is None or document.body is None:
        return "", []
    hrefs = [ref.get("target") for ref in document.body.iter("ref")]
    strip_tags(document.body, "ref")  # the text gets the links' words, not markdown links
    lines = (" ".join(line.split()) for line in xmltotxt(document.body, False).splitlines())
    return "\n".join(line for line in lines if line), hrefs


@cache
def _trafilatura_settings(favor_precision: bool, fast: bool) -> Extractor:
    """trafilatura's settings for one mode, made once: `bare_extraction` builds them anew on every call from
    its keyword arguments otherwise (reading its config file's values and a date for htmldate each time,
    0.7% of an import's py-spy samples). Nothing in trafilatura changes them."""
    return Extractor(precision=favor_precision, fast=fast, comments=False, links=True, tables=True, output_format="python")


def _hinted_metadata(tree: HtmlElement, hints: ExtractionHints, url: str) -> PageMetadata:
    """Title, authors and date from the hints' selectors; a selector finding nothing leaves the field empty."""
    titles = _select_logged(tree, hints.title_selector, url)
    bylines = _select_logged(tree, hints.author_selector, url)
    dates = _select_logged(tree, hints.date_selector, url)
    found = PageMetadata(
        title=next(filter(None, map(_text_of, titles)), None),
        authors=split_authors([_text_of(e) for e in bylines]),
        published=next(filter(None, map(_element_date, dates)), None),
    )
    for name, selector, value in (
        ("title", hints.title_selector, found.title),
        ("author", hints.author_selector, found.authors),
        ("date", hints.date_selector, found.published),
    ):
        if selector and not value:
            logger.debug("{} selector {!r} found nothing, using generic value url={}", name, selector, url)
    return found


def _select_logged(tree: HtmlElement, selector: str | None, url: str) -> list[HtmlElement]:
    if not selector:
        return []
    try:
        return select(tree, selector)
    except SelectorError as exc:
        logger.warning("bad selector ignored: {} url={}", exc, url)
        return []


def _text_of(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _element_date(element: HtmlElement) -> datetime | None:
    for value in (element.get("datetime"), element.get("data-unixtime"), element.get("content"), element.text_content()):
        published = parse_datetime(value)
        if published:
            return published
    return None


def _absolute_links(hrefs: list[str | None], base_url: str, url: str) -> list[str]:
    page = url.split("#", 1)[0]
    links = (absolute_url(base_url, h) for h in hrefs if h and not h.strip().startswith("#"))
    return list(dict.fromkeys(link for link in links if link and link.split("#", 1)[0] != page))
