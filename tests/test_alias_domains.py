"""An outlet that moved (journal-neo.org -> journal-neo.su) is one identity for lookup and linking; the stored
URL stays as fetched (crawlers/sources.py `url_variants`, story_report.stored_url, chains' credit)."""

import json
from pathlib import Path

from cli_runner import storytrail

from crawlers.sources import load_sources
from pipelines.chains import Member, credit
from pipelines.models import Article

OLD = "https://journal-neo.org/2019/02/26/syria-is-us-fighting-isis/"
NEW = "https://journal-neo.su/2019/02/26/syria-is-us-fighting-isis"
TEXT = " ".join(f"Sentence {n} of the article says something about the war in Syria and the assets there." for n in range(30))


def test_url_variants_fold_the_outlets_domains_and_leave_other_sites_alone():
    sources = load_sources()
    assert sources.url_variants(OLD) == ["https://journal-neo.org/2019/02/26/syria-is-us-fighting-isis", NEW]
    assert sources.url_variants("http://www.strategic-culture.org/news/x.html")[1] == "https://strategic-culture.su/news/x.html"
    assert sources.url_variants("https://example.com/a/") == ["https://example.com/a"]


def test_story_finds_an_article_by_its_alias_domain_url(tmp_path: Path):
    documents = tmp_path / "neo.jsonl"
    documents.write_text(json.dumps({"url": NEW, "title": "Syria", "text": TEXT, "published": "2019-02-26T09:30:00Z"}) + "\n")
    assert storytrail("import", str(documents), data_dir=tmp_path / "data").returncode == 0
    found = storytrail("story", OLD, "--json", data_dir=tmp_path / "data")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["origin"]["url"] == NEW  # shown as stored, under the domain it was fetched from
    missing = storytrail("story", "https://journal-neo.org/2019/02/26/another/", data_dir=tmp_path / "data")
    assert missing.returncode == 2 and "not in the store" in missing.stderr


def test_a_link_to_the_old_domain_credits_the_article_stored_under_the_new_one():
    sources = load_sources()
    origin = Article(url=NEW, outlet="neo", domain="journal-neo.su", title="Syria", text=TEXT)
    copy = Article(url="https://globalresearch.ca/syria/5669870", outlet="globalresearch", domain="globalresearch.ca",
                   title="Syria", text=TEXT, links=[OLD])
    assert credit(Member.of(copy, [], sources), origin) > 0
    assert credit(Member.of(origin, [], sources), copy) == 0
