"""Evaluation through a real SMTP server (aiosmtpd): one entry per story, one message per search per run,
"now also on", watched stories, digests, and a new search that starts from now."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from pipelines.alerts import open_db
from pipelines.alerts.ledger import Seen
from pipelines.alerts.saved_searches import SavedSearch
from pipelines.models import Article

UTC = timezone.utc


def entries_in(text: str) -> list[str]:
    """The numbered entries of a plain-text message."""
    return re.findall(r"^\d+\. .*$", text, flags=re.M)


def test_one_message_per_search_and_one_entry_per_story_then_nothing_twice(alert_world):
    world = alert_world
    world.smtp.start()
    five = world.story("aleppo", ["sputnik", "sott", "aletho", "neo", "zerohedge"], "Air strike on Aleppo market")
    world.story("kharkiv", ["cradle", "sott"], "Aleppo siege talks")
    world.story("gaza", ["wsws"], "Ceasefire talks in Gaza")
    world.add_search("aleppo", "Aleppo")
    world.add_search("talks", "talks", to="a@example.org,b@example.org")

    summary = world.run()

    assert summary.sent == 2 and summary.entries == 4
    by_rcpt = {tuple(m.rcpt_tos): m for m in world.smtp.received}
    aleppo = by_rcpt[("r@example.org",)]
    assert len(entries_in(aleppo.text)) == 2  # two stories, one of them with five copies
    assert "Copies known so far (5)" in aleppo.text
    for article in five:
        assert aleppo.text.count(article.url) == (2 if article.is_origin else 1)  # the origin line and its copy row
    talks = by_rcpt[("a@example.org", "b@example.org")]
    assert len(entries_in(talks.text)) == 2
    assert talks.message["To"] == "a@example.org, b@example.org"

    again = world.run()
    assert again.sent == 0 and again.entries == 0 and len(world.smtp.received) == 2


def test_a_new_copy_on_a_new_outlet_gives_one_now_also_on_entry(alert_world):
    world = alert_world
    world.smtp.start()
    world.story("aleppo", ["sputnik", "sott"], "Air strike on Aleppo market")
    world.add_search("aleppo", "Aleppo")
    world.run()
    assert len(world.smtp.received) == 1

    # A copy on a new outlet, with a headline that does not match the query, joins the story.
    origin = world.store.get("https://sputnik.example/aleppo")
    copy = replace(origin, url="https://wsws.example/market-bombed", outlet="wsws", domain="wsws.example",
                   title="Market bombed", is_origin=False, parent=origin.url)
    world.store.upsert([copy])
    world.run()
    assert len(world.smtp.received) == 2
    text = world.smtp.received[1].text
    assert entries_in(text) == ["1. NOW ALSO ON wsws: Air strike on Aleppo market"]
    assert "+ wsws, 2024-01-01, origin: https://wsws.example/market-bombed" in text or "+ wsws" in text
    assert "Copies known so far (3)" in text

    # Another copy on an outlet already covered: into the ledger, no entry, no message.
    world.store.upsert([replace(copy, url="https://wsws.example/market-bombed-2")])
    assert world.run().entries == 0
    assert len(world.smtp.received) == 2


def test_a_new_search_starts_from_now_unless_told_otherwise(alert_world):
    world = alert_world
    world.smtp.start()
    world.story("aleppo", ["sputnik"], "Air strike on Aleppo market")
    world.add_search("from-now", "Aleppo", start=None)
    world.add_search("from-2000", "Aleppo", to="old@example.org", start="2000-01-01")
    world.run()
    assert [m.rcpt_tos for m in world.smtp.received] == [["old@example.org"]]

    world.story("homs", ["cradle"], "Aleppo and Homs")
    world.run()
    assert sorted(m.rcpt_tos[0] for m in world.smtp.received[1:]) == ["old@example.org", "r@example.org"]
    fresh = next(m for m in world.smtp.received[1:] if m.rcpt_tos == ["r@example.org"])
    assert "Aleppo and Homs" in fresh.text and "Air strike" not in fresh.text


def test_an_article_indexed_behind_the_watermark_is_caught_by_the_overlap(alert_world):
    """A slower writer's article, written a few minutes before the last evaluation's watermark."""
    world = alert_world
    world.smtp.start()
    world.add_search("aleppo", "Aleppo")
    world.run()
    world.story("aleppo", ["sputnik"], "Air strike on Aleppo market")
    db = open_db(world.settings())  # the last evaluation claims to have seen up to 3 minutes from now
    db.db.execute("UPDATE searches SET watermark = ?", ((datetime.now(UTC) + timedelta(minutes=3)).isoformat(),))
    db.close()
    world.run()
    assert len(world.smtp.received) == 1
    assert world.run(overlap_min=0).entries == 0  # and nothing twice


def test_a_watched_story_gets_an_entry_per_new_copy(alert_world):
    world = alert_world
    world.smtp.start()
    members = world.story("aleppo", ["sputnik", "sott"], "Air strike on Aleppo market")
    db = open_db(world.settings())
    db.add(SavedSearch(name="watch-aleppo", recipients=["w@example.org"], watch_url=members[0].url),
           [Seen(m.url, m.outlet, "s-aleppo") for m in members])
    db.close()
    assert world.run().sent == 0  # the copies known when the watch began are not news

    base = members[1]
    world.store.upsert([replace(base, url=f"https://sott.example/aleppo-{n}") for n in (2, 3)])
    world.run()
    assert len(world.smtp.received) == 1
    text = world.smtp.received[0].text
    assert len(entries_in(text)) == 2  # two new copies, both on sott: one entry each for a watch
    assert all(e.startswith(f"{n}. NEW COPY ON sott") for n, e in enumerate(entries_in(text), 1))


def test_a_daily_digest_holds_exactly_the_stories_of_its_window(alert_world):
    world = alert_world
    world.smtp.start()
    world.add_search("daily", "Aleppo", every="daily")
    day = datetime(2025, 3, 10, tzinfo=UTC)  # digest_hour_utc = 6: windows run 06:00 to 06:00
    world.story("a", ["sputnik"], "Aleppo one")
    world.run(now=day.replace(hour=10))
    world.story("b", ["sott"], "Aleppo two")
    world.run(now=day.replace(hour=20))
    assert world.smtp.received == []  # the window is still open
    world.story("c", ["cradle"], "Aleppo three")
    world.run(now=day + timedelta(days=1, hours=7))  # after 06:00: the window of the 10th closed; c found at 07:00
    assert len(world.smtp.received) == 1
    first = world.smtp.received[0]
    assert [e.split(". ", 1)[1] for e in entries_in(first.text)] == ["Aleppo one", "Aleppo two"]
    assert "daily digest, 2025-03-11" in first.message["Subject"]
    assert "from 2025-03-10 06:00 to 2025-03-11 06:00 UTC" in first.text
    world.run(now=day + timedelta(days=1, hours=12))
    assert len(world.smtp.received) == 1
    world.run(now=day + timedelta(days=2, hours=6, minutes=5))
    assert [e.split(". ", 1)[1] for e in entries_in(world.smtp.received[1].text)] == ["Aleppo three"]


def test_snippet_highlights_the_matched_words(alert_world):
    world = alert_world
    world.smtp.start()
    world.story("x", ["sputnik"], "Market report", text="Witnesses said an air strike hit the crowded market in Aleppo on Monday.")
    world.add_search("strike", '"air strike"')
    world.run()
    received = world.smtp.received[0]
    assert "an *air strike* hit" in received.text
    assert "an <mark>air strike</mark> hit" in received.html


def test_an_unlinked_article_is_a_story_of_its_own(alert_world):
    world = alert_world
    world.smtp.start()
    world.store.upsert([Article(url="https://x.example/a", outlet="x.example", domain="x.example", title="Aleppo alone",
                                text="Aleppo.", published=None)])
    world.add_search("aleppo", "Aleppo")
    world.run()
    text = world.smtp.received[0].text
    assert entries_in(text) == ["1. Aleppo alone"] and "Origin: x.example, undated" in text


def test_the_same_alerts_with_the_elasticsearch_store(es_store, tmp_path, smtp_server):
    """Articles in Elasticsearch (osmem-server; a live cluster with STORYTRAIL_ES_URL), alerts.db in the data dir."""
    from conftest import AlertWorld

    world = AlertWorld(tmp_path, smtp_server, es_store)
    smtp_server.start()
    world.story("aleppo", ["sputnik", "sott", "neo"], "Air strike on Aleppo market")
    world.story("gaza", ["wsws"], "Gaza talks")
    world.add_search("aleppo", "Aleppo")
    world.run()
    assert len(smtp_server.received) == 1
    text = smtp_server.received[0].text
    assert entries_in(text) == ["1. Air strike on Aleppo market"] and "Copies known so far (3)" in text
    origin = es_store.get("https://sputnik.example/aleppo")
    es_store.upsert([replace(origin, url="https://rt.example/aleppo", outlet="rt", domain="rt.example",
                             is_origin=False, title="Market hit")])
    world.run()
    assert entries_in(smtp_server.received[1].text) == ["1. NOW ALSO ON rt: Air strike on Aleppo market"]
    assert world.run().sent == 0 and len(smtp_server.received) == 2
