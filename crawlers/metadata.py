"""Article metadata read from what a page declares about itself.

Each reader returns a `PageMetadata` with the fields it could find and None (or an empty list) elsewhere;
`crawlers.extraction` layers them: site hints, then `__NEXT_DATA__`, then JSON-LD, then OpenGraph and other
`<meta>` tags, then the byline block near the headline (crawlers/byline.py), then a dateline opening the text,
then htmldate's extensive search.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

from dateutil import parser as dateutil_parser
from loguru import logger
from lxml.html import HtmlElement

# The tags the readers (and crawlers/extraction.py: `<base href>`, `<title>`) look at, collected in one walk of
# the page instead of one walk per tag (five a page). With the lazy byline walk (crawlers/byline.py) it took 4-5%
# off extraction's time outside trafilatura on the article-extraction benchmark's 181 pages (issue 11).
HEAD_TAGS = ("base", "title", "meta", "link", "script")

# JSON-LD @type values that describe the article itself (schema.org Article and its subtypes).
_ARTICLE_TYPE = re.compile(r"(Article|BlogPosting|LiveBlogPosting|Report)$")
# A bare unix timestamp: seconds (10 digits today) or milliseconds (13).
_UNIX_TIME = re.compile(r"^\d{9,13}(\.\d+)?$")
# Timestamps above this are milliseconds: 1e11 seconds is the year 5138.
_MILLISECONDS_FROM = 1e11
_HAS_YEAR = re.compile(r"\b(19|20)\d{2}\b")
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\n)\s*", re.IGNORECASE)
_BY_PREFIX = re.compile(r"^(?:written\s+)?by[:\s]+", re.IGNORECASE)
# Byline words that heuristics (trafilatura's among them) return as if they were a name.
_NOT_NAMES = frozenset({"posted", "published", "updated", "written", "by", "author", "authors"})
_URL_LIKE = re.compile(r"^(?:https?:|www\.)|/|\.(?:com|org|net)\b", re.IGNORECASE)
# North American zone names dateutil cannot resolve alone (it leaves them naive, with a warning); other
# abbreviations are ambiguous (IST: India, Ireland, Israel) and are read as UTC.
_TZ_ABBREVIATIONS = {
    name: offset * 3600
    for name, offset in {"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}.items()
}
_LANGUAGE = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]+)*$", re.IGNORECASE)


class PageElements:
    """A parsed page and its HEAD_TAGS elements below the root, each tag's in document order (what
    `tree.iterfind(".//meta")` and the like find), gathered in one walk."""

    def __init__(self, tree: HtmlElement) -> None:
        self.tree = tree
        self._found: dict[str, list[HtmlElement]] = {tag: [] for tag in HEAD_TAGS}
        for element in tree.iterdescendants(*HEAD_TAGS):
            self._found[element.tag].append(element)

    def of(self, tag: str) -> list[HtmlElement]:
        """The page's `tag` elements (one of HEAD_TAGS)."""
        return self._found[tag]


@dataclass
class PageMetadata:
    """Metadata fields found by one reader; `merged_over` fills the gaps from a lower-priority reader."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: datetime | None = None
    canonical_url: str | None = None
    language: str | None = None
    description: str | None = None
    site_name: str | None = None
    image: str | None = None
    # organisations the page names as its publisher or as an author (JSON-LD "@type": "Organization")
    organisations: list[str] = field(default_factory=list)

    def merged_over(self, lower: PageMetadata) -> PageMetadata:
        """This reader's fields, each missing one taken from `lower`."""
        return PageMetadata(**{f.name: getattr(self, f.name) or getattr(lower, f.name) for f in fields(self)})


