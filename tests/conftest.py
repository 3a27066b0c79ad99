"""Shared pytest fixtures. Each component keeps its fixtures in one commented block."""

from __future__ import annotations

# ==== Store fixtures (issue 4: the Elasticsearch store) =========================================
# Every store behaviour runs against every store: SQLite (a file in tmp_path), Elasticsearch through
# osmem-server (an in-memory OpenSearch-compatible server, started once per session on a free loopback
# port by its own launcher; each test gets its own copy-on-write clone, so tests are independent), and a
# real cluster when STORYTRAIL_ES_URL is set (credentials from STORYTRAIL_ES_USERNAME/_PASSWORD/_API_KEY/
# _CA_CERTS; each test uses its own index prefix and deletes its indices afterwards).
# osmem-server answers 406 to the 9.x client's compatibility media type, hence `?compat=off` (test only).
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from osmem_server import OsmemServer

from pipelines.settings import StoreSettings
from pipelines.stores.base import Store
from pipelines.stores.factory import open_store

LIVE_ENV = "STORYTRAIL_ES_URL"
LIVE_SKIP = f"{LIVE_ENV} not set: live Elasticsearch contract run skipped"


@dataclass
class StoreTarget:
    """Where a test's store lives; `open()` gives another connection to the same data (two processes)."""

    kind: str
    url: str
    settings: StoreSettings = field(default_factory=StoreSettings)
    opened: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = open_store(self.url, settings=self.settings)
        self.opened.append(store)
        return store


@pytest.fixture(scope="session")
def osmem_server() -> Iterator[OsmemServer]:
    """One osmem-server process for the session (overrides the plugin's fixture of the same name, which
    would also load Japanese analysis we do not need). Exits with the test process."""
    server = OsmemServer.start(japanese=False)
    yield server
    _stop(server)


def _stop(server: OsmemServer) -> None:
    server.close()
    if server.process.stdout:  # the launcher leaves its end of the pipe open
        server.process.stdout.close()


def _target(kind: str, request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreTarget]:
    if kind == "sqlite":
        yield StoreTarget(kind, f"sqlite:///{tmp_path / 'storytrail.db'}")
        return
    if kind == "osmem":
        clone = request.getfixturevalue("osmem_server").clone()
        try:
            yield StoreTarget(kind, f"{clone.url}?compat=off")
        finally:
            clone.close()
        return
    url = os.environ.get(LIVE_ENV)
    if not url:
        pytest.skip(LIVE_SKIP)
    target = StoreTarget(kind, url, StoreSettings(index_prefix=f"storytrail-test-{uuid.uuid4().hex[:10]}"))
    try:
        yield target
    finally:
        _drop_live_indices(target)


def _drop_live_indices(target: StoreTarget) -> None:
    """Delete by exact name: clusters refuse wildcard deletes (action.destructive_requires_name)."""
    admin = open_store(target.url, settings=target.settings)
    try:
        for name in admin.client.indices.get(index=f"{target.settings.index_prefix}-*").body:
            admin.client.indices.delete(index=name)
        admin.client.indices.delete_index_template(name=f"{target.settings.index_prefix}-articles")
    finally:
        admin.close()


@pytest.fixture(params=["sqlite", "osmem", "live"])
def store_target(request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreTarget]:
    """Every store kind; open more than one connection with `store_target.open()`."""
    yield from _with_closing(_target(request.param, request, tmp_path))


@pytest.fixture(params=["osmem", "live"])
def es_target(request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreTarget]:
    """The Elasticsearch kinds only, for behaviour SQLite has no counterpart of (bulk rejections, outages)."""
    yield from _with_closing(_target(request.param, request, tmp_path))


def _with_closing(targets: Iterator[StoreTarget]) -> Iterator[StoreTarget]:
    for target in targets:
        try:
            yield target
        finally:
            for store in target.opened:
                store.close()


@pytest.fixture
def store(store_target: StoreTarget) -> Store:
    return store_target.open()


@pytest.fixture
def es_store(es_target: StoreTarget) -> Store:
    return es_target.open()


@pytest.fixture
def open_osmem() -> Callable[[], tuple[OsmemServer, str]]:
    """A private osmem-server a test may stop (the shared one must stay up): (server, store URL)."""
    started: list[OsmemServer] = []

    def start() -> tuple[OsmemServer, str]:
        server = OsmemServer.start(japanese=False)
        started.append(server)
        return server, f"{server.url}?compat=off"

    yield start
    for server in started:
        _stop(server)
# ==== end of store fixtures =====================================================================


# ==== Replay web (the crawl tests) ==============================================================
# One local replay web per session; its hit counter is shared, so tests compare counts before and after.
from crawlers.replay.server import ReplayWeb  # noqa: E402


@pytest.fixture(scope="session")
def replay() -> Iterator[ReplayWeb]:
    web = ReplayWeb()
    web.start()
    yield web
    web.stop()
