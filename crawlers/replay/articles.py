"""The replay corpus's data model: outlets (Site), their articles (Article) and the whole corpus, with the
corpus's inline text markup. What is read from the YAML files (corpus.py), rendered (render.py) and written
to truth.json (truth.py); nothing here knows about YAML, templates or HTTP.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from markupsafe import Markup, escape

from crawlers.replay.wayback import WAYBACK


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_EMPHASIS = re.compile(r"\*([^*\s][^*]*?)\*")


def plain_text(text: str) -> str:
    """Text without the corpus's inline markup: `[label](url)` -> label, `*title*` -> title."""
    return _EMPHASIS.sub(r"\1", _LINK.sub(r"\1", text))


def inline_html(text: str) -> Markup:
    """Escaped HTML for a line of corpus text, with its links, emphasis and line breaks."""
    html = _LINK.sub(r'<a href="\2">\1</a>', str(escape(text)))
    return Markup(_EMPHASIS.sub(r"<em>\1</em>", html).replace("\n", "<br>\n"))


@dataclass(frozen=True)
class Block:
    """One paragraph-level piece of an article: p, h (subheading), quote, caption or attribution."""

    kind: str
    text: str
    credit: str | None = None  # caption: the photo credit, shown as "© credit"
    alt: str | None = None  # caption: the image's alt text
    src: str | None = None  # caption: the image

    @property
    def plain(self) -> str:
        return plain_text(self.text)


def parse_body(text: str) -> tuple[Block, ...]:
    """Blocks from a body written as paragraphs between blank lines; `## ` opens a subheading, `> ` a quote."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        line = " ".join(part.strip() for part in chunk.splitlines())
        if line.startswith("## "):
            blocks.append(Block("h", line[3:]))
        elif line.startswith("> "):
            blocks.append(Block("quote", line[2:].replace(" > ", " ")))
        else:
            blocks.append(Block("p", line))
    return tuple(blocks)


@dataclass(frozen=True, eq=False)
class Site:
    """One outlet's web site: its template, feed, sitemaps, robots rules and the hosts that redirect to it."""

    outlet: str
    name: str
    template: str
    home: str
    file: str
    meta_dates: bool = True  # False: the date is only in the visible text and the URL
    archive: bool = False  # defunct: its pages are served as Wayback captures only
    robots: str = "Disallow:"
    aliases: dict = field(default_factory=dict)  # old host -> current host, answered with a 301
    feed: dict | None = None
    sitemap: dict | None = None
    listing: str | None = None
    conf: dict = field(default_factory=dict)  # template-specific settings (nav, tagline, ...)


@dataclass(frozen=True, eq=False)
class Article:
    """One page of the corpus: an original, or a copy derived from `source`."""

    key: str
    site: Site
    url: str
    title: str
    authors: tuple[str, ...]
    published: datetime
    blocks: tuple[Block, ...]
    tail: tuple[Block, ...] = ()  # text after the outlet's own in-body boilerplate (a closing attribution)
    kind: str = "original"
    source: Article | None = None
    story: str = ""
    subtitle: str | None = None
    image: dict | None = None
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    event: str | None = None
    in_feed: bool = True
    captures: tuple[str, ...] = ()
    comment: str | None = None

    @property
    def is_origin(self) -> bool:
        return self.source is None

    @property
    def origin(self) -> Article:
        """The first page of the story this article belongs to."""
        return self if self.source is None else self.source.origin

    @property
    def text(self) -> str:
        return "\n\n".join(block.plain for block in self.blocks + self.tail)

    @property
    def page_urls(self) -> list[str]:
        """Where the page is served: its own URL, or its Wayback captures for an archive-only outlet."""
        return [f"{WAYBACK}{stamp}/{self.url}" for stamp in self.captures] or [self.url]

    @property
    def post_id(self) -> int:
        """A stable WordPress-style post number, for `?p=` guids."""
        return int(hashlib.sha1(self.key.encode()).hexdigest()[:8], 16) % 900_000 + 100_000

    @property
    def description(self) -> str:
        """The meta description: the standfirst, or the opening of the first paragraph."""
        text = self.subtitle or next((b.plain for b in self.blocks if b.kind == "p"), self.title)
        return text if len(text) <= 200 else text[:200].rsplit(" ", 1)[0] + "…"


@dataclass
class Corpus:
    articles: list[Article]
    events: dict[str, str]
    directory: Path

    def sites(self) -> list[tuple[Site, list[Article]]]:
        """Each site with its articles, newest first."""
        grouped: dict[int, tuple[Site, list[Article]]] = {}
        for article in self.articles:
            grouped.setdefault(id(article.site), (article.site, []))[1].append(article)
        return [(site, sorted(items, key=lambda a: a.published, reverse=True)) for site, items in grouped.values()]


def iso(moment: datetime) -> str:
    """The one spelling of a moment in the pages and truth.json: ISO 8601, in UTC."""
    return moment.astimezone(timezone.utc).isoformat()
