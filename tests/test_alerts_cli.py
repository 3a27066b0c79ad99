"""`storytrail alerts ...` as people type it, in its own process: the demo-data check of issue 7, bad input
(one line, exit 2), list/remove/preview, and a cycle that runs alerts at its end whatever the mail server does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines.stores.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[1]


def storytrail(data_dir: Path, *args: str, port: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYTRAIL_")}
    env["STORYTRAIL_ALERTS__SEARCHES_FILE"] = str(data_dir / "alerts.yaml")
    if port:
        env |= {"STORYTRAIL_MAIL__HOST": "127.0.0.1", "STORYTRAIL_MAIL__PORT": str(port), "STORYTRAIL_MAIL__TLS": "none"}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args, "--data-dir", str(data_dir)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_demo_data_syria_alert_names_every_story_origin_once_and_only_once(demo_data_dir, tmp_path, smtp_server):
    data_dir = tmp_path / "data"
    shutil.copytree(demo_data_dir, data_dir)
    smtp_server.start()
    added = storytrail(data_dir, "alerts", "add", "syria", "--query", "Syria", "--to", "r@example.org", "--from", "2000-01-01")
    assert added.returncode == 0, added.stderr

    first = storytrail(data_dir, "alerts", "run", port=smtp_server.port)
    assert first.returncode == 0, first.stderr[-2000:]
    assert len(smtp_server.received) == 1
    text = smtp_server.received[0].text

    found = storytrail(data_dir, "search", "Syria", "--collapse", "--json")
    hits = json.loads(found.stdout)
    assert hits
    store = SqliteStore(data_dir / "storytrail.db")
    try:
        for hit in hits:
            members = store.story_members(hit["story_id"]) if hit["story_id"] else []
            origin = next((m.url for m in members if m.is_origin), hit["url"])
            assert f"\n   {origin}\n" in text, origin  # the entry's origin line
    finally:
        store.close()
    assert text.count("Copies known so far") == len(hits)  # one entry per story

    second = storytrail(data_dir, "alerts", "run", port=smtp_server.port)
    assert second.returncode == 0 and len(smtp_server.received) == 1


def in_process(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    """The same command through Typer's runner, in this process (faster; no kill, no mail needed)."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, [*args, "--data-dir", str(data_dir)], env={
        "STORYTRAIL_ALERTS__SEARCHES_FILE": str(data_dir / "alerts.yaml")})
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    storytrail = in_process
    bad_query = storytrail(tmp_path, "alerts", "add", "x", "--query", 'Syria AND "Aleppo', "--to", "r@example.org")
    assert bad_query.returncode == 2 and "position" in bad_query.stderr and "Traceback" not in bad_query.stderr
    bad_to = storytrail(tmp_path, "alerts", "add", "x", "--query", "Syria", "--to", "r@example.org,nobody")
    assert bad_to.returncode == 2 and "'nobody' is not a usable e-mail address" in bad_to.stderr
    bad_every = storytrail(tmp_path, "alerts", "add", "x", "--query", "Syria", "--to", "r@example.org", "--every", "hourly")
    assert bad_every.returncode == 2 and "--every 'hourly'" in bad_every.stderr
    unknown = storytrail(tmp_path, "alerts", "remove", "nothing")
    assert unknown.returncode == 2 and "no saved search named 'nothing'" in unknown.stderr
    (tmp_path / "alerts.yaml").write_text("searches:\n  - name: y\n    query: 'outlet:'\n    to: r@example.org\n")
    listed = storytrail(tmp_path, "alerts", "list")
    assert listed.returncode == 2 and "search #1 (y)" in listed.stderr and len(listed.stderr.strip().splitlines()) == 1


def test_list_preview_and_remove(demo_data_dir, tmp_path):
    storytrail = in_process
    data_dir = tmp_path / "data"
    shutil.copytree(demo_data_dir, data_dir)
    storytrail(data_dir, "alerts", "add", "nord", "--query", '"Nord Stream"', "--to", "r@example.org", "--from", "2000-01-01",
               "--every", "daily")
    (data_dir / "alerts.yaml").write_text("searches:\n  - name: boeing\n    query: Boeing AND outlet:wsws\n    to: [b@example.org]\n")
    listed = json.loads(storytrail(data_dir, "alerts", "list", "--json").stdout)
    assert [(r["name"], r["every"], r["declared_in"] == "alerts add") for r in listed] == [("boeing", "immediate", False), ("nord", "daily", True)]

    preview = storytrail(data_dir, "alerts", "preview", "nord")
    assert preview.returncode == 0, preview.stderr
    assert "daily digest window closes at" in preview.stderr
    assert "Subject: [storytrail] nord: daily digest" in preview.stdout and "Nord Stream" in preview.stdout
    again = storytrail(data_dir, "alerts", "preview", "nord")
    assert again.stdout.split("Date:")[0] == preview.stdout.split("Date:")[0]  # the preview recorded nothing
    assert json.loads(storytrail(data_dir, "alerts", "list", "--json").stdout)[1]["waiting"] == 0

    refused = storytrail(data_dir, "alerts", "remove", "boeing")
    assert refused.returncode == 2 and "remove it there" in refused.stderr
    assert storytrail(data_dir, "alerts", "remove", "nord").returncode == 0
    assert [r["name"] for r in json.loads(storytrail(data_dir, "alerts", "list", "--json").stdout)] == ["boeing"]


def test_a_cycle_with_the_mail_server_down_keeps_its_work_and_the_entries_wait(tmp_path, smtp_server, replay):
    data_dir = tmp_path / "data"
    storytrail(data_dir, "alerts", "add", "syria", "--query", "Syria", "--to", "r@example.org", "--from", "2000-01-01")
    env_replay = {"STORYTRAIL_FETCH__REPLAY_URL": replay.base_url, "STORYTRAIL_FETCH__POLITENESS_SCALE": "0"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYTRAIL_")} | env_replay | {
        "STORYTRAIL_MAIL__HOST": "127.0.0.1", "STORYTRAIL_MAIL__PORT": str(smtp_server.port), "STORYTRAIL_MAIL__TLS": "none",
        "STORYTRAIL_ALERTS__SEARCHES_FILE": str(data_dir / "alerts.yaml")}
    cycle = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--all-feeds", "--data-dir", str(data_dir)],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert cycle.returncode == 0, cycle.stderr[-3000:]
    assert len([line for line in cycle.stderr.splitlines() if "mail not sent" in line]) == 1
    listed = json.loads(storytrail(data_dir, "alerts", "list", "--json").stdout)
    assert listed[0]["waiting"] > 0
    smtp_server.start()
    assert storytrail(data_dir, "alerts", "run", port=smtp_server.port).returncode == 0
    assert len(smtp_server.received) == 1
