"""One e-mail per search: entries merged per story, rendered by Jinja2 templates, headers set through the email API.

Titles, outlets and snippets come from pages we do not control. They reach the message only as template
values (autoescaped in the HTML part) and, for the subject, folded to one line of plain text and set through
`EmailMessage`, whose header policy refuses CR and LF anyway: a title cannot add a header, a recipient or a
part. Links are written as links only when they are http(s).

The Message-ID is derived from the search and its entries, so the same message composed twice (a retry after a
failed send) carries the same id, and a receiver that already has it can drop the copy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pipelines.alerts.ledger import Entry
from pipelines.alerts.saved_searches import SavedSearch
from pipelines.settings import AlertSettings, MailSettings

SUBJECT_CHARS = 160
_environment: Environment | None = None


@dataclass
class Composed:
    """A message ready to hand over, with what the ledger records about it."""

    message: EmailMessage
    message_id: str
    search: str
    recipients: list[str]
    subject: str
    entry_ids: list[str]
    text: str


def templates() -> Environment:
    """Built once; .html templates are autoescaped, .txt ones are not (plain text needs no escaping)."""
    global _environment
    if _environment is None:
        _environment = Environment(loader=PackageLoader("pipelines.alerts", "templates"),
                                   autoescape=select_autoescape(enabled_extensions=("html",), default=False),
                                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return _environment


def compose(search: SavedSearch, entries: list[Entry], mail: MailSettings, alerts: AlertSettings, now: datetime,
            period: tuple[datetime, datetime] | None = None) -> Composed:
    """The message carrying `entries` (one search's), one entry per story; `period` for a digest."""
    stories = merge_by_story(entries)
    sender = Address(addr_spec=mail.sender)
    digest = hashlib.sha256("\0".join([search.name, *sorted(e.id for e in entries)]).encode()).hexdigest()
    message_id = f"<storytrail.{digest[:32]}@{sender.domain}>"
    subject = _subject(search, stories, period)
    values = {
        "search": search, "stories": stories, "period": period, "subject": subject,
        "unsubscribe_command": f"storytrail alerts remove {search.name}",
    }
    text = templates().get_template("message.txt").render(values)
    html = templates().get_template("message.html").render(values)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = [Address(addr_spec=r) for r in search.recipients]
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["List-Id"] = f"storytrail alert {search.name} <{search.name}.alerts.{sender.domain}>"
    message["List-Unsubscribe"] = f"<{_unsubscribe(search, mail, alerts)}>"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Storytrail-Search"] = search.name
    message.set_content(text, cte="quoted-printable")  # 7-bit safe whatever the server supports
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return Composed(message, message_id, search.name, list(search.recipients), subject, [e.id for e in entries], text)


def merge_by_story(entries: list[Entry]) -> list[dict]:
    """One story per group of entries sharing a copy (a story's id changes when its origin turns up late):
    every copy known, the newest facts winning; `kind` is new if any entry was new. A watched story's entries
    stay one per new copy, as the watch asks."""
    groups: list[dict] = []
    by_url: dict[str, dict] = {}
    for entry in entries:
        payload = entry.payload
        urls = payload["fresh"] if entry.kind == "copy" else [c["url"] for c in payload["copies"]]
        group = next((by_url[u] for u in urls if u in by_url), None)
        if group is None:
            group = {"kind": entry.kind, "copies": {}, "fresh": [], "new_outlets": [], "snippet": []}
            groups.append(group)
        if entry.kind == "new":
            group["kind"] = "new"
        group.update(headline=_one_line(payload["headline"]), origin=_shown(payload["origin"]))
        group["copies"].update((c["url"], _shown(c)) for c in payload["copies"])
        group["fresh"] += [u for u in payload["fresh"] if u not in group["fresh"]]
        group["new_outlets"] += [o for o in payload["new_outlets"] if o not in group["new_outlets"]]
        group["snippet"] = group["snippet"] or [(_one_line(t, strip=False), hl) for t, hl in payload["snippet"]]
        by_url.update((u, group) for u in urls)
    for group in groups:
        group["copies"] = sorted(group["copies"].values(), key=lambda c: (c["published"] is None, c["published"] or "", c["url"]))
        group["new_outlets"] = [_one_line(o) for o in group["new_outlets"]]
    return groups


def _shown(identity: dict) -> dict:
    """An article as the templates show it: one-line texts, a day, and a link only for http(s)."""
    url = identity["url"]
    return {**identity, "title": _one_line(identity.get("title") or ""), "outlet": _one_line(identity["outlet"]),
            "day": (identity.get("published") or "")[:10] or "undated", "kind": identity.get("kind") or "copy",
            "link": url if re.match(r"^https?://", url) else None, "url": _one_line(url)}


def _subject(search: SavedSearch, stories: list[dict], period: tuple[datetime, datetime] | None) -> str:
    new = sum(1 for s in stories if s["kind"] == "new")
    also = len(stories) - new
    if period:
        head = f"{search.every} digest, {period[1]:%Y-%m-%d}: "
    else:
        head = ""
    if len(stories) == 1:
        story = stories[0]
        lead = {"new": "", "also": "now also on ", "copy": "new copy on "}[story["kind"]]
        lead += f"{', '.join(story['new_outlets'])}: " if lead else ""
        body = head + lead + story["headline"]
    else:
        counts = [f"{new} new stor{'y' if new == 1 else 'ies'}" if new else "",
                  f"{also} stor{'y' if also == 1 else 'ies'} on new outlets" if also else ""]
        body = head + ", ".join(c for c in counts if c)
    subject = _one_line(f"[storytrail] {search.name}: {body}")
    return subject if len(subject) <= SUBJECT_CHARS else subject[: SUBJECT_CHARS - 1] + "…"


def _unsubscribe(search: SavedSearch, mail: MailSettings, alerts: AlertSettings) -> str:
    if alerts.unsubscribe:
        return alerts.unsubscribe.replace("{name}", quote(search.name))
    return f"mailto:{mail.sender}?subject={quote('unsubscribe ' + search.name)}"


def _one_line(text: str, strip: bool = True) -> str:
    """Every run of whitespace and control characters (CR, LF, tab, ...) as one space."""
    line = re.sub(r"[\s\x00-\x1f\x7f\u2028\u2029]+", " ", text)
    return line.strip() if strip else line
