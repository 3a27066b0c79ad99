"""What every command shares: the Typer app, the common options, settings, and friendly errors.

Every command takes `--data-dir` (default ./data, or STORYTRAIL_DATA_DIR); commands that print results take
`--json`. Nothing here imports the crawl stack: `open_pipeline` imports it only when a command needs it.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from functools import wraps
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from pipelines.data_dir import data_dir_of, default_store_url, settings_to_validate, state_path
from pipelines.logs import console, use_log_settings

if TYPE_CHECKING:
    from pipelines.cycle import Pipeline
    from pipelines.settings import Settings, StoreSettings
    from pipelines.stores.base import Store


class ExitCode(IntEnum):
    """What `storytrail` exits with; the README and `storytrail --help` list the same."""

    OK = 0  # everything asked for was done
    FAILED = 1  # the run failed: store down, storage error, nothing indexed
    BAD_INPUT = 2  # a wrong argument, query, setting or file: one line says what and where
    SOURCES_FAILED = 3  # some sources failed; what the others had was gathered
    LOCKED = 75  # another storytrail process holds this data dir (EX_TEMPFAIL: cron may simply retry)


# Results go to standard output, logs and progress to standard error; piped output is not cut at 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)

EXIT_CODES_HELP = (
    "Exit codes: 0 all fine; 1 the run failed (store down, storage error); 2 bad input (an argument, query, "
    "setting or file: one line says what and where); 3 some sources failed, what the others had was gathered; "
    "75 another storytrail process holds the data dir (the message names it)."
)

# Which module of pipelines/cli defines each command, in the order `storytrail --help` lists them.
COMMAND_MODULES = {
    "run": "gather", "demo": "gather", "import": "gather",
    "search": "reading", "stats": "reading", "story": "reading", "stories": "reading",
    "migrate": "admin", "config": "admin",
    "spread": "research", "export": "research", "report": "research", "browse": "research",
    "schedule": "operate", "status": "operate",
    "backfill": "maintain", "reextract": "maintain", "relink": "maintain",
    "check": "repair", "reindex": "repair",
    "alerts": "alerts",
}


class LazyCommands(TyperGroup):
    """The top-level command group. A command's module is imported when that command runs (all of them when
    `--help` lists them, or a name is unknown and close ones are suggested), so `search` starts without
    what `report` or `run` import."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        self._load(COMMAND_MODULES)
        return [name for name in COMMAND_MODULES if name in self.commands]

    def get_command(self, ctx: typer.Context, name: str) -> Any:
        if name not in self.commands:
            self._load([name] if name in COMMAND_MODULES else COMMAND_MODULES)
        return self.commands.get(name)

    def _load(self, names: Iterable[str]) -> None:
        """Import the modules defining `names`, and add the commands they register on `app`."""
        wanted = [name for name in names if name not in self.commands]
        for module in dict.fromkeys(COMMAND_MODULES[name] for name in wanted):
            import_module(f"pipelines.cli.{module}")
        if wanted:
            for name, command in typer.main.get_group(app).commands.items():
                self.commands.setdefault(name, command)


app = typer.Typer(help="Follow how news stories are republished across sites.", epilog=EXIT_CODES_HELP,
                  no_args_is_help=True, add_completion=False, cls=LazyCommands)

# --log-format / --log-file come before the command and apply to whichever command runs.
_log_overrides: dict[str, Any] = {}


@app.callback()
def global_options(
    log_format: Annotated[str | None, typer.Option("--log-format", help="text (default) or json: one JSON object per line.", envvar="STORYTRAIL_LOG__FORMAT")] = None,
    log_file: Annotated[Path | None, typer.Option("--log-file", help="Also log to this file, rotated (log.rotation_mb, log.retention_files).", envvar="STORYTRAIL_LOG__FILE")] = None,
) -> None:
    """Follow how news stories are republished across sites."""
    _log_overrides.clear()
    _log_overrides.update({k: v for k, v in (("format", log_format), ("file", log_file)) if v is not None})

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where storytrail keeps its data [default: ./data].", envvar="STORYTRAIL_DATA_DIR")]
StoreUrl = Annotated[str | None, typer.Option("--store", help="sqlite:///path.db or https://host:9200 [default: SQLite in the data dir].", envvar="STORYTRAIL_STORE")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="A TOML settings file.")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log detail, and Scrapy's own lines.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Workers = Annotated[int | None, typer.Option("--workers", min=0, help="Processes that extract pages, the writer among them (process.workers; 0: one per core, 1: the writer alone).")]


