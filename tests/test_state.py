"""The crawl state: what makes a killed run safe to repeat."""

from datetime import datetime, timezone

from crawlers.state import ArchivedPage, CrawlState, FeedState, QueuedPage


def page(url: str) -> QueuedPage:
    return QueuedPage(url=url, fetch_url=url + "?utm_source=feed", source="wsws", hint={"title": "T"})


def test_feed_state_and_its_items_are_saved_together(tmp_path):
    state = CrawlState(tmp_path / "state.db")
    feed = FeedState(url="https://www.wsws.org/en/rss.xml", source="wsws", etag='"1"', body_hash="h")
    new = state.save_feed(feed, [page("https://wsws.org/a"), page("https://wsws.org/b")])
    assert [p.url for p in new] == ["https://wsws.org/a", "https://wsws.org/b"]
    again = state.save_feed(feed, [page("https://wsws.org/a"), page("https://wsws.org/c")])
    assert [p.url for p in again] == ["https://wsws.org/c"]
    reopened = CrawlState(tmp_path / "state.db")
    assert reopened.get_feed(feed.url, "wsws").etag == '"1"'
    assert [p.url for p in reopened.pages_to_fetch(3)] == ["https://wsws.org/a", "https://wsws.org/b", "https://wsws.org/c"]


def test_pages_move_from_queued_to_fetched_to_indexed(tmp_path):
    state = CrawlState(tmp_path / "state.db")
    state.queue([page("https://wsws.org/a")])
    archived = ArchivedPage(url="https://wsws.org/a", fetch_url="https://www.wsws.org/a", final_url="https://www.wsws.org/a",
                            source="wsws", html="<p>caf\u00e9</p>".encode(), encoding="utf-8",
                            fetched_at=datetime.now(timezone.utc), hint={})
    state.record_fetched(archived)
    assert state.pages_to_fetch(3) == []
    assert [p.html for p in state.pages_to_index()] == [archived.html]
    state.mark_indexed([archived.url])
    assert list(state.pages_to_index()) == []
    assert state.get_archived(archived.url).html == archived.html  # kept for re-extraction
    assert state.count_by_status() == {"indexed": 1}


def test_failed_pages_are_retried_only_when_the_failure_may_pass(tmp_path):
    state = CrawlState(tmp_path / "state.db")
    state.queue([page("https://wsws.org/gone"), page("https://wsws.org/flaky")])
    state.record_failed("https://wsws.org/gone", "HTTP 404", retryable=False)
    state.record_failed("https://wsws.org/flaky", "HTTP 503", retryable=True)
    assert [p.url for p in state.pages_to_fetch(3)] == ["https://wsws.org/flaky"]
    state.record_failed("https://wsws.org/flaky", "HTTP 503", retryable=True)
    state.record_failed("https://wsws.org/flaky", "HTTP 503", retryable=True)
    assert state.pages_to_fetch(3) == []


def test_pages_archived_with_zlib_by_earlier_versions_are_still_read(tmp_path):
    import zlib

    state = CrawlState(tmp_path / "state.db")
    html = "<html><body><p>Le caf\u00e9 des Arts, encore et encore.</p></body></html>".encode()
    fetched = ArchivedPage(url="https://wsws.org/new", fetch_url="https://wsws.org/new", final_url="https://wsws.org/new",
                           source="wsws", html=html, encoding="utf-8", fetched_at=datetime.now(timezone.utc), hint={})
    state.record_fetched(fetched)
    state.record_fetched(ArchivedPage(**{**fetched.__dict__, "url": "https://wsws.org/old"}))
    with state.db:  # the row as a version archiving with zlib wrote it
        state.db.execute("UPDATE pages SET html = ? WHERE url = ?", (zlib.compress(html, 1), "https://wsws.org/old"))
    blobs = dict(state.db.execute("SELECT url, html FROM pages").fetchall())
    assert blobs["https://wsws.org/new"][:4] == b"\x28\xb5\x2f\xfd"  # new pages: zstd frames
    assert blobs["https://wsws.org/old"][:1] == b"\x78"
    assert state.get_archived("https://wsws.org/old").html == html
    assert state.get_archived("https://wsws.org/new").html == html
