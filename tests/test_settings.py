"""Settings: defaults in one place, overridable by file and environment, and every one documented."""

from pathlib import Path

import pytest

from crawlers.sources import ConfigError
from pipelines.settings import describe_settings, load_settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_in_the_readme_with_its_default():
    text = README.read_text(encoding="utf-8")
    missing = [name for name, _, _ in describe_settings() if f"`{name}`" not in text]
    assert not missing, f"settings missing from README.md: {missing}"
    stale = [f"{name} = {default}" for name, default, _ in describe_settings() if f"| `{name}` | `{default}` |" not in text]
    assert not stale, f"README.md settings table gives other defaults than pipelines/settings.py: {stale}"


def test_every_setting_has_help_text():
    assert all(help_text for _, _, help_text in describe_settings())


def test_file_then_environment_then_command_line(tmp_path: Path, monkeypatch):
    config = tmp_path / "storytrail.toml"
    config.write_text("[fetch]\ntimeout_s = 5\nretries = 4\n")
    monkeypatch.setenv("STORYTRAIL_FETCH__RETRIES", "7")
    monkeypatch.setenv("STORYTRAIL_STORE", "sqlite:///elsewhere.db")
    settings = load_settings(config, {"data_dir": tmp_path})
    assert settings.fetch.timeout_s == 5
    assert settings.fetch.retries == 7
    assert settings.store_url == "sqlite:///elsewhere.db"
    assert load_settings(config, {"data_dir": tmp_path, "fetch": {"retries": 1}}).fetch.retries == 1


def test_the_data_dir_settings_file_is_read_when_present(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("STORYTRAIL_STORE", raising=False)
    (tmp_path / "storytrail.toml").write_text("[feeds]\nmax_items = 12\n")
    settings = load_settings(None, {"data_dir": tmp_path})
    assert settings.feeds.max_items == 12
    assert settings.store_url == f"sqlite:///{(tmp_path / 'storytrail.db').as_posix()}"


@pytest.mark.parametrize(
    ("content", "message"),
    [("[fetch]\ntimeout_s = -1\n", "setting 'fetch.timeout_s'"), ("[fetch\n", "not valid TOML"), ("[fetsh]\nx = 1\n", "setting 'fetsh'")],
)
def test_a_wrong_setting_names_file_and_setting(tmp_path: Path, content: str, message: str):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_settings(config, {"data_dir": tmp_path})
    assert str(config) in str(raised.value) and message in str(raised.value)
