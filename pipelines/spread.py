"""How a narrative spread: the stories that match a query, and per outlet what it started and what it copied.

Everything here is computed from the chain fields the linking step stored (`story_id`, `is_origin`, `parent`,
`chain.lag_seconds`, `chain.kind`), read through the `Store` interface, so a query gives the same figures on
SQLite and on Elasticsearch. `select_stories` picks the stories; `outlet_spread`, `copy_pairs` and
`timeline` count them; `spread_table`, `spread_json` and `write_spread_csv` show the counts. The outlet
network (`outlet_network.py`), the exports and the HTML report read the same `Selection`.

Definitions (the README's "Seeing the spread" repeats them):
- a story is selected when any of its articles matches the query, and, with --since/--until, when its origin
  was published in that window (both days included; a story with an undated origin is then left out);
- an outlet *originated* a story when the story's origin is one of its articles, and *made a copy* for each
  other member it published;
- *lag* is the time from the origin's publication to the copy's (`chain.lag_seconds`; undated copies have
  none); the median and the 90th percentile are nearest-rank over the outlet's dated copies;
- *who copies whom*: a copy's source is its parent in the chain (the origin, or the copy it took the text
  from), so a crosspost of a crosspost counts against the outlet it copied, not the first publisher.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import TextIO

from rich.table import Table

from pipelines.models import Article
from pipelines.stores.base import Store

MAX_MATCHES = 10_000  # search hits read per query: Elasticsearch's index.max_result_window
# More matching stories than this are read in one pass over the store rather than one request per story.
# Measured on SQLite with test_report's store (5,000 stories, 15,000 articles): a pass reads about 6,000
# articles a second, a story lookup takes about 0.9 ms; over HTTP to Elasticsearch a lookup costs more. Not
# tuned: 500 keeps a query on a large store from reading it all, and thousands of stories from as many requests.
ONE_PASS_STORIES = 500
PERIODS = ("day", "week", "month")


@dataclass(frozen=True)
class Story:
    """A story's origin and its copies, in publication order (undated copies last)."""

    story_id: str
    origin: Article
    copies: tuple[Article, ...]

    @property
    def members(self) -> tuple[Article, ...]:
        return (self.origin, *self.copies)

    @cached_property
    def _by_url(self) -> dict[str, Article]:
        return {m.url: m for m in self.members}

    def source_of(self, copy: Article) -> Article:
        """The member `copy` took its text from: its parent, or the origin when the parent is not a member."""
        parent = self._by_url.get(copy.parent or "")
        return parent if parent is not None and parent.url != copy.url else self.origin


@dataclass
class Selection:
    """The stories a query selected, largest first, and what was asked."""

    stories: list[Story]
    query: str | None = None
    since: date | None = None
    until: date | None = None
    truncated: bool = False  # the query matched more than MAX_MATCHES articles: the rest were not read

    def articles(self) -> Iterator[Article]:
        for story in self.stories:
            yield from story.members

    def copies(self) -> Iterator[tuple[Story, Article]]:
        for story in self.stories:
            for copy in story.copies:
                yield story, copy


@dataclass
class OutletSpread:
    """One outlet's part in the selected stories."""

    outlet: str
    articles: int = 0
    stories: int = 0  # stories it has at least one article in
    originated: int = 0
    copies: int = 0
    copied_by_others: int = 0  # copies other outlets took from its articles
    first_appearance: str | None = None
    median_lag_seconds: float | None = None
    p90_lag_seconds: float | None = None
    copies_most_from: str | None = None  # the outlet it copies most often
    copies_most_from_n: int = 0
    most_copied_by: str | None = None  # the outlet that copies it most often
    most_copied_by_n: int = 0


@dataclass(frozen=True)
class CopyPair:
    """`copier` copied `source` this many times (articles), in this many stories."""

    source: str
    copier: str
    copies: int
    stories: int
    median_lag_seconds: float | None = None
    kinds: dict[str, int] = field(default_factory=dict)  # full, excerpt, extended, partial: how many of each


# -- selecting ---------------------------------------------------------------------------------------
def select_stories(store: Store, query: str | None = None, since: date | None = None, until: date | None = None) -> Selection:
    """The stories holding an article that matches `query` (every story without one), filtered by when
    their origin was published."""
    truncated = False
    if query:
        hits = store.search(query, limit=MAX_MATCHES)
        truncated = len(hits) >= MAX_MATCHES
        first: dict[str, Article] = {}
        for hit in hits:
            first.setdefault(hit.article.story_id or hit.article.url, hit.article)
        if len(first) <= ONE_PASS_STORIES:
            stories = [_story_of(store, key, article) for key, article in first.items()]
        else:
            stories = [_story(k, m) for k, m in _grouped(store).items() if k in first]
    else:
        stories = [_story(key, members) for key, members in _grouped(store).items()]
    stories = [s for s in stories if _in_window(s.origin, since, until)]
    stories.sort(key=lambda s: (-len(s.members), _when(s.origin), s.story_id))
    return Selection(stories, query, since, until, truncated)


