"""The replay web's Wayback Machine: where captures live, the redirect from any time stamp to the nearest
capture, and the CDX API over the captures, for the archive-only (defunct) outlets."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote_plus, urlsplit

from crawlers.replay.web import STATIC_DATE, Page, url_key

if TYPE_CHECKING:
    from crawlers.replay.articles import Article

WAYBACK = "https://web.archive.org/web/"
CDX_API = "https://web.archive.org/cdx/search/cdx"
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
_WAYBACK_PATH = re.compile(r"^/web/(\d{1,14})([a-z_]*)/(.+)$")


class Wayback:
    """The archive's captures, as CDX rows (cdx_row), sorted by URL then time."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def nearest_capture(self, url: str) -> str | None:
        """The Wayback Machine answers any time stamp with a redirect to the nearest capture (same flavour)."""
        parts = urlsplit(url)
        match = _WAYBACK_PATH.match(parts.path) if parts.netloc == "web.archive.org" else None
        rows = [r for r in self.rows if match and _bare(r["original"]) == _bare(match[3])]
        if not rows:
            return None
        wanted = int(match[1].ljust(14, "0"))
        row = min(rows, key=lambda r: abs(int(r["timestamp"]) - wanted))
        target = f"{WAYBACK}{row['timestamp']}{match[2]}/{row['original']}"  # id_ stays id_
        return target if url_key(target) != url_key(url) else None

    def cdx(self, url: str) -> Page | None:
        """The Wayback CDX API over the captures (None for any other URL), with its real parameters: url (a
        trailing * or matchType=prefix for a prefix), from/to (1 to 14 digits of a time stamp), filter
        (`[!]field:regex`, repeatable), collapse (`field`: the first of adjacent rows with the same value), limit
        with showResumeKey/resumeKey (`urlkey timestamp!`, URL-encoded, after an empty row), fl (fields),
        output=json."""
        if not url.startswith(CDX_API):
            return None
        pairs = parse_qsl(urlsplit(url).query)
        params = dict(pairs)
        wanted = params.get("url", "")
        prefix = wanted.endswith("*") or params.get("matchType") in ("prefix", "domain")
        wanted = _bare(wanted.rstrip("*"))
        start, end = params.get("from", "").ljust(14, "0"), params.get("to", "").ljust(14, "9")
        filters = [_cdx_filter(value) for key, value in pairs if key == "filter"]
        rows = [
            r for r in self.rows
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


def cdx_row(article: Article, stamp: str, page: Page) -> dict:
    """The CDX index row of one capture: SURT key, time stamp, digest and length of the page as captured."""
    host, _, path = article.url.split("://", 1)[1].partition("/")
    surt = ",".join(reversed(host.removeprefix("www.").split("."))) + ")/" + path
    digest = base64.b32encode(hashlib.sha1(page.body).digest()).decode()
    captured = stamp_time(stamp)
    return {
        "urlkey": surt, "timestamp": stamp, "original": article.url, "mimetype": "text/html",
        "statuscode": "200", "digest": digest, "length": str(len(page.body)), "captured": captured,
    }


def stamp_time(stamp: str) -> datetime:
    """The moment of a 14-digit Wayback time stamp."""
    return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
