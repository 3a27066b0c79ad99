"""`storytrail import`: documents gathered elsewhere enter the pipeline after the fetch step."""

import json
from pathlib import Path

from cli_runner import export_rows, storytrail

from pipelines.stores.sqlite import SqliteStore

PARAGRAPHS = [
    "The port authority confirmed on Tuesday that the tanker had been held for eleven days outside the harbour "
    "while inspectors examined its papers and the crew waited for instructions from the owners in Athens.",
    "Officials said the inspection found discrepancies in the declared cargo, which the shipping company "
    "disputed in a statement that blamed a clerical error at the loading terminal in the Black Sea.",
    "Local fishermen complained that the anchored vessel blocked access to the northern channel for most of "
    "the week, forcing smaller boats to take a longer route around the breakwater in rough weather.",
    "A spokesman for the ministry refused to say whether the tanker would be allowed to unload, adding only "
    "that the investigation would continue until every document had been checked against the manifest.",
]


def test_import_with_and_without_html_links_copies_and_reports_bad_lines(tmp_path: Path):
    text = "\n\n".join(PARAGRAPHS)
    html = "<html><head><title>Tanker held</title></head><body><article><h1>Tanker held</h1>" + "".join(
        f"<p>{p}</p>" for p in ["Republished from the Harbour Gazette.", *PARAGRAPHS]) + "</article></body></html>"
    documents = tmp_path / "corpus.jsonl"
    documents.write_text("\n".join([
        json.dumps({"url": "https://harbour-gazette.example.com/news/tanker-held?utm_source=x", "title": "Tanker held",
                    "text": text, "published": "2024-03-05T08:00:00"}),
        "{not json",
        json.dumps({"title": "no url"}),
        json.dumps({"url": "https://www.blog.example.org/2024/03/06/tanker/", "html": html, "published": "2024-03-06T09:00:00Z"}),
    ]) + "\n")
    result = storytrail("import", str(documents), data_dir=tmp_path / "data")
    assert result.returncode == 1, result.stderr  # lines were rejected: the import is not complete
    assert "2 document(s) imported, 2 rejected" in result.stderr
    assert f"{documents}:2: skipped: not JSON" in result.stderr
    assert f"{documents}:3: skipped: field 'url'" in result.stderr
    with SqliteStore(tmp_path / "data" / "storytrail.db") as store:
        origin = store.get("https://harbour-gazette.example.com/news/tanker-held")
        copy = store.get("https://blog.example.org/2024/03/06/tanker")
    assert origin.outlet == "example.com" and origin.title == "Tanker held"
    assert copy.outlet == "example.org" and copy.title == "Tanker held" and "clerical error" in copy.text
    assert copy.story_id == origin.story_id and origin.is_origin and copy.parent == origin.url
    again = storytrail("import", str(documents), data_dir=tmp_path / "data")
    assert again.returncode == 1
    assert len(export_rows(tmp_path / "data")) == 2
