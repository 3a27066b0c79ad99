"""Commands for studying a spread: `spread`, `export`, `report` and `browse`.

They read the store only (`common.read_store`: never the crawl stack, never a crawl state) and share one
selection of stories (`pipelines.spread.select_stories`), so the table, the graphs, the tables and the report
of one query agree. Heavy parts (pyarrow, the report's templates, Datasette) are imported by the command
that needs them.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipelines.cli.common import (AsJson, ConfigFile, DataDir, ExitCode, ReadSettings, StoreUrl, app, friendly_errors, out,
                                  print_json, read_store)
from pipelines.logs import console, setup_logging
from pipelines.report_charts import MAX_ARTICLES, MAX_TREES

if TYPE_CHECKING:
    from pipelines.spread import Selection

Query = Annotated[str | None, typer.Argument(help='Lucene-style, as in `search` ("Syria", outlet:sputnik); none: every story.')]
Since = Annotated[str | None, typer.Option("--since", help="Only stories whose origin was published on or after this day (YYYY-MM-DD).")]
Until = Annotated[str | None, typer.Option("--until", help="Only stories whose origin was published on or before this day (YYYY-MM-DD).")]
Output = Annotated[Path | None, typer.Option("-o", "--output", help="Write here instead of standard output.")]


def selected(settings: ReadSettings, query: str | None, since: str | None, until: str | None) -> Selection:
    from pipelines.spread import select_stories

    first, last = _day(since, "--since"), _day(until, "--until")
    with read_store(settings) as store:
        selection = select_stories(store, query, first, last)
    if selection.truncated:
        console.print("[yellow]warning:[/] the query matched more than 10,000 articles; only the stories of the "
                      "first 10,000 are counted: narrow it with --since/--until or more words")
    return selection


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a day; use YYYY-MM-DD", param_hint=option) from None


@app.command()
@friendly_errors
def spread(query: Query = None, since: Since = None, until: Until = None,
           by: Annotated[str, typer.Option("--by", help="Period of the timeline: day, week or month.")] = "month",
           data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None, as_json: AsJson = False,
           as_csv: Annotated[bool, typer.Option("--csv", help="Print the per-outlet table as CSV.")] = False) -> None:
    """Per outlet: stories originated, copies made, first appearance, lag to copy, who copies whom."""
    from pipelines.spread import (PERIODS, copy_pairs, outlet_spread, spread_json, spread_table, timeline, timeline_table,
                                  write_spread_csv)

    if by not in PERIODS:
        raise typer.BadParameter(f"{by!r}: use day, week or month", param_hint="--by")
    setup_logging(False)
    selection = selected(ReadSettings(data_dir, store, config), query, since, until)
    if as_json:
        print_json(spread_json(selection, by))
    elif as_csv:
        write_spread_csv(outlet_spread(selection), sys.stdout)
    elif not selection.stories:
        out.print(f"No story matches {query!r}." if query else "The store holds no story yet.")
    else:
        for table in spread_table(selection, outlet_spread(selection), copy_pairs(selection)):
            out.print(table)
        out.print(timeline_table(timeline(selection, by), by))


EXPORT_FORMATS = ("jsonl", "gexf", "graphml", "csv", "parquet")


@app.command()
@friendly_errors
def export(query: Query = None, since: Since = None, until: Until = None,
           format_: Annotated[str, typer.Option("--format", help="jsonl: one JSON object per article; gexf, graphml: "
                                                "the outlet network (Gephi); csv, parquet: articles, stories and "
                                                "copy edges, one file each into the -o folder.")] = "jsonl",
           articles: Annotated[bool, typer.Option("--articles", help="gexf/graphml: the article-level chain graph instead of outlets.")] = False,
           output: Output = None, data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None) -> None:
    """The stories (every one without QUERY) as data for other tools."""
    if format_ not in EXPORT_FORMATS:
        raise typer.BadParameter(f"{format_!r}: use one of {', '.join(EXPORT_FORMATS)}", param_hint="--format")
    if format_ in ("csv", "parquet") and output is None:
        raise typer.BadParameter(f"--format {format_} writes three files: name a folder with -o", param_hint="-o")
    setup_logging(False)
    settings = ReadSettings(data_dir, store, config)
    if format_ == "jsonl":
        _export_jsonl(settings, query, since, until, output)
        return
    selection = selected(settings, query, since, until)
    if format_ in ("gexf", "graphml"):
        from pipelines.outlet_network import article_graph, outlet_graph, write_graph

        graph = (article_graph if articles else outlet_graph)(selection)
        write_graph(graph, output or sys.stdout.buffer, format_)
        console.print(f"{graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges" + (f" -> {output}" if output else ""))
        return
    from pipelines.export_tables import write_tables

    written = write_tables(selection, output, format_)  # type: ignore[arg-type]
    console.print(f"{len(selection.stories)} stories -> " + ", ".join(str(p) for p in written.values()))


def _export_jsonl(settings: ReadSettings, query: str | None, since: str | None, until: str | None, output: Path | None) -> None:
    """One row per article in URL order (`story_report.iter_export_rows`); with a query or dates, only the
    articles of the selected stories."""
    from pipelines.story_report import iter_export_rows

    wanted = None
    if query or since or until:
        wanted = {a.url for a in selected(settings, query, since, until).articles()}
    with read_store(settings) as store:
        sink = output.open("w", encoding="utf-8") if output else sys.stdout
        try:
            for row in iter_export_rows(store):
                if wanted is None or row["url"] in wanted:
                    sink.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        finally:
            if output:
                sink.close()


@app.command()
@friendly_errors
def report(query: Query = None, since: Since = None, until: Until = None,
           output: Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")] = Path("report.html"),
           max_trees: Annotated[int, typer.Option(help="Largest stories drawn as chain trees.", min=0)] = MAX_TREES,
           max_articles: Annotated[int, typer.Option(help="Rows in the articles table.", min=0)] = MAX_ARTICLES,
           data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None) -> None:
    """One self-contained HTML page: timeline, outlet network, chain trees and the articles."""
    from pipelines.report import write_report

    setup_logging(False)
    selection = selected(ReadSettings(data_dir, store, config), query, since, until)
    write_report(selection, output, max_trees=max_trees, max_articles=max_articles)
    console.print(f"{len(selection.stories)} stories -> {output}")


@app.command()
@friendly_errors
def browse(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8001,
           live: Annotated[bool, typer.Option("--live", help="Serve read-only but not immutable: see a running `run`'s new articles.")] = False,
           open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open it in the web browser.")] = True,
           data_dir: DataDir = None, store: StoreUrl = None, config: ConfigFile = None) -> None:
    """The SQLite store in Datasette, read-only: stories, chains, outlet statistics, full-text search."""
    setup_logging(False)
    settings = ReadSettings(data_dir, store, config)
    url = settings.store_url
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        console.print("[bold red]error:[/] browse opens a SQLite store file; for Elasticsearch use Kibana "
                      "(README: Elasticsearch and Kibana)")
        raise typer.Exit(ExitCode.BAD_INPUT)
    with read_store(settings):  # the same check: the file must exist (and be a store)
        pass
    from pipelines.browse import serve

    serve(Path(url[len("sqlite:///"):]), port, live, open_browser)
