"""`storytrail export`: jsonl as before, the outlet and article graphs (GEXF, GraphML) and the three tables (CSV,
Parquet) on the demo data, through the real command."""

from __future__ import annotations

import csv
import json

import networkx as nx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import export_rows, storytrail

from pipelines.export_tables import COLUMNS, column_docs

ROW_KEYS = {"url", "outlet", "title", "published", "parent", "coverage", "added_share", "lag_seconds", "kind",
            "confidence", "evidence", "domain", "story_id", "is_origin"}


@pytest.fixture(scope="module")
def syria(demo_data_dir) -> dict:
    """`spread Syria --json` on the demo data."""
    result = storytrail("spread", "Syria", "--json", data_dir=demo_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_jsonl_is_every_article_as_before(demo_data_dir):
    rows = export_rows(demo_data_dir)
    assert len(rows) >= 66 and all(set(r) == ROW_KEYS for r in rows)
    assert [r["url"] for r in rows] == sorted(r["url"] for r in rows)


def test_jsonl_with_a_query_keeps_the_matching_stories(demo_data_dir, syria):
    result = storytrail("export", "Syria", data_dir=demo_data_dir)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == syria["articles"] and len({r["story_id"] for r in rows}) == syria["stories"]


def test_gexf_has_one_node_per_outlet_with_a_copy_edge(demo_data_dir, tmp_path):
    result = storytrail("export", "--format", "gexf", "-o", str(tmp_path / "o.gexf"), data_dir=demo_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    graph = nx.read_gexf(tmp_path / "o.gexf")
    rows = export_rows(demo_data_dir)
    by_url = {r["url"]: r for r in rows}
    pairs = {}
    for r in rows:
        if r["parent"] and by_url[r["parent"]]["outlet"] != r["outlet"]:
            key = (by_url[r["parent"]]["outlet"], r["outlet"])
            pairs.setdefault(key, set()).add(r["story_id"])
    assert set(graph.nodes) == {o for pair in pairs for o in pair}
    assert {(u, v): d["weight"] for u, v, d in graph.edges(data=True)} == {k: len(v) for k, v in pairs.items()}


def test_graphml_articles_to_standard_output(demo_data_dir, syria):
    result = storytrail("export", "Syria", "--format", "graphml", "--articles", data_dir=demo_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    graph = nx.parse_graphml(result.stdout)
    assert graph.number_of_nodes() == syria["articles"]
    assert graph.number_of_edges() == syria["articles"] - syria["stories"]  # one edge per copy


@pytest.mark.parametrize("format_", ["csv", "parquet"])
def test_tables_have_the_documented_columns(demo_data_dir, tmp_path, format_):
    folder = tmp_path / "out"
    result = storytrail("export", "--format", format_, "-o", str(folder), data_dir=demo_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    tables = {}
    for name, columns in COLUMNS.items():
        path = folder / f"{name}.{format_}"
        if format_ == "csv":
            with path.open(encoding="utf-8") as source:
                tables[name] = list(csv.DictReader(source))
            assert list(tables[name][0]) == [c for c, _, _ in columns]
        else:
            table = pq.read_table(path)
            assert table.column_names == [c for c, _, _ in columns]
            tables[name] = table.to_pylist()
    rows = export_rows(demo_data_dir)
    stories = {r["story_id"] for r in rows}
    assert len(tables["articles"]) == len(rows) and len(tables["stories"]) == len(stories)
    assert len(tables["copy_edges"]) == len(rows) - len(stories)
    copies = sum(int(s["copies"]) for s in tables["stories"])
    assert copies == len(tables["copy_edges"])


def test_parquet_keeps_types(demo_data_dir, tmp_path):
    storytrail("export", "--format", "parquet", "-o", str(tmp_path), data_dir=demo_data_dir)
    schema = pq.read_schema(tmp_path / "stories.parquet")
    assert str(schema.field("published").type) == "timestamp[us, tz=UTC]"
    assert pa.types.is_list(schema.field("outlets").type) and schema.field("outlets").type.value_type == pa.string()
    assert schema.field("copies").metadata[b"description"] == b"Copies found."


def test_readme_documents_the_columns():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert column_docs() in readme


@pytest.mark.parametrize("args, words", [
    (("export", "--format", "xml"), "use one of jsonl"),
    (("export", "--format", "csv"), "name a folder with -o"),
])
def test_bad_format_or_missing_folder_exit_2(demo_data_dir, args, words):
    result = storytrail(*args, data_dir=demo_data_dir)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr
