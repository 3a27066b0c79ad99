"""`storytrail report QUERY -o report.html`: one self-contained HTML page about how a narrative spread.

The page holds everything it shows: styles inline, charts drawn here as inline SVG (`report_charts.py` lays
them out, `report_templates/report.html.j2` draws them), no script, font, image or style sheet fetched from
anywhere, so it opens offline and can be mailed or archived as one file. Titles and URLs come from the
pages crawled and are untrusted: Jinja2's autoescape escapes every one, and links are only ever http(s).

Sections: the figures at a glance, a timeline per outlet, the outlet network, the largest stories drawn as
chain trees (capped at `max_trees`, the rest listed), the per-outlet table of `spread`, and the articles
(capped at `max_articles` rows; `storytrail export --format csv` has them all).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipelines.report_charts import KIND_COLOURS, LAG_LEFT, MAX_ARTICLES, MAX_LISTED, MAX_TREES, chain_tree, network_chart, timeline_chart
from pipelines.spread import Selection, copy_pairs, duration, outlet_spread

TEMPLATES = Path(__file__).with_name("report_templates")


def render_report(selection: Selection, max_trees: int = MAX_TREES, max_articles: int = MAX_ARTICLES,
                  generated: datetime | None = None) -> str:
    """The report as one HTML string."""
    rows, pairs = outlet_spread(selection), copy_pairs(selection)
    articles = [(story, m) for story in selection.stories for m in story.members]
    dated = [m.published for _, m in articles if m.published]
    context = {
        "title": f"How “{selection.query}” spread" if selection.query else "How the stories spread",
        "selection": selection,
        "generated": (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
        "figures": {
            "stories": len(selection.stories),
            "copied": sum(1 for s in selection.stories if s.copies),
            "articles": len(articles),
            "outlets": len(rows),
            "first": min(dated).date().isoformat() if dated else None,
            "last": max(dated).date().isoformat() if dated else None,
        },
        "timeline": timeline_chart(selection),
        "network": network_chart(rows, pairs),
        "trees": [chain_tree(story) for story in selection.stories[:max_trees] if story.copies],
        "more_stories": [s for s in selection.stories[max_trees:] if s.copies][:MAX_LISTED],
        "max_listed": MAX_LISTED,
        "outlets": rows,
        "pairs": pairs[:15],
        "articles": articles[:max_articles],
        "articles_total": len(articles),
        "kinds": KIND_COLOURS,
        "lag_left": LAG_LEFT,
    }
    return _environment().get_template("report.html.j2").render(**context)


def write_report(selection: Selection, path: Path, **options: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(selection, **options), encoding="utf-8")


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["duration"] = duration
    env.filters["safe_href"] = _safe_href
    env.filters["day"] = lambda moment: moment.strftime("%Y-%m-%d") if moment else ""
    env.filters["moment"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M") if moment else "no date"
    env.filters["pct"] = lambda share: "" if share is None else f"{share:.0%}"
    return env


def _safe_href(url: str) -> str:
    """Only web links: a stored 'javascript:' URL becomes '#'."""
    return url if url.lower().startswith(("http://", "https://")) else "#"
