"""Rendering the corpus into the replay web: each article page in its outlet's template (and as its Wayback
captures), feeds, sitemaps, paginated listings, robots.txt, and the bad-input host's static files."""

from __future__ import annotations

import calendar
import re
from datetime import timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from crawlers.replay.articles import Article, Block, Corpus, Site, inline_html, iso
from crawlers.replay.wayback import WAYBACK, Wayback, cdx_row, stamp_time
from crawlers.replay.web import STATIC_DATE, Page, Web

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
LISTING_PAGE = 4  # articles per listing page: the replay's listings run over several pages
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


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
                    cdx_rows.append(cdx_row(article, stamp, original))
        pages.update(_render_feeds_and_maps(env, site, articles))
        site_of_host.update({host: site for host in _hosts(site, articles)})
    aliases = {old: new for site, _ in corpus.sites() for old, new in site.aliases.items()}
    origins = {urlsplit(u)[:2] for u in pages} | {("https", host) for host in aliases}
    for scheme, host in sorted(origins):
        pages.setdefault(f"{scheme}://{host}/robots.txt", _robots(site_of_host.get(host), host))
    pages.update(_static_files(corpus.directory / "static"))
    return Web(pages, aliases, Wayback(sorted(cdx_rows, key=lambda r: (r["original"], r["timestamp"]))))


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
        stamp=stamp_time,
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


def _static_files(root: Path) -> dict[str, Page]:
    """Files kept as they are (the bad-input host's feeds and pages): `static/<host>/<path>` is https://<host>/<path>."""
    pages = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        host, *rest = path.relative_to(root).parts
        content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        pages[f"https://{host}/{'/'.join(rest)}"] = Page.of(path.read_bytes(), content_type, STATIC_DATE)
    return pages
