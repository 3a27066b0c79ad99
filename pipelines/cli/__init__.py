"""The `storytrail` command line: one module per group of commands, all on one Typer app.

`common.COMMAND_MODULES` says which module defines each command; a module is imported only when one of its
commands runs, so a read command such as `search` starts without what the others import. Errors become
friendly one-line messages at this edge (`common.friendly_errors`), nowhere deeper. Within a module, what
only one command needs (Scrapy, trafilatura, networkx) is imported inside that command.
"""

from __future__ import annotations

from pipelines.cli.common import app


def main() -> None:
    app()


__all__ = ["app", "main"]
