"""No way in: literal and embedded private addresses, DNS rebinding, redirects off the site."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import REPO, environment
from fault_helpers import hostile_config, run_cli, write_config
from hostile import HostileSite, sources_yaml

from crawlers.fetching import cross_site_redirect
from crawlers.sources import load_sources
from crawlers.urls import get_unsafe_reason

HERE = Path(__file__).parent


@pytest.mark.parametrize("host", [
    "[::127.0.0.1]",             # IPv4-compatible
    "[::ffff:127.0.0.1]",        # IPv4-mapped
    "[::ffff:10.0.0.7]",
    "[64:ff9b::7f00:1]",         # NAT64 well-known prefix, 127.0.0.1 inside
    "[64:ff9b::a9fe:a9fe]",      # NAT64 to the cloud metadata address 169.254.169.254
    "[64:ff9b:1::5db8:d822]",    # local-use NAT64 (RFC 8215): never public
    "[2002:7f00:1::1]",          # 6to4 of 127.0.0.1
    "[2002:a00:7::1]",           # 6to4 of 10.0.0.7
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1
    "[fe80::200:5efe:a00:7]",    # ISATAP (and link-local)
    "[2001:db8::5efe:a00:7]",
    "224.0.0.1",
    "[ff02::1]",
])
def test_embedded_and_special_addresses_are_refused(host):
    assert get_unsafe_reason(f"http://{host}/x", resolve=False), host


@pytest.mark.parametrize("host", ["93.184.216.34", "[2606:2800:220:1:248:1893:25c8:1946]", "[64:ff9b::5db8:d822]",
                                  "[2002:5db8:d822::1]"])
def test_public_addresses_pass(host):
    assert get_unsafe_reason(f"http://{host}/x", resolve=False) is None


def test_redirects_stay_on_the_site_or_the_outlet():
    sources = load_sources()
    assert cross_site_redirect("https://www.wsws.org/a", "https://wsws.org/b", sources) is None
    assert cross_site_redirect("https://thecradle.co/a", "https://evil.example.net/b", sources)
    assert cross_site_redirect("http://127.0.0.1:8/a", "http://localhost:8/a", None)


def rebinding_run(tmp_path: Path, site: HostileSite, answers: str) -> tuple[subprocess.CompletedProcess, dict]:
    host = "rebind.test"
    feed = f"http://{host}:{site.port}/feed.xml"
    config = write_config(tmp_path, sources_yaml(host, [feed]), timeout_s=3.0, retries=0, politeness_scale=0.0)
    report = tmp_path / "dns.json"
    args = ["run", "--all-feeds", "--config", str(config), "--data-dir", str(tmp_path / "data")]
    result = subprocess.run([sys.executable, str(HERE / "rebind_run.py"), host, answers, str(report), *args],
                            cwd=REPO, env=environment(None), capture_output=True, text=True, timeout=120)
    return result, json.loads(report.read_text())


def test_dns_rebinding_cannot_reach_loopback(tmp_path, hostile):
    """The name answers a public address first and 127.0.0.1 after: the crawler resolves once, connects to
    the address it checked, and never reaches the loopback site (before: robots.txt, the feed and its pages
    were fetched from 127.0.0.1)."""
    result, dns = rebinding_run(tmp_path, hostile, "93.184.216.34,127.0.0.1")
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert sum(hostile.hits.values()) == 0, f"loopback reached: {dict(hostile.hits)}\n{result.stderr[-3000:]}"
    assert dns["lookups"] == ["93.184.216.34"], dns
    assert set(dns["connections"]) == {"93.184.216.34"}, dns


def test_a_name_resolving_to_loopback_is_refused_in_one_line(tmp_path, hostile):
    result, dns = rebinding_run(tmp_path, hostile, "::ffff:127.0.0.1")
    assert sum(hostile.hits.values()) == 0, result.stderr[-3000:]
    assert dns["connections"] == []
    lines = [line for line in result.stderr.splitlines() if "feed.xml" in line and "feed failed" in line]
    assert len(lines) == 1 and "not public" in lines[0], result.stderr[-3000:]


def test_hostile_site_bombs_drips_and_redirects(tmp_path, hostile):
    config = hostile_config(tmp_path, hostile, feeds=[f"{hostile.base}/feed.xml", f"{hostile.base}/entity-feed.xml"],
                            timeout_s=8.0)  # generous for a loaded machine; the drip never ends anyway
    result = run_cli("run", "--all-feeds", "--config", str(config), data_dir=tmp_path / "data", timeout=90)
    log = result.stderr
    assert "Traceback" not in log, log[-4000:]
    expectations = {
        "/bomb.html": "size cap",
        "/drip.html": "timed out",
        "/chain/9.html": "too many redirects",
        "/offsite.html": "another site (localhost)",
        "/to-private.html": "another site (10.0.0.7)",
    }
    for where, what in expectations.items():
        lines = [line for line in log.splitlines() if " hostile " in line and where in line and what in line]
        assert len(lines) == 1, f"expected one line about {where} saying {what!r}\n{log[-4000:]}"
    assert hostile.hits["/good-9.html"] == 0, "the off-site redirect was followed"
    assert hostile.hits["/chain/0.html"] == 1  # a 3-hop chain on the site is followed
    from pipelines.stores.sqlite import SqliteStore

    with SqliteStore(tmp_path / "data" / "storytrail.db") as store:
        urls = {a.url for a in store.iter_articles()}
    assert {"https://127.0.0.1:%d/good-1.html" % hostile.port, "https://127.0.0.1:%d/good-2.html" % hostile.port} <= urls
    assert len(log) < 20_000, "the log carries page bodies"
