"""The republication network as graphs for Gephi, Cytoscape or networkx: outlets, and articles.

`outlet_graph`: one node per outlet in the selected stories, an edge source -> copier for each pair of
outlets where one copied the other (source: the copy's parent in the chain, as in `spread.copy_pairs`), with
`weight` = stories copied along it, `copies` = articles, `median_lag_hours` from the origin, and `kinds` (the
kinds of copy, "full excerpt"). Only outlets with a copy edge are nodes (each with its counts: articles,
stories, originated, copies, copied_by_others); `storytrail spread` lists the ones that published alone.

`article_graph`: one node per article (its outlet, title, date, role), an edge parent -> copy carrying the
copy's kind, coverage of the origin, added share and lag.

GEXF and GraphML take only text and numbers as attributes, so missing values are left out, never written
as "None".
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import networkx as nx

from pipelines.spread import Selection, copy_pairs, outlet_spread

GRAPH_FORMATS = ("gexf", "graphml")


def outlet_graph(selection: Selection) -> nx.DiGraph:
    """Outlets and who copied whom; see the module docstring for the attributes."""
    graph = nx.DiGraph(name=_name(selection, "outlets"))
    rows = {row.outlet: row for row in outlet_spread(selection)}
    pairs = copy_pairs(selection)
    for row in (rows[o] for o in sorted({o for p in pairs for o in (p.source, p.copier)})):
        graph.add_node(row.outlet, label=row.outlet, articles=row.articles, stories=row.stories,
                       originated=row.originated, copies=row.copies, copied_by_others=row.copied_by_others,
                       **_present(first_appearance=row.first_appearance))
    for pair in pairs:
        graph.add_edge(pair.source, pair.copier, weight=pair.stories, copies=pair.copies, kinds=" ".join(pair.kinds),
                       **_present(median_lag_hours=_hours(pair.median_lag_seconds)))
    return graph


def article_graph(selection: Selection) -> nx.DiGraph:
    """Articles and the chain edges parent -> copy; see the module docstring."""
    graph = nx.DiGraph(name=_name(selection, "articles"))
    for story in selection.stories:
        for member in story.members:
            graph.add_node(member.url, label=member.title or member.url, outlet=member.outlet, story_id=story.story_id,
                           role="origin" if member is story.origin else (member.chain.kind if member.chain else "copy"),
                           **_present(published=member.published.isoformat() if member.published else None))
        for copy in story.copies:
            chain = copy.chain
            attributes = {"kind": chain.kind, "coverage": chain.coverage, "added_share": chain.added_share,
                          "confidence": chain.confidence, "lag_hours": _hours(chain.lag_seconds)} if chain else {}
            graph.add_edge(story.source_of(copy).url, copy.url, weight=1, **_present(**attributes))
    return graph


def write_graph(graph: nx.DiGraph, target: Path | BinaryIO, format_: str) -> None:
    """GEXF 1.2 (Gephi's own) or GraphML."""
    if format_ == "gexf":
        nx.write_gexf(graph, target)
    elif format_ == "graphml":
        nx.write_graphml(graph, target)
    else:
        raise ValueError(f"graph format is one of {', '.join(GRAPH_FORMATS)}, not {format_!r}")


def _present(**attributes: object) -> dict[str, object]:
    return {k: v for k, v in attributes.items() if v is not None}


def _hours(seconds: float | None) -> float | None:
    return round(seconds / 3600, 2) if seconds is not None else None


def _name(selection: Selection, what: str) -> str:
    return f"storytrail {what}: {selection.query or 'all stories'}"
