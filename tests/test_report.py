"""`storytrail report`: one self-contained HTML page. Its charts are present as SVG and are drawn when Chromium
renders the page offline; untrusted titles are escaped; it loads nothing remote; and it stays readable (and
bounded) for 5,000 stories."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from cli_runner import storytrail
from test_spread import truth_sqlite  # noqa: F401  (the replay truth in a SQLite store)

from pipelines.models import Article, ChainInfo
from pipelines.report import render_report
from pipelines.spread import select_stories
from pipelines.stores.sqlite import SqliteStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")


class Resources(HTMLParser):
    """Every URL the page would load by itself (not the links a reader may click)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if value and (name in ("src", "srcset", "data", "poster", "background", "xlink:href")
                          or (name == "href" and tag != "a")):
                self.loaded.append(value)


def loaded_resources(html: str) -> Resources:
    parser = Resources()
    parser.feed(html)
    return parser


def test_report_has_each_chart_and_section(truth_sqlite):
    selection = select_stories(truth_sqlite, "title:syria")
    html = render_report(selection)
    assert html.count('id="timeline-chart"') == 1 and html.count('id="network-chart"') == 1
    timeline = re.search(r'<svg[^>]*id="timeline-chart".*?</svg>', html, re.S).group(0)
    assert timeline.count('class="origin-bar"') >= 5 and timeline.count('class="copy-bar"') >= 3
    network = re.search(r'<svg[^>]*id="network-chart".*?</svg>', html, re.S).group(0)
    assert network.count("<circle") == 9 and network.count('class="edge"') == 6  # test_outlet_network.SYRIA_EDGES
    assert html.count('class="chart tree"') == 8  # the eight Syria stories that were copied
    assert "neo-cartalucci" not in html and "Syria: Is US Fighting ISIS or Liquidating Assets?" in html
    assert html.count("<tr class=\"origin") == 10 and html.count("<tr class=\"copy") == 9


def test_untrusted_titles_and_links_are_escaped(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    evil = '<script>alert("x")</script><img src=https://evil.example/x.png>'
    day = datetime(2024, 1, 1, tzinfo=timezone.utc)
    store.upsert([
        Article(url="https://example.org/a", outlet="example.org", domain="example.org", title=evil, text="t",
                published=day, story_id="s1", is_origin=True, chain=ChainInfo()),
        Article(url="javascript:alert(1)", outlet='"><svg onload=alert(1)>', domain="x", title=evil, text="t",
                published=day + timedelta(hours=3), story_id="s1", parent="https://example.org/a",
                chain=ChainInfo(kind="full", lag_seconds=3 * 3600.0)),
    ])
    html = render_report(select_stories(store))
    store.close()
    assert "<script" not in html and "<img" not in html and "<svg onload" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert 'href="javascript:' not in html
    assert loaded_resources(html).loaded == []


def test_report_command_on_the_demo_loads_no_remote_resource(demo_data_dir, tmp_path):
    path = tmp_path / "r.html"
    result = storytrail("report", "Syria", "-o", str(path), data_dir=demo_data_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    html = path.read_text(encoding="utf-8")
    parsed = loaded_resources(html)
    assert parsed.loaded == [] and "script" not in parsed.tags and "link" not in parsed.tags
    assert not re.search(r"@import|url\((?!#)", html)  # only url(#arrow), the SVG marker in the page
    assert "default-src 'none'" in html  # and the browser is told to load nothing, should anything slip in


def many_stories(path: Path, stories: int = 5000, outlets: int = 40) -> SqliteStore:
    """A store of `stories` stories (origin plus 0-4 copies) over two years and `outlets` outlets."""
    store = SqliteStore(path)
    start = datetime(2023, 1, 1, tzinfo=timezone.utc)
    batch = []
    for i in range(stories):
        origin = Article(url=f"https://o{i % 7}.example/{i}", outlet=f"outlet-{i % 7}", domain=f"o{i % 7}.example",
                         title=f"Story {i} about the strait", text="strait", published=start + timedelta(hours=3 * i),
                         story_id=f"s{i}", is_origin=True, chain=ChainInfo())
        batch.append(origin)
        for k in range(i % 5):
            outlet = 7 + (i * 3 + k) % (outlets - 7)
            lag = 3600.0 * (1 + k * 5 + i % 11)
            batch.append(Article(url=f"https://c{outlet}.example/{i}-{k}", outlet=f"copier-{outlet}",
                                 domain=f"c{outlet}.example", title=f"Story {i} about the strait (copy)", text="strait",
                                 published=origin.published + timedelta(seconds=lag), story_id=f"s{i}",
                                 parent=origin.url, chain=ChainInfo(kind="full", lag_seconds=lag, coverage=0.9)))
    store.upsert(batch)
    return store


@pytest.fixture(scope="module")
def many_html(tmp_path_factory) -> str:
    store = many_stories(tmp_path_factory.mktemp("many") / "many.db")
    try:
        return render_report(select_stories(store))
    finally:
        store.close()


def test_five_thousand_stories_stay_readable_and_bounded(many_html):
    html = many_html
    assert "<b>5000</b><span>stories</span>" in html
    assert html.count('class="chart tree"') == 12  # the largest twelve; the others are listed
    assert html.count('class="lane"') == 13  # twelve busiest outlets and one lane for the rest
    assert "28 other outlets" in html
    assert html.count("<tr class=\"") <= 500 and "of 15000 articles" in html
    assert "The 60 heaviest links are drawn" in html
    assert len(html) < 1_500_000


def screenshot(html_path: Path, png: Path, height: int = 2200) -> None:
    """Chromium, headless and cut off from every network (any host name fails to resolve)."""
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--host-resolver-rules=MAP * ~NOTFOUND", f"--window-size=1280,{height}",
                    f"--screenshot={png}", html_path.as_uri()], capture_output=True, timeout=120, check=True)


@needs_chromium
@pytest.mark.parametrize("size", ["demo", "5000"])
def test_chromium_draws_the_charts(request, tmp_path, size):
    from PIL import Image

    path = tmp_path / "r.html"
    if size == "demo":
        result = storytrail("report", "Syria", "-o", str(path), data_dir=request.getfixturevalue("demo_data_dir"))
        assert result.returncode == 0, result.stderr[-2000:]
    else:
        path.write_text(request.getfixturevalue("many_html"), encoding="utf-8")
    png = tmp_path / "r.png"
    screenshot(path, png)
    image = Image.open(png).convert("RGB")
    colours = dict((c, n) for n, c in image.getcolors(maxcolors=1 << 20))
    blank = colours.get((255, 255, 255), 0) / (image.width * image.height)
    assert blank < 0.9, "the page rendered (almost) blank"
    # The charts' own colours were painted: origin bars and nodes (#1f4e79), copy bars (#e8a29a).
    assert colours.get((0x1F, 0x4E, 0x79), 0) > 200 and colours.get((0xE8, 0xA2, 0x9A), 0) > 50
