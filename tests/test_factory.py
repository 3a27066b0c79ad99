"""open_store: one URL chooses the store; credentials never come from it and never show in messages."""

from __future__ import annotations

import pytest
from loguru import logger

from crawlers.sources import ConfigError
from pipelines.settings import StoreSettings
from pipelines.stores.credentials import EsAuth, redact_url
from pipelines.stores.elasticsearch import ElasticsearchStore
from pipelines.stores.factory import open_store
from pipelines.stores.sqlite import SqliteStore


def test_sqlite_urls_relative_absolute_and_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///data/storytrail.db")
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")
    memory = open_store("sqlite:///:memory:")
    assert isinstance(relative, SqliteStore) and (tmp_path / "data" / "storytrail.db").exists()
    assert (tmp_path / "abs.db").exists() and absolute.path == str(tmp_path / "abs.db")
    assert memory.path == ":memory:"
    for store in (relative, absolute, memory):
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://host/db", "unknown scheme 'mysql'"),
        ("/var/lib/storytrail.db", "unknown scheme '(none)'"),
        ("sqlite://host/x.db", "three slashes"),
        ("sqlite:///", "no database file"),
        ("http://127.0.0.1:9200?refresh=always", "unknown option(s) refresh"),
        ("http://127.0.0.1:9200?compat=maybe", "compat must be on or off"),
    ],
)
def test_a_url_that_names_no_store_is_a_config_error(url, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        open_store(url)


def test_credentials_in_the_url_are_refused_and_never_shown():
    with pytest.raises(ConfigError) as raised:
        open_store("https://elastic:s3cret@es.example.org:9200")
    assert "s3cret" not in str(raised.value) and "***@es.example.org" in str(raised.value)
    assert "STORYTRAIL_ES_PASSWORD" in str(raised.value)


def test_redact_url():
    assert redact_url("https://u:p@h:9200/x?y=1") == "https://***@h:9200/x?y=1"
    assert redact_url("https://h:9200") == "https://h:9200"


def test_credentials_come_from_the_environment_before_the_settings_file(tmp_path):
    settings = StoreSettings(username="file-user", password="file-pass", ca_certs=tmp_path / "ca.crt")
    env = {"STORYTRAIL_ES_USERNAME": "env-user", "STORYTRAIL_ES_PASSWORD": "env-pass"}
    auth = EsAuth.resolve(settings, env)
    assert (auth.username, auth.password, auth.ca_certs) == ("env-user", "env-pass", tmp_path / "ca.crt")
    assert EsAuth.resolve(settings, {}).password == "file-pass"
    assert "pass" not in repr(auth) and "file-pass" not in repr(settings)
    assert EsAuth.resolve(StoreSettings(), {"STORYTRAIL_ES_API_KEY": "k"}).api_key == "k"


def test_passwords_never_reach_the_log(osmem_server, monkeypatch):
    monkeypatch.setenv("STORYTRAIL_ES_USERNAME", "storytrail")
    monkeypatch.setenv("STORYTRAIL_ES_PASSWORD", "pw-never-logged")
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{message} {extra}")
    clone = osmem_server.clone()
    try:
        store = open_store(f"{clone.url}?compat=off", settings=StoreSettings(index_prefix="creds"))
        assert isinstance(store, ElasticsearchStore)
        store.search("aleppo")
        store.close()
    finally:
        logger.remove(sink)
        clone.close()
    assert lines and not any("pw-never-logged" in line for line in lines)
