"""Logging: loguru for storytrail's own lines, with Scrapy's standard-library logging routed into it.

One line per event, naming the source and the URL; `--verbose` shows debug detail and Scrapy's own
INFO lines. Lines go through the same rich console as the progress bars so the two do not garble.
"""

from __future__ import annotations

import logging
import sys

from loguru import logger
from rich.console import Console

console = Console(stderr=True, highlight=False, soft_wrap=True)

FORMAT = "{time:HH:mm:ss} {level: <7} {extra[source]: <16} {message}{extra[url_suffix]}"


def _add_defaults(record: dict) -> None:
    extra = record["extra"]
    extra.setdefault("source", "-")
    url = extra.get("url")
    extra["url_suffix"] = f"  <{url}>" if url else ""


DUPLICATE_LOGGERS = (
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.redirect",
    "scrapy.core.downloader.handlers.http11",
    "elastic_transport.node_pool",  # "node failed, putting on timeout": the store's own error says it once
    "elastic_transport.transport",
)


class _ToLoguru(logging.Handler):
    """Hands standard-library records (Scrapy, Twisted, elastic_transport) to loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.bind(source=record.name.split(".")[0]).opt(exception=record.exc_info).log(level, record.getMessage())


def setup_logging(verbose: bool = False) -> None:
    logger.remove()
    logger.configure(patcher=_add_defaults)
    if sys.stderr.isatty():
        logger.add(lambda m: console.print(m.rstrip("\n"), markup=False), level="DEBUG" if verbose else "INFO",
                   format=FORMAT, colorize=False)
    else:
        logger.add(sys.stderr, level="DEBUG" if verbose else "INFO", format=FORMAT, colorize=False)
    # Scrapy resets the root logger's level when a crawl starts, so the filter sits on the handler.
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(handlers=[_ToLoguru(level=level)], level=level, force=True)
    # Scrapy and the Elasticsearch client report these events too (Scrapy under the replay transport's local
    # address); storytrail's own line for each names the real URL or store, so theirs are kept for --verbose.
    for name in DUPLICATE_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL)