def _grouped(store: Store) -> dict[str, list[Article]]:
    """Every article by story, in one pass over the store."""
    grouped: dict[str, list[Article]] = defaultdict(list)
    for article in store.iter_articles():
        grouped[article.story_id or article.url].append(article)
    return grouped


def _story_of(store: Store, key: str, article: Article) -> Story:
    members = store.story_members(article.story_id) if article.story_id else [article]
    return _story(key, members or [article])


def _story(key: str, members: list[Article]) -> Story:
    origin = next((m for m in members if m.is_origin), None) or min(members, key=_when)
    copies = sorted((m for m in members if m.url != origin.url), key=_when)
    return Story(origin.story_id or key, origin, tuple(copies))


def _when(article: Article) -> tuple:
    return (article.published is None, article.published.isoformat() if article.published else "", article.url)


def _in_window(origin: Article, since: date | None, until: date | None) -> bool:
    if since is None and until is None:
        return True
    if origin.published is None:
        return False
    day = origin.published.astimezone(timezone.utc).date()
    return (since is None or day >= since) and (until is None or day <= until)


# -- counting -----------------------------------------------------------------------------------------
def outlet_spread(selection: Selection) -> list[OutletSpread]:
    """Per outlet, most originated first, then most copies."""
    rows: dict[str, OutletSpread] = {}
    lags: dict[str, list[float]] = defaultdict(list)
    sources: dict[str, Counter] = defaultdict(Counter)  # copier -> source outlets
    copiers: dict[str, Counter] = defaultdict(Counter)  # source -> copier outlets
    for story in selection.stories:
        for outlet in {m.outlet for m in story.members}:
            rows.setdefault(outlet, OutletSpread(outlet)).stories += 1
        for member in story.members:
            row = rows[member.outlet]
            row.articles += 1
            when = _iso(member.published)
            if when and (row.first_appearance is None or when < row.first_appearance):
                row.first_appearance = when
        rows[story.origin.outlet].originated += 1
        for copy in story.copies:
            rows[copy.outlet].copies += 1
            if copy.chain and copy.chain.lag_seconds is not None:
                lags[copy.outlet].append(copy.chain.lag_seconds)
            source = story.source_of(copy).outlet
            if source != copy.outlet:
                sources[copy.outlet][source] += 1
                copiers[source][copy.outlet] += 1
                rows[source].copied_by_others += 1
    for outlet, row in rows.items():
        row.median_lag_seconds = percentile(lags[outlet], 50)
        row.p90_lag_seconds = percentile(lags[outlet], 90)
        row.copies_most_from, row.copies_most_from_n = _top(sources[outlet])
        row.most_copied_by, row.most_copied_by_n = _top(copiers[outlet])
    return sorted(rows.values(), key=lambda r: (-r.originated, -r.copies, r.outlet))


def copy_pairs(selection: Selection) -> list[CopyPair]:
    """Who copies whom, most copies first; an outlet copying its own article is left out."""
    copies: Counter = Counter()
    stories: dict[tuple[str, str], set[str]] = defaultdict(set)
    lags: dict[tuple[str, str], list[float]] = defaultdict(list)
    kinds: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for story, copy in selection.copies():
        pair = (story.source_of(copy).outlet, copy.outlet)
        if pair[0] == pair[1]:
            continue
        copies[pair] += 1
        stories[pair].add(story.story_id)
        if copy.chain:
            kinds[pair][copy.chain.kind] += 1
            if copy.chain.lag_seconds is not None:
                lags[pair].append(copy.chain.lag_seconds)
    pairs = [CopyPair(s, c, n, len(stories[(s, c)]), percentile(lags[(s, c)], 50), dict(sorted(kinds[(s, c)].items())))
             for (s, c), n in copies.items()]
    return sorted(pairs, key=lambda p: (-p.copies, p.source, p.copier))


def timeline(selection: Selection, by: str = "month") -> list[dict]:
    """Per period and outlet: articles published, stories originated and copies made (undated left out)."""
    counts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for story in selection.stories:
        for member in story.members:
            if member.published is None:
                continue
            cell = counts[(period_of(member.published, by), member.outlet)]
            cell["articles"] += 1
            cell["originated" if member.url == story.origin.url else "copies"] += 1
    return [{"period": p, "outlet": o, "articles": c["articles"], "originated": c["originated"], "copies": c["copies"]}
            for (p, o), c in sorted(counts.items())]


