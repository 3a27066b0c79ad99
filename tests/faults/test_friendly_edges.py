"""Bad input at the edges: one line, exit 2 (BAD_INPUT), never a traceback; --verbose keeps the traceback.
Run in-process with Typer's runner (what the exit code and the output are is the same as from a shell)."""

from __future__ import annotations

import json
import pytest
from typer.testing import CliRunner

from pipelines.cli import app

BAD_INPUT = 2


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env={"STORYTRAIL_STORE": None, "STORYTRAIL_DATA_DIR": None, **(env or {})})


def assert_one_line(result, says: str, code: int = BAD_INPUT) -> None:
    output = result.stdout + result.stderr
    assert result.exit_code == code, output
    assert isinstance(result.exception, SystemExit) or result.exception is None, repr(result.exception)
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len([line for line in lines if says in line]) == 1, output


@pytest.fixture
def data_dir(reference) -> str:
    """A gathered data dir, only read (commands that write use their own)."""
    return str(reference[0])


@pytest.mark.parametrize("query, says", [
    ("published:9999", "not a date"),
    ("(" * 3000 + "aleppo" + ")" * 3000, "nested more than"),
    ("published:[2024-13-45 TO *]", "not a date"),
])
def test_bad_queries(data_dir, query, says):
    assert_one_line(invoke("search", query, "--data-dir", data_dir), says)


def test_a_huge_or_odd_limit_is_a_usage_error(data_dir):
    for limit in ("1e20", "100000000000000000000", "0"):
        result = invoke("search", "aleppo", "--limit", limit, "--data-dir", data_dir)
        assert result.exit_code == BAD_INPUT and "--limit" in result.stderr and "Traceback" not in result.stderr


def test_story_takes_a_url_or_a_story_id(reference):
    data_dir = str(reference[0])
    assert_one_line(invoke("story", "", "--data-dir", data_dir), "give the URL of any copy")
    assert_one_line(invoke("story", "nonsense", "--data-dir", data_dir), "no story with id")
    stories = json.loads(invoke("stories", "--json", "--data-dir", data_dir).stdout)
    by_id = invoke("story", stories[0]["story_id"], "--json", "--data-dir", data_dir)
    assert by_id.exit_code == 0, by_id.stderr
    assert json.loads(by_id.stdout)["story_id"] == stories[0]["story_id"]


def test_files_that_are_not_utf8(tmp_path, data_dir):
    settings = tmp_path / "latin1.toml"
    settings.write_bytes('user_agent_note = "caf\xe9"\n'.encode("latin-1"))
    assert_one_line(invoke("stats", "--config", str(settings), "--data-dir", data_dir), "not UTF-8")
    sources = tmp_path / "sources.yaml"
    sources.write_bytes("sources:\n  - key: x\n    name: Caf\xe9\n".encode("latin-1"))
    config = tmp_path / "ok.toml"
    config.write_text(f'sources_file = "{sources}"\n', encoding="utf-8")
    assert_one_line(invoke("run", "--config", str(config), "--data-dir", str(tmp_path / "data")), "not UTF-8")


def test_a_malformed_feed_url_is_one_error_naming_file_entry_and_field(tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text("sources:\n  - key: good\n    name: Good\n    role: origin\n    domains: [good.example]\n"
                       "    feeds: [https://good.example/feed]\n"
                       "  - key: broken\n    name: Broken\n    role: origin\n    domains: [broken.example]\n"
                       "    feeds: [https://broken.example/feed, 'broken.example/rss']\n", encoding="utf-8")
    config = tmp_path / "settings.toml"
    config.write_text(f'sources_file = "{sources}"\n', encoding="utf-8")
    result = invoke("run", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert_one_line(result, "source 'broken', field 'feeds'")
    assert str(sources) in result.stderr and "entry 2" in result.stderr


def test_a_store_url_with_a_bad_port(data_dir):
    assert_one_line(invoke("stats", "--store", "https://h:notaport", "--data-dir", data_dir), "port is not a number")


def test_a_data_dir_under_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_one_line(invoke("run", "--data-dir", str(afile / "data")), "Not a directory")
    assert_one_line(invoke("stats", "--data-dir", str(afile / "data")), "no store at")


def test_verbose_keeps_the_traceback(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = invoke("import", str(afile), "--verbose", "--data-dir", str(afile / "data"))
    assert isinstance(result.exception, NotADirectoryError)  # raised on: the shell shows its traceback


def test_a_stray_variable_is_one_warning(data_dir):
    result = invoke("stats", "--json", "--data-dir", data_dir, env={"STORYTRAIL_FOO": "1", "STORYTRAIL_FETCH__TIMEOUTS": "3"})
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "STORYTRAIL_FOO" in line]
    assert len(warnings) == 1 and "STORYTRAIL_FETCH__TIMEOUTS" in warnings[0]


def test_secrets_never_printed(tmp_path, data_dir):
    settings = tmp_path / "secret.toml"
    settings.write_text('[store]\nurl = "https://elastic:hunter2@h:9200/?password=hunter3"\n', encoding="utf-8")
    shown = invoke("config", "--config", str(settings), "--data-dir", data_dir)
    assert shown.exit_code == 0 and "hunter" not in shown.stdout and "***@h:9200" in shown.stdout
    for url in ("sqlite://user:hunter2@h/x.db", "https://u:hunter2@h:notaport/?password=hunter3", "ftp://u:hunter2@h/"):
        result = invoke("stats", "--store", url, "--data-dir", data_dir)
        assert result.exit_code == BAD_INPUT and "hunter" not in result.stdout + result.stderr, result.stderr


def test_mask_secrets_in_any_text():
    from pipelines.stores.credentials import mask_secrets

    text = "failed: sqlite://user:pw@host/x and https://h:9200/?a=1&password=s3cret&api_key=k3y#f"
    assert mask_secrets(text) == "failed: sqlite://***@host/x and https://h:9200/?a=1&password=***&api_key=***#f"
