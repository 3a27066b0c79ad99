"""The replay web behaves like the real web it stands for, and its truth file matches what it serves."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from email.utils import format_datetime
from datetime import datetime, timezone
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import feedparser
import lxml.html
import pytest

from crawlers.fetching import UNKNOWN_HOST_HEADER
from crawlers.replay.corpus import TRUTH_FILE_NAME, load_corpus
from crawlers.replay.server import ReplayWeb
from crawlers.replay.truth import truth_json
from crawlers.sources import load_sources

ORIGIN_OUTLETS = ("wsws", "sputnik", "globalresearch", "thecradle", "antimedia")
BAD = "https://www.badnews.example"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@pytest.fixture(scope="module")
def replay():
    web = ReplayWeb()
    web.start()
    yield web
    web.stop()


@pytest.fixture(scope="module")
def truth() -> dict:
    corpus = load_corpus()
    return json.loads((corpus.directory / TRUTH_FILE_NAME).read_text(encoding="utf-8"))


def fetch(replay: ReplayWeb, url: str, method: str = "GET", timeout: float = 5, **headers: str):
    """(status, headers, body) for a real URL, fetched through the replay mapping, redirects not followed."""
    parts = urlsplit(url)
    local = f"{replay.base_url}/{parts.scheme}/{parts.netloc}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
    request = urllib.request.Request(local, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def page_url(entry: dict, url: str) -> str:
    return entry.get("archive_url", url)


def shingles(text: str, size: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


# ----------------------------------------------------------------------------------------------- truth


def test_checked_in_truth_equals_the_regenerated_one():
    corpus = load_corpus()
    assert (corpus.directory / TRUTH_FILE_NAME).read_text(encoding="utf-8") == truth_json(corpus)


def test_corpus_is_big_enough(truth):
    articles = truth["articles"]
    assert len(articles) >= 60
    for outlet in ORIGIN_OUTLETS:
        originals = [a for a in articles.values() if a["outlet"] == outlet and a["is_origin"]]
        assert len(originals) >= 8, outlet
    assert sum(p["label"] == "not_copy" for p in truth["pairs"]) >= 15


def test_every_copy_names_an_earlier_page_of_the_same_story(truth):
    articles, pairs = truth["articles"], truth["pairs"]
    copy_pairs = {(p["a"], p["b"]) for p in pairs if p["label"] == "copy"}
    for url, entry in articles.items():
        if entry["is_origin"]:
            assert entry["copy_of"] is None and truth["origins"][entry["story"]] == url
            continue
        source = articles[entry["copy_of"]]
        assert source["story"] == entry["story"]
        assert source["published"] < entry["published"]
        assert (url, entry["copy_of"]) in copy_pairs
        assert (url, truth["origins"][entry["story"]]) in copy_pairs


def test_copies_share_their_text_and_hard_negatives_do_not():
    corpus = load_corpus()
    by_url = {a.url: a for a in corpus.articles}
    truth = json.loads(truth_json(corpus))
    for pair in truth["pairs"]:
        a, b = shingles(by_url[pair["a"]].text), shingles(by_url[pair["b"]].text)
        overlap = len(a & b) / min(len(a), len(b))
        if pair["label"] == "copy":
            assert overlap > 0.4, pair
        else:
            assert overlap < 0.25, pair
            assert by_url[pair["a"]].event == by_url[pair["b"]].event


def test_hard_negatives_mostly_quote_the_same_words(truth):
    corpus = load_corpus()
    by_url = {a.url: a for a in corpus.articles}
    negatives = [p for p in truth["pairs"] if p["label"] == "not_copy"]
    quoting = [p for p in negatives if shingles(by_url[p["a"]].text, 8) & shingles(by_url[p["b"]].text, 8)]
    assert len(quoting) >= 15


# ----------------------------------------------------------------------------------------------- pages


def test_every_truth_url_is_served(replay, truth):
    for url, entry in truth["articles"].items():
        status, headers, _ = fetch(replay, page_url(entry, url))
        assert status == 200, url
        assert headers["Content-Type"] == "text/html; charset=utf-8"


def test_article_urls_match_their_source(truth):
    sources = load_sources()
    for url, entry in truth["articles"].items():
        source = sources.get(entry["outlet"])
        parts = urlsplit(url)
        assert source.owns_host(parts.netloc), url
        assert source.is_article_url(parts.path + (f"?{parts.query}" if parts.query else "")), url


def test_pages_carry_canonical_and_outlet_metadata(replay, truth):
    for url, entry in truth["articles"].items():
        document = lxml.html.fromstring(fetch(replay, page_url(entry, url))[2])
        assert document.cssselect('link[rel="canonical"]')[0].get("href") == page_url(entry, url)
        assert document.get("lang") == "en" and document.cssselect("title")
        assert document.cssselect('meta[property="og:title"]')[0].get("content") == entry["title"]
        if entry["outlet"] == "wsws":
            data = json.loads(document.cssselect("script#__NEXT_DATA__")[0].text)["props"]["pageProps"]["initialData"]["page"]
            assert data["title"] == entry["title"] and [a["name"] for a in data["authors"]] == entry["authors"]
            assert datetime.fromtimestamp(data["published"], timezone.utc).isoformat() == entry["published"]
            assert document.cssselect('header a[href^="/en/authors/"]') and document.cssselect("header time[datetime]")
            content = document.cssselect('[itemprop="articleBody"] div.content')[0]
            assert content.cssselect("aside") or content.cssselect("figure")
        if entry["outlet"] == "sputnik":
            stamp = int(document.cssselect("a[data-unixtime]")[0].get("data-unixtime"))
            assert datetime.fromtimestamp(stamp, timezone.utc).isoformat() == entry["published"]
            assert document.cssselect(".article__title")[0].text_content() == entry["title"]
            assert document.cssselect(".article__body .article__text")
        if entry["outlet"] == "thecradle":
            ld = json.loads(document.cssselect('script[type="application/ld+json"]')[0].text)
            assert (ld["headline"], ld["datePublished"]) == (entry["title"], entry["published"])
        if entry["outlet"] in ("globalresearch", "alethonews"):
            assert document.cssselect("div.entry-content")


def test_some_pages_date_themselves_only_in_visible_text(replay, truth):
    for url, entry in truth["articles"].items():
        if entry["outlet"] in ("alethonews", "sott", "antimedia", "strategic-culture"):
            body = fetch(replay, page_url(entry, url))[2]
            assert b"article:published_time" not in body and b"datePublished" not in body


def test_antimedia_captures_carry_the_wayback_toolbar(replay, truth):
    for url, entry in truth["articles"].items():
        if entry["outlet"] == "antimedia":
            assert not entry["in_feed"]
            assert re.fullmatch(r"https://web\.archive\.org/web/\d{14}/" + re.escape(url), entry["archive_url"])
            assert b'id="wm-ipp-base"' in fetch(replay, entry["archive_url"])[2]
            status, headers, _ = fetch(replay, url)
            assert status == 502 and UNKNOWN_HOST_HEADER in headers  # the site itself is gone: no such host


def test_a_host_the_replay_web_does_not_serve_answers_as_a_dns_failure(replay):
    status, headers, _ = fetch(replay, "https://no-such-outlet.example/feed.xml")
    assert status == 502 and headers[UNKNOWN_HOST_HEADER] == "no-such-outlet.example"
    assert fetch(replay, "https://www.wsws.org/en/no-such-page.html")[0] == 404


# ----------------------------------------------------------------------------------------------- feeds, sitemaps


def test_every_feed_lists_all_its_in_feed_articles(replay, truth):
    for source in load_sources():
        for feed_url in source.feeds:
            status, _, body = fetch(replay, feed_url)
            assert status == 200, feed_url
            parsed = feedparser.parse(body)
            assert not parsed.bozo, feed_url
            links = {entry.link for entry in parsed.entries}
            expected = {u for u, e in truth["articles"].items() if e["outlet"] == source.key and e["in_feed"]}
            assert expected and expected <= links, feed_url
            assert all(entry.get("published") and entry.get("title") and entry.get("id") for entry in parsed.entries)


def test_one_feed_is_atom_and_zerohedge_carries_full_content(replay):
    assert feedparser.parse(fetch(replay, "https://www.sott.net/xml_engine/signs_rss")[2]).version == "atom10"
    zerohedge = feedparser.parse(fetch(replay, "https://feeds.feedburner.com/zerohedge/feed")[2])
    assert zerohedge.version == "rss20"
    for entry in zerohedge.entries:
        assert urlsplit(entry.link).netloc == "www.zerohedge.com"
        assert len(entry.content[0].value) > 1000


def test_sitemaps_list_their_outlets_articles(replay, truth):
    def locs(url: str) -> list[str]:
        status, _, body = fetch(replay, url)
        assert status == 200, url
        return re.findall(r"<loc>([^<]+)</loc>", body.decode())

    def outlet_urls(outlet: str) -> set[str]:
        return {u for u, e in truth["articles"].items() if e["outlet"] == outlet}

    assert set(locs("https://www.globalresearch.ca/sitemap.xml")) == outlet_urls("globalresearch")
    monthly = [m.replace("&amp;", "&") for m in locs("https://sputnikglobe.com/sitemap_article_index.xml")]
    assert {u for m in monthly for u in locs(m)} == outlet_urls("sputnik")


def test_cdx_api_lists_the_antimedia_captures(replay, truth):
    status, _, body = fetch(replay, "https://web.archive.org/cdx/search/cdx?url=theantimedia.org/*&output=json")
    header, *rows = json.loads(body)
    assert status == 200 and header[:3] == ["urlkey", "timestamp", "original"]
    originals = {row[2] for row in rows}
    assert originals == {u for u, e in truth["articles"].items() if e["outlet"] == "antimedia"}
    for _, stamp, original, *_ in rows:
        assert fetch(replay, f"https://web.archive.org/web/{stamp}/{original}")[0] == 200


# ----------------------------------------------------------------------------------------------- HTTP behaviour


def test_conditional_get_answers_not_modified(replay):
    url = "https://www.wsws.org/en/rss.xml"
    status, headers, body = fetch(replay, url)
    assert status == 200 and headers["ETag"] and headers["Last-Modified"]
    assert fetch(replay, url, **{"If-None-Match": headers["ETag"]})[:3:2] == (304, b"")
    assert fetch(replay, url, **{"If-Modified-Since": headers["Last-Modified"]})[0] == 304
    old = format_datetime(datetime(2020, 1, 1, tzinfo=timezone.utc), usegmt=True)
    assert fetch(replay, url, **{"If-Modified-Since": old})[0] == 200
    assert fetch(replay, url, **{"If-None-Match": '"stale"'})[2] == body


def test_head_answers_headers_without_a_body(replay):
    status, headers, body = fetch(replay, "https://thecradle.co/feed", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) > 1000 and body == b""


@pytest.mark.parametrize(
    ("url", "status", "location"),
    [
        ("https://journal-neo.org/2019/02/26/syria-is-us-fighting-isis-or-liquidating-assets/", 301,
         "https://journal-neo.su/2019/02/26/syria-is-us-fighting-isis-or-liquidating-assets/"),
        ("https://sputniknews.com/20240129/us-vows-response-to-deadly-attack-on-mideast-base-seeks-to-avoid-wider-conflict-1116468321.html",
         301, "https://sputnikglobe.com/20240129/us-vows-response-to-deadly-attack-on-mideast-base-seeks-to-avoid-wider-conflict-1116468321.html"),
        ("http://www.strategic-culture.org/news/2024/01/22/the-us-steals-syrian-oil-and-the-kurds-sell-it-to-israel-at-a-discount-in-erbil.html",
         301, "https://strategic-culture.su/news/2024/01/22/the-us-steals-syrian-oil-and-the-kurds-sell-it-to-israel-at-a-discount-in-erbil.html"),
        ("http://wsws.org/en/articles/2016/08/09/alep-a09.html", 301, "https://www.wsws.org/en/articles/2016/08/09/alep-a09.html"),
        ("https://alethonews.com/2024/02/03/isis-exploits-us-strikes-to-attack-iraqi-forces-in-anbar", 301,
         "https://alethonews.com/2024/02/03/isis-exploits-us-strikes-to-attack-iraqi-forces-in-anbar/"),
        ("https://web.archive.org/web/2016/https://theantimedia.org/us-trained-iraqi-militias-now-fighting-cia-backed-rebels-in-syria/",
         302, "https://web.archive.org/web/20160213044512/https://theantimedia.org/us-trained-iraqi-militias-now-fighting-cia-backed-rebels-in-syria/"),
    ],
)
def test_redirects_carry_real_urls(replay, url, status, location):
    answer, headers, _ = fetch(replay, url)
    assert (answer, headers["Location"]) == (status, location)


def test_unknown_urls_are_not_found_and_every_request_is_counted(replay):
    url = "https://www.wsws.org/en/articles/2099/01/01/none-j01.html"
    before = replay.hits[url]
    assert fetch(replay, url)[0] == 404
    assert replay.hits[url] == before + 1


def test_each_host_serves_its_own_robots(replay):
    def robots(host: str) -> RobotFileParser:
        parser = RobotFileParser()
        parser.parse(fetch(replay, f"https://{host}/robots.txt")[2].decode().splitlines())
        return parser

    assert robots("www.globalresearch.ca").can_fetch("storytrail", "https://www.globalresearch.ca/some-article/5600000")
    assert not robots("www.globalresearch.ca").can_fetch("storytrail", "https://www.globalresearch.ca/wp-admin/x")
    assert robots("web.archive.org").can_fetch("storytrail", "https://web.archive.org/web/2016/https://theantimedia.org/")
    bad = robots("www.badnews.example")
    assert bad.can_fetch("storytrail", f"{BAD}/articles/good-1.html")
    assert not bad.can_fetch("storytrail", f"{BAD}/private/secret.html")


# ----------------------------------------------------------------------------------------------- the bad-input host


def test_bad_host_feed_links_to_every_trap(replay):
    parsed = feedparser.parse(fetch(replay, f"{BAD}/feed.xml")[2])
    links = {entry.link for entry in parsed.entries}
    assert not parsed.bozo
    assert {"https://evil.example.net/article.html", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x"} <= links
    assert len(feedparser.parse(fetch(replay, f"{BAD}/feed-atom.xml")[2]).entries) == 1
    broken = feedparser.parse(fetch(replay, f"{BAD}/broken-feed.xml")[2])
    assert broken.bozo and 1 <= len(broken.entries)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/articles/good-1.html", 200), ("/articles/missing.html", 404), ("/articles/error.html", 500),
     ("/articles/loop-a.html", 301), ("/private/secret.html", 200)],
)
def test_bad_host_pages_answer_as_described(replay, path, status):
    assert fetch(replay, BAD + path)[0] == status


def test_bad_host_traps(replay):
    status, headers, _ = fetch(replay, f"{BAD}/articles/loop-b.html")
    assert (status, headers["Location"]) == (301, f"{BAD}/articles/loop-a.html")
    status, headers, _ = fetch(replay, f"{BAD}/feed-429.xml")
    assert (status, headers["Retry-After"]) == (429, "120")
    status, headers, _ = fetch(replay, f"{BAD}/articles/huge.html", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) > 10_000_000
    status, headers, body = fetch(replay, f"{BAD}/articles/latin1.html")
    assert "charset=utf-8" in headers["Content-Type"] and "\u201c".encode("cp1252") in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    for private in ("http://127.0.0.1:9/admin", "http://10.0.0.7/internal"):
        assert fetch(replay, private)[0] == 502  # not a host of the replay web: never served


def test_slow_page_times_out_and_stop_releases_it():
    with ReplayWeb() as base_url:
        started = time.monotonic()
        with pytest.raises((socket.timeout, urllib.error.URLError)):
            urllib.request.urlopen(f"{base_url}/https/www.badnews.example/articles/slow.html", timeout=0.3)
    assert time.monotonic() - started < 5
