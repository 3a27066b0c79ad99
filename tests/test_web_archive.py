"""The web archive's capture index and capture addresses (crawlers/web_archive.py), and the replay web's
Wayback Machine answering them with the real CDX API's parameters."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from crawlers.fetching import replay_address
from crawlers.sources import ConfigError, WebArchive, load_sources
from crawlers.web_archive import CdxError, Capture, cdx_query, parse_cdx, wayback_stamp

ARCHIVE = WebArchive()
SYRIA = "https://theantimedia.org/us-trained-iraqi-militias-now-fighting-cia-backed-rebels-in-syria/"  # captured twice


def get(replay, url: str) -> tuple[int, bytes]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(replay_address(replay.base_url, url), timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "").encode()


def cdx(replay, **params: str) -> list[list[str]]:
    status, body = get(replay, f"{ARCHIVE.cdx_url}?{urlencode(params)}")
    assert status == 200
    return json.loads(body)[1:] if body.strip() else []


def test_the_cdx_query_carries_the_real_parameters():
    since, until = datetime(2016, 2, 1, tzinfo=timezone.utc), datetime(2016, 7, 20, 23, 59, 59, tzinfo=timezone.utc)
    url = cdx_query(ARCHIVE, "theantimedia.org", since, until)
    assert url.startswith("https://web.archive.org/cdx/search/cdx?")
    params = parse_qs(urlsplit(url).query)
    assert params["url"] == ["theantimedia.org/"] and params["matchType"] == ["prefix"]
    assert (params["from"], params["to"]) == (["20160201000000"], ["20160720235959"])
    assert params["filter"] == ["statuscode:200", "mimetype:text/html"]
    assert params["collapse"] == ["urlkey"] and params["output"] == ["json"]
    assert {"timestamp", "original"} <= set(params["fl"][0].split(","))
    assert params["limit"] == ["5000"] and params["showResumeKey"] == ["true"] and "resumeKey" not in params
    resumed = cdx_query(ARCHIVE, "theantimedia.org", since, until, resume_key="org%2Ctheantimedia%29%2Fx+20160213044512%21")
    assert resumed.endswith("&resumeKey=org%2Ctheantimedia%29%2Fx+20160213044512%21")  # passed back as the server sent it


def test_a_cdx_answer_becomes_captures_with_both_addresses():
    body = json.dumps([["urlkey", "timestamp", "original"], ["org,theantimedia)/x", "20160213044512", SYRIA]]).encode()
    page = parse_cdx(body, ARCHIVE)
    (capture,) = page.captures
    assert page.resume_key is None
    assert capture.captured_at == datetime(2016, 2, 13, 4, 45, 12, tzinfo=timezone.utc)
    assert capture.raw_url == f"https://web.archive.org/web/20160213044512id_/{SYRIA}"
    assert capture.replay_url == f"https://web.archive.org/web/20160213044512/{SYRIA}"
    assert capture.url == SYRIA.rstrip("/")
    assert parse_cdx(b"", ARCHIVE).captures == [] == parse_cdx(b"[]", ARCHIVE).captures
    more = json.dumps([["timestamp", "original"], ["20160213044512", SYRIA], [], ["org%2Ctheantimedia%29%2Fx+20160213044512%21"]])
    page = parse_cdx(more.encode(), ARCHIVE)
    assert len(page.captures) == 1 and page.resume_key == "org%2Ctheantimedia%29%2Fx+20160213044512%21"
    assert wayback_stamp(capture.captured_at) == "20160213044512"


@pytest.mark.parametrize("body", [b"<html>Service unavailable</html>", b'{"error": 1}', b'[["urlkey", "original"], ["k", "u"]]'])
def test_an_unreadable_cdx_answer_is_one_clear_error(body):
    with pytest.raises(CdxError):
        parse_cdx(body, ARCHIVE)


def test_the_archive_has_its_own_politeness_entry():
    archive = load_sources().web_archive
    assert archive.hosts == {"web.archive.org"} and archive.politeness.delay_s >= 1


# ----------------------------------------------------------------------------------------------- the replay's archive


def test_replay_cdx_collapses_filters_and_bounds_by_time(replay):
    base = {"url": "theantimedia.org/", "matchType": "prefix", "output": "json", "fl": "timestamp,original,statuscode"}
    every = cdx(replay, **base)
    assert [r[0] for r in every if r[1] == SYRIA] == ["20160213044512", "20160320101502"]
    collapsed = cdx(replay, **base, collapse="urlkey")
    assert len(collapsed) == len({r[1] for r in every}) == 8
    assert [r[0] for r in collapsed if r[1] == SYRIA] == ["20160213044512"]  # the first capture of each page
    march = cdx(replay, **base, collapse="urlkey", **{"from": "201603", "to": "201603"})
    assert march == [["20160320101502", SYRIA, "200"]]
    assert cdx(replay, **base, filter="statuscode:200") == every
    assert cdx(replay, **base, filter="!statuscode:200") == [] == cdx(replay, **base, filter="statuscode:404")


def test_replay_cdx_answers_in_pages_joined_by_resumption_keys(replay):
    archive = WebArchive(cdx_page_rows=3)
    since, until = datetime(2016, 1, 1, tzinfo=timezone.utc), datetime(2016, 12, 31, tzinfo=timezone.utc)
    seen, key, answers = [], None, 0
    while True:
        status, body = get(replay, cdx_query(archive, "theantimedia.org", since, until, key))
        page = parse_cdx(body, archive)
        seen += [c.original for c in page.captures]
        answers, key = answers + 1, page.resume_key
        if key is None:
            break
    assert answers == 3 and len(seen) == len(set(seen)) == 8


def test_the_original_content_capture_has_no_archive_banner(replay):
    status, banner = get(replay, f"https://web.archive.org/web/20160213044512/{SYRIA}")
    assert status == 200 and b'id="wm-ipp-base"' in banner and b"web.archive.org/web/20160213044512/https://theantimedia.org" in banner
    status, original = get(replay, f"https://web.archive.org/web/20160213044512id_/{SYRIA}")
    assert status == 200 and b"wm-ipp" not in original and b"web-static.archive.org" not in original
    assert b"web.archive.org" not in original  # links as the outlet wrote them, not rewritten into the archive
    # any time stamp is redirected to the nearest capture, in the same (original-content) flavour
    assert get(replay, f"https://web.archive.org/web/2016id_/{SYRIA}") == (302, f"https://web.archive.org/web/20160213044512id_/{SYRIA}".encode())
    assert Capture("20160213044512", SYRIA, ARCHIVE).raw_url == f"https://web.archive.org/web/20160213044512id_/{SYRIA}"


def test_a_wrong_web_archive_entry_is_one_line_naming_it(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - {key: am, name: Am, role: origin, domains: [am.org], archive_only: true}\n"
                    "web_archive: {cdx_page_rows: 0}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sources.yaml: web_archive, field 'cdx_page_rows'"):
        load_sources(path)
