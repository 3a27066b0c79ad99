"""What a saved search accepts: names, queries in the store's syntax, plain addresses, schedules, the YAML file."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pipelines.alerts import open_db, sync_config_searches
from pipelines.alerts.saved_searches import AlertInputError, check_addresses, load_config_searches, new_search
from pipelines.query import QueryError
from pipelines.settings import load_settings


def test_a_new_search_starts_now_or_at_from():
    before = datetime.now(timezone.utc)
    search = new_search("syria", "Syria AND outlet:sputnik", "r@example.org, s@example.org")
    assert search.start >= before and search.watermark == search.start
    assert search.recipients == ["r@example.org", "s@example.org"]
    assert new_search("s", "Syria", "r@example.org", start="2000-01-01").start == datetime(2000, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("query, position", [('Syria AND "Aleppo', 10), ("Syria AND (", 11), ("title:x~2", 6), ("nope:x", 0)])
def test_a_bad_query_is_refused_with_its_position(query, position):
    with pytest.raises(QueryError) as caught:
        new_search("s", query, "r@example.org")
    assert caught.value.position == position


@pytest.mark.parametrize("value", ["nobody", "a b@example.org", "r@example.org\r\nBcc: x@evil.example", "<r@example.org>",
                                   "r@localhost", "Name <r@example.org>", "r@exa\u00efmple.org", ""])
def test_only_plain_addresses_are_accepted(value):
    with pytest.raises(AlertInputError):
        check_addresses(value)


@pytest.mark.parametrize("name", ["Syria", "-x", "a b", "x" * 65, "a/b"])
def test_names_are_short_and_plain(name):
    with pytest.raises(AlertInputError, match="search name"):
        new_search(name, "Syria", "r@example.org")


def test_config_searches_join_change_and_leave(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text("searches:\n"
                    "  - name: tanf\n    query: '\"Al-Tanf\" AND ISIS'\n    to: [a@example.org, b@example.org]\n    every: daily\n"
                    "  - name: aleppo\n    query: outlet:sputnik AND Aleppo\n    to: c@example.org\n    from: 2024-01-01\n")
    declared = load_config_searches(path)
    assert [(s.name, s.every, s.recipients, s.origin) for s in declared] == [
        ("tanf", "daily", ["a@example.org", "b@example.org"], "config"), ("aleppo", "immediate", ["c@example.org"], "config")]
    assert declared[1].start == datetime(2024, 1, 1, tzinfo=timezone.utc)

    db = open_db(load_settings(None, {"data_dir": tmp_path}))
    sync_config_searches(db, path)
    watermark = db.get("aleppo").watermark
    path.write_text("searches:\n  - name: aleppo\n    query: Aleppo\n    to: c@example.org\n")
    sync_config_searches(db, path)
    assert [s.name for s in db.searches()] == ["aleppo"]
    assert db.get("aleppo").query == "Aleppo" and db.get("aleppo").watermark == watermark
    db.close()


@pytest.mark.parametrize("text, message", [
    ("searches: {}", "'searches' must be a list"),
    ("searches:\n  - name: a\n    query: x\n", "needs name, query and to"),
    ("searches:\n  - {name: a, query: x, to: r@example.org, often: yes}\n", "unknown key(s) often"),
    ("searches:\n  - {name: a, query: x, to: r@example.org}\n  - {name: a, query: y, to: r@example.org}\n", "declared twice"),
    ("searches: [", "cannot read saved searches"),
])
def test_a_bad_searches_file_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(AlertInputError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        load_config_searches(path)
    assert str(path) in str(caught.value)


def test_the_example_searches_file_loads_and_declares_nothing():
    settings = load_settings()
    assert settings.alerts.searches_file.exists()
    assert load_config_searches(settings.alerts.searches_file) == []
