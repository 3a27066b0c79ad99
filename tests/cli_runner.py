"""Runs the real `storytrail` command in its own process, as cron does, pointed at the local replay web."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def command(*args: str, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args, "--data-dir", str(data_dir)]


def environment(replay_url: str | None) -> dict[str, str]:
    """This process's environment without storytrail settings (the live-cluster variables excepted)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYTRAIL_") or k.startswith("STORYTRAIL_ES_")}
    if replay_url:
        env |= {"STORYTRAIL_FETCH__REPLAY_URL": replay_url, "STORYTRAIL_FETCH__POLITENESS_SCALE": "0"}
    return env


def storytrail(*args: str, data_dir: Path, replay_url: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args, data_dir=data_dir), cwd=REPO, env=environment(replay_url),
                          capture_output=True, text=True, timeout=timeout)


def export_rows(data_dir: Path, *store: str) -> list[dict]:
    """Every stored article as `storytrail export` writes it."""
    result = storytrail("export", *store, data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def story_groups(rows: list[dict]) -> set[frozenset[str]]:
    """The stories as sets of URLs: comparable across stores whatever ids they carry."""
    groups: dict[str, set[str]] = {}
    for row in rows:
        groups.setdefault(row["story_id"] or row["url"], set()).add(row["url"])
    return {frozenset(g) for g in groups.values()}


def sources_subset(directory: Path, keys: tuple[str, ...], **fields: object) -> Path:
    """A sources file with only the sources `keys` of config/sources.yaml (each with `fields` added), for
    tests that want a short cycle; pass it as STORYTRAIL_SOURCES_FILE."""
    import yaml

    raw = yaml.safe_load((REPO / "config" / "sources.yaml").read_text(encoding="utf-8"))
    raw["sources"] = [dict(source, **fields) for source in raw["sources"] if source["key"] in keys]
    path = directory / "sources.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path
