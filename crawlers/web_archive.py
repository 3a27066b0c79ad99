"""The web archive: the Wayback Machine's capture index (the CDX API) and the addresses of its captures.

A defunct outlet (Antimedia) is reached only through the archive. Its capture index is asked, per domain,
for the captures of a URL prefix (`matchType=prefix`) in a time window (`from`/`to`, Wayback time stamps),
successful HTML ones only (`filter=statuscode:200`, `filter=mimetype:text/html`), one per URL
(`collapse=urlkey`: the first capture in the window), as JSON (`output=json`), `cdx_page_rows` rows per
answer (`limit`; the server caps one answer at 150,000) with a resumption key (`showResumeKey=true`) that
the next request passes back (`resumeKey`) until the index has no more. Each capture is then fetched
in its original-content form, `/web/<timestamp>id_/<original>`: the page as the outlet served it, without
the archive's toolbar, scripts and rewritten links. The article is stored under the outlet's own URL, with
the capture's time and its reader-facing address (`/web/<timestamp>/<original>`).

Reference: https://github.com/internetarchive/wayback/tree/master/wayback-cdx-server
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from crawlers.sources import WebArchive
from crawlers.urls import normalize_url

STAMP_FORMAT = "%Y%m%d%H%M%S"
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode")


class CdxError(ValueError):
    """The capture index answered something that is not a CDX JSON table."""


@dataclass(frozen=True)
class Capture:
    """One capture of one page, as the CDX API lists it."""

    timestamp: str  # 14 digits, UTC
    original: str  # the URL as the archive saw it
    archive: WebArchive

    @property
    def captured_at(self) -> datetime:
        return datetime.strptime(self.timestamp, STAMP_FORMAT).replace(tzinfo=timezone.utc)

    @property
    def url(self) -> str:
        """The article's identity: the outlet's own URL, normalised."""
        return normalize_url(self.original)

    @property
    def replay_url(self) -> str:
        """The capture as a reader opens it (with the archive's banner): what is recorded with the article."""
        return f"{self.archive.capture_prefix}{self.timestamp}/{self.original}"

    @property
    def raw_url(self) -> str:
        """The capture's original content, without the archive's additions: what is fetched."""
        return f"{self.archive.capture_prefix}{self.timestamp}id_/{self.original}"


def wayback_stamp(moment: datetime) -> str:
    """A 14-digit Wayback time stamp (UTC) for `moment`."""
    return moment.astimezone(timezone.utc).strftime(STAMP_FORMAT)


@dataclass(frozen=True)
class CdxPage:
    """One answer of the capture index: its captures, and the key that asks for the rest (None: no more)."""

    captures: list[Capture]
    resume_key: str | None = None


def cdx_query(archive: WebArchive, domain: str, since: datetime, until: datetime, resume_key: str | None = None) -> str:
    """The CDX request for every page under `domain` first captured (in the window) between the two moments;
    with `resume_key`, the next answer of the same query."""
    params = [
        ("url", f"{domain}/"),
        ("matchType", "prefix"),
        ("from", wayback_stamp(since)),
        ("to", wayback_stamp(until)),
        ("filter", "statuscode:200"),
        ("filter", "mimetype:text/html"),
        ("collapse", "urlkey"),
        ("fl", ",".join(CDX_FIELDS)),
        ("output", "json"),
        ("limit", str(archive.cdx_page_rows)),
        ("showResumeKey", "true"),
    ]
    # The key comes URL-encoded from the server, to be passed back as it is.
    return f"{archive.cdx_url}?{urlencode(params)}" + (f"&resumeKey={resume_key}" if resume_key else "")


def parse_cdx(body: bytes, archive: WebArchive) -> CdxPage:
    """The captures of a CDX JSON answer: a header row naming the fields, one row per capture, and, when more
    remain, an empty row and a row holding the resumption key."""
    if not body.strip():
        return CdxPage([])  # the CDX API answers an empty body when nothing matches
    try:
        table = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CdxError(f"not JSON: {exc}") from exc
    if not table:
        return CdxPage([])
    if not isinstance(table, list) or not all(isinstance(row, list) for row in table):
        raise CdxError("not a table of rows")
    header, *rows = table
    try:
        at_stamp, at_original = header.index("timestamp"), header.index("original")
    except ValueError as exc:
        raise CdxError(f"no {exc.args[0].split()[0]} column in {header}") from exc
    resume_key = str(rows[-1][0]) if len(rows) >= 2 and rows[-2] == [] and len(rows[-1]) == 1 else None
    captures = [Capture(str(row[at_stamp]), str(row[at_original]), archive) for row in rows if len(row) == len(header)]
    return CdxPage(captures, resume_key)
