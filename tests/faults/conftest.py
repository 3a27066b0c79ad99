"""Fixtures of the fault suite: a hostile site on loopback, and one uninterrupted run over a few outlets of
the replay web that the kill, restore and storage-fault tests compare their stores with."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # hostile.py and fault_helpers.py sit next to the tests

from fault_helpers import FEED_PATHS, replay_run, snapshot, subset_config  # noqa: E402
from hostile import HostileSite  # noqa: E402


@pytest.fixture
def hostile() -> Iterator[HostileSite]:
    with HostileSite(FEED_PATHS) as site:
        yield site


@pytest.fixture(scope="session")
def reference(tmp_path_factory, replay) -> tuple[Path, Path, dict]:
    """(data dir, settings file, snapshot) of one uninterrupted run over SUBSET."""
    base = tmp_path_factory.mktemp("reference")
    config = subset_config(base / "config")
    result = replay_run(base / "data", config, replay)
    assert result.returncode == 0, result.stderr[-3000:]
    return base / "data", config, snapshot(base / "data")
