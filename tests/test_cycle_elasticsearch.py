"""The gathering path with the Elasticsearch store (osmem-server over real HTTP): the same articles and
stories as SQLite, and nothing lost or doubled when the cluster is down at the start or mid-run."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cli_runner import export_rows, story_groups, storytrail
from cutover_proxy import CutoverProxy


@pytest.fixture
def cluster(osmem_server):
    clone = osmem_server.clone()
    yield clone
    clone.close()


def es_store(url: str) -> tuple[str, str]:
    return "--store", f"{url}?compat=off"


@pytest.fixture(scope="module")
def sqlite_reference(tmp_path_factory, replay) -> list[dict]:
    data_dir = tmp_path_factory.mktemp("sqlite-demo")
    result = storytrail("demo", data_dir=data_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    return export_rows(data_dir)


@pytest.fixture(scope="module")
def sqlite_run_reference(tmp_path_factory, replay) -> list[dict]:
    """What one `run` gathers into SQLite (the demo also backfills the web archive, which `run` does not)."""
    data_dir = tmp_path_factory.mktemp("sqlite-run")
    result = storytrail("run", "--all-feeds", data_dir=data_dir, replay_url=replay.base_url)
    assert result.returncode == 0, result.stderr[-3000:]
    return export_rows(data_dir)


def article_facts(rows: list[dict]) -> dict[str, tuple]:
    return {r["url"]: (r["outlet"], r["title"], r["published"], r["is_origin"], r["parent"], r["kind"]) for r in rows}


def test_demo_on_elasticsearch_gathers_the_same_articles_and_stories_as_sqlite(tmp_path: Path, cluster, sqlite_reference):
    result = storytrail("demo", *es_store(cluster.url), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = export_rows(tmp_path, *es_store(cluster.url))
    assert article_facts(rows) == article_facts(sqlite_reference)
    assert story_groups(rows) == story_groups(sqlite_reference)


def proxy_to(cluster, cut_after_bytes: int | None = None) -> CutoverProxy:
    target = urlsplit(cluster.url)
    proxy = CutoverProxy(target.hostname, target.port, cut_after_bytes)
    proxy.up()
    return proxy


@pytest.mark.parametrize("when", ["at the start", "mid-run"])
def test_a_cluster_down_loses_nothing_and_the_next_run_indexes_it_once(tmp_path: Path, cluster, replay, sqlite_run_reference, when):
    proxy = proxy_to(cluster, cut_after_bytes=None if when == "at the start" else 60_000)
    if when == "at the start":
        proxy.down()
    store = es_store(proxy.url)
    first = storytrail("run", "--all-feeds", *store, data_dir=tmp_path, replay_url=replay.base_url)
    assert first.returncode == 1, first.stderr[-3000:]
    assert "store unavailable" in first.stderr
    assert "will be indexed by the next run" in first.stdout + first.stderr
    assert ("new article:" in first.stderr) == (when == "mid-run"), "the cut fell where it was meant to"

    proxy.down()
    proxy.up()
    second = storytrail("run", "--all-feeds", *store, data_dir=tmp_path, replay_url=replay.base_url)
    assert second.returncode == 0, second.stderr[-3000:]
    rows = export_rows(tmp_path, *store)
    urls = [r["url"] for r in rows]
    assert len(urls) == len(set(urls)), "an article was indexed twice"
    assert article_facts(rows) == article_facts(sqlite_run_reference)
    assert story_groups(rows) == story_groups(sqlite_run_reference)
    proxy.down()
