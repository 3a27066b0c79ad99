"""Shared pytest fixtures. Each component keeps its fixtures in one commented block."""

from __future__ import annotations

# ==== Store fixtures (issue 4: the Elasticsearch store) =========================================
# Every store behaviour runs against every store: SQLite (a file in tmp_path), Elasticsearch through
# osmem-server (an in-memory OpenSearch-compatible server, started once per session on a free loopback
# port by its own launcher; each test gets its own copy-on-write clone, so tests are independent), and a
# real OpenSearch node (tests/opensearch_node.py: started once per session from Maven Central's distribution,
# skipped with the reason when Java or the artifacts cannot be had), and a real cluster when STORYTRAIL_ES_URL is set (credentials from STORYTRAIL_ES_USERNAME/_PASSWORD/_API_KEY/
# _CA_CERTS; each test uses its own index prefix and deletes its indices afterwards).
# osmem-server answers 406 to the 9.x client's compatibility media type, hence `?compat=off` (test only).
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from opensearch_node import NodeUnavailable, OpenSearchNode
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
    if kind == "opensearch":
        url = f"{request.getfixturevalue('opensearch_node').url}?compat=off"
    else:
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


@pytest.fixture(scope="session")
def opensearch_node() -> Iterator[OpenSearchNode]:
    """A real OpenSearch node (tests/opensearch_node.py), once per session; skipped with the reason when Java,
    Maven or the artifacts are missing here."""
    try:
        node = OpenSearchNode.start()
    except NodeUnavailable as exc:
        pytest.skip(str(exc))
    yield node
    node.stop()


@pytest.fixture(params=["sqlite", "osmem", "opensearch", "live"])
def store_target(request: pytest.FixtureRequest, tmp_path) -> Iterator[StoreTarget]:
    """Every store kind; open more than one connection with `store_target.open()`."""
    yield from _with_closing(_target(request.param, request, tmp_path))


@pytest.fixture(params=["osmem", "opensearch", "live"])
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


# ==== Demo data (the research outputs: spread, export, report, browse) ==========================
# `storytrail demo` run once per session into its own data dir; tests read it and never write to it.
@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory):
    from cli_runner import storytrail

    data_dir = tmp_path_factory.mktemp("demo-data")
    result = storytrail("demo", data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return data_dir


# ==== SMTP server (issue 7: alerts by e-mail) ===================================================
# A real SMTP server (aiosmtpd) on a free loopback port, recording every message it accepts. `smtp_port` is
# a free port with nothing listening (a server that is down), on which `smtp_server.start()` may later listen.
import socket  # noqa: E402
from email import message_from_bytes, policy  # noqa: E402

from aiosmtpd.controller import Controller  # noqa: E402


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message(self):
        return message_from_bytes(self.content, policy=policy.default)

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content().replace("\r\n", "\n")

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content().replace("\r\n", "\n")


class SmtpServer:
    """aiosmtpd on 127.0.0.1:`port`; `received` holds what it accepted. Extra Controller options via start()."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[Received] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's handler name
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 OK"

    def start(self, **options) -> SmtpServer:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_port() -> int:
    return _free_port()


@pytest.fixture
def smtp_server(smtp_port) -> Iterator[SmtpServer]:
    """Not yet listening: call .start() (tests of an SMTP outage start it late)."""
    server = SmtpServer(smtp_port)
    yield server
    server.stop()
# ==== end of SMTP server ========================================================================


# ==== Alerts world (issue 7): a SQLite store, settings pointing at the SMTP server, article builders ====
@dataclass
class AlertWorld:
    data_dir: object
    smtp: SmtpServer
    store: Store
    overrides: dict = field(default_factory=dict)

    def settings(self, **alerts):
        from pipelines.settings import load_settings

        mail = {"host": "127.0.0.1", "port": self.smtp.port, "tls": "none"}
        section = {"searches_file": str(self.data_dir / "alerts.yaml"), **self.overrides, **alerts}
        return load_settings(None, {"data_dir": self.data_dir, "mail": mail, "alerts": section})

    def add_search(self, name: str, query: str, to: str = "r@example.org", every: str = "immediate", start: str | None = "2000-01-01"):
        from pipelines.alerts import open_db
        from pipelines.alerts.saved_searches import new_search

        db = open_db(self.settings())
        db.add(new_search(name, query, to, every, start))
        db.close()

    def story(self, key: str, outlets: list[str], title: str, text: str = "", day: int = 1) -> list:
        """A linked story: the first outlet is the origin, the rest full copies, one day apart."""
        from datetime import datetime, timezone

        from pipelines.models import Article, ChainInfo

        articles = []
        for n, outlet in enumerate(outlets):
            origin = n == 0
            articles.append(Article(
                url=f"https://{outlet}.example/{key}", outlet=outlet, domain=f"{outlet}.example", title=title,
                text=text or f"{title}. The report on {key} continues here with more words.",
                published=datetime(2024, 1, day + n, 9, 0, tzinfo=timezone.utc), story_id=f"s-{key}", is_origin=origin,
                parent=None if origin else f"https://{outlets[0]}.example/{key}",
                chain=ChainInfo(kind="origin" if origin else "full"),
            ))
        self.store.upsert(articles)
        return articles

    def run(self, now=None, **alerts):
        from pipelines.alerts import run_alerts

        return run_alerts(self.settings(**alerts), self.store, now=now)


@pytest.fixture
def alert_world(tmp_path, smtp_server) -> Iterator[AlertWorld]:
    from pipelines.stores.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "storytrail.db")
    yield AlertWorld(tmp_path, smtp_server, store)
    store.close()
# ==== end of alerts world =======================================================================
