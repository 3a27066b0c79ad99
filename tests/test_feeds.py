"""The feed poller's decisions: conditional GET, backoff, Retry-After, parsing and screening items."""

from datetime import datetime, timedelta, timezone

import pytest

from crawlers import feeds
from crawlers.sources import load_sources
from crawlers.state import FeedState
from pipelines.settings import FeedSettings

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>WSWS</title>
<item><title>One</title><link>https://www.wsws.org/en/articles/2024/01/29/one-j29.html</link>
<pubDate>Mon, 29 Jan 2024 10:00:00 GMT</pubDate></item>
<item><title>Elsewhere</title><link>https://evil.example.net/a.html</link></item>
<item><title>Metadata</title><link>http://169.254.169.254/latest/meta-data/</link></item>
</channel></rss>"""


@pytest.fixture
def wsws():
    return load_sources().get("wsws")


def test_conditional_headers_come_from_the_last_answer(wsws):
    feed = FeedState(url="https://www.wsws.org/en/rss.xml", source="wsws")
    assert feeds.conditional_headers(feed) == {}
    polled = feeds.after_success(feed, wsws, NOW, etag='"abc"', last_modified="Mon, 29 Jan 2024 10:00:00 GMT", digest="d")
    assert feeds.conditional_headers(polled) == {"If-None-Match": '"abc"', "If-Modified-Since": "Mon, 29 Jan 2024 10:00:00 GMT"}
    assert polled.next_poll_at == NOW + timedelta(minutes=wsws.poll_interval_min)
    assert not feeds.is_due(polled, NOW) and feeds.is_due(polled, polled.next_poll_at)


def test_backoff_doubles_and_is_capped():
    settings = FeedSettings(backoff_base_min=15, max_backoff_min=60)
    feed = FeedState(url="u", source="s")
    waits = []
    for _ in range(5):
        feed = feeds.after_failure(feed, "HTTP 500", NOW, settings)
        waits.append(feed.next_poll_at - NOW)
    assert waits == [timedelta(minutes=m) for m in (15, 30, 60, 60, 60)]
    assert feed.failures == 5 and feed.last_error == "HTTP 500"


def test_retry_after_is_honoured_in_seconds_and_as_a_date():
    settings = FeedSettings(backoff_base_min=1)
    feed = FeedState(url="u", source="s")
    assert feeds.after_failure(feed, "HTTP 429", NOW, settings, "7200").next_poll_at == NOW + timedelta(hours=2)
    dated = feeds.after_failure(feed, "HTTP 503", NOW, settings, "Sat, 21 Nov 2026 15:00:00 GMT")
    assert dated.next_poll_at == NOW + timedelta(hours=3)
    assert feeds.after_failure(feed, "x", NOW, settings, "soon").next_poll_at == NOW + timedelta(minutes=1)


def test_parse_and_screen_keep_only_the_outlets_own_safe_links(wsws):
    items, problem = feeds.parse_feed(RSS, "https://www.wsws.org/en/rss.xml", max_items=50)
    assert problem is None and len(items) == 3
    assert items[0].published == datetime(2024, 1, 29, 10, 0, tzinfo=timezone.utc)
    kept, rejected = feeds.screen_items(items, wsws, resolve_hosts=False)
    assert [i.title for i in kept] == ["One"]
    reasons = {r.link: r.reason for r in rejected}
    assert "another domain" in reasons["https://evil.example.net/a.html"]
    assert "unsafe address" in reasons["http://169.254.169.254/latest/meta-data/"]


def test_a_broken_feed_yields_what_can_be_read_and_says_what_was_wrong():
    broken = RSS.replace(b"</channel></rss>", b"<item><title>Cut &bogus; <link>")
    items, problem = feeds.parse_feed(broken, "f", max_items=50)
    assert items and problem
    with pytest.raises(feeds.FeedError, match="malformed feed"):
        feeds.parse_feed(b"<html><body>not a feed", "f", max_items=50)


def test_atom_feeds_are_read():
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title>A</title><link href="https://www.sott.net/article/1-A"/><id>x</id><updated>2024-01-02T03:04:05Z</updated></entry></feed>"""
    items, _ = feeds.parse_feed(atom, "f", max_items=50)
    assert items[0].link == "https://www.sott.net/article/1-A"
    assert items[0].published == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
