"""`storytrail browse`: Datasette over the SQLite store, immutable, with the canned queries answering what `spread`
answers; the command serves on loopback; Elasticsearch gets Kibana saved objects instead."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from cli_runner import command, environment, storytrail

from pipelines.browse import checkpoint, make_datasette
from pipelines.models import Article
from pipelines.spread import select_stories, spread_json
from pipelines.stores.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def demo_copy(demo_data_dir, tmp_path) -> Path:
    """The demo store copied (browse checkpoints the WAL: the shared demo store stays untouched)."""
    for name in ("storytrail.db", "storytrail.db-wal"):
        if (demo_data_dir / name).exists():
            shutil.copy(demo_data_dir / name, tmp_path / name)
    return tmp_path / "storytrail.db"


def get(datasette, path: str):
    async def fetch():
        await datasette.invoke_startup()
        return await datasette.client.get(path)

    response = asyncio.run(fetch())
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_canned_queries_agree_with_spread(demo_copy):
    datasette = make_datasette(demo_copy)
    assert not datasette.databases["storytrail"].is_mutable  # immutable=1: nothing can write
    stories = get(datasette, "/storytrail/stories.json?_shape=array")
    with SqliteStore(demo_copy) as store:
        spread = spread_json(select_stories(store))
    assert len(stories) == spread["stories"]
    assert [s["copies"] for s in stories] == sorted((s["copies"] for s in stories), reverse=True)
    chain = get(datasette, f"/storytrail/chain.json?_shape=array&story_id={stories[0]['story_id']}")
    assert len(chain) == stories[0]["copies"] + 1 and chain[0]["role"] == "origin"
    outlets = {r["outlet"]: r for r in get(datasette, "/storytrail/outlets.json?_shape=array")}
    for row in spread["outlets"]:
        mine = outlets[row["outlet"]]
        assert (mine["originated"], mine["copies"], mine["copied_by_others"]) == \
            (row["originated"], row["copies"], row["copied_by_others"]), row["outlet"]
    pairs = get(datasette, "/storytrail/who_copies_whom.json?_shape=array")
    assert {(p["copies_from"], p["copier"]): p["copies"] for p in pairs} == \
        {(p["source"], p["copier"]): p["copies"] for p in spread["pairs"]}


def test_full_text_search_canned_and_on_the_table(demo_copy):
    datasette = make_datasette(demo_copy)
    hits = get(datasette, "/storytrail/search.json?_shape=array&q=Syria")
    assert hits and all(h["snippet"] for h in hits)
    table = get(datasette, "/storytrail/articles.json?_shape=array&_search=Syria&_col=title")
    assert len(table) == len(hits)


def test_fresh_writes_in_the_wal_are_checkpointed_before_serving_immutable(tmp_path):
    store = SqliteStore(tmp_path / "storytrail.db")  # kept open: its WAL is not checkpointed on close
    store.upsert([Article(url=f"https://example.org/{i}", outlet="example.org", domain="example.org", text="x")
                  for i in range(3)])
    assert (tmp_path / "storytrail.db-wal").stat().st_size > 0
    datasette = make_datasette(tmp_path / "storytrail.db")
    rows = get(datasette, "/storytrail/articles.json?_shape=array&_col=url")
    assert {r["url"] for r in rows} == {f"https://example.org/{i}" for i in range(3)}
    store.close()
    assert checkpoint(tmp_path / "storytrail.db")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_browse_command_serves_on_loopback(demo_copy):
    port = free_port()
    process = subprocess.Popen(command("browse", "--no-open", "--port", str(port), data_dir=demo_copy.parent),
                               cwd=ROOT, env=environment(None), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url, deadline = f"http://127.0.0.1:{port}/storytrail/stories.json?_shape=array", time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    rows = json.load(answer)
                break
            except OSError:
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "Datasette did not answer within 60 s"
                time.sleep(0.3)
        assert rows and "copies" in rows[0]
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)


def test_browse_refuses_elasticsearch_and_a_missing_store(tmp_path):
    result = storytrail("browse", "--no-open", "--store", "http://127.0.0.1:9?compat=off", data_dir=tmp_path)
    assert result.returncode == 2 and "Kibana" in result.stderr
    result = storytrail("browse", "--no-open", data_dir=tmp_path)
    assert result.returncode == 2 and "no store at" in result.stderr


def test_kibana_saved_objects_name_the_articles_data_view():
    lines = (ROOT / "deploy/kibana/storytrail.ndjson").read_text(encoding="utf-8").splitlines()
    objects = [json.loads(line) for line in lines if line.strip()]
    by_type = {}
    for item in objects:
        by_type.setdefault(item["type"], []).append(item)
    view = by_type["index-pattern"][0]
    assert view["id"] == "storytrail-articles" and view["attributes"]["title"] == "storytrail-articles"
    assert view["attributes"]["timeFieldName"] == "published"
    dashboard = by_type["dashboard"][0]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    referenced = {r["id"] for r in dashboard["references"]}
    assert len(panels) >= 4 and referenced <= {o["id"] for o in objects}
    compose = (ROOT / "deploy/docker-compose.elasticsearch.yml").read_text(encoding="utf-8")
    assert "kibana/storytrail.ndjson" in compose and "_import?overwrite=true" in compose
