"""Where the config files live, and the one error their readers raise.

Apart from crawlers/sources.py so that what only needs these (the settings, every command's error
handling) does not build the source registry's models: a read command starts faster without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

DEFAULT_SOURCES_FILE = Path(__file__).resolve().parents[1] / "config" / "sources.yaml"


class ConfigError(Exception):
    """A configuration file is wrong; the message names the file, entry and field."""


def first_error(exc: ValidationError) -> tuple[str, str]:
    """(dotted field, message) of a validation error's first problem, for one-line config errors."""
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]) or "(entry)", first["msg"]
