"""The replay web's corpus: outlets' articles kept as data, rendered into their pages, feeds and sitemaps.

Each outlet has one YAML file in `corpus/` (`site:` settings and `articles:`). A copy is not written out: it
names the article it was copied from and a transform (trim, add an intro or an attribution line, splice in
photo captions, a new headline...), so an original and its copies cannot drift apart, and `truth.json` is
generated from the very data the pages are built from.

    python -m crawlers.replay.corpus --write-truth   # regenerate corpus/truth.json
    python -m crawlers.replay.corpus --check         # exit 1 when the checked-in truth.json is stale
"""

from __future__ import annotations

import argparse
import base64
import calendar
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from itertools import combinations
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

PACKAGE_DIR = Path(__file__).resolve().parent
CORPUS_DIR = PACKAGE_DIR / "corpus"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
TRUTH_FILE_NAME = "truth.json"
WAYBACK = "https://web.archive.org/web/"
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
LISTING_PAGE = 4  # articles per listing page: the replay's listings run over several pages
# Static files (the bad-input host) have no publication date of their own; any fixed past date will do.
STATIC_DATE = datetime(2024, 3, 1, tzinfo=timezone.utc)

ORIGIN_KINDS = frozenset({"original", "external_reprint"})
COPY_KINDS = frozenset({
    "full", "intro_added", "trimmed", "new_headline", "excerpt", "captions", "boilerplate_added",
    "comment_added", "crosspost_of_crosspost",
})
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


class CorpusError(Exception):
    """The corpus data is inconsistent; the message names the file and the article."""


# ----------------------------------------------------------------------------------------------- text


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


def blocks_html(blocks: tuple[Block, ...] | list[Block]) -> Markup:
    """The HTML of article blocks, the markup most outlets share (Sputnik's template has its own)."""
    return Markup("\n".join(_block_html(block) for block in blocks))


def _block_html(block: Block) -> str:
    text = inline_html(block.text)
    if block.kind == "h":
        return f"<h3>{text}</h3>"
    if block.kind == "quote":
        return f"<blockquote><p>{text}</p></blockquote>"
    if block.kind == "caption":
        credit = f'<span class="credit">© {escape(block.credit)}</span><br>' if block.credit else ""
        title = f'<span class="image-title">{escape(block.alt)}</span><br>' if block.alt else ""
        return (
            f'<figure class="inline-image">{title}<img src="{escape(block.src or "")}" alt="{escape(block.alt or "")}"'
            f' width="600" height="400"><figcaption>{credit}{text}</figcaption></figure>'
        )
    if block.kind == "attribution":
        return f'<p class="attribution">{text}</p>'
    return f"<p>{text}</p>"


# ----------------------------------------------------------------------------------------------- model


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


# ----------------------------------------------------------------------------------------------- loading


def load_corpus(corpus_dir: Path | None = None) -> Corpus:
    """Read every outlet file, derive the copies, and check that the whole is consistent."""
    corpus_dir = Path(corpus_dir or CORPUS_DIR)
    events = _read_yaml(corpus_dir / "events.yaml")["events"]
    raw: dict[str, tuple[Site, dict]] = {}
    for path in sorted(corpus_dir.glob("*.yaml")):
        if path.name == "events.yaml":
            continue
        data = _read_yaml(path)
        site = Site(file=path.name, **data["site"])
        for entry in data["articles"]:
            if entry["key"] in raw:
                raise CorpusError(f"{path.name}: article key '{entry['key']}' is used twice")
            raw[entry["key"]] = (site, entry)
    built: dict[str, Article] = {}
    for key in raw:
        _build(key, raw, built, ())
    corpus = Corpus(sorted(built.values(), key=lambda a: (a.published, a.url)), events, corpus_dir)
    _validate(corpus)
    return corpus


def _read_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: {exc}") from exc


def _build(key: str, raw: dict[str, tuple[Site, dict]], built: dict[str, Article], chain: tuple[str, ...]) -> Article:
    if key in built:
        return built[key]
    if key in chain:
        raise CorpusError(f"copy cycle: {' -> '.join(chain + (key,))}")
    site, entry = raw[key]
    source_key = entry.get("copy_of")
    if source_key is None:
        article = _original(site, entry)
    elif source_key not in raw:
        raise CorpusError(f"{site.file}: '{key}' is a copy of unknown article '{source_key}'")
    else:
        article = _copy(site, entry, _build(source_key, raw, built, chain + (key,)))
    built[key] = article
    return article


