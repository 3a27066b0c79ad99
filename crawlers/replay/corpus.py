"""The replay web's corpus: outlets' articles kept as data, read, derived and checked.

Each outlet has one YAML file in `corpus/` (`site:` settings and `articles:`). A copy is not written out: it
names the article it was copied from and a transform (trim, add an intro or an attribution line, splice in
photo captions, a new headline...), so an original and its copies cannot drift apart. The model is in
articles.py; render.py builds the pages, feeds and sitemaps from it, and truth.py `truth.json`, so the truth
is generated from the very data the pages are built from.

    python -m crawlers.replay.corpus --write-truth   # regenerate corpus/truth.json
    python -m crawlers.replay.corpus --check         # exit 1 when the checked-in truth.json is stale
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

import yaml

from crawlers.replay.articles import Article, Block, Corpus, Site, parse_body
from crawlers.replay.truth import truth_json

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
TRUTH_FILE_NAME = "truth.json"
ORIGIN_KINDS = frozenset({"original", "external_reprint"})
COPY_KINDS = frozenset({
    "full", "intro_added", "trimmed", "new_headline", "excerpt", "captions", "boilerplate_added",
    "comment_added", "crosspost_of_crosspost",
})


class CorpusError(Exception):
    """The corpus data is inconsistent; the message names the file and the article."""


def load_corpus(corpus_dir: Path | None = None) -> Corpus:
    """Read every outlet file, derive the copies, and check that the whole is consistent."""
    corpus_dir = Path(corpus_dir or CORPUS_DIR)
    events = _read_yaml(corpus_dir / "events.yaml")["events"]
    raw: dict[str, tuple[Site, dict]] = {}
    for path in sorted(corpus_dir.glob("*.yaml")):
        if path.name == "events.yaml":
            continue
        data = _read_yaml(path)
        site = Site(file=path.name, **data["site"])
        for entry in data["articles"]:
            if entry["key"] in raw:
                raise CorpusError(f"{path.name}: article key '{entry['key']}' is used twice")
            raw[entry["key"]] = (site, entry)
    built: dict[str, Article] = {}
    for key in raw:
        _build(key, raw, built, ())
    corpus = Corpus(sorted(built.values(), key=lambda a: (a.published, a.url)), events, corpus_dir)
    _validate(corpus)
    return corpus


def _read_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: {exc}") from exc


def _build(key: str, raw: dict[str, tuple[Site, dict]], built: dict[str, Article], chain: tuple[str, ...]) -> Article:
    if key in built:
        return built[key]
    if key in chain:
        raise CorpusError(f"copy cycle: {' -> '.join(chain + (key,))}")
    site, entry = raw[key]
    source_key = entry.get("copy_of")
    if source_key is None:
        article = _original(site, entry)
    elif source_key not in raw:
        raise CorpusError(f"{site.file}: '{key}' is a copy of unknown article '{source_key}'")
    else:
        article = _copy(site, entry, _build(source_key, raw, built, chain + (key,)))
    built[key] = article
    return article


def _common(site: Site, entry: dict) -> dict:
    return {
        "key": entry["key"],
        "site": site,
        "url": entry["url"],
        "published": _datetime(entry["published"]),
        "tags": tuple(entry.get("tags", ())),
        "categories": tuple(entry.get("categories", ())),
        "in_feed": entry.get("in_feed", not site.archive),
        "captures": tuple(str(stamp) for stamp in entry.get("captures", ())),
        "comment": entry.get("comment"),
        "image": entry.get("image"),
    }


def _original(site: Site, entry: dict) -> Article:
    return Article(
        **_common(site, entry),
        title=entry["title"],
        authors=tuple(entry.get("authors", ())),
        blocks=parse_body(entry["body"]),
        tail=parse_body(entry["tail"]) if "tail" in entry else (),
        kind=entry.get("kind", "original"),
        story=entry.get("story", entry["key"]),
        subtitle=entry.get("subtitle"),
        event=entry.get("event"),
    )


def _copy(site: Site, entry: dict, source: Article) -> Article:
    spec = entry.get("transform", {})
    try:
        blocks, tail = derive(source, spec, site.home)
    except ValueError as exc:
        raise CorpusError(f"{site.file}: '{entry['key']}': {exc}") from exc
    return Article(
        **_common(site, entry),
        title=spec.get("title", source.title),
        authors=tuple(spec.get("authors", source.authors)),
        blocks=blocks,
        tail=tail,
        kind=entry["kind"],
        source=source,
        story=source.story,
        subtitle=spec.get("subtitle"),
    )


def _datetime(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise CorpusError(f"date without a time zone: {value}")
    return moment.astimezone(timezone.utc)


def derive(source: Article, spec: dict, home: str) -> tuple[tuple[Block, ...], tuple[Block, ...]]:
    """A copy's text (body, tail) from its source's, by the declared transform: what republishers do.

    keep: [start, end] paragraphs kept; captions: photo captions spliced in, `split_after` cutting a
    paragraph in two; attribution (+ attribution_at: index or "end"); intro / outro: paragraphs added;
    more_inline: text appended to the last paragraph; more: a closing "Full article" line.
    In added text `{source}` stands for the source's URL and `{subtitle}` for its standfirst.
    """

    def fill(text: str) -> str:
        return text.replace("{source}", source.url).replace("{subtitle}", source.subtitle or "")

    start, end = spec.get("keep", [0, None])
    body = list(source.blocks + source.tail)[start:end]
    for number, caption in sorted(enumerate(spec.get("captions", [])), key=lambda c: -c[1]["at"]):
        _splice_caption(body, caption, f"{home}image/{source.post_id}-{number}.jpg")
    if "more_inline" in spec:
        body[-1] = Block(body[-1].kind, body[-1].text + fill(spec["more_inline"]))
    tail: list[Block] = []
    if "attribution" in spec:
        attribution = Block("attribution", fill(spec["attribution"]))
        at = spec.get("attribution_at", 0)
        tail.append(attribution) if at == "end" else body.insert(at, attribution)
    intro = [Block("p", fill(text)) for text in _paragraphs(spec.get("intro", ()))]
    outro = [Block("p", fill(text)) for text in _paragraphs(spec.get("outro", ()))]
    more = [Block("p", fill(spec["more"]))] if "more" in spec else []
    return tuple(intro + body + outro + more), tuple(tail)


def _paragraphs(value: str | list[str]) -> list[str]:
    """Added paragraphs, as a list or as one text block with blank lines between paragraphs."""
    return [block.text for block in parse_body(value)] if isinstance(value, str) else list(value)


def _splice_caption(body: list[Block], spec: dict, src: str) -> None:
    caption = Block("caption", spec.get("text", ""), credit=spec.get("credit"), alt=spec.get("alt"), src=src)
    at, cut = spec["at"], spec.get("split_after")
    if cut is None:
        body.insert(at, caption)
        return
    paragraph = body[at]
    head, found, rest = paragraph.text.partition(cut)
    if not found:
        raise ValueError(f"caption split point {cut!r} not in paragraph {at}")
    body[at : at + 1] = [Block(paragraph.kind, head + cut), caption, Block(paragraph.kind, rest)]


def _validate(corpus: Corpus) -> None:
    seen: dict[str, Article] = {}
    for article in corpus.articles:
        where = f"{article.site.file}: '{article.key}'"
        if article.url in seen:
            raise CorpusError(f"{where}: URL already used by '{seen[article.url].key}'")
        seen[article.url] = article
        kinds = ORIGIN_KINDS if article.is_origin else COPY_KINDS
        if article.kind not in kinds:
            raise CorpusError(f"{where}: kind '{article.kind}' is not one of {sorted(kinds)}")
        if article.source and article.published <= article.source.published:
            raise CorpusError(f"{where}: published before the page it copies")
        if article.event and article.event not in corpus.events:
            raise CorpusError(f"{where}: unknown event '{article.event}'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.replay.corpus", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-truth", action="store_true", help="regenerate corpus/truth.json")
    action.add_argument("--check", action="store_true", help="exit 1 when corpus/truth.json is stale")
    args = parser.parse_args(argv)
    corpus = load_corpus()
    expected = truth_json(corpus)
    truth_file = corpus.directory / TRUTH_FILE_NAME
    if args.write_truth:
        truth_file.write_text(expected, encoding="utf-8")
        print(f"wrote {truth_file}: {len(corpus.articles)} articles")
        return 0
    stale = not truth_file.exists() or truth_file.read_text(encoding="utf-8") != expected
    print(f"{truth_file} is {'stale: run --write-truth' if stale else 'up to date'}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
