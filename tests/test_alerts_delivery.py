"""Delivery against a real SMTP server (aiosmtpd): outages, refusals, the per-run cap, the password, and
kills between send and record (the real `storytrail alerts run` process, SIGKILLed at a fault point)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from loguru import logger

from pipelines.alerts import open_db

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "s3cret-Pa55word-never-shown"


@pytest.fixture
def log_lines():
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{level} {message}")
    yield lines
    logger.remove(sink)


def test_smtp_down_for_three_runs_then_up_sends_every_waiting_entry_once_in_one_message_per_search(alert_world, log_lines):
    world = alert_world
    world.add_search("aleppo", "Aleppo")
    world.add_search("gaza", "Gaza", to="g@example.org")
    for run, key in enumerate(["one", "two", "three"], 1):
        world.story(key, ["sputnik", "sott"], f"Aleppo {key}")
        world.story(f"gaza-{key}", ["wsws"], f"Gaza {key}")
        summary = world.run()
        assert summary.mail_error and summary.sent == 0 and summary.waiting == 2 * run
        errors = [line for line in log_lines if line.startswith("ERROR")]
        assert len(errors) == run, errors  # one line each time
        assert "wait for the next run" in errors[-1] and str(world.smtp.port) in errors[-1]
    world.smtp.start()
    summary = world.run()
    assert summary.sent == 2 and summary.waiting == 0
    by_rcpt = {m.rcpt_tos[0]: m.text for m in world.smtp.received}
    for key in ("one", "two", "three"):
        assert by_rcpt["r@example.org"].count(f". Aleppo {key}") == 1
        assert by_rcpt["g@example.org"].count(f". Gaza {key}") == 1
    assert world.run().sent == 0 and len(world.smtp.received) == 2


def test_the_per_run_cap_holds_messages_for_the_next_run(alert_world):
    world = alert_world
    world.smtp.start()
    for name in ("a", "b", "c"):
        world.add_search(name, "Aleppo", to=f"{name}@example.org")
    world.story("x", ["sputnik"], "Aleppo x")
    first = world.run(max_messages_per_run=2)
    assert (first.sent, first.held_back) == (2, 1)
    second = world.run(max_messages_per_run=2)
    assert (second.sent, second.held_back) == (1, 0)
    assert sorted(m.rcpt_tos[0] for m in world.smtp.received) == ["a@example.org", "b@example.org", "c@example.org"]


def test_a_refused_recipient_leaves_the_entries_waiting(alert_world, log_lines):
    world = alert_world

    class Refusing:
        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            return "550 no such user"

    world.smtp.controller = None
    from aiosmtpd.controller import Controller

    controller = Controller(Refusing(), hostname="127.0.0.1", port=world.smtp.port)
    controller.start()
    try:
        world.add_search("aleppo", "Aleppo")
        world.story("x", ["sputnik"], "Aleppo x")
        summary = world.run()
    finally:
        controller.stop()
    assert summary.sent == 0 and summary.waiting == 1
    assert any("550 no such user" in line for line in log_lines)
    world.smtp.start()
    assert world.run().sent == 1


def test_starttls_is_required_by_default(alert_world, log_lines):
    world = alert_world
    world.smtp.start()  # offers no STARTTLS
    world.add_search("aleppo", "Aleppo")
    world.story("x", ["sputnik"], "Aleppo x")
    settings = world.settings()
    from pipelines.alerts import run_alerts

    summary = run_alerts(settings.model_copy(update={"mail": settings.mail.model_copy(update={"tls": "starttls"})}), world.store)
    assert "does not offer STARTTLS" in summary.mail_error and summary.waiting == 1
    assert world.smtp.received == []


def test_the_password_is_never_logged_nor_in_an_error(alert_world, log_lines, monkeypatch):
    world = alert_world

    def authenticate(server, session, envelope, mechanism, auth_data):
        good = isinstance(auth_data, LoginPassword) and auth_data.password == PASSWORD.encode()
        return AuthResult(success=good, handled=False)

    world.smtp.start(authenticator=authenticate, auth_require_tls=False)
    world.add_search("aleppo", "Aleppo")
    world.story("x", ["sputnik"], "Aleppo x")
    monkeypatch.setenv("STORYTRAIL_MAIL__USERNAME", "alerts")
    monkeypatch.setenv("STORYTRAIL_MAIL__PASSWORD", PASSWORD[::-1])  # wrong
    refused = world.run()
    assert refused.mail_error and "535" in refused.mail_error
    monkeypatch.setenv("STORYTRAIL_MAIL__PASSWORD", PASSWORD)
    assert world.run().sent == 1
    settings = world.settings()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    everything = "\n".join(log_lines) + str(refused)
    assert PASSWORD not in everything and PASSWORD[::-1] not in everything


def test_tls_none_refuses_to_send_a_password_in_clear_to_another_host(alert_world):
    from pipelines.alerts.delivery import MailError, SmtpConnection
    from pipelines.settings import MailSettings

    mail = MailSettings(host="mail.example.org", tls="none", username="u", password=PASSWORD)
    with pytest.raises(MailError, match="in clear") as caught:
        SmtpConnection(mail).__enter__()
    assert PASSWORD not in str(caught.value)


# -- kills between send and record ----------------------------------------------------------------------
def alerts_run(data_dir: Path, port: int, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYTRAIL_")}
    env |= {"STORYTRAIL_MAIL__HOST": "127.0.0.1", "STORYTRAIL_MAIL__PORT": str(port), "STORYTRAIL_MAIL__TLS": "none",
            "STORYTRAIL_ALERTS__SEARCHES_FILE": str(data_dir / "none.yaml")}
    if kill_at:
        env["STORYTRAIL_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "alerts", "run", "--data-dir", str(data_dir)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def message_states(data_dir: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(data_dir / "alerts.db") as db:
        return db.execute("SELECT id, state, reconciled FROM messages ORDER BY handed_at").fetchall()


@pytest.fixture
def two_searches(alert_world):
    world = alert_world
    world.smtp.start()
    world.add_search("aleppo", "Aleppo")
    world.add_search("gaza", "Gaza", to="g@example.org")
    world.story("x", ["sputnik", "sott"], "Aleppo x")
    world.story("y", ["wsws"], "Gaza y")
    return world


def test_a_kill_between_send_and_record_sends_nothing_twice(two_searches):
    world = two_searches
    killed = alerts_run(world.data_dir, world.smtp.port, kill_at="alerts.after_send")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    # The kill landed exactly there: the server has the first message, the ledger says it was being sent.
    assert len(world.smtp.received) == 1
    first_id = world.smtp.received[0].message["Message-ID"]
    assert message_states(world.data_dir) == [(first_id, "sending", 0)]

    rerun = alerts_run(world.data_dir, world.smtp.port)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "counted as sent, not sent again" in rerun.stderr
    assert len(world.smtp.received) == 2  # the other search's message only
    assert len({m.message["Message-ID"] for m in world.smtp.received}) == 2
    states = dict((i, (s, r)) for i, s, r in message_states(world.data_dir))
    assert states[first_id] == ("sent", 1) and all(s == "sent" for s, _ in states.values())
    assert alerts_run(world.data_dir, world.smtp.port).returncode == 0
    assert len(world.smtp.received) == 2


def test_a_kill_before_the_send_sends_it_on_the_next_run(two_searches):
    world = two_searches
    killed = alerts_run(world.data_dir, world.smtp.port, kill_at="alerts.before_send")
    assert killed.returncode == -signal.SIGKILL
    assert world.smtp.received == [] and message_states(world.data_dir) == []
    db = open_db(world.settings())
    assert len(db.waiting()) == 2  # the entries were recorded before the kill, and wait
    db.close()
    assert alerts_run(world.data_dir, world.smtp.port).returncode == 0
    assert sorted(m.rcpt_tos[0] for m in world.smtp.received) == ["g@example.org", "r@example.org"]