def _common(site: Site, entry: dict) -> dict:
    return {
        "key": entry["key"],
        "site": site,
        "url": entry["url"],
        "published": _datetime(entry["published"]),
        "tags": tuple(entry.get("tags", ())),
        "categories": tuple(entry.get("categories", ())),
        "in_feed": entry.get("in_feed", not site.archive),
        "captures": tuple(str(stamp) for stamp in entry.get("captures", ())),
        "comment": entry.get("comment"),
        "image": entry.get("image"),
    }


def _original(site: Site, entry: dict) -> Article:
    return Article(
        **_common(site, entry),
        title=entry["title"],
        authors=tuple(entry.get("authors", ())),
        blocks=parse_body(entry["body"]),
        tail=parse_body(entry["tail"]) if "tail" in entry else (),
        kind=entry.get("kind", "original"),
        story=entry.get("story", entry["key"]),
        subtitle=entry.get("subtitle"),
        event=entry.get("event"),
    )


def _copy(site: Site, entry: dict, source: Article) -> Article:
    spec = entry.get("transform", {})
    try:
        blocks, tail = derive(source, spec, site.home)
    except ValueError as exc:
        raise CorpusError(f"{site.file}: '{entry['key']}': {exc}") from exc
    return Article(
        **_common(site, entry),
        title=spec.get("title", source.title),
        authors=tuple(spec.get("authors", source.authors)),
        blocks=blocks,
        tail=tail,
        kind=entry["kind"],
        source=source,
        story=source.story,
        subtitle=spec.get("subtitle"),
    )


