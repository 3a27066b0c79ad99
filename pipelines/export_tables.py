"""Articles, stories and copy edges as three tables, for pandas, R and spreadsheets (CSV or Parquet).

`storytrail export --format csv|parquet -o FOLDER [QUERY]` writes `articles`, `stories` and `copy_edges`
into FOLDER, one file each. The columns are declared once below (name, Arrow type, meaning); the README's
"Seeing the spread" lists them from the same declaration (`column_docs`). CSV writes missing values as empty
cells and lists joined with "; "; Parquet keeps types (timestamps in UTC, nulls, lists of strings).
pyarrow is imported only when Parquet is asked for.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from pipelines.models import Article
from pipelines.spread import Selection, percentile

TABLE_FORMATS = ("csv", "parquet")

# (column, type, meaning); types: str, int, float, bool, time (UTC timestamp), list (of strings)
COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "articles": [
        ("url", "str", "Normalised URL: the article's identity."),
        ("outlet", "str", "Source key from config, or the registered domain for other sites."),
        ("domain", "str", "Registered domain of the URL."),
        ("title", "str", "Title as extracted (untrusted text)."),
        ("authors", "list", "Authors as extracted."),
        ("published", "time", "Publication time, UTC; empty when the page gives none."),
        ("story_id", "str", "The story it belongs to (see stories)."),
        ("role", "str", "origin, or the kind of copy: full, excerpt, extended, partial."),
        ("parent", "str", "URL of the article it was copied from; empty for the origin."),
        ("coverage", "float", "Share of the origin's text found in this article (1 for the origin)."),
        ("added_share", "float", "Share of this article's text not in the origin."),
        ("lag_seconds", "float", "Seconds from the origin's publication to this one's."),
        ("confidence", "float", "How much to trust this placement in the chain, 0 to 1."),
        ("evidence", "list", "Kinds of attribution evidence found: attribution_line, canonical, read_more, ..."),
    ],
    "stories": [
        ("story_id", "str", "Derived from the origin's URL: the same origin always gives the same id."),
        ("origin_url", "str", "The first publication."),
        ("origin_outlet", "str", "Who published it first."),
        ("title", "str", "The origin's title."),
        ("published", "time", "The origin's publication time, UTC."),
        ("articles", "int", "Origin plus copies."),
        ("copies", "int", "Copies found."),
        ("outlets", "list", "Outlets with an article in the story, origin's first."),
        ("last_copy", "time", "Publication time of the latest dated copy."),
        ("median_lag_seconds", "float", "Median lag origin -> copy (nearest rank)."),
    ],
    "copy_edges": [
        ("story_id", "str", "The story."),
        ("source_url", "str", "The article copied from: the copy's parent in the chain."),
        ("source_outlet", "str", "Its outlet."),
        ("copy_url", "str", "The copy."),
        ("copy_outlet", "str", "Its outlet."),
        ("kind", "str", "full, excerpt, extended or partial."),
        ("coverage", "float", "Share of the origin's text in the copy."),
        ("added_share", "float", "Share of the copy's text not in the origin."),
        ("lag_seconds", "float", "Seconds from the origin's publication to the copy's."),
        ("source_lag_seconds", "float", "Seconds from the source's publication to the copy's."),
        ("confidence", "float", "How much to trust this edge, 0 to 1."),
        ("evidence", "list", "Kinds of attribution evidence on the copy."),
    ],
}


def write_tables(selection: Selection, folder: Path, format_: str) -> dict[str, Path]:
    """Write the three tables into `folder` (created); returns the files by table name."""
    if format_ not in TABLE_FORMATS:
        raise ValueError(f"table format is one of {', '.join(TABLE_FORMATS)}, not {format_!r}")
    folder.mkdir(parents=True, exist_ok=True)
    rows = {"articles": list(_article_rows(selection)), "stories": list(_story_rows(selection)),
            "copy_edges": list(_edge_rows(selection))}
    written = {}
    for name, table in rows.items():
        path = folder / f"{name}.{format_}"
        (_write_parquet if format_ == "parquet" else _write_csv)(COLUMNS[name], table, path)
        written[name] = path
    return written


def column_docs() -> str:
    """The columns as Markdown tables (pasted into the README)."""
    parts = []
    for name, columns in COLUMNS.items():
        parts.append(f"`{name}`\n\n| column | type | meaning |\n|---|---|---|")
        parts.extend(f"| `{c}` | {t} | {meaning} |" for c, t, meaning in columns)
        parts.append("")
    return "\n".join(parts)


def _article_rows(selection: Selection) -> Iterator[dict]:
    for story in selection.stories:
        for member in story.members:
            chain = member.chain
            yield {"url": member.url, "outlet": member.outlet, "domain": member.domain, "title": member.title,
                   "authors": member.authors, "published": member.published, "story_id": story.story_id,
                   "role": "origin" if member is story.origin else (chain.kind if chain else None),
                   "parent": None if member is story.origin else story.source_of(member).url,
                   "coverage": chain.coverage if chain else None, "added_share": chain.added_share if chain else None,
                   "lag_seconds": chain.lag_seconds if chain else None, "confidence": chain.confidence if chain else None,
                   "evidence": _evidence(member)}


def _story_rows(selection: Selection) -> Iterator[dict]:
    for story in selection.stories:
        dated = [c.published for c in story.copies if c.published]
        lags = [c.chain.lag_seconds for c in story.copies if c.chain and c.chain.lag_seconds is not None]
        yield {"story_id": story.story_id, "origin_url": story.origin.url, "origin_outlet": story.origin.outlet,
               "title": story.origin.title, "published": story.origin.published, "articles": len(story.members),
               "copies": len(story.copies), "outlets": list(dict.fromkeys(m.outlet for m in story.members)),
               "last_copy": max(dated) if dated else None, "median_lag_seconds": percentile(lags, 50)}


def _edge_rows(selection: Selection) -> Iterator[dict]:
    for story in selection.stories:
        for copy in story.copies:
            source, chain = story.source_of(copy), copy.chain
            gap = (copy.published - source.published).total_seconds() if copy.published and source.published else None
            yield {"story_id": story.story_id, "source_url": source.url, "source_outlet": source.outlet,
                   "copy_url": copy.url, "copy_outlet": copy.outlet, "kind": chain.kind if chain else None,
                   "coverage": chain.coverage if chain else None, "added_share": chain.added_share if chain else None,
                   "lag_seconds": chain.lag_seconds if chain else None, "source_lag_seconds": gap,
                   "confidence": chain.confidence if chain else None, "evidence": _evidence(copy)}


def _evidence(article: Article) -> list[str]:
    return list(dict.fromkeys(e.kind for e in article.chain.evidence)) if article.chain else []


def _write_csv(columns: list[tuple[str, str, str]], rows: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow([c for c, _, _ in columns])
        for row in rows:
            writer.writerow([_cell(row[c], t) for c, t, _ in columns])


def _cell(value: object, type_: str) -> object:
    if value is None:
        return ""
    if type_ == "list":
        return "; ".join(value)  # type: ignore[arg-type]
    if type_ == "time":
        return value.isoformat()  # type: ignore[union-attr]
    return value


def _write_parquet(columns: list[tuple[str, str, str]], rows: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
             "time": pa.timestamp("us", tz="UTC"), "list": pa.list_(pa.string())}
    schema = pa.schema([pa.field(c, types[t]).with_metadata({"description": meaning}) for c, t, meaning in columns])
    table = pa.Table.from_pylist([{c: row[c] for c, _, _ in columns} for row in rows], schema=schema)
    pq.write_table(table, path)