def parse_datetime(value: object) -> datetime | None:
    """A timezone-aware UTC datetime from an ISO string, a unix timestamp (seconds or milliseconds) or a
    human date with a year ("9 August 2016"); None when `value` holds no date. Naive times count as UTC."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) or _UNIX_TIME.match(str(value).strip()):
        seconds = float(value)
        if seconds > _MILLISECONDS_FROM:
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    text = " ".join(str(value).split())
    if not text or len(text) > 100:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # dateutil fills a missing year with the current one: require a year to avoid inventing dates
        if not _HAS_YEAR.search(text):
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
                parsed = dateutil_parser.parse(text, default=datetime(1900, 1, 1), tzinfos=_TZ_ABBREVIATIONS)
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return None


def split_authors(values: list[str] | str | None) -> list[str]:
    """Author names from bylines: "By A and B", "A, B", "A; B" give [A, B]. Empty and URL-like values are
    dropped, so are bare byline words ("Posted"), duplicates removed (first spelling kept); a collective byline ("Our reporters") stays as is."""
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    seen: set[str] = set()
    for value in values or []:
        for part in _AUTHOR_SPLIT.split(_BY_PREFIX.sub("", " ".join(str(value).split()))):
            name = _BY_PREFIX.sub("", part).strip(" .,:;|-–—")
            if not name or _URL_LIKE.search(name) or name.casefold() in seen or name.casefold() in _NOT_NAMES:
                continue
            seen.add(name.casefold())
            names.append(name)
    return names


# "By John Miles – Sputnik – 28.01.2024", "By Steven Sahiounie | Strategic Culture Foundation | January 22, 2024":
# the attribution line a republisher opens a post with names the author before the outlet.
_BYLINE_LINE = re.compile(r"^By\s+(?P<names>[^|–—]{3,80}?)\s+[|–—]\s+\S")
# "Written by: Julie Mollins", "Words by Ana Ruiz": a credit line of its own.
_WRITTEN_BY_LINE = re.compile(r"^(?:Written|Words|Text|Story)\s+by:?\s+(?P<names>[^|–—]{3,80})$", re.IGNORECASE)


def find_byline_in_text(text: str, first_lines: int = 3) -> list[str]:
    """Authors named by an attribution line among the first lines of the text; [] when there is none."""
    for line in text.splitlines()[:first_lines]:
        match = _BYLINE_LINE.match(line.strip()) or _WRITTEN_BY_LINE.match(line.strip())
        if match:
            return split_authors(match.group("names"))
    return []


# A dateline opening a paragraph: "Feb. 23, 2015 -- Life-threatening peanut allergies...", "9 August 2016 — ...".
_DATELINE = re.compile(
    r"^(?P<date>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}"
    r"|\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{4})\s*(?:--|—|–)\s"
)


def find_dateline_in_text(text: str, first_lines: int = 3) -> datetime | None:
    """The date a dateline opening one of the first lines of the text shows (a credit line may come first:
    "Reviewed by ..."); None when there is none."""
    for line in text.splitlines()[:first_lines]:
        match = _DATELINE.match(line.strip())
        if match:
            return parse_datetime(match.group("date"))
    return None


def normalise_language(value: str | None) -> str | None:
    """ISO 639-1 code ("en") from "en-US", "en_GB", "EN"; None for anything else."""
    match = _LANGUAGE.match((value or "").strip())
    return match.group(1).lower() if match else None


def absolute_url(base: str, href: str | None) -> str | None:
    """`href` resolved against `base` when it gives an http(s) URL, else None."""
    if not href or not href.strip():
        return None
    try:
        resolved = urljoin(base, href.strip())
        scheme = urlsplit(resolved).scheme
    except ValueError:
        return None
    return resolved if scheme in ("http", "https") else None


def read_next_data(elements: PageElements, url: str) -> PageMetadata:
    """Title, authors and date from a Next.js page's `__NEXT_DATA__` (WSWS: props.pageProps.initialData.page
    with `title`, `authors` [{name}] and `published` in unix seconds)."""
    script = next((e for e in elements.of("script") if e.get("id") == "__NEXT_DATA__"), None)
    data = _load_json(script.text if script is not None else None, url, "__NEXT_DATA__")
    page = data
    for key in ("props", "pageProps", "initialData", "page"):
        page = page.get(key) if isinstance(page, dict) else None
    if not isinstance(page, dict):
        if script is not None:
            logger.debug("__NEXT_DATA__ has no props.pageProps.initialData.page url={}", url)
        return PageMetadata()
    authors = page.get("authors") or []
    if not isinstance(authors, list):
        authors = [authors]
    names = [a.get("name") if isinstance(a, dict) else a for a in authors]
    return PageMetadata(
        title=_clean(page.get("title")),
        authors=split_authors([n for n in names if isinstance(n, str)]),
        published=parse_datetime(page.get("published")),
    )


def read_json_ld(elements: PageElements, url: str) -> PageMetadata:
    """Headline, authors, datePublished and more from the first schema.org Article (or subtype) object."""
    for script in elements.of("script"):
        if script.get("type") != "application/ld+json":
            continue
        for item in _json_ld_objects(_load_json(script.text, url, "JSON-LD")):
            types = item.get("@type")
            types = types if isinstance(types, list) else [types]
            if not any(isinstance(t, str) and _ARTICLE_TYPE.search(t) for t in types):
                continue
            authors = item.get("author") or []
            authors = authors if isinstance(authors, list) else [authors]
            publisher = item.get("publisher")
            people = [_name_of(a) for a in authors if _name_of(a) and not _is_organisation(a)]
            organisations = [_name_of(a) for a in authors if _name_of(a) and _is_organisation(a)] + [_name_of(publisher)]
            return PageMetadata(
                title=_clean(item.get("headline") or item.get("name")),
                authors=split_authors(people),
                organisations=[o for o in map(_clean, organisations) if o],
                published=parse_datetime(item.get("datePublished") or item.get("dateCreated")),
                canonical_url=absolute_url(url, _url_of(item.get("mainEntityOfPage")) or _url_of(item.get("url"))),
                language=normalise_language(item.get("inLanguage") if isinstance(item.get("inLanguage"), str) else None),
                description=_clean(item.get("description")),
                site_name=_clean(_name_of(publisher)),
                image=absolute_url(url, _url_of(item.get("image"))),
            )
    return PageMetadata()


def read_meta_tags(elements: PageElements, url: str) -> PageMetadata:
    """OpenGraph, `article:*`, Twitter, microdata (`itemprop`) and plain `<meta>` tags, `<link rel=canonical>`
    and `<html lang>`."""
    meta: dict[str, str] = {}
    for element in elements.of("meta"):
        content = (element.get("content") or "").strip()
        if not content:
            continue
        for attribute in ("property", "name", "http-equiv", "itemprop"):  # `name="pubdate" itemprop="datePublished"`
            key = (element.get(attribute) or "").strip().lower()
            if key:
                meta.setdefault(key, content)
    canonical = next(
        (link.get("href") for link in elements.of("link")
         if link.get("href") is not None and "canonical" in (link.get("rel") or "").lower().split()),
        None,
    )
    return PageMetadata(
        title=_clean(meta.get("og:title") or meta.get("twitter:title")),
        authors=split_authors(meta.get("author") or meta.get("article:author") or meta.get("dc.creator")),
        published=parse_datetime(
            meta.get("article:published_time") or meta.get("og:article:published_time") or meta.get("datepublished")
        ),
        canonical_url=absolute_url(url, canonical) or absolute_url(url, meta.get("og:url")),
        language=normalise_language(elements.tree.get("lang") or elements.tree.get("xml:lang"))
        or normalise_language(meta.get("og:locale"))
        or normalise_language(meta.get("content-language")),
        description=_clean(meta.get("og:description") or meta.get("description")),
        site_name=_clean(meta.get("og:site_name")),
        image=absolute_url(url, meta.get("og:image") or meta.get("twitter:image")),
    )


def _load_json(text: str | None, url: str, what: str) -> object:
    if not text or not text.strip():
        return None
    try:
        return json.loads(text, strict=False)
    except (ValueError, RecursionError):
        logger.debug("{} is not valid JSON url={}", what, url)
        return None


def _json_ld_objects(data: object) -> list[dict]:
    """Top-level JSON-LD objects, flattening lists and `@graph` containers."""
    items = data if isinstance(data, list) else [data]
    found: list[dict] = []
    for item in items:
        if isinstance(item, dict):
            found.append(item)
            graph = item.get("@graph")
            found.extend(g for g in (graph if isinstance(graph, list) else []) if isinstance(g, dict))
    return found


def _name_of(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("name")
    return value if isinstance(value, str) else None


def _is_organisation(value: object) -> bool:
    """A JSON-LD object typed Organization (or a subtype: NewsMediaOrganization...)."""
    kind = value.get("@type") if isinstance(value, dict) else None
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.endswith("Organization") for k in kinds)


def _url_of(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id")
    return value if isinstance(value, str) else None


def _clean(value: object) -> str | None:
    return (" ".join(value.split()) or None) if isinstance(value, str) else None