def _datetime(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise CorpusError(f"date without a time zone: {value}")
    return moment.astimezone(timezone.utc)


def derive(source: Article, spec: dict, home: str) -> tuple[tuple[Block, ...], tuple[Block, ...]]:
    """A copy's text (body, tail) from its source's, by the declared transform: what republishers do.

    keep: [start, end] paragraphs kept; captions: photo captions spliced in, `split_after` cutting a
    paragraph in two; attribution (+ attribution_at: index or "end"); intro / outro: paragraphs added;
    more_inline: text appended to the last paragraph; more: a closing "Full article" line.
    In added text `{source}` stands for the source's URL and `{subtitle}` for its standfirst.
    """

    def fill(text: str) -> str:
        return text.replace("{source}", source.url).replace("{subtitle}", source.subtitle or "")

    start, end = spec.get("keep", [0, None])
    body = list(source.blocks + source.tail)[start:end]
    for number, caption in sorted(enumerate(spec.get("captions", [])), key=lambda c: -c[1]["at"]):
        _splice_caption(body, caption, f"{home}image/{source.post_id}-{number}.jpg")
    if "more_inline" in spec:
        body[-1] = Block(body[-1].kind, body[-1].text + fill(spec["more_inline"]))
    tail: list[Block] = []
    if "attribution" in spec:
        attribution = Block("attribution", fill(spec["attribution"]))
        at = spec.get("attribution_at", 0)
        tail.append(attribution) if at == "end" else body.insert(at, attribution)
    intro = [Block("p", fill(text)) for text in _paragraphs(spec.get("intro", ()))]
    outro = [Block("p", fill(text)) for text in _paragraphs(spec.get("outro", ()))]
    more = [Block("p", fill(spec["more"]))] if "more" in spec else []
    return tuple(intro + body + outro + more), tuple(tail)


def _paragraphs(value: str | list[str]) -> list[str]:
    """Added paragraphs, as a list or as one text block with blank lines between paragraphs."""
    return [block.text for block in parse_body(value)] if isinstance(value, str) else list(value)


def _splice_caption(body: list[Block], spec: dict, src: str) -> None:
    caption = Block("caption", spec.get("text", ""), credit=spec.get("credit"), alt=spec.get("alt"), src=src)
    at, cut = spec["at"], spec.get("split_after")
    if cut is None:
        body.insert(at, caption)
        return
    paragraph = body[at]
    head, found, rest = paragraph.text.partition(cut)
    if not found:
        raise ValueError(f"caption split point {cut!r} not in paragraph {at}")
    body[at : at + 1] = [Block(paragraph.kind, head + cut), caption, Block(paragraph.kind, rest)]


def _validate(corpus: Corpus) -> None:
    seen: dict[str, Article] = {}
    for article in corpus.articles:
        where = f"{article.site.file}: '{article.key}'"
        if article.url in seen:
            raise CorpusError(f"{where}: URL already used by '{seen[article.url].key}'")
        seen[article.url] = article
        kinds = ORIGIN_KINDS if article.is_origin else COPY_KINDS
        if article.kind not in kinds:
            raise CorpusError(f"{where}: kind '{article.kind}' is not one of {sorted(kinds)}")
        if article.source and article.published <= article.source.published:
            raise CorpusError(f"{where}: published before the page it copies")
        if article.event and article.event not in corpus.events:
            raise CorpusError(f"{where}: unknown event '{article.event}'")


# ----------------------------------------------------------------------------------------------- truth


def build_truth(corpus: Corpus) -> dict:
    """What the pipeline should find: each article's facts, the copy and not-copy pairs, each story's origin."""
    articles = {}
    for article in sorted(corpus.articles, key=lambda a: a.url):
        entry = {
            "outlet": article.site.outlet,
            "title": article.title,
            "authors": _credited_authors(article),
            "published": iso(article.published),
            "in_feed": article.in_feed,
            "story": article.story,
            "is_origin": article.is_origin,
            "copy_of": article.source.url if article.source else None,
            "kind": article.kind,
        }
        if article.captures:
            entry["archive_url"] = article.page_urls[0]
        articles[article.url] = entry
    return {
        "articles": articles,
        "pairs": _copy_pairs(corpus) + _hard_negatives(corpus),
        "origins": {a.story: a.url for a in sorted(corpus.articles, key=lambda a: a.story) if a.is_origin},
    }


def _credited_authors(article: Article) -> list[str]:
    """An original's authors; for a copy, only those its page names (a bare "The Cradle | date" credits none)."""
    if article.source is None:
        return list(article.authors)
    shown = (article.text + "\n" + article.title).casefold()
    return [name for name in article.authors if name.casefold() in shown]


def _copy_pairs(corpus: Corpus) -> list[dict]:
    pairs = []
    for copy in sorted((a for a in corpus.articles if a.source), key=lambda a: a.url):
        note = f"{copy.kind}: {copy.site.name} copy of {copy.source.site.name}"
        pairs.append({"a": copy.url, "b": copy.source.url, "label": "copy", "note": note})
        if copy.origin is not copy.source:
            note = f"copy of a copy: {copy.site.name} via {copy.source.site.name} of {copy.origin.site.name}"
            pairs.append({"a": copy.url, "b": copy.origin.url, "label": "copy", "note": note})
    return pairs


def _hard_negatives(corpus: Corpus) -> list[dict]:
    """Different articles about the same event: same names, places and quoted statements, not copies."""
    pairs = []
    for event, description in corpus.events.items():
        members = [a for a in corpus.articles if a.event == event]
        for a, b in combinations(members, 2):
            if a.story != b.story:
                note = f"same event, different articles: {description}"
                pairs.append({"a": a.url, "b": b.url, "label": "not_copy", "note": note})
    return pairs


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


# ----------------------------------------------------------------------------------------------- the web


@dataclass(frozen=True)
class Page:
    """One response body with the headers conditional GET needs."""

    body: bytes
    content_type: str
    last_modified: datetime
    etag: str

    @classmethod
    def of(cls, body: str | bytes, content_type: str, last_modified: datetime) -> Page:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return cls(data, content_type, last_modified, f'"{hashlib.sha1(data).hexdigest()[:20]}"')


def url_key(url: str) -> str:
    """One spelling per URL for look-ups: lower-case scheme and host, query parameters sorted."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


_WAYBACK_PATH = re.compile(r"^/web/(\d{1,14})([a-z_]*)/(.+)$")


class Web:
    """Every page of the replay web by real URL, and the redirects and archive look-ups real sites answer."""

    def __init__(self, pages: dict[str, Page], aliases: dict[str, str], cdx_rows: list[dict]) -> None:
        self.pages = {url_key(url): page for url, page in pages.items()}
        self.aliases = aliases
        self.hosts = {urlsplit(key).netloc for key in self.pages} | set(aliases)
        self.cdx_rows = cdx_rows

    def get(self, url: str) -> Page | None:
        page = self.pages.get(url_key(url))
        if page is None and url.startswith("https://web.archive.org/cdx/search/cdx"):
            return self._cdx(urlsplit(url).query)
        return page

    def has_host(self, host: str) -> bool:
        """False for a host name the replay web does not serve: on the real web its DNS lookup would fail."""
        host = host.lower()
        return host in self.hosts or _toggle_www(host) in self.hosts

    def redirect_for(self, url: str) -> tuple[int, str] | None:
        """(status, real URL) when the real site would redirect: a Wayback capture's nearest time stamp, an
        old domain, http -> https, www or not, a missing trailing slash."""
        nearest = self._nearest_capture(url)
        if nearest:
            return 302, nearest
        parts = urlsplit(url)
        host, path = parts.netloc.lower(), parts.path or "/"
        hosts = [host, self.aliases.get(host), _toggle_www(host)]
        paths = [path] if path.endswith("/") else [path, path + "/"]
        for scheme in ("https", "http"):
            for candidate_host in filter(None, hosts):
                for candidate_path in paths:
                    candidate = urlunsplit((scheme, candidate_host, candidate_path, parts.query, ""))
                    if url_key(candidate) != url_key(url) and url_key(candidate) in self.pages:
                        return 301, candidate
        return None

    def _nearest_capture(self, url: str) -> str | None:
        """The Wayback Machine answers any time stamp with a redirect to the nearest capture (same flavour)."""
        parts = urlsplit(url)
        match = _WAYBACK_PATH.match(parts.path) if parts.netloc == "web.archive.org" else None
        rows = [r for r in self.cdx_rows if match and _bare(r["original"]) == _bare(match[3])]
        if not rows:
            return None
        wanted = int(match[1].ljust(14, "0"))
        row = min(rows, key=lambda r: abs(int(r["timestamp"]) - wanted))
        target = f"{WAYBACK}{row['timestamp']}{match[2]}/{row['original']}"  # id_ stays id_
        return target if url_key(target) != url_key(url) else None

    def _cdx(self, query: str) -> Page:
        """The Wayback CDX API over the captures, with its real parameters: url (a trailing * or matchType=prefix
        for a prefix), from/to (1 to 14 digits of a time stamp), filter (`[!]field:regex`, repeatable),
        collapse (`field`: the first of adjacent rows with the same value), limit with showResumeKey/resumeKey
        (`urlkey timestamp!`, URL-encoded, after an empty row), fl (fields), output=json."""
        pairs = parse_qsl(query)
        params = dict(pairs)
        wanted = params.get("url", "")
        prefix = wanted.endswith("*") or params.get("matchType") in ("prefix", "domain")
        wanted = _bare(wanted.rstrip("*"))
        start, end = params.get("from", "").ljust(14, "0"), params.get("to", "").ljust(14, "9")
        filters = [_cdx_filter(value) for key, value in pairs if key == "filter"]
        rows = [
            r for r in self.cdx_rows
            if _cdx_match(_bare(r["original"]), wanted, prefix) and start <= r["timestamp"] <= end
            and all(f(r) for f in filters)
        ]
        rows = sorted(rows, key=lambda r: (r["urlkey"], r["timestamp"]))
        if params.get("collapse") in CDX_FIELDS:
            rows = [r for i, r in enumerate(rows) if i == 0 or rows[i - 1][params["collapse"]] != r[params["collapse"]]]
        if params.get("resumeKey"):
            rows = [r for r in rows if f"{r['urlkey']} {r['timestamp']}!" > params["resumeKey"]]
        more = params.get("limit", "").isdigit() and len(rows) > int(params["limit"])
        rows = rows[: int(params["limit"])] if more else rows
        fields = [f for f in params.get("fl", "").split(",") if f in CDX_FIELDS] or list(CDX_FIELDS)
        table = [[str(r[f]) for f in fields] for r in rows]
        if more and params.get("showResumeKey") == "true":
            table += [[], [quote_plus(f"{rows[-1]['urlkey']} {rows[-1]['timestamp']}!")]]
        newest = max((r["captured"] for r in rows), default=STATIC_DATE)
        if params.get("output") == "json":
            return Page.of(json.dumps([fields] + table if table else []), "application/json", newest)
        return Page.of("".join(" ".join(row) + "\n" for row in table), "text/plain; charset=utf-8", newest)


def _cdx_filter(spec: str):
    """`statuscode:200` keeps rows whose field matches the regular expression; `!field:regex` drops them."""
    negate = spec.startswith("!")
    name, _, pattern = spec.lstrip("!").partition(":")
    return lambda row: (re.fullmatch(pattern, str(row.get(name, ""))) is not None) != negate


def _cdx_match(original: str, wanted: str, prefix: bool) -> bool:
    return original.startswith(wanted) if prefix else original == wanted


def _bare(url: str) -> str:
    """A URL without scheme and www., as the CDX API matches them (`https:/x` too: clients squash `//` in paths)."""
    return re.sub(r"^(https?:/+)?(www\.)?", "", url).rstrip("/")


def _toggle_www(host: str) -> str:
    return host.removeprefix("www.") if host.startswith("www.") else f"www.{host}"


def render_web(corpus: Corpus) -> Web:
    """Render every page, feed, sitemap, listing, robots.txt and static file of the corpus."""
    env = _environment()
    pages: dict[str, Page] = {}
    site_of_host: dict[str, Site] = {}
    cdx_rows: list[dict] = []
    for site, articles in corpus.sites():
        for article in articles:
            for stamp, page_url in zip(article.captures or [None], article.page_urls):
                pages[page_url] = _render_article(env, article, articles, stamp)
                if stamp:
                    original = _render_article(env, article, articles, stamp, original_content=True)
                    pages[f"{WAYBACK}{stamp}id_/{article.url}"] = original
                    cdx_rows.append(_cdx_row(article, stamp, original))
        pages.update(_render_feeds_and_maps(env, site, articles))
        site_of_host.update({host: site for host in _hosts(site, articles)})
    aliases = {old: new for site, _ in corpus.sites() for old, new in site.aliases.items()}
    origins = {urlsplit(u)[:2] for u in pages} | {("https", host) for host in aliases}
    for scheme, host in sorted(origins):
        pages.setdefault(f"{scheme}://{host}/robots.txt", _robots(site_of_host.get(host), host))
    pages.update(_static_files(corpus.directory / "static"))
    return Web(pages, aliases, sorted(cdx_rows, key=lambda r: (r["original"], r["timestamp"])))


def _hosts(site: Site, articles: list[Article]) -> set[str]:
    """The hosts a site answers on itself (an archive-only site answers on none)."""
    if site.archive:
        return set()
    urls = [site.home, (site.feed or {}).get("url"), site.listing, *(site.sitemap or {}).values()]
    urls += [a.url for a in articles]
    return {urlsplit(u).netloc for u in urls if u} | set(site.aliases)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        inline=inline_html,
        blocks=blocks_html,
        iso=iso,
        rfc822=lambda d: format_datetime(d.astimezone(timezone.utc), usegmt=True),
        unix=lambda d: int(d.timestamp()),
        date=lambda d, fmt: d.strftime(fmt.replace("{day}", str(d.day))),
        slug=lambda s: re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-"),
        caps_surname=lambda name: " ".join(name.split()[:-1] + [name.split()[-1].upper()]),
        path=lambda url: urlsplit(url).path,
        stamp=_stamp_time,
    )
    return env


def _render_article(env: Environment, article: Article, siblings: list[Article], stamp: str | None,
                    original_content: bool = False) -> Page:
    """A page as its site served it, or as a Wayback capture (`stamp`): with the archive's toolbar and links
    rewritten into the archive, or, with `original_content` (`/web/<stamp>id_/<url>`), exactly as captured."""
    def link(url: str) -> str:
        """Links inside a Wayback capture point into the archive, as the Wayback Machine rewrites them."""
        return f"{WAYBACK}{stamp}/{url}" if stamp and not original_content and url.startswith("http") else url

    # Related links point to older posts first; a Wayback capture cannot link to anything published later.
    earlier = sorted((a for a in siblings if a.published < article.published), key=lambda a: a.published, reverse=True)
    later = [] if stamp else sorted((a for a in siblings if a.published > article.published), key=lambda a: a.published)
    html = env.get_template(article.site.template).render(
        site=article.site, article=article, related=(earlier + later)[:4], capture=None if original_content else stamp,
        link=link,
    )
    return Page.of(html, CONTENT_TYPES[".html"], article.published)


def _render_feeds_and_maps(env: Environment, site: Site, articles: list[Article]) -> dict[str, Page]:
    pages = {}
    newest = articles[0].published
    if site.feed:
        items = [a for a in articles if a.in_feed]
        atom = site.feed.get("format") == "atom"
        body = env.get_template("atom.xml.j2" if atom else "rss.xml.j2").render(site=site, feed=site.feed, items=items)
        content_type = "application/atom+xml; charset=utf-8" if atom else "application/rss+xml; charset=utf-8"
        pages[site.feed["url"]] = Page.of(body, content_type, max(a.published for a in items))
    sitemap = site.sitemap or {}
    if "url" in sitemap:
        pages[sitemap["url"]] = _urlset(env, articles)
    if "index" in sitemap:
        months = sorted({(a.published.year, a.published.month) for a in articles}, reverse=True)
        parts = [
            (_month_url(sitemap["monthly"], year, month), [a for a in articles if a.published.timetuple()[:2] == (year, month)])
            for year, month in months
        ]
        body = env.get_template("sitemap_index.xml.j2").render(parts=parts)
        pages[sitemap["index"]] = Page.of(body, CONTENT_TYPES[".xml"], newest)
        pages.update({url: _urlset(env, members) for url, members in parts})
    if site.listing:  # paginated like WordPress: <listing>, <listing>/page/2, ... each linking the next
        urls = [site.listing] + [f"{site.listing}/page/{n}" for n in range(2, -(-len(articles) // LISTING_PAGE) + 1)]
        for n, url in enumerate(urls):
            items = articles[n * LISTING_PAGE : (n + 1) * LISTING_PAGE]
            next_url = urls[n + 1] if n + 1 < len(urls) else None
            body = env.get_template("listing.html.j2").render(site=site, items=items, url=url, next_url=next_url)
            pages[url] = Page.of(body, CONTENT_TYPES[".html"], items[0].published)
    return pages


def _urlset(env: Environment, articles: list[Article]) -> Page:
    body = env.get_template("sitemap.xml.j2").render(items=articles)
    return Page.of(body, CONTENT_TYPES[".xml"], max(a.published for a in articles))


def _month_url(template: str, year: int, month: int) -> str:
    last = calendar.monthrange(year, month)[1]
    return template.format(start=f"{year}{month:02d}01", end=f"{year}{month:02d}{last:02d}")


def _robots(site: Site | None, host: str) -> Page:
    rules = site.robots.strip() if site else "Disallow:"
    sitemaps = (site.sitemap or {}) if site else {}
    maps = [u for u in (sitemaps.get("url"), sitemaps.get("index")) if u and urlsplit(u).netloc == host]
    text = f"User-agent: *\n{rules}\n" + "".join(f"\nSitemap: {u}" for u in maps) + ("\n" if maps else "")
    return Page.of(text, CONTENT_TYPES[".txt"], STATIC_DATE)


def _cdx_row(article: Article, stamp: str, page: Page) -> dict:
    host, _, path = article.url.split("://", 1)[1].partition("/")
    surt = ",".join(reversed(host.removeprefix("www.").split("."))) + ")/" + path
    digest = base64.b32encode(hashlib.sha1(page.body).digest()).decode()
    captured = _stamp_time(stamp)
    return {
        "urlkey": surt, "timestamp": stamp, "original": article.url, "mimetype": "text/html",
        "statuscode": "200", "digest": digest, "length": str(len(page.body)), "captured": captured,
    }


def _stamp_time(stamp: str) -> datetime:
    """The moment of a 14-digit Wayback time stamp."""
    return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)


def _static_files(root: Path) -> dict[str, Page]:
    """Files kept as they are (the bad-input host's feeds and pages): `static/<host>/<path>` is https://<host>/<path>."""
    pages = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        host, *rest = path.relative_to(root).parts
        content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        pages[f"https://{host}/{'/'.join(rest)}"] = Page.of(path.read_bytes(), content_type, STATIC_DATE)
    return pages


# ----------------------------------------------------------------------------------------------- command line


def truth_json(corpus: Corpus) -> str:
    return json.dumps(build_truth(corpus), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.replay.corpus", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-truth", action="store_true", help="regenerate corpus/truth.json")
    action.add_argument("--check", action="store_true", help="exit 1 when corpus/truth.json is stale")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    expected = truth_json(corpus)
    truth_file = corpus.directory / TRUTH_FILE_NAME
    if args.write_truth:
        truth_file.write_text(expected, encoding="utf-8")
        print(f"wrote {truth_file}: {len(corpus.articles)} articles")
        return 0
    stale = not truth_file.exists() or truth_file.read_text(encoding="utf-8") != expected
    print(f"{truth_file} is {'stale: run --write-truth' if stale else 'up to date'}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
