"""The outlet network and the article chain graph: built from the chains, written as GEXF and GraphML, read back
with networkx (what Gephi reads). The selection they are built from is the same on every store (test_spread)."""

from __future__ import annotations


import networkx as nx
import pytest
from test_spread import truth_sqlite  # noqa: F401  (the replay truth in a SQLite store)

from crawlers.urls import normalize_url
from pipelines.outlet_network import article_graph, outlet_graph, write_graph
from pipelines.spread import select_stories
from pipelines.stores.sqlite import SqliteStore


# From truth.json, the ten stories with "Syria" in a title (see test_spread.SYRIA): source -> copier, stories
SYRIA_EDGES = {("sputnik", "alethonews"): 3, ("globalresearch", "sott"): 2, ("antimedia", "offguardian"): 1,
               ("neo", "globalresearch"): 1, ("thecradle", "alethonews"): 1, ("wsws", "alethonews"): 1}


@pytest.mark.parametrize("format_, read", [("gexf", nx.read_gexf), ("graphml", nx.read_graphml)])
def test_outlet_graph_round_trips_with_nodes_edges_and_weights(truth_sqlite, tmp_path, format_, read):
    path = tmp_path / f"outlets.{format_}"
    write_graph(outlet_graph(select_stories(truth_sqlite, "title:syria")), path, format_)
    graph = read(path)
    assert graph.is_directed()
    assert set(graph.nodes) == {o for edge in SYRIA_EDGES for o in edge}
    assert {(u, v): d["weight"] for u, v, d in graph.edges(data=True)} == SYRIA_EDGES
    sott = graph.edges["globalresearch", "sott"]
    assert sott["copies"] == 2 and sott["median_lag_hours"] == round((17 * 3600 + 43 * 60) / 3600, 2)
    assert graph.nodes["sputnik"]["originated"] == 3 and graph.nodes["alethonews"]["copies"] == 5
    assert graph.nodes["neo"]["first_appearance"] == "2019-02-26T09:30:00+00:00"


def test_article_graph_has_every_article_and_each_copy_under_its_parent(truth_sqlite, tmp_path):
    path = tmp_path / "articles.gexf"
    write_graph(article_graph(select_stories(truth_sqlite, "title:syria")), path, "gexf")
    graph = nx.read_gexf(path)
    assert graph.number_of_nodes() == 19 and graph.number_of_edges() == 9
    sott = normalize_url("https://www.sott.net/article/408112-Syria-Is-US-fighting-ISIS-or-liquidating-assets")
    via = normalize_url("https://www.globalresearch.ca/syria-is-us-fighting-isis-or-liquidating-assets/5669870")
    assert list(graph.predecessors(sott)) == [via]  # the crosspost of a crosspost hangs on the copy it took
    assert graph.nodes[sott]["outlet"] == "sott" and graph.nodes[via]["role"] == "boilerplate_added"  # truth.json's kind
    assert all(graph.in_degree(n) == 0 for n, d in graph.nodes(data=True) if d["role"] == "origin")


def test_no_copies_no_edges_and_missing_values_are_left_out(tmp_path):
    from pipelines.models import Article

    store = SqliteStore(tmp_path / "one.db")
    store.upsert([Article(url="https://example.org/a", outlet="example.org", domain="example.org", text="alone")])
    selection = select_stories(store)
    assert outlet_graph(selection).number_of_nodes() == 0
    graph = article_graph(selection)
    write_graph(graph, tmp_path / "a.graphml", "graphml")
    node = nx.read_graphml(tmp_path / "a.graphml").nodes["https://example.org/a"]
    assert "published" not in node and node["role"] == "origin"
    with pytest.raises(ValueError):
        write_graph(graph, tmp_path / "a.dot", "dot")
