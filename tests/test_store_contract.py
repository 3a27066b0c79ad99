"""The store contract: every behaviour of the Store interface, against every store (see conftest.py).

SQLite always, Elasticsearch through osmem-server always, and a real cluster when STORYTRAIL_ES_URL is set.
The last section covers what only Elasticsearch has: per-document rejections, outages, the alias swap.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pipelines.models import Article, ChainInfo, Evidence
from pipelines.query import QueryError
from pipelines.stores.base import StoreError
from pipelines.stores.errors import PartialWriteError, StoreUnreachable
from pipelines.stores.factory import open_store

UTC = timezone.utc
FETCHED = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def corpus() -> list[Article]:
    """Five copies: an origin and its republication, two unrelated articles, one undated."""
    return [
        Article(
            url="https://a.example/aleppo", outlet="sputnik", domain="a.example", title="Air strike on Aleppo market",
            authors=["John Miles"], published=datetime(2024, 1, 10, 9, 0, tzinfo=UTC), language="en",
            text="An air strike hit the crowded market in Aleppo on Monday, witnesses said.",
            fetched_at=FETCHED, story_id="s1", is_origin=True,
            chain=ChainInfo(kind="origin", evidence=[Evidence(kind="canonical", text="self")]),
        ),
        Article(
            url="https://b.example/aleppo-copy", outlet="rt", domain="b.example", title="Aleppo: air strike reported",
            authors=["Staff"], published=datetime(2024, 1, 11, 1, 0, tzinfo=timezone(timedelta(hours=2))),
            language="en", text="Witnesses said an air strike hit the crowded market in Aleppo on Monday.",
            fetched_at=FETCHED + timedelta(minutes=1), story_id="s1", parent="https://a.example/aleppo",
            chain=ChainInfo(kind="full", coverage=0.95, lag_seconds=50400.0,
                            evidence=[Evidence(kind="attribution_line", text="Sputnik", outlet="sputnik")]),
        ),
        Article(
            url="https://c.example/kharkiv", outlet="sputnik", domain="c.example", title="Ukraine talks stall",
            authors=["Ann Lee"], published=datetime(2024, 2, 5, 18, 30, tzinfo=UTC), language="en",
            text="Officials reported an air strike near Kharkiv as Ukrainian negotiators left the talks.",
            fetched_at=FETCHED + timedelta(minutes=2),
        ),
        Article(
            url="https://d.example/market-sanctions", outlet="globalresearch", domain="d.example",
            title="Market reaction to sanctions", published=datetime(2023, 12, 30, tzinfo=UTC), language="en",
            text="Traders weighed new sanctions; commodity prices rose sharply.", fetched_at=FETCHED,
        ),
        Article(
            url="https://e.example/strikes", outlet="aletho", domain="e.example", title="Air strikes continue",
            language="de", text="Reports say air strikes continue across northern districts.", fetched_at=FETCHED,
        ),
    ]


URLS = [a.url for a in corpus()]
A1, A2, A3, A4, A5 = URLS


@pytest.fixture
def filled(store):
    store.upsert(corpus())
    return store


def urls_of(hits) -> set[str]:
    return {h.article.url for h in hits}


# -- articles ----------------------------------------------------------------------------------------
def test_upsert_is_idempotent_by_url(store):
    first = store.upsert(corpus())
    again = store.upsert(corpus())
    refetched = store.upsert([replace(a, fetched_at=FETCHED + timedelta(days=1)) for a in corpus()])
    assert (first.added, first.updated, first.unchanged) == (5, 0, 0)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 5)
    assert (refetched.added, refetched.updated, refetched.unchanged) == (0, 0, 5)
    assert store.stats().articles == 5


def test_stored_articles_read_back_equal(filled):
    for article in corpus():
        assert filled.get(article.url) == article
    assert filled.get("https://nowhere.example/x") is None


def test_changed_text_keeps_the_earlier_version(filled):
    original = filled.get(A3)
    edits = [replace(original, text=f"Edit {i}: officials denied it.", fetched_at=FETCHED + timedelta(hours=i))
             for i in (1, 2)]
    results = [filled.upsert([e]) for e in edits]
    title_only = replace(edits[-1], title="Talks stall again")
    assert [r.updated for r in results] == [1, 1]
    assert filled.upsert([title_only]).updated == 1  # a changed title is an update, not a new version
    assert [v.text for v in filled.history(A3)] == [original.text, edits[0].text]
    assert filled.get(A3).title == "Talks stall again"
    assert filled.history(A1) == []


def test_same_url_twice_in_one_batch_applies_in_order(store):
    first = corpus()[3]
    second = replace(first, text="Sanctions were lifted.")
    result = store.upsert([first, second])
    assert (result.added, result.updated) == (1, 1)
    assert store.get(first.url).text == "Sanctions were lifted."
    assert [v.text for v in store.history(first.url)] == [first.text]


def test_refetch_keeps_chain_fields_unless_it_sets_them(filled):
    refetch = replace(corpus()[1], story_id=None, parent=None, chain=None, text="Updated copy.")
    filled.upsert([refetch])
    kept = filled.get(A2)
    assert (kept.story_id, kept.parent, kept.chain.kind) == ("s1", A1, "full")
    relinked = replace(refetch, story_id="s9", chain=ChainInfo(kind="excerpt"))
    filled.upsert([relinked])
    assert (filled.get(A2).story_id, filled.get(A2).chain.kind, filled.get(A2).parent) == ("s9", "excerpt", None)


def test_get_many_leaves_out_missing_urls(filled):
    found = filled.get_many([A4, "https://nowhere.example/x", A1])
    assert set(found) == {A1, A4}
    assert found[A1] == corpus()[0]


def test_iter_articles_in_url_order_in_batches(filled):
    assert [a.url for a in filled.iter_articles(batch_size=2)] == sorted(URLS)
    assert [a.url for a in filled.iter_articles(batch_size=2, after=A2)] == sorted(u for u in URLS if u > A2)


def test_indexed_since_lists_what_the_store_wrote_after_a_moment(filled):
    """The store's write time, not the fetch time (all corpus articles were fetched in 2024): an unchanged
    re-upsert and a chain update do not bring an article back, a changed record does (alerts read this)."""
    assert [a.url for a in filled.indexed_since(datetime(2000, 1, 1, tzinfo=UTC), batch_size=2)] == sorted(URLS)
    time.sleep(0.01)
    moment = datetime.now(UTC)
    assert list(filled.indexed_since(moment)) == []
    filled.upsert(corpus())  # unchanged
    filled.set_chain(A3, "s9", True, None, ChainInfo(kind="origin"))
    assert list(filled.indexed_since(moment)) == []
    changed = replace(corpus()[3], title="Markets after the sanctions")
    new = Article(url="https://f.example/new", outlet="rt", domain="f.example", title="New", text="t", fetched_at=FETCHED)
    filled.upsert([changed, new])
    assert [a.url for a in filled.indexed_since(moment)] == sorted([A4, new.url])
    assert filled.get(A3).story_id == "s9"


# -- search ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"air strike"', {A1, A2, A3, A5}),
        ('"air strike" AND outlet:sputnik NOT title:ukraine', {A1}),
        ("aleppo market", {A1, A2}),
        ("aleppo OR kharkiv", {A1, A2, A3}),
        ("(aleppo OR kharkiv) AND outlet:sputnik", {A1, A3}),
        ("aleppo OR outlet:globalresearch", {A1, A2, A4}),
        ("NOT aleppo", {A3, A4, A5}),
        ('"air strike" -aleppo', {A3, A5}),
        ("NOT outlet:sputnik", {A2, A4, A5}),
        ("outlet:sput*", {A1, A3}),
        ("title:market", {A1, A4}),
        ('authors:"John Miles"', {A1}),
        ("ukrain*", {A3}),
        ("published:[2024-01-01 TO 2024-01-31]", {A1, A2}),
        ("published:2024-01-10", {A1, A2}),  # A2 is 01:00 on the 11th at UTC+2: the 10th in UTC
        ("published:{2024-01-10 TO *]", {A3}),
        ("published:<2024-01-01", {A4}),
        ("NOT published:2024", {A4, A5}),
        ("language:de OR domain:d.example", {A4, A5}),
        ("is_origin:true", {A1}),
        ("role:full", {A2}),
        ("story_id:s1 AND NOT is_origin:true", {A2}),
        (f'url:"{A3}"', {A3}),
        ("*", set(URLS)),
        ("", set(URLS)),
    ],
)
def test_search_with_the_query_syntax(filled, query, expected):
    assert urls_of(filled.search(query, limit=50)) == expected


def test_search_ranks_title_matches_first_and_undated_by_date(filled):
    assert [h.article.url for h in filled.search("reported")][0] == A2  # the title match; A3, A5 in the text
    assert [h.article.url for h in filled.search("outlet:sputnik")] == [A3, A1]  # newest first


def test_search_limit_and_collapse_per_story(filled):
    assert len(filled.search('"air strike"', limit=2)) == 2
    hits = filled.search('"air strike"', limit=10, collapse_stories=True)
    assert len(hits) == 3 and urls_of(hits) & {A1, A2} and {A3, A5} <= urls_of(hits)
    story = next(h for h in hits if h.article.story_id == "s1")
    assert story.copies == 1
    assert all(h.copies == 0 for h in hits if h is not story)


def test_malformed_query_raises_query_error_with_position(filled):
    with pytest.raises(QueryError) as raised:
        filled.search("aleppo AND (market OR")
    assert raised.value.position == len("aleppo AND (market OR")
    with pytest.raises(QueryError, match="unknown field 'titel'"):
        filled.search("titel:aleppo")


# -- stats -------------------------------------------------------------------------------------------
def test_stats(filled):
    stats = filled.stats()
    assert stats.articles == 5
    assert stats.by_outlet == {"aletho": 1, "globalresearch": 1, "rt": 1, "sputnik": 2}
    assert stats.stories == 4  # s1 and three articles without a story
    assert stats.last_fetched["sputnik"] == FETCHED + timedelta(minutes=2)
    assert stats.last_fetched["rt"] == FETCHED + timedelta(minutes=1)


def test_stats_of_an_empty_store(store):
    stats = store.stats()
    assert (stats.articles, stats.by_outlet, stats.stories) == (0, {}, 0)


# -- fingerprints ------------------------------------------------------------------------------------
BIG = (1 << 61) - 2  # fingerprints go up to 2**61: more than a double holds exactly


def test_fingerprints_are_replaced_and_read_back(filled):
    filled.put_fingerprints(A1, [1, 2, 3, BIG])
    assert filled.get_fingerprints(A1) == {1, 2, 3, BIG}
    filled.put_fingerprints(A1, [3, 4, 4])
    assert filled.get_fingerprints(A1) == {3, 4}
    assert filled.get_fingerprints(A2) == set()
    assert filled.get_fingerprints("https://nowhere.example/x") == set()
    assert filled.get(A1) == corpus()[0]  # fingerprints do not touch the article


def test_fingerprints_of_an_unknown_url_are_refused(filled):
    with pytest.raises(StoreError, match="not in the store"):
        filled.put_fingerprints("https://nowhere.example/x", [1])


def test_find_candidates_counts_shared_fingerprints_under_the_cap(filled):
    sets = {A1: [1, 2, 3, 4, BIG], A2: [1, 2, 3, 9, BIG], A3: [1, 5, 6], A4: [1, 7], A5: [1]}
    for url, hashes in sets.items():
        filled.put_fingerprints(url, hashes)
    assert filled.doc_freqs([1, 2, 9, BIG, 12345]) == {1: 5, 2: 2, 9: 1, BIG: 2}
    assert filled.find_candidates(sets[A1], max_doc_freq=3, exclude_url=A1) == {A2: 3}
    assert filled.find_candidates(sets[A1], max_doc_freq=5, exclude_url=A1) == {A2: 4, A3: 1, A4: 1, A5: 1}
    assert filled.find_candidates([2, 3], max_doc_freq=2) == {A1: 2, A2: 2}
    assert filled.find_candidates([42], max_doc_freq=10) == {}
    filled.put_fingerprints(A2, [9])  # replacing a set lowers the frequencies of what it held
    assert filled.doc_freqs([2, BIG]) == {2: 1, BIG: 1}


# -- chains ------------------------------------------------------------------------------------------
def test_set_chain_story_members_and_list_stories(filled):
    filled.set_chain(A3, "s2", True, None, ChainInfo(kind="origin"))
    filled.set_chain(A5, "s2", False, A3, ChainInfo(kind="excerpt", coverage=0.3, lag_seconds=3600.0))
    filled.set_chain(A4, "s3", True, None, None)
    filled.set_chain("https://nowhere.example/x", "s4", True, None, None)  # ignored
    members = filled.story_members("s2")
    assert [a.url for a in members] == [A5, A3]  # undated first, then by publication
    assert members[0].parent == A3 and members[0].chain.coverage == 0.3
    assert filled.list_stories(order="size") == [("s2", 2), ("s1", 2), ("s3", 1)]  # same size: newest first
    assert filled.list_stories(order="new", limit=2) == [("s2", 2), ("s1", 2)]
    assert filled.list_stories(order="size", limit=1)[0][1] == 2
    assert filled.story_members("nope") == []
    assert urls_of(filled.search("story_id:s2 AND role:excerpt")) == {A5}


def test_list_stories_by_size(filled):
    filled.set_chain(A3, "s1", False, A1, ChainInfo(kind="partial"))
    filled.set_chain(A4, "s2", True, None, ChainInfo())
    assert filled.list_stories(order="size") == [("s1", 3), ("s2", 1)]


def test_concurrent_writers_keep_each_others_changes(store_target):
    """A re-fetch loop and a linker on the same articles, through two connections (two processes): every
    chain and fingerprint set the linker writes survives the re-fetches, and every re-fetched text is kept."""
    first, second = store_target.open(), store_target.open()
    base = corpus()[2]
    articles = [replace(base, url=f"https://c.example/{k:02d}") for k in range(40)]
    first.upsert(articles)
    rounds = 6
    errors: list[BaseException] = []

    def refetch() -> None:
        try:
            for r in range(rounds):
                first.upsert([replace(a, text=f"version {r}") for a in articles])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def link() -> None:
        try:
            for k, article in enumerate(articles):
                second.set_chain(article.url, f"story-{k}", False, None, ChainInfo(kind="full", coverage=k / 100))
                second.put_fingerprints(article.url, [k, 1000 + k])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=refetch), threading.Thread(target=link)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    stored = first.get_many([a.url for a in articles])
    lost = [k for k, a in enumerate(articles) if stored[a.url].story_id != f"story-{k}"]
    assert not lost, f"chains lost for articles {lost}"
    assert all(stored[a.url].text == f"version {rounds - 1}" for a in articles)
    assert all(first.get_fingerprints(a.url) == {k, 1000 + k} for k, a in enumerate(articles))
    expected_history = [base.text] + [f"version {r}" for r in range(rounds - 1)]
    assert all([v.text for v in first.history(a.url)] == expected_history for a in articles)


# -- Elasticsearch only ------------------------------------------------------------------------------
def test_a_rejected_document_is_reported_and_the_rest_indexed(es_store):
    good = corpus()
    bad = replace(good[1], chain=ChainInfo(coverage=float("nan")))  # not JSON: the server refuses it
    with pytest.raises(PartialWriteError) as raised:
        es_store.upsert([good[0], bad, *good[2:]])
    assert list(raised.value.failed) == [A2]
    # Elasticsearch 8.8 and later name this refusal document_parsing_exception; osmem-server and OpenSearch
    # (and Elasticsearch before 8.8) say mapper_parsing_exception. Either is the same refusal.
    assert any(kind in raised.value.failed[A2] for kind in ("document_parsing_exception", "mapper_parsing_exception"))
    assert A2 in str(raised.value) and "1 article(s) not indexed" in str(raised.value)
    assert raised.value.result.added == 4
    assert es_store.stats().articles == 4
    assert es_store.upsert(good).added == 1  # the next run indexes it, without duplicating the rest


def test_refused_writes_are_indexed_on_the_next_run_without_duplicates(es_store):
    es_store.upsert(corpus()[:2])
    index = es_store.current_index()
    es_store.client.indices.put_settings(index=index, settings={"index.blocks.write": True})
    with pytest.raises(PartialWriteError) as raised:
        es_store.upsert(corpus())
    assert set(raised.value.failed) == {A3, A4, A5}  # the first two are unchanged: nothing to write
    assert "cluster_block_exception" in raised.value.failed[A3]
    es_store.client.indices.put_settings(index=index, settings={"index.blocks.write": False})
    result = es_store.upsert(corpus())
    assert (result.added, result.unchanged) == (3, 2)
    assert es_store.stats().articles == 5


def test_elasticsearch_down_at_start_says_so():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(StoreUnreachable, match=rf"Elasticsearch at http://127.0.0.1:{port} is not reachable"):
        open_store(f"http://127.0.0.1:{port}?compat=off")
    assert time.monotonic() - started < 10


def test_elasticsearch_down_mid_run_lists_every_article_not_indexed(open_osmem):
    server, url = open_osmem()
    store = open_store(url)
    store.upsert(corpus()[:2])
    server.close()
    with pytest.raises(PartialWriteError) as raised:
        store.upsert(corpus()[2:])
    assert set(raised.value.failed) == {A3, A4, A5}
    assert all("not reachable" in reason for reason in raised.value.failed.values())
    with pytest.raises(StoreUnreachable):
        store.search("aleppo")
    store.close()


def test_collapsing_here_matches_collapsing_on_the_server(es_store):
    es_store.upsert(corpus())
    on_server = es_store.search('"air strike"', collapse_stories=True)
    es_store._server_collapse = False  # what a server without `collapse` leads to
    here = es_store.search('"air strike"', collapse_stories=True)
    assert [(h.article.url, h.copies) for h in here] == [(h.article.url, h.copies) for h in on_server]


def test_reindex_swaps_the_alias_and_keeps_everything(es_target):
    if es_target.kind == "opensearch":
        pytest.skip("the integ-test-zip distribution has no reindex module (its Maven jar needs the REST client "
                    "stack as well); osmem-server and a live cluster run this test")
    store = es_target.open()
    store.upsert(corpus())
    store.upsert([replace(corpus()[0], text="An edited text about Aleppo.")])
    store.put_fingerprints(A1, [7, BIG])
    old = store.current_index()
    new = store.reindex_to(2)
    assert new.endswith("-articles-v2") and store.current_index() == new and old.endswith("-articles-v1")
    assert store.stats().articles == 5
    assert store.get_fingerprints(A1) == {7, BIG}
    assert [v.text for v in store.history(A1)] == [corpus()[0].text]
    assert urls_of(store.search('"air strike" AND outlet:sputnik NOT title:ukraine')) == {A1}
    again = es_target.open()  # a later start finds the alias and leaves it where it is
    assert again.current_index() == new and again.stats().articles == 5
