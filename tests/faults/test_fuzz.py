"""Property-based fuzz (hypothesis) of what reads untrusted text: URL normalisation, the query parser (and the
SQLite store answering it), attribution parsing and import lines. Each property is bounded in examples and
per-example time, so the fuzz costs seconds, not minutes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawlers.sources import load_sources
from crawlers.urls import normalize_url
from pipelines.attribution import AttributionParser
from pipelines.importer import ImportedDocument, _document
from pipelines.models import Article
from pipelines.query import QueryError, parse, to_es, to_sqlite
from pipelines.stores.base import StoreError
from pipelines.stores.sqlite import SqliteStore

BOUNDED = settings(max_examples=150, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])

URLISH = st.one_of(
    st.text(max_size=80),
    st.builds(lambda scheme, host, path, query: f"{scheme}://{host}/{path}?{query}",
              st.sampled_from(["http", "https", "HTTP", "ftp", ""]),
              st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(["www.wsws.org", "[::1]", "m.x.co"]),
              st.text(max_size=30), st.text(max_size=30)),
)
QUERY_ALPHABET = st.sampled_from(list('abc xyz:"()[]*?~^/\\-+!&|') + ["AND ", "OR ", "NOT ", "TO ", "outlet:", "published:",
                                                                   "title:", "is_origin:", "2024-01-01", "9999"])
QUERIES = st.one_of(st.text(max_size=60), st.lists(QUERY_ALPHABET, max_size=25).map("".join))


@BOUNDED
@given(URLISH)
def test_normalize_url_is_idempotent_or_refuses_with_value_error(url):
    try:
        once = normalize_url(url)
    except ValueError:
        return
    assert once.startswith("https://")
    assert normalize_url(once) == once


@pytest.fixture(scope="module")
def store():
    with SqliteStore(":memory:") as store:
        store.upsert([Article(url="https://x.example/a", outlet="x", domain="x.example", title="Aleppo strike",
                              text="An air strike near Aleppo.", fetched_at=datetime(2024, 1, 1, tzinfo=timezone.utc))])
        yield store


@BOUNDED
@given(QUERIES)
def test_any_query_is_answered_or_refused_with_one_query_error(store, query):
    try:
        parse(query)
        to_sqlite(query)
        to_es(query)
    except QueryError as exc:
        assert len(str(exc)) < 400
        return
    try:
        store.search(query, limit=5)
    except StoreError:
        pass  # an FTS5 expression SQLite refuses: a one-line StoreError, not a crash


@pytest.fixture(scope="module")
def attribution():
    return AttributionParser(load_sources())


CREDIT_WORDS = st.sampled_from(["Sputnik", "The Cradle", "originally published", "Read more >>", "First published on",
                                "By ", " – ", "|", "https://thecradle.co/articles/x", "\n", "January 3, 2024", "©"])


@BOUNDED
@given(st.lists(st.one_of(CREDIT_WORDS, st.text(max_size=15)), max_size=30).map("".join))
def test_attribution_parsing_never_fails(attribution, text):
    article = Article(url="https://blog.example.org/a", outlet="blog", domain="example.org", text=text,
                      links=["https://thecradle.co/articles/x"], fetched_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    for evidence in attribution.evidence(article):
        assert evidence.kind


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                       max_leaves=15)


@BOUNDED
@given(st.one_of(
    st.binary(max_size=200),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"url": st.text(max_size=40), "text": st.text(max_size=40)}, optional={
        "title": JSONISH, "published": st.text(max_size=25), "authors": JSONISH}).map(lambda d: json.dumps(d).encode()),
))
def test_an_import_line_is_a_document_or_one_reason(raw):
    result = _document(raw)
    assert isinstance(result, (ImportedDocument, str))
    if isinstance(result, str):
        assert result and "\n" not in result