def period_of(moment: datetime, by: str) -> str:
    """2024-01-29 (day), 2024-W05 (ISO week) or 2024-01 (month), in UTC."""
    day = moment.astimezone(timezone.utc).date() if moment.tzinfo else moment.date()
    if by == "day":
        return day.isoformat()
    if by == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return f"{day.year}-{day.month:02d}"
    raise ValueError(f"--by is one of {', '.join(PERIODS)}, not {by!r}")


def percentile(values: Iterable[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `pct`% of the values at or below it."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _top(counter: Counter) -> tuple[str | None, int]:
    if not counter:
        return None, 0
    outlet, n = min(counter.items(), key=lambda item: (-item[1], item[0]))
    return outlet, n


def _iso(moment: date | None) -> str | None:
    return moment.isoformat() if moment else None


# -- showing ------------------------------------------------------------------------------------------
def spread_json(selection: Selection, by: str = "month") -> dict:
    return {
        "query": selection.query,
        "since": _iso(selection.since),
        "until": _iso(selection.until),
        "truncated": selection.truncated,
        "stories": len(selection.stories),
        "articles": sum(len(s.members) for s in selection.stories),
        "outlets": [asdict(row) for row in outlet_spread(selection)],
        "pairs": [asdict(pair) for pair in copy_pairs(selection)],
        "by": by,
        "timeline": timeline(selection, by),
    }


CSV_COLUMNS = [f for f in OutletSpread.__dataclass_fields__]


def write_spread_csv(rows: list[OutletSpread], sink: TextIO) -> None:
    """The per-outlet table, one row per outlet (the columns of `OutletSpread`)."""
    writer = csv.DictWriter(sink, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(asdict(row) for row in rows)


def spread_table(selection: Selection, rows: list[OutletSpread], pairs: list[CopyPair], top_pairs: int = 10) -> list[Table]:
    """The per-outlet table and the most frequent copy pairs, for the terminal."""
    what = f"for {selection.query!r}" if selection.query else "in the store"
    title = f"{len(selection.stories)} stories {what}" + (" (first 10,000 matches only)" if selection.truncated else "")
    table = Table(title=title)
    for name, justify in (("outlet", "left"), ("originated", "right"), ("copies", "right"), ("copied by others", "right"),
                          ("first appearance", "left"), ("median lag", "right"), ("p90 lag", "right"),
                          ("copies most from", "left"), ("most copied by", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        table.add_row(row.outlet, str(row.originated), str(row.copies), str(row.copied_by_others),
                      (row.first_appearance or "")[:10], duration(row.median_lag_seconds), duration(row.p90_lag_seconds),
                      _named(row.copies_most_from, row.copies_most_from_n), _named(row.most_copied_by, row.most_copied_by_n))
    shown = Table(title="Who copies whom")
    for name in ("copier", "copies from", "copies", "stories", "median lag"):
        shown.add_column(name, justify="left" if name in ("copier", "copies from") else "right")
    for pair in pairs[:top_pairs]:
        shown.add_row(pair.copier, pair.source, str(pair.copies), str(pair.stories), duration(pair.median_lag_seconds))
    return [table, shown]


def timeline_table(cells: list[dict], by: str) -> Table:
    """One row per period: articles, stories originated, copies, and the busiest outlets."""
    table = Table(title=f"By {by}")
    for name in ("period", "articles", "originated", "copies", "busiest outlets"):
        table.add_column(name, justify="right" if name in ("articles", "originated", "copies") else "left")
    periods: dict[str, list[dict]] = defaultdict(list)
    for cell in cells:
        periods[cell["period"]].append(cell)
    for period, row in periods.items():
        busiest = sorted(row, key=lambda c: (-c["articles"], c["outlet"]))[:3]
        table.add_row(period, *(str(sum(c[k] for c in row)) for k in ("articles", "originated", "copies")),
                      ", ".join(f"{c['outlet']} ({c['articles']})" for c in busiest))
    return table


def duration(seconds: float | None) -> str:
    """4h 30m, 2d 3h, 12m; '-' for none; a copy dated before its origin gets a minus sign."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    delta = timedelta(seconds=abs(seconds))
    hours, rest = divmod(delta.seconds, 3600)
    if delta.days:
        return f"{sign}{delta.days}d {hours}h"
    return f"{sign}{hours}h {rest // 60}m" if hours else f"{sign}{rest // 60}m"


def _named(outlet: str | None, n: int) -> str:
    return f"{outlet} ({n})" if outlet else ""
