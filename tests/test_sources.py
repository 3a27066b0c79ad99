"""The source registry: the real config loads, and a wrong entry names file, entry and field."""

from pathlib import Path

import pytest

from crawlers.sources import ConfigError, load_sources

ORIGINS = {"thecradle", "sputnik", "globalresearch", "wsws", "antimedia"}
REPUBLISHERS = {"alethonews", "sott", "neo", "strategic-culture"}


def test_config_has_every_outlet_the_project_studies():
    sources = load_sources()
    keys = {s.key for s in sources}
    assert ORIGINS | REPUBLISHERS <= keys
    assert sources.get("antimedia").archive_only
    assert not sources.get("antimedia").feeds


def test_aliases_find_outlets_however_they_are_credited():
    sources = load_sources()
    assert sources.find_by_alias("Anti Media").key == "antimedia"
    assert sources.find_by_alias("theantimedia.org").key == "antimedia"
    assert sources.find_by_alias("Sputnik International").key == "sputnik"
    assert sources.find_by_alias("Strategic Culture Foundation").key == "strategic-culture"
    assert sources.find_by_host("www.sott.net").key == "sott"
    assert sources.find_by_host("sputniknews.com").key == "sputnik"
    assert sources.find_by_host("example.org") is None


def test_article_url_patterns_match_real_urls():
    sources = load_sources()
    assert sources.get("wsws").is_article_url("/en/articles/2026/07/03/coeq-j03.html")
    assert not sources.get("wsws").is_article_url("/en/archive/recent")
    assert sources.get("globalresearch").is_article_url("/living-most-corrupt-democracy-imagined/5934366")
    assert sources.get("sputnik").is_article_url("/20240129/us-vows-response-1116458790.html")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("- {key: x, name: X, role: origin, domains: [x.org], feeds: [https://x.org/feed], politeness: {delay_s: -1}}",
         "source 'x', field 'politeness.delay_s'"),
        ("- {key: x, name: X, role: publisher, domains: [x.org], feeds: [https://x.org/feed]}", "source 'x', field 'role'"),
        ("- {key: x, name: X, role: origin, domains: [x.org]}", "needs at least one of feeds"),
        ("- {key: x, name: X, role: origin, domains: [x.org], feeds: ['https://x.org/f'], typo_field: 1}", "field 'typo_field'"),
        ("- {key: x, name: X, role: origin, domains: [x.org], feeds: ['https://x.org/f'], extraction: {boilerplate: ['(']}}",
         "bad regular expression"),
        ("- {name: X, role: origin, domains: [x.org], feeds: ['https://x.org/f']}", "source '#1', field 'key'"),
        ("- {key: x, name: X, role: origin, domains: [x.org], feeds: ['https://x.org/f', 'x.org/rss']}",
         "source 'x', field 'feeds': Value error, entry 2, 'x.org/rss': not an absolute http(s) URL"),
        ("- {key: x, name: X, role: origin, domains: [x.org], sitemaps: ['https://x.org:port/s.xml']}",
         "source 'x', field 'sitemaps': Value error, entry 1"),
    ],
)
def test_a_wrong_entry_names_file_entry_and_field(tmp_path: Path, entry: str, message: str):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n" + entry + "\n")
    with pytest.raises(ConfigError) as raised:
        load_sources(path)
    assert str(path) in str(raised.value)
    assert message in str(raised.value)


def test_duplicate_keys_and_bad_yaml_are_reported(tmp_path: Path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n- {key: x, name: X, role: origin, domains: [x.org], feeds: ['https://x.org/f']}\n"
                    "- {key: x, name: Y, role: origin, domains: [y.org], feeds: ['https://y.org/f']}\n")
    with pytest.raises(ConfigError, match="'x' is used twice"):
        load_sources(path)
    path.write_text("sources: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_sources(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_sources(tmp_path / "missing.yaml")