def friendly_errors(command: Callable) -> Callable:
    """Turn expected failures into one clear line, with credentials masked: exit 2 for bad input (an argument,
    a setting, a file, an unusable path), 1 for a storage fault (a corrupted or full database), 75 when another
    process holds the data dir. With --verbose the exception is raised on, traceback and all."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:  # the command has said why already
            raise
        except Exception as exc:
            code = _exit_code(exc)
            if code is None or (kwargs.get("verbose") and code != ExitCode.LOCKED):  # --verbose keeps the traceback
                raise
            if code == ExitCode.LOCKED:
                console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            else:
                from pipelines.stores.credentials import mask_secrets

                console.print(f"[bold red]error:[/] {escape(mask_secrets(describe_fault(exc)))}", markup=True, highlight=False)
            raise typer.Exit(code) from None

    return wrapper


def _exit_code(exc: Exception) -> ExitCode | None:
    """The exit code of an expected failure; None for anything else. The error classes are imported here,
    once something failed: a command that succeeds need not load the modules that define them."""
    from crawlers.config_files import ConfigError
    from crawlers.state import StateError
    from pipelines.query import QueryError
    from pipelines.run_lock import DataDirLocked
    from pipelines.stores.base import StoreError

    if isinstance(exc, (ConfigError, StoreError, QueryError)):
        return ExitCode.BAD_INPUT
    if isinstance(exc, (StateError, sqlite3.DatabaseError, OSError)):  # storage faults, unusable paths and files
        return ExitCode.BAD_INPUT if isinstance(exc, BAD_PATH_ERRORS) else ExitCode.FAILED
    if isinstance(exc, DataDirLocked):
        return ExitCode.LOCKED
    return None


# A path that cannot be used as given (a data dir under a file, a file where a directory must be): bad input.
BAD_PATH_ERRORS = (NotADirectoryError, IsADirectoryError, FileExistsError, FileNotFoundError, PermissionError)


def describe_fault(exc: BaseException) -> str:
    """One line for an expected failure; for a storage fault or an unusable path, naming the file."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    if isinstance(exc, sqlite3.DatabaseError):
        return f"database error: {exc}"
    return str(exc)


def settings_from(data_dir: Path | None, store: str | None, config: Path | None, **overrides: Any) -> Settings:
    from pipelines.settings import load_settings

    values: dict[str, Any] = {"data_dir": data_dir, **overrides}
    if store:
        values["store"] = {"url": store}
    if _log_overrides:
        values["log"] = dict(_log_overrides)
    settings = load_settings(config, values)
    use_log_settings(settings.log)
    return settings


@contextmanager
def open_pipeline(settings: Settings, require_store: bool = True) -> Iterator[Pipeline]:
    """The crawl stack (Scrapy, extraction, linking), built from the settings: for commands that gather."""
    from pipelines.cycle import Pipeline

    pipeline = Pipeline.from_settings(settings, require_store)
    try:
        yield pipeline
    finally:
        pipeline.close()


def worker_settings(workers: int | None) -> dict | None:
    """`--workers` as the `process` settings override for `settings_from` (None: the settings decide)."""
    return None if workers is None else {"workers": workers}


class ReadSettings:
    """What a read command needs of the settings: where the data dir, the store and the crawl state are, and
    the whole validated `Settings` when it asks (`full`). With nothing to validate (no settings file, no
    STORYTRAIL_* variable but the options' own: pipelines/data_dir.py) the places come from the defaults and
    the settings model is not loaded: pydantic is a third of a read command's start-up."""

    def __init__(self, data_dir: Path | None, store: str | None, config: Path | None) -> None:
        self._given = (data_dir, store, config)
        self._settings: Settings | None = None
        if _log_overrides or settings_to_validate(config, data_dir_of(data_dir)):
            self._settings = settings_from(data_dir, store, config)
        self.data_dir = self._settings.data_dir if self._settings else data_dir_of(data_dir)
        self.store_url = self._settings.store_url if self._settings else store or default_store_url(self.data_dir)
        self.state_path = state_path(self.data_dir)

    @property
    def full(self) -> Settings:
        if self._settings is None:
            self._settings = settings_from(*self._given)
        return self._settings

    @property
    def store(self) -> StoreSettings | None:
        """The `store` section when settings were read; None: its defaults (pipelines/stores/factory.py)."""
        return self._settings.store if self._settings else None


@contextmanager
def read_store(settings: Settings | ReadSettings) -> Iterator[Store]:
    """The store alone, for commands that only read: no crawl state, no crawl stack. A SQLite file that does
    not exist yet is an error, not a new empty store."""
    from pipelines.stores.factory import open_store

    url = settings.store_url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:" and not Path(url[len("sqlite:///"):]).exists():
        console.print(f"[bold red]error:[/] no store at {url[len('sqlite:///'):]}: gather first "
                      "(`storytrail demo` or `storytrail run`), or name one with --data-dir or --store")
        raise typer.Exit(ExitCode.BAD_INPUT)
    store = open_store(url, settings=settings.store)
    try:
        yield store
    finally:
        store.close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
