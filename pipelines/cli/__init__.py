"""The `storytrail` command line: one module per group of commands, all on one Typer app.

Errors become friendly one-line messages at this edge (`common.friendly_errors`), nowhere deeper. Each
command module imports the heavy parts (Scrapy, trafilatura, networkx) inside the commands that use them, so
a read command such as `search` starts without the crawl stack.
"""

from __future__ import annotations

from pipelines.cli.common import app
from pipelines.cli import gather, reading, admin, research, operate, maintain, repair, alerts  # noqa: F401,I001  (each registers its commands on `app`, in this order)


def main() -> None:
    app()


__all__ = ["app", "main"]
