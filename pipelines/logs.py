"""Logging: loguru for storytrail's own lines, with Scrapy's standard-library logging routed into it.

One line per event, naming the source and the URL. A failure is one line with its reason; the traceback is
shown only with `--verbose`, and never with loguru's dump of local variables (they hold page bodies and
settings). Lines go through the same rich console as the progress bars so the two do not garble.

Two shapes (`log.format`): `text` for people, `json` for journald and log shippers, one object per line with
the fields of `JSON_FIELDS`. `log.file` adds a rotated file in the same shape, so cron needs no redirect.

loguru is configured when something first imports it, not before: a read command that logs nothing
(`search`, `stats`) starts without it and the asyncio it imports, about a tenth of its start-up.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import traceback
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from pipelines.settings import LogSettings

console = Console(stderr=True, highlight=False, soft_wrap=True)

TEXT_FORMAT = "{time:HH:mm:ss} {level: <7} {extra[source]: <16} {message}{extra[url_suffix]}"

# What every JSON line holds (README, "Logs"): `counters` only on a run's summary line, `exception` only with
# --verbose when there is one.
JSON_FIELDS = ("time", "level", "source", "url", "event", "message", "counters", "exception")

# Scrapy, Twisted and the Elasticsearch client report these events too, in their own words and under the
# replay transport's local address: robots.txt that could not be read (the feed or page request that needed it
# fails and says so), retries given up, redirects, dropped connections, a node put on timeout. storytrail's
# own line for each names the real source and URL, so theirs are kept for --verbose.
QUIET_LOGGERS = (
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.redirect",
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.core.downloader.handlers.http11",
    "elastic_transport.node_pool",
    "elastic_transport.transport",
)


@dataclass
class _Output:
    """The sinks in force; rebuilt when the settings change them."""

    verbose: bool = False
    format: str = "text"
    file: Path | None = None
    rotation_mb: int = 10
    retention_files: int = 10


_output = _Output()


def setup_logging(verbose: bool = False) -> None:
    """Log to standard error at INFO (DEBUG with --verbose); commands call this first."""
    _output.verbose = verbose
    _apply()


def use_log_settings(settings: LogSettings) -> None:
    """Apply the `log` settings section (format, file, rotation) once the settings are loaded."""
    wanted = (settings.format, settings.file, settings.rotation_mb, settings.retention_files)
    if wanted == (_output.format, _output.file, _output.rotation_mb, _output.retention_files):
        return
    _output.format, _output.file, _output.rotation_mb, _output.retention_files = wanted
    _apply()


def _apply() -> None:
    """Route the standard library's logging to loguru; install loguru's sinks now if loguru is loaded or a log
    file is wanted (an unusable path fails here, as a setting), else as soon as something imports loguru."""
    # Scrapy resets the standard-library loggers' levels when a crawl starts, so the filtering is done by the
    # handler, which Scrapy leaves in place.
    std_level = logging.INFO if _output.verbose else logging.WARNING
    logging.basicConfig(handlers=[_ToLoguru(level=std_level)], level=std_level, force=True)
    if "loguru" in sys.modules or _output.file is not None:
        _install()
    elif not any(isinstance(finder, _InstallOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _InstallOnImport())


class _InstallOnImport:
    """An import hook that lets loguru be imported as usual, then installs the sinks before anything can log
    through it; it removes itself on that first import."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name != "loguru":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module: ModuleType) -> None:
                load(module)
                _install()

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]  (this spec's own loader)
        return spec


def _install() -> None:
    from loguru import logger

    level = "DEBUG" if _output.verbose else "INFO"
    # No sink ever dumps local variables (diagnose) or frames above the catch point (backtrace).
    options = {"level": level, "colorize": False, "backtrace": False, "diagnose": False}
    line_format = _json_line if _output.format == "json" else TEXT_FORMAT
    logger.remove()
    logger.configure(patcher=_add_defaults)
    if sys.stderr.isatty() and _output.format == "text":
        logger.add(lambda m: console.print(m.rstrip("\n"), markup=False), format=line_format, **options)
    else:
        logger.add(sys.stderr, format=line_format, **options)
    if _output.file is not None:
        _output.file.parent.mkdir(parents=True, exist_ok=True)
        logger.add(_output.file, format=line_format, rotation=f"{_output.rotation_mb} MB",
                   retention=_output.retention_files, encoding="utf-8", **options)


def _add_defaults(record: dict) -> None:
    extra = record["extra"]
    extra.setdefault("source", "-")
    url = extra.get("url")
    extra["url_suffix"] = f"  <{url}>" if url else ""


def _json_line(record: dict) -> str:
    """One JSON object per line; loguru formats the returned template, so the JSON goes in through `extra`."""
    extra = record["extra"]
    line = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "source": extra["source"],
        "url": extra.get("url"),
        "event": extra.get("event") or f"{record['name']}.{record['function']}",
        "message": record["message"],
    }
    if "counters" in extra:
        line["counters"] = extra["counters"]
    if record["exception"] is not None and _output.verbose:
        kind, value, tb = record["exception"]
        line["exception"] = "".join(traceback.format_exception(kind, value, tb))
    extra["_json"] = json.dumps(line, ensure_ascii=False, default=str)
    return "{extra[_json]}\n"


class _ToLoguru(logging.Handler):
    """Hands standard-library records (Scrapy, Twisted, elastic_transport) to loguru, one line each."""

    def emit(self, record: logging.LogRecord) -> None:
        from loguru import logger

        if record.name.startswith(QUIET_LOGGERS) and not _output.verbose:
            return
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        message = record.getMessage()
        exc_info = record.exc_info if record.exc_info and record.exc_info[0] else None
        if exc_info and not _output.verbose:
            reason = f"{exc_info[0].__name__}: {exc_info[1]}".splitlines()[0]
            message = message if str(exc_info[1]) in message else f"{message} ({reason})"
            exc_info = None
        logger.bind(source=record.name.split(".")[0], event=record.name).opt(exception=exc_info).log(level, message)


def tell(markup: str) -> None:
    """A sentence for the person running the command (a run's summary): printed with rich markup, or, with
    `log.format = json`, logged as one more JSON line so a reader of the stream meets nothing else."""
    if _output.format == "json":
        from loguru import logger
        from rich.text import Text

        logger.bind(event="summary").info(Text.from_markup(markup).plain)
    else:
        console.print(markup, markup=True, highlight=False)
