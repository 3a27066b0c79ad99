"""Helpers of the fault suite: configs for the hostile site and the replay web, the real CLI run in its own
process as cron runs it, and store snapshots to compare a killed-and-rerun store with an uninterrupted one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cli_runner import REPO, command, environment
from hostile import HostileSite, sources_yaml

FEED_PATHS = ["/good-1.html", "/bomb.html", "/drip.html", "/chain/3.html", "/chain/9.html", "/offsite.html",
              "/to-private.html", "/good-2.html"]


def write_config(tmp_path: Path, sources: str, **fetch: object) -> Path:
    """A sources file and a settings file using it; `fetch` adds [fetch] settings."""
    (tmp_path / "sources.yaml").write_text(sources, encoding="utf-8")
    lines = [f'sources_file = "{tmp_path / "sources.yaml"}"', "[fetch]"]
    lines += [f"{k} = {v!r}".replace("True", "true").replace("False", "false").replace("'", '"') for k, v in fetch.items()]
    config = tmp_path / "settings.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def run_cli(*args: str, data_dir: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_captured(command(*args, data_dir=data_dir), {**environment(None), **(env or {})}, timeout)


def run_captured(cmd: list[str], env: dict, timeout: float) -> subprocess.CompletedProcess:
    """Like subprocess.run(capture_output=True), but through files: a killed process's surviving children
    (extraction workers) cannot keep the test waiting for the end of a pipe."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.run(cmd, cwd=REPO, env=env, stdout=out, stderr=err, text=True, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, process.returncode, out.read(), err.read())


def hostile_config(tmp_path: Path, site: HostileSite, feeds: list[str] | None = None, **fetch: object) -> Path:
    defaults = {"allow_private_addresses": True, "timeout_s": 3.0, "retries": 0, "politeness_scale": 0.0}
    return write_config(tmp_path, sources_yaml("127.0.0.1", feeds or [f"{site.base}/feed.xml"]), **{**defaults, **fetch})


# ---- the replay web, on a few outlets (fast enough for a suite that kills and re-runs many times) ----
SUBSET = ("thecradle", "alethonews", "sputnik")


def subset_config(directory: Path) -> Path:
    """Settings using a sources file with only SUBSET's outlets of config/sources.yaml."""
    import yaml

    from crawlers.sources import DEFAULT_SOURCES_FILE

    raw = yaml.safe_load(DEFAULT_SOURCES_FILE.read_text(encoding="utf-8"))
    raw["sources"] = [s for s in raw["sources"] if s["key"] in SUBSET]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    config = directory / "settings.toml"
    config.write_text(f'sources_file = "{directory / "sources.yaml"}"\n', encoding="utf-8")
    return config


def replay_run(data_dir: Path, config: Path, replay, *args: str, env: dict | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
    """`storytrail run --all-feeds` against the replay web, in its own process as cron runs it."""
    return run_captured(command("run", "--all-feeds", "--config", str(config), *args, data_dir=data_dir),
                        {**environment(replay.base_url), **(env or {})}, timeout)


def snapshot(data_dir: Path, store_file: Path | None = None) -> dict[str, tuple]:
    """What must be the same after any kill and re-run: every article, its outlet, title, text and story."""
    from pipelines.stores.sqlite import SqliteStore

    with SqliteStore(store_file or data_dir / "storytrail.db") as store:
        articles = list(store.iter_articles())
    members: dict[str, set[str]] = {}
    for a in articles:
        members.setdefault(a.story_id or a.url, set()).add(a.url)
    return {a.url: (a.outlet, a.title, a.text_hash, frozenset(members[a.story_id or a.url])) for a in articles}


def copy_data_dir(source: Path, target: Path) -> Path:
    """A consistent copy of both files with SQLite's online backup API (what the README tells users to do)."""
    import sqlite3
    from contextlib import closing

    target.mkdir(parents=True, exist_ok=True)
    for name in ("storytrail.db", "state.db"):
        with closing(sqlite3.connect(source / name)) as src, closing(sqlite3.connect(target / name)) as dst:
            src.backup(dst)
    return target
