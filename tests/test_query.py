"""One query syntax for both stores: translation, error positions, and the two stores agreeing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.models import Article
from pipelines.query import QueryError, parse, to_es, to_sqlite
from pipelines.stores.factory import open_store

SAVED_SEARCH = '"air strike" AND outlet:sputnik NOT title:ukraine'


# -- translation -------------------------------------------------------------------------------------
def test_saved_search_to_sqlite_puts_text_in_one_match_and_keywords_in_sql():
    assert to_sqlite(SAVED_SEARCH) == ('("air strike") NOT ((title : "ukraine"))', "a.outlet IS ?", ["sputnik"])


def test_saved_search_to_es():
    assert to_es(SAVED_SEARCH) == {
        "bool": {
            "must": [{"multi_match": {"query": "air strike", "type": "phrase", "fields": ["title^4", "text^1", "authors^2"]}}],
            "filter": [{"term": {"outlet": "sputnik"}}],
            "must_not": [{"match_phrase": {"title": "ukraine"}}],
        }
    }


def test_match_all():
    for query in ("", "  ", "*", "*:*"):
        assert to_sqlite(query) == (None, None, [])
        assert to_es(query) == {"match_all": {}}


def test_a_leading_not_of_text_becomes_a_rowid_subquery():
    match, where, params = to_sqlite("NOT aleppo outlet:rt")
    assert match is None
    assert where == "NOT (a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)) AND a.outlet IS ?"
    assert params == ['"aleppo"', "rt"]


def test_not_after_text_stays_inside_the_match():
    assert to_sqlite("aleppo -market NOT title:rt")[0] == '("aleppo") NOT (("market") OR (title : "rt"))'


def test_text_or_keyword_is_answered_in_sql():
    match, where, params = to_sqlite("aleppo OR outlet:rt")
    assert match is None
    assert where == "(a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?) OR a.outlet IS ?)"
    assert params == ['"aleppo"', "rt"]


def test_field_group_applies_the_field_to_each_word():
    assert to_sqlite("title:(air strike)")[0] == '(title : "air") AND (title : "strike")'
    assert to_sqlite('authors:"John Miles"')[0] == 'authors : "John Miles"'


def test_trailing_wildcard_is_a_prefix():
    assert to_sqlite("ukrain*")[0] == '"ukrain" *'
    assert to_es("title:Ukrain*") == {"match_phrase_prefix": {"title": {"query": "Ukrain", "max_expansions": 1000}}}
    assert to_sqlite("outlet:sput*")[1:] == ("coalesce(substr(a.outlet, 1, ?) = ?, 0)", [4, "sput"])
    assert to_es("outlet:sput*") == {"prefix": {"outlet": "sput"}}


@pytest.mark.parametrize(
    ("query", "low", "high"),
    [
        ("published:[2024-01-01 TO 2024-02-01]", "2024-01-01T00:00:00.000", "2024-02-02T00:00:00.000"),
        ("published:{2024-01-01 TO 2024-02-01}", "2024-01-02T00:00:00.000", "2024-02-01T00:00:00.000"),
        ("published:2024-02", "2024-02-01T00:00:00.000", "2024-03-01T00:00:00.000"),
        ("published:2024", "2024-01-01T00:00:00.000", "2025-01-01T00:00:00.000"),
        ('fetched_at:"2024-01-31T23:30:00-02:00"', "2024-02-01T01:30:00.000", "2024-02-01T01:30:00.001"),
        ("published:>=2024-01-15", "2024-01-15T00:00:00.000", None),
        ("published:<2024-01-15", None, "2024-01-15T00:00:00.000"),
        ("published:[2024-12 TO *]", "2024-12-01T00:00:00.000", None),
    ],
)
def test_dates_become_half_open_utc_ranges(query, low, high):
    field = query.split(":", 1)[0]
    bounds = {k: v + "Z" for k, v in (("gte", low), ("lt", high)) if v}
    assert to_es(query) == {"range": {field: bounds}}
    _, where, params = to_sqlite(query)
    assert params == [v for v in (low, high) if v]
    assert f"strftime('%Y-%m-%dT%H:%M:%f', a.{field})" in where


def test_keyword_and_flag_fields():
    assert to_sqlite("is_origin:false story_id:s1") == (None, "a.is_origin = ? AND a.story_id IS ?", [0, "s1"])
    assert to_es("is_origin:true") == {"term": {"is_origin": True}}
    assert to_es("role:excerpt") == {"term": {"role": "excerpt"}}


# -- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "position", "reason"),
    [
        ("aleppo AND (market", 18, "unexpected end of expression"),
        ("aleppo)", 6, "unexpected ')'"),
        ("a OR OR b", 5, "unexpected 'OR'"),
        ('title:"unclosed', 6, "unclosed quote"),
        ("titel:aleppo", 0, "unknown field 'titel'"),
        ("aleppo uk?aine", 7, "only a trailing * wildcard"),
        ("aleppo~2", 0, "fuzzy search"),
        ("aleppo^2", 0, "boosts"),
        ("/aleppo/", 0, "regular expressions"),
        ("title:[a TO b]", 6, "ranges work on dates only"),
        ("published:yesterday", 10, "not a date: 'yesterday'"),
        ("is_origin:maybe", 10, "takes true or false"),
        ("title:(outlet:rt)", 7, "field 'outlet' inside field 'title'"),
        ("   a AND", 8, "unexpected end"),
        ("a\x00b", 1, "control character"),
    ],
)
def test_errors_say_what_and_where(query, position, reason):
    with pytest.raises(QueryError) as raised:
        to_sqlite(query)
    assert raised.value.position == position
    assert reason in str(raised.value) and f"position {position}" in str(raised.value)
    assert isinstance(raised.value, ValueError)
    with pytest.raises(QueryError):
        to_es(query)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=40))
def test_any_string_gives_a_translation_or_a_query_error(text):
    for translate in (to_sqlite, to_es):
        try:
            translate(text)
        except QueryError:
            pass


# -- both stores answer alike ------------------------------------------------------------------------
WORDS = ["aleppo", "market", "strike", "air", "talks", "ukraine", "sanctions", "witnesses", "prices"]
OUTLETS = ["sputnik", "rt", "globalresearch"]


def _articles() -> list[Article]:
    texts = [
        ("sputnik", "Air strike on Aleppo market", "Witnesses saw an air strike hit the Aleppo market.", "2024-01-10"),
        ("rt", "Aleppo market hit", "An air strike hit a market; witnesses counted damage.", "2024-01-11"),
        ("sputnik", "Ukraine talks stall", "Talks on Ukraine stalled after an air strike near Kharkiv.", "2024-02-05"),
        ("globalresearch", "Market prices and sanctions", "Sanctions lifted prices across every market.", "2023-12-30"),
        ("rt", "Strikes continue", "Air strikes continue; Ukraine reports prices rising.", None),
        ("globalresearch", "Talks and sanctions", "Witnesses doubt talks on sanctions.", "2024-02-01"),
    ]
    return [
        Article(url=f"https://x.example/{i}", outlet=outlet, domain="x.example", title=title, text=text,
                published=datetime.fromisoformat(day).replace(tzinfo=timezone.utc) if day else None,
                story_id="s1" if i < 2 else None)
        for i, (outlet, title, text, day) in enumerate(texts)
    ]


def _queries() -> st.SearchStrategy[str]:
    word = st.sampled_from(WORDS)
    leaf = st.one_of(
        word,
        st.builds(lambda w: w[:4] + "*", word),
        st.builds(lambda a, b: f'"{a} {b}"', word, word),
        st.builds(lambda f, w: f"{f}:{w}", st.sampled_from(["title", "text"]), word),
        st.builds(lambda o: f"outlet:{o}", st.sampled_from(OUTLETS)),
        st.sampled_from(["published:[2024-01-01 TO 2024-01-31]", "published:<2024-01-11", "published:2024"]),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"{a} {b}", inner, inner),
            st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
            st.builds(lambda a, b: f"{a} AND NOT {b}", inner, inner),
            st.builds(lambda a: f"NOT {a}", inner),
        ),
        max_leaves=5,
    )


TOKENS = list('ab :"()*?-+~^[]{}<>=/\\\x00é') + [" AND ", " OR ", "NOT ", " TO ", "title:", "published:", "outlet:", "2024"]


@pytest.fixture(scope="module")
def both_stores(osmem_server):
    clone = osmem_server.clone()
    sqlite = open_store("sqlite:///:memory:")
    es = open_store(f"{clone.url}?compat=off")
    for store in (sqlite, es):
        store.upsert(_articles())
    yield sqlite, es
    sqlite.close()
    es.close()
    clone.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=_queries())
def test_sqlite_and_elasticsearch_find_the_same_articles(both_stores, query):
    sqlite, es = both_stores
    assert {h.article.url for h in sqlite.search(query, limit=50)} == {h.article.url for h in es.search(query, limit=50)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(st.sampled_from(TOKENS), max_size=12).map("".join), st.text(max_size=15)))
def test_random_queries_run_on_both_stores_or_raise_query_error(both_stores, text):
    for store in both_stores:
        try:
            store.search(text)
        except QueryError:
            pass


def test_a_boost_without_a_number_is_a_query_error_at_the_caret():
    # found by the fuzz above: luqum parses "0^." and then fails converting "." to a Decimal
    with pytest.raises(QueryError) as error:
        parse("aleppo 0^.")
    assert error.value.position == 8 and "boost" in str(error.value)
