"""The generated store of bench/pipeline.py's cycle part: N articles of real words (the benchmark's true texts,
drawn by frequency), a share of them copies, written straight into a SQLite store; and a cycle's new articles."""

from __future__ import annotations

import itertools
import json
import re
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from extraction import BENCHMARK_DIR

CYCLE_ARTICLES = 500
OUTLETS = 60
STORY_SHARE = 0.06  # of a store's articles, copies of an earlier article (another outlet, an intro added)
CYCLE_COPY_EVERY = 5  # of a cycle's new articles, one in five copies an article already stored


class TextMaker:
    """Articles of real words drawn by their frequency in the benchmark's true texts: readable as text to
    FTS and the fingerprint index, and, being drawn word by word, sharing no run of words by chance."""

    def __init__(self, seed: int) -> None:
        import random
        from collections import Counter

        truth = json.loads((BENCHMARK_DIR / "ground-truth.json").read_text(encoding="utf-8"))
        counts = Counter(w.lower() for v in truth.values() for w in re.findall(r"[A-Za-z]+", v["articleBody"]))
        self.words, self.cumulative = list(counts), list(itertools.accumulate(counts.values()))
        self.rng = random.Random(seed)

    def paragraph(self, n: int) -> str:
        words = self.rng.choices(self.words, cum_weights=self.cumulative, k=n)
        return " ".join(w + ("." if i % 18 == 17 else "") for i, w in enumerate(words)).capitalize() + "."

    def article(self, i: int, outlet: int) -> dict:
        body = [self.paragraph(self.rng.randint(40, 90)) for _ in range(self.rng.randint(4, 9))]
        footer = footer_of(outlet)
        return {"url": f"https://{site(outlet)}/news/{i}.html", "title": self.paragraph(8)[:80],
                "text": "\n".join([*body, footer]), "published": f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00"}

    def copy_of(self, original: dict, i: int, outlet: int) -> dict:
        lines = original["text"].split("\n")[:-1]  # the original's footer stays behind
        footer = footer_of(outlet)
        return {**original, "url": f"https://{site(outlet)}/copied/{i}.html",
                "text": "\n".join([self.paragraph(40), *lines, footer])}


def site(outlet: int) -> str:
    return f"outlet{outlet}-news.com"  # a registered domain of its own: the outlet of a site not in config;
    # URLs are written as the store keeps them (normalised: no www.)


def footer_of(outlet: int) -> str:
    return f"Copyright outlet {outlet} news service, all rights reserved; republish with a link back."


def build_store(data_dir: Path, size: int, seed: int) -> list[dict]:
    """A store of `size` generated articles, written straight into the store (upsert, fingerprints, chain
    fields) rather than linked one by one: building 100k through the linker would take an hour. Returns the
    stored articles a cycle may copy (the first 5,000 originals and 5% of the others)."""
    from pipelines.chains import story_id_for
    from pipelines.models import Article, ChainInfo
    from pipelines.prepared_text import TextPreparer
    from pipelines.settings import load_settings
    from pipelines.stores.sqlite import SqliteStore
    from crawlers.sources import load_sources

    settings = load_settings(None, {"data_dir": data_dir})
    preparer = TextPreparer(load_sources(settings.sources_file), settings.link)
    maker = TextMaker(seed)
    store = SqliteStore(data_dir / "storytrail.db")
    store.db.execute("PRAGMA synchronous=OFF")  # a throwaway file: the build is not what is measured
    kept: list[dict] = []
    footers: dict[int, frozenset[int]] = {}
    batch: list[tuple[Article, list[int]]] = []
    for i in range(size):
        outlet = i % OUTLETS
        if kept and maker.rng.random() < STORY_SHARE:
            original = maker.rng.choice(kept[-200:])
            document = maker.copy_of(original, i, outlet)
            story, origin = original["story_id"], original["url"]
        else:
            document = maker.article(i, outlet)
            story, origin = story_id_for(document["url"]), None
        article = Article(url=document["url"], outlet=site(outlet), domain=site(outlet),
                          title=document["title"], text=document["text"], published=datetime.fromisoformat(document["published"]),
                          story_id=story, is_origin=origin is None, parent=origin,
                          chain=ChainInfo(kind="origin" if origin is None else "extended"))
        lines = preparer.cleaner.line_hashes(article)
        footer = footers.setdefault(outlet, preparer.cleaner.line_hashes(replace(article, text=footer_of(outlet))))
        footer = footer if i >= 4 * OUTLETS else frozenset()  # learned once 3 other articles of the outlet have it
        if origin is not None or (len(kept) < 5000) or maker.rng.random() < 0.05:
            # the articles a cycle may copy, and every planted copy: their true fingerprints
            prepared = preparer.fingerprints(preparer.comparison_text(article, (article.text_hash, article.outlet, footer)))
            if origin is None:
                kept.append({**document, "story_id": story})
        else:
            # The others, which nothing will copy: as many random fingerprints as their text would have (0.15 a
            # word, never shared by chance either), so that the index has its full size at a fifth of the cost.
            prepared = {maker.rng.getrandbits(61) for _ in range(int(0.15 * document["text"].count(" ")))}
        batch.append((article, sorted(set(prepared) | lines)))
        if len(batch) == 1000 or i == size - 1:
            with store.batch():
                store.upsert([a for a, _ in batch])
                for a, hashes in batch:
                    store.put_fingerprints(a.url, hashes)
            batch = []
            if (i + 1) % 1000 == 0:
                print(f"  store of {size}: {i + 1} articles", file=sys.stderr)
    store.close()
    return kept


def cycle_input(path: Path, kept: list[dict], seed: int) -> None:
    """CYCLE_ARTICLES new articles as `storytrail import` lines (text given), one in five a copy of a stored one."""
    maker = TextMaker(seed + 1)
    with path.open("w", encoding="utf-8") as out:
        for i in range(CYCLE_ARTICLES):
            j = 10_000_000 + i
            outlet = maker.rng.randrange(OUTLETS)
            document = maker.copy_of(maker.rng.choice(kept), j, outlet) if i % CYCLE_COPY_EVERY == 0 else maker.article(j, outlet)
            out.write(json.dumps({k: document[k] for k in ("url", "title", "text", "published")}) + "\n")
