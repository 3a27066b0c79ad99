"""The extraction step: one article page's HTML to its fields (title, authors, date, main text, links...).

Generic extraction is trafilatura's; a source's `ExtractionHints` (config/sources.yaml) override a field when
their selector finds something, and their boilerplate patterns drop lines from whichever text was kept.
Metadata comes, in this order, from the hints, `__NEXT_DATA__` (when `hints.next_data`), JSON-LD, OpenGraph
and other `<meta>` tags, and last trafilatura's metadata with htmldate's extensive date search.
"""

from __future__ import annotations

import unicodedata
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime

import trafilatura
from loguru import logger
from lxml.etree import _Element, strip_tags
from lxml.html import HtmlElement
from trafilatura.xml import xmltotxt

from crawlers.decoding import decode_html
from crawlers.metadata import (
    PageMetadata,
    absolute_url,
    normalise_language,
    parse_datetime,
    read_json_ld,
    read_meta_tags,
    read_next_data,
    find_byline_in_text,
    split_authors,
)
from crawlers.page_text import SelectorError, drop_boilerplate, select, selected_text
from crawlers.sources import ExtractionHints

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
# the retry restores it. Any threshold from 300 to 1,500 characters scored F1 0.966-0.968.
_TRAFILATURA_OPTIONS = dict(include_comments=False, include_links=True, include_tables=True, output_format="python")
PRECISION_RETRY_BELOW_CHARS = 500
# htmldate settings for trafilatura's metadata: keep the time of day when the page gives one.
_DATE_PARAMS = {"extensive_search": True, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}


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


def extract_article(
    html: str | bytes, url: str, hints: ExtractionHints | None = None, *, encoding: str | None = None
) -> ExtractedArticle:
    """Fields of the article at `url`. `encoding` is the HTTP header's charset when known.
    Raises ExtractionError when the page holds no extractable text."""
    hints = hints or ExtractionHints()
    text_html = decode_html(bytes(html), url, encoding) if isinstance(html, (bytes, bytearray)) else html
    if not text_html or not text_html.strip():
        raise ExtractionError(f"empty page: {url}")
    tree = _parse(text_html, url)
    base_url = absolute_url(url, _base_href(tree)) or url

    body = _hinted_body(tree, hints, base_url, url)
    if body is None:
        body = _generic_body(tree, text_html, base_url, url)
    text = unicodedata.normalize("NFC", drop_boilerplate(body[0], tuple(hints.boilerplate)))
    if not text:
        raise ExtractionError(f"no extractable text (only boilerplate lines): {url}")

    meta = _hinted_metadata(tree, hints, url)
    if hints.next_data:
        meta = meta.merged_over(read_next_data(tree, url))
    meta = meta.merged_over(read_json_ld(tree, base_url)).merged_over(read_meta_tags(tree, base_url))
    meta = meta.merged_over(_trafilatura_metadata(tree, url))
    logger.debug("extracted {} chars, {} links url={}", len(text), len(body[1]), url)
    return ExtractedArticle(
        title=meta.title,
        authors=meta.authors or find_byline_in_text(text),
        published=meta.published,
        canonical_url=meta.canonical_url,
        language=meta.language,
        text=text,
        description=meta.description,
        links=body[1],
        site_name=meta.site_name,
        image=meta.image,
    )


def _parse(text_html: str, url: str) -> HtmlElement:
    try:
        tree = trafilatura.load_html(text_html)
    except Exception as exc:  # lxml or trafilatura failing on odd input: the page is unusable, keep the cause
        raise ExtractionError(f"cannot parse HTML ({type(exc).__name__}): {url}") from exc
    if tree is None:
        raise ExtractionError(f"not an HTML page: {url}")
    return tree


def _base_href(tree: HtmlElement) -> str | None:
    base = tree.find(".//base[@href]")
    return base.get("href") if base is not None else None


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


def _generic_body(tree: HtmlElement, text_html: str, base_url: str, url: str) -> tuple[str, list[str]]:
    """trafilatura's main text in precision mode, retried in balanced mode when short (see the figures)."""
    if len(text_html) > MAX_TRAFILATURA_HTML_CHARS:
        logger.debug("page of {} chars cut to {} for trafilatura url={}", len(text_html), MAX_TRAFILATURA_HTML_CHARS, url)
        tree = _parse(text_html[:MAX_TRAFILATURA_HTML_CHARS], url)
    text, body = _run_trafilatura(tree, url, favor_precision=True)
    if len(text) < PRECISION_RETRY_BELOW_CHARS:
        retry_text, retry_body = _run_trafilatura(tree, url, favor_precision=False)
        if len(retry_text) > len(text):
            logger.debug("precision text of {} chars, balanced retry gave {} url={}", len(text), len(retry_text), url)
            text, body = retry_text, retry_body
    if not text:
        raise ExtractionError(f"no extractable text: {url}")
    hrefs = [ref.get("target") for ref in body.iter("ref")] if body is not None else []
    return text, _absolute_links(hrefs, base_url, url)


def _run_trafilatura(tree: HtmlElement, url: str, *, favor_precision: bool) -> tuple[str, _Element | None]:
    """Main text (one block per line) and trafilatura's body tree, whose `ref` elements hold the links."""
    try:
        document = trafilatura.bare_extraction(tree, url=url, favor_precision=favor_precision, **_TRAFILATURA_OPTIONS)
    except Exception as exc:  # trafilatura raising on odd markup: no text, and the reason in the log
        logger.warning("trafilatura failed ({}: {}) url={}", type(exc).__name__, exc, url)
        return "", None
    if document is None or document.body is None:
        return "", None
    plain = deepcopy(document.body)
    strip_tags(plain, "ref")  # links stay in `document.body`; the text gets their words without markdown
    lines = (" ".join(line.split()) for line in xmltotxt(plain, False).splitlines())
    return "\n".join(line for line in lines if line), document.body


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


def _trafilatura_metadata(tree: HtmlElement, url: str) -> PageMetadata:
    try:
        document = trafilatura.extract_metadata(tree, url, _DATE_PARAMS)
    except Exception as exc:  # metadata is optional: log and go on with what the page declared
        logger.warning("trafilatura metadata failed ({}: {}) url={}", type(exc).__name__, exc, url)
        return PageMetadata()
    return PageMetadata(
        title=document.title or None,
        authors=split_authors((document.author or "").split(";")),
        published=parse_datetime(document.date),
        language=normalise_language(document.language),
        description=document.description or None,
        site_name=document.sitename or None,
        image=absolute_url(url, document.image),
    )


def _absolute_links(hrefs: list[str | None], base_url: str, url: str) -> list[str]:
    page = url.split("#", 1)[0]
    links = (absolute_url(base_url, h) for h in hrefs if h and not h.strip().startswith("#"))
    return list(dict.fromkeys(link for link in links if link and link.split("#", 1)[0] != page))
