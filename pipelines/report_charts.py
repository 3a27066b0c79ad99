"""The geometry of the report's charts: plain numbers and labels that the template draws as inline SVG.

Nothing here writes markup (the template does, with autoescape on, so an untrusted title cannot break out);
each function lays out one chart and caps what it draws so that a report of 5,000 stories stays readable:
the timeline aggregates articles into periods sized to the span, the network keeps the busiest outlets, and
each chain tree draws its first copies and says how many more there are.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: the CLI imports this module for `report`'s defaults; `export` needs no more
    from pipelines.models import Article
    from pipelines.spread import CopyPair, OutletSpread, Selection, Story

KIND_COLOURS = {"origin": "#1f4e79", "full": "#c0392b", "extended": "#d35400", "excerpt": "#16a085",
                "partial": "#8e44ad"}
OTHER_COLOUR = "#7f8c8d"
MAX_TREES = 12  # stories drawn as chain trees (`report --max-trees`), largest first; the next 200 are listed
MAX_LISTED = 200  # republished stories listed (not drawn) after the trees
MAX_ARTICLES = 500  # rows of the articles table (`report --max-articles`)
MAX_LANES = 12  # outlets drawn as their own timeline lane; the rest share one
MAX_NODES = 24  # outlets drawn in the network
MAX_EDGES = 60  # copy pairs drawn in the network, heaviest first
MAX_TREE_ROWS = 30  # copies drawn per chain tree
MAX_INDENT = 6  # tree levels indented; deeper copies line up under the sixth
LAG_LEFT = 520  # where a tree's time scale starts (the origin's publication)


# -- timeline -----------------------------------------------------------------------------------------
@dataclass
class Lane:
    label: str
    y: float
    bars: list[dict] = field(default_factory=list)  # x, width, origin_h, copy_h (heights), counts, label
    total: int = 0


@dataclass
class Timeline:
    width: int
    height: int
    lanes: list[Lane]
    ticks: list[dict]  # x, label
    period: str
    plot_left: int
    plot_right: int
    undated: int


def timeline_chart(selection: Selection, width: int = 1200) -> Timeline | None:
    """Articles per outlet per period (origins dark, copies light); None when no article is dated."""
    dated = [(story, m) for story in selection.stories for m in story.members if m.published]
    undated = sum(len(s.members) for s in selection.stories) - len(dated)
    if not dated:
        return None
    first = min(_day(m.published) for _, m in dated)
    last = max(_day(m.published) for _, m in dated)
    period = _period_for((last - first).days)
    start, stop = _bucket(first, period), _bucket(last, period) + 1
    totals = Counter(m.outlet for _, m in dated)
    lanes_for = [o for o, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_LANES]]
    others = len(totals) - len(lanes_for)
    counts: dict[tuple[str, int], Counter] = defaultdict(Counter)
    for story, member in dated:
        lane = member.outlet if member.outlet in lanes_for else f"{others} other outlets"
        counts[(lane, _bucket(_day(member.published), period))]["origin" if member is story.origin else "copy"] += 1
    names = lanes_for + ([f"{others} other outlets"] if others else [])
    left, right, lane_h = 150, width - 20, 34
    step = (right - left) / max(1, stop - start)
    peak = max(sum(c.values()) for c in counts.values())
    lanes = []
    for i, name in enumerate(names):
        lane = Lane(name, 10 + i * lane_h)
        for (outlet, bucket), c in sorted(counts.items(), key=lambda kv: kv[0][1]):
            if outlet != name:
                continue
            count = sum(c.values())
            height = max(4.0, (lane_h - 8) * math.sqrt(count / peak))  # square root: one article stays visible
            lane.bars.append({"x": round(left + (bucket - start) * step + 0.5, 1), "width": round(max(3.0, step - 1), 1),
                              "origin_h": round(height * c["origin"] / count, 1), "copy_h": round(height * c["copy"] / count, 1),
                              "count": sum(c.values()), "label": _bucket_label(bucket, period),
                              "origins": c["origin"], "copies": c["copy"]})
            lane.total += sum(c.values())
        lanes.append(lane)
    height = 10 + len(names) * lane_h + 30
    ticks = [{"x": round(left + (b - start) * step, 1), "label": _bucket_label(b, period, short=True)}
             for b in _tick_buckets(start, stop, period)]
    return Timeline(width, height, lanes, ticks, period, left, right, undated)


def _day(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date() if moment.tzinfo else moment.date()


def _period_for(span_days: int) -> str:
    return "day" if span_days <= 60 else "week" if span_days <= 420 else "month" if span_days <= 5 * 365 else "quarter"


def _bucket(day: date, period: str) -> int:
    """A period as an integer (days, weeks, months or quarters since year 0)."""
    if period == "day":
        return day.toordinal()
    if period == "week":
        return (day.toordinal() - 1) // 7
    months = day.year * 12 + day.month - 1
    return months if period == "month" else months // 3


def _bucket_label(bucket: int, period: str, short: bool = False) -> str:
    if period == "day":
        return date.fromordinal(bucket).isoformat()
    if period == "week":
        return f"week of {date.fromordinal(bucket * 7 + 1).isoformat()}"
    if period == "month":
        return f"{bucket // 12}-{bucket % 12 + 1:02d}"
    return f"{bucket // 4}" if short else f"{bucket // 4} Q{bucket % 4 + 1}"


def _tick_buckets(start: int, stop: int, period: str) -> list[int]:
    """About eight ticks, on whole years when the span is long."""
    if period == "quarter":
        return [b for b in range(start, stop) if b % 4 == 0] or [start]
    every = max(1, math.ceil((stop - start) / 8))
    return list(range(start, stop, every))


# -- chain trees --------------------------------------------------------------------------------------
@dataclass
class TreeRow:
    article: Article
    depth: int
    y: float
    parent_y: float | None
    parent_depth: int
    kind: str
    colour: str
    lag: str
    lag_x: float | None
    coverage: float | None


@dataclass
class ChainTree:
    story: Story
    rows: list[TreeRow]
    height: int
    hidden: int  # copies not drawn
    outlets: int
    latest: str  # the latest copy's lag, "" when none came later than the origin


def chain_tree(story: Story, lag_left: int = LAG_LEFT, lag_width: int = 280) -> ChainTree:
    """Origin first, each copy under the one it was taken from (depth-first, earliest first); a time
    scale on the right (square root of the lag, so the first hours are not squeezed against the origin)."""
    children: dict[str, list[Article]] = defaultdict(list)
    for copy in story.copies:
        children[story.source_of(copy).url].append(copy)
    ordered: list[tuple[Article, int, str | None]] = []
    stack = [(story.origin, 0, None)]
    while stack:
        article, depth, parent = stack.pop()
        ordered.append((article, depth, parent))
        for child in reversed(children.get(article.url, [])):
            stack.append((child, depth + 1, article.url))
    shown = ordered[: MAX_TREE_ROWS + 1]
    lags = [a.chain.lag_seconds for a, _, _ in shown[1:] if a.chain and a.chain.lag_seconds is not None]
    longest = max([abs(x) for x in lags] + [3600.0])
    rows: list[TreeRow] = []
    position: dict[str, tuple[float, int]] = {}
    for i, (article, depth, parent) in enumerate(shown):
        y = 22 + i * 30
        kind = "origin" if article is story.origin else (article.chain.kind if article.chain else "copy")
        lag_s = None if article is story.origin or not article.chain else article.chain.lag_seconds
        lag_x = None if lag_s is None else round(lag_left + lag_width * math.sqrt(max(0.0, lag_s) / longest), 1)
        parent_y, parent_depth = position.get(parent, (None, 0)) if parent else (None, 0)
        depth = min(depth, MAX_INDENT)
        rows.append(TreeRow(article, depth, y, parent_y, parent_depth, kind, KIND_COLOURS.get(kind, OTHER_COLOUR),
                            "origin" if article is story.origin else _lag_label(lag_s), lag_x,
                            None if article is story.origin or not article.chain else article.chain.coverage))
        position[article.url] = (y, depth)
    latest = max((c.chain.lag_seconds for c in story.copies if c.chain and c.chain.lag_seconds is not None), default=None)
    return ChainTree(story, rows, 22 + len(rows) * 30, len(ordered) - len(shown), len({m.outlet for m in story.members}),
                     _lag_label(latest) if latest is not None and latest > 0 else "")


def _lag_label(seconds: float | None) -> str:
    from pipelines.spread import duration

    if seconds is None:
        return "no date"
    return duration(seconds) if seconds < 0 else "+" + duration(seconds)


# -- outlet network -----------------------------------------------------------------------------------
@dataclass
class Network:
    width: int
    height: int
    nodes: list[dict]  # outlet, x, y, r, colour, label x/y/anchor, originated, copies
    edges: list[dict]  # path, width (stroke), source, copier, weight, lag
    hidden: int  # outlets not drawn
    hidden_edges: int  # copy pairs not drawn


def network_chart(rows: list[OutletSpread], pairs: list[CopyPair], size: int = 560) -> Network | None:
    """The busiest outlets on a circle, busiest first, an arrow per copy pair, its width the number of
    stories copied; node area is articles, colour runs from origin-blue (originates) to
    copy-red (copies). None when nothing was copied."""
    from pipelines.spread import duration

    if not pairs:
        return None
    by_outlet = {r.outlet: r for r in rows}
    involved = Counter()
    for p in pairs:
        involved[p.source] += p.stories
        involved[p.copier] += p.stories
    keep = [o for o, _ in sorted(involved.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_NODES]]
    width = size + 200  # room for labels left and right
    centre, radius = size / 2, size / 2 - 70
    middle = width / 2
    peak = max(by_outlet[o].articles for o in keep)
    nodes, place = [], {}
    for i, outlet in enumerate(keep):
        angle = 2 * math.pi * i / len(keep) - math.pi / 2
        x, y = middle + radius * math.cos(angle), centre + radius * math.sin(angle)
        row = by_outlet[outlet]
        share = row.originated / max(1, row.originated + row.copies)
        r = 6 + 18 * math.sqrt(row.articles / peak)
        place[outlet] = (x, y, r)
        nodes.append({"outlet": outlet, "x": round(x, 1), "y": round(y, 1), "r": round(r, 1), "colour": _blend(share),
                      "lx": round(middle + (radius + r + 8) * math.cos(angle), 1),
                      "ly": round(centre + (radius + r + 8) * math.sin(angle) + 4, 1),
                      "anchor": "start" if math.cos(angle) > 0.2 else "end" if math.cos(angle) < -0.2 else "middle",
                      "originated": row.originated, "copies": row.copies, "articles": row.articles})
    drawn = sorted((p for p in pairs if p.source in place and p.copier in place), key=lambda p: -p.stories)[:MAX_EDGES]
    heaviest = max((p.stories for p in drawn), default=1)
    edges = []
    for p in reversed(drawn):  # the heaviest drawn last, on top
        (x1, y1, r1), (x2, y2, r2) = place[p.source], place[p.copier]
        edges.append({"path": _arc(x1, y1, r1, x2, y2, r2 + 4, middle, centre), "width": round(1 + 7 * p.stories / heaviest, 1),
                      "source": p.source, "copier": p.copier, "weight": p.stories, "copies": p.copies,
                      "lag": duration(p.median_lag_seconds), "kinds": ", ".join(p.kinds)})
    return Network(round(width), size, nodes, edges, len(involved) - len(keep), len(pairs) - len(drawn))


def _arc(x1: float, y1: float, r1: float, x2: float, y2: float, r2: float, ox: float, oy: float) -> str:
    """A gentle curve bent towards the centre (ox, oy), from the edge of one circle to the edge of the other."""
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    cx, cy = mx + (ox - mx) * 0.35, my + (oy - my) * 0.35
    sx, sy = _towards(x1, y1, cx, cy, r1)
    ex, ey = _towards(x2, y2, cx, cy, r2)
    return f"M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"


def _towards(x: float, y: float, tx: float, ty: float, distance: float) -> tuple[float, float]:
    length = math.hypot(tx - x, ty - y) or 1.0
    return x + (tx - x) * distance / length, y + (ty - y) * distance / length


def _blend(share: float) -> str:
    """#1f4e79 (all origins) to #c0392b (all copies)."""
    a, b = (0x1F, 0x4E, 0x79), (0xC0, 0x39, 0x2B)
    return "#" + "".join(f"{round(b[i] + (a[i] - b[i]) * share):02x}" for i in range(3))
