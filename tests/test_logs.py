"""The operator's view of a run (pipelines/logs.py, exit codes in pipelines/cli/gather.py): one line per event,
no traceback unless --verbose, exit codes that mean something, JSON lines for machines, a rotated log file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.cycle import RunSummary
from tests.cli_runner import REPO, environment

# Three outlets on hosts the replay web does not serve: it answers for them as a failed DNS lookup, which is
# what a VM with its network or its DNS down sees for every outlet.
UNRESOLVABLE_SOURCES = """
sources:
""" + "".join(
    f"""
  - key: lost{n}
    name: Lost Outlet {n}
    role: origin
    domains: [lost{n}.example]
    feeds: [https://www.lost{n}.example/feed.xml]
    politeness: {{delay_s: 0, concurrency: 1}}
"""
    for n in range(3)
)


def run_offline(tmp_path: Path, replay, *args: str, global_args: tuple[str, ...] = (),
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    sources = tmp_path / "sources.yaml"
    sources.write_text(UNRESOLVABLE_SOURCES)
    command = [sys.executable, "-m", "pipelines.cli", *global_args, "run", "--all-feeds", *args,
               "--data-dir", str(tmp_path / "data")]
    env = environment(replay.base_url) | {"STORYTRAIL_SOURCES_FILE": str(sources), "STORYTRAIL_FETCH__RETRIES": "2"} | (env or {})
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_run_with_every_host_unresolvable_says_it_in_one_line_per_feed(tmp_path, replay):
    result = run_offline(tmp_path, replay)
    lines = result.stderr.splitlines()
    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    failed = [line for line in lines if "feed failed" in line]
    assert len(failed) == 3, lines
    for n in range(3):
        [line] = [f for f in failed if f"lost{n}" in f]
        assert "WARNING" in line and f"https://www.lost{n}.example/feed.xml" in line and "host not found" in line
    # Nothing else but the run's summary: Scrapy's own "Gave up retrying" and "Error downloading" (robots.txt)
    # records say the same thing again and are kept for --verbose.
    assert len(lines) <= len(failed) + 3, "\n".join(lines)
    assert not any("robots.txt" in line or "Gave up retrying" in line for line in lines)


def test_verbose_shows_tracebacks_without_local_variables(tmp_path, replay):
    result = run_offline(tmp_path, replay, "--verbose")
    assert result.returncode == 3
    assert "Traceback" in result.stderr
    # loguru's `diagnose` draws each frame's local variables under it with box-drawing characters.
    assert "│" not in result.stderr and "└ <" not in result.stderr


def test_json_log_lines_carry_the_documented_fields(tmp_path, replay):
    log_file = tmp_path / "logs" / "storytrail.log"
    result = run_offline(tmp_path, replay, global_args=("--log-format", "json", "--log-file", str(log_file)))
    assert result.returncode == 3
    records = [json.loads(line) for line in result.stderr.splitlines()]  # every line is JSON, the summary too
    assert records and all({"time", "level", "source", "url", "event", "message"} <= set(r) for r in records)
    failed = [r for r in records if r["event"] == "feed/failed"]
    assert sorted(r["source"] for r in failed) == ["lost0", "lost1", "lost2"]
    assert all(r["level"] == "WARNING" and r["url"].startswith("https://www.lost") for r in failed)
    [finished] = [r for r in records if r["event"] == "run/finished"]
    assert finished["counters"]["feed/failed"] == 3
    in_file = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [r["message"] for r in in_file] == [r["message"] for r in records]


def test_log_settings_come_from_the_environment_too(tmp_path, replay):
    env_log = tmp_path / "env.log"
    result = run_offline(tmp_path, replay, env={"STORYTRAIL_LOG__FILE": str(env_log)})
    assert result.returncode == 3
    assert env_log.read_text().count("feed failed") == 3


@pytest.mark.parametrize(
    ("summary", "outcome"),
    [
        (RunSummary(counters={"store/added": 3}), "ok"),
        (RunSummary(counters={"feed/failed": 1}, failed_sources=["sott"]), "sources_failed"),
        (RunSummary(counters={}, store_error="connection refused", failed_sources=["sott"]), "failed"),
    ],
)
def test_a_run_outcome_names_the_worst_that_happened(summary, outcome):
    assert summary.outcome == outcome


def test_network_failures_name_their_reason(tmp_path):
    """TLS, refused and timeout, each from a real loopback socket: one WARNING line each, with its reason."""
    plain_http = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)  # TLS spoken to it fails
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    threading.Thread(target=plain_http.serve_forever, daemon=True).start()
    feeds = {"tls": f"https://127.0.0.1:{plain_http.server_address[1]}/feed.xml",
             "refused": f"http://127.0.0.1:{closed_port}/feed.xml",
             "silent": f"http://127.0.0.1:{silent.getsockname()[1]}/feed.xml"}
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n" + "".join(
        f"  - {{key: {key}, name: {key}, role: origin, domains: [{key}.example], feeds: ['{url}'],"
        f" politeness: {{delay_s: 0, concurrency: 1}}}}\n" for key, url in feeds.items()))
    env = environment(None) | {"STORYTRAIL_SOURCES_FILE": str(sources), "STORYTRAIL_FETCH__ALLOW_PRIVATE_ADDRESSES": "true",
                               "STORYTRAIL_FETCH__RETRIES": "0", "STORYTRAIL_FETCH__TIMEOUT_S": "2",
                               "STORYTRAIL_FETCH__OBEY_ROBOTS": "false"}
    try:
        result = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--all-feeds", "--data-dir", str(tmp_path / "d")],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    finally:
        plain_http.shutdown()
        silent.close()
    assert result.returncode == 3, result.stderr
    failed = {key: [line for line in result.stderr.splitlines() if "feed failed" in line and url in line]
              for key, url in feeds.items()}
    assert all(len(lines) == 1 for lines in failed.values()), result.stderr
    assert "TLS failed (wrong version number)" in failed["tls"][0]
    assert "connection refused" in failed["refused"][0]
    assert "timed out after 2" in failed["silent"][0]
    assert "Traceback" not in result.stderr
