"""migrate: SQLite -> Elasticsearch (osmem-server) and back, resumable and idempotent."""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.migrate import migrate
from pipelines.models import Article, ChainInfo, Evidence
from pipelines.stores.factory import open_store
from pipelines.stores.sqlite import SqliteStore

T0 = datetime(2024, 1, 1, 8, 0, tzinfo=timezone.utc)


def articles(n: int = 9) -> list[Article]:
    return [
        Article(url=f"https://m{k % 3}.example/story/{k}", outlet=f"outlet{k % 3}", domain=f"m{k % 3}.example",
                title=f"Story {k}", text=f"Text of story {k}, about the harbour and the ferry strike.",
                published=T0 + timedelta(hours=k), fetched_at=T0 + timedelta(hours=k, minutes=5))
        for k in range(n)
    ]


def filled_source(path) -> SqliteStore:
    """Articles with chains, fingerprints, and an edited text (its history is not copied)."""
    source = SqliteStore(path)
    source.upsert(articles())
    first = articles()[0]
    source.upsert([replace(first, text="An edited text about the ferry strike.")])
    for k, article in enumerate(articles()):
        source.put_fingerprints(article.url, [k, 100 + k % 2, (1 << 61) - 1 - k])
        if k % 3:
            source.set_chain(article.url, "ferry", False, articles()[0].url,
                             ChainInfo(kind="full", coverage=0.9, evidence=[Evidence(kind="read_more", text="Read more")]))
    source.set_chain(first.url, "ferry", True, None, ChainInfo(kind="origin"))
    return source


def snapshot(store) -> tuple:
    """Everything migrate promises to carry over."""
    listed = list(store.iter_articles(batch_size=4))
    return (
        [asdict(a) for a in listed],
        {a.url: store.get_fingerprints(a.url) for a in listed},
        store.list_stories(),
        [a.url for a in store.story_members("ferry")],
    )


@pytest.fixture
def es_url(osmem_server):
    clone = osmem_server.clone()
    yield f"{clone.url}?compat=off"
    clone.close()


def test_sqlite_to_elasticsearch_and_back(tmp_path, es_url):
    source = filled_source(tmp_path / "source.db")
    es = open_store(es_url)
    result = migrate(source, es, batch_size=4)
    assert (result.copied, result.written.added, result.fingerprinted, result.complete) == (9, 9, 9, True)
    assert snapshot(es) == snapshot(source)
    assert es.history(articles()[0].url) == []  # history stays behind (documented)

    back = open_store(f"sqlite:///{tmp_path / 'back.db'}")
    assert migrate(es, back, batch_size=5).written.added == 9
    assert snapshot(back) == snapshot(source)


def test_migrating_again_changes_nothing(tmp_path, es_url):
    source = filled_source(tmp_path / "source.db")
    es = open_store(es_url)
    migrate(source, es, batch_size=4)
    again = migrate(source, es, batch_size=4)
    assert (again.copied, again.written.unchanged, again.written.added, again.fingerprinted) == (9, 9, 0, 0)
    assert es.stats().articles == 9


class InterruptedSource(SqliteStore):
    """A source whose reading stops after `stop_after` articles, as a killed process would."""

    stop_after = 5

    def iter_articles(self, batch_size=500, after=None):
        for count, article in enumerate(super().iter_articles(batch_size, after)):
            if count == self.stop_after:
                raise KeyboardInterrupt
            yield article


@pytest.mark.parametrize("target_kind", ["sqlite", "osmem"])
def test_an_interrupted_migration_resumes_after_the_last_batch(tmp_path, request, target_kind):
    filled_source(tmp_path / "source.db").close()
    target_url = f"sqlite:///{tmp_path / 'target.db'}" if target_kind == "sqlite" else request.getfixturevalue("es_url")
    target = open_store(target_url)
    checkpoint = tmp_path / "state" / "migrate.json"
    with pytest.raises(KeyboardInterrupt):
        migrate(InterruptedSource(tmp_path / "source.db"), target, batch_size=2, checkpoint=checkpoint)
    assert checkpoint.exists() and target.stats().articles == 4  # two full batches written

    source = SqliteStore(tmp_path / "source.db")
    resumed = migrate(source, target, batch_size=2, checkpoint=checkpoint)
    ordered = sorted(a.url for a in articles())
    assert resumed.resumed_after == ordered[3]
    assert (resumed.copied, resumed.written.added) == (5, 5)
    assert not checkpoint.exists()
    assert snapshot(target) == snapshot(source)
