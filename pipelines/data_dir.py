"""Where a data dir keeps its files and where the settings come from, importable without the settings model.

`pipelines/settings.py` builds on these; a read command (`search`, `stats`, `story`) uses them alone when
nothing asks for validation: no settings file, no STORYTRAIL_* variable beyond those of `--data-dir` and
`--store`. It then starts without pydantic, which is a third of its start-up (issue 11, bench/pipeline.py).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_PREFIX = "STORYTRAIL_"
DEFAULT_DATA_DIR = Path("data")
SETTINGS_FILE = "storytrail.toml"  # read from the data dir when present and no --config is given
OPTION_VARIABLES = (ENV_PREFIX + "DATA_DIR", ENV_PREFIX + "STORE")  # read by the --data-dir and --store options


def data_dir_of(given: Path | str | None) -> Path:
    return Path(given or os.environ.get(ENV_PREFIX + "DATA_DIR") or DEFAULT_DATA_DIR)


def settings_file(config_file: Path | None, data_dir: Path) -> Path:
    return config_file or data_dir / SETTINGS_FILE


def default_store_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'storytrail.db').as_posix()}"


def state_path(data_dir: Path) -> Path:
    """Crawl state, the page archive and the index queue: always local, whatever the store."""
    return data_dir / "state.db"


def settings_to_validate(config_file: Path | None, data_dir: Path) -> bool:
    """True when a settings file or a STORYTRAIL_* variable other than the options' own may set something."""
    if config_file is not None or settings_file(None, data_dir).exists():
        return True
    return any(name.startswith(ENV_PREFIX) and name not in OPTION_VARIABLES for name in os.environ)
