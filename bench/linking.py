"""Syndication-linking benchmark: storytrail's Linker against a datasketch MinHashLSH baseline, in one run.

Data: pseudo-articles generated from a word-bigram model of real news text (the hand-made bodies of
../shared/benchmarks/article-extraction and the seed pages in ../shared/seeds, read at run time), with
planted copies of known kinds (full, intro added, trimmed, teaser, 30% excerpt inside a long page,
captions spliced mid-sentence, new headline with a credit line, crosspost of a crosspost) and negatives
(pairs sharing a quoted statement, marked or not, and one quote repeated across 1% of all articles).
A copy is always on another site than the page it copies. Arrival is in publication order, except 3% of
the origins that arrive last (a backfill).

Ours: the real SqliteStore on a temporary file and `Linker.link` per article, exactly as the pipeline calls
it (with fsync off on that throwaway file: with it, WAL checkpoints add about 5 ms an article on this disk).
Baseline: MinHash (128 permutations) of the same comparison text's 5-word shingles, MinHashLSH at the
threshold with the best F1 of a sweep; pairs it returns are grouped transitively, as stories are.
Each system runs in its own process, the two side by side, so peak memory (ru_maxrss) is its own.

    /work/venv/bin/python bench/linking.py [--sizes 1000,10000,100000] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT / ".." / "shared"
sys.path.insert(0, str(PROJECT_ROOT))  # also in the spawned processes that run each system
COPY_KINDS = ("full", "intro_added", "trimmed", "teaser", "excerpt_30", "captions", "new_headline", "crosspost")
PARTIAL_KINDS = ("trimmed", "teaser", "excerpt_30")
STORY_SHARE = 0.06  # of the articles, origins with planted copies (1-3 each)
QUOTE_PAIR_SHARE = 0.01  # of the articles, pairs sharing a quoted statement
COMMON_QUOTE_SHARE = 0.01  # of the articles carry one statement everybody quotes
LATE_ORIGIN_SHARE = 0.03
OUTLETS = 60
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
NUM_PERM = 128
START = datetime(2020, 1, 1, tzinfo=timezone.utc)


# ----------------------------------------------------------------------------------------------- text


class TextModel:
    """Word bigrams of real news text; every fourth word or so restarts anywhere, so that two generated
    articles share no long run of words by chance, as two real articles would not."""

    def __init__(self, texts: list[str], rng: random.Random) -> None:
        self.rng = rng
        words = [w for text in texts for w in _QUOTES.sub("", text).split()]
        self.words = words
        self.next: dict[str, list[str]] = defaultdict(list)
        for a, b in zip(words, words[1:]):
            self.next[a].append(b)

    def sentence_words(self, count: int) -> list[str]:
        rng, words, nxt = self.rng, self.words, self.next
        out = [rng.choice(words).capitalize()]
        while len(out) < count or not out[-1].endswith("."):
            followers = nxt.get(out[-1].lower()) or nxt.get(out[-1])
            out.append(rng.choice(followers) if followers and rng.random() > 0.25 else rng.choice(words))
            if len(out) > count + 25:
                out[-1] = out[-1].rstrip(".,;:") + "."
        return out

    def paragraph(self, words: int) -> str:
        return " ".join(self.sentence_words(words))

    def paragraphs(self, total_words: int) -> list[str]:
        out, count = [], 0
        while count < total_words:
            paragraph = self.paragraph(self.rng.randint(35, 110))
            out.append(paragraph)
            count += len(paragraph.split())
        return out

    def title(self) -> str:
        return " ".join(self.sentence_words(8)[:9]).rstrip(".")


_QUOTES = re.compile(r"[“”\"«»„]")


def source_texts() -> list[str]:
    truth = json.loads((SHARED / "benchmarks" / "article-extraction" / "ground-truth.json").read_text("utf-8"))
    texts = [entry["articleBody"] for entry in truth.values()]
    texts += [p.read_text("utf-8") for p in sorted((SHARED / "seeds").glob("0*.txt"))]
    return texts


# ----------------------------------------------------------------------------------------------- corpus


@dataclass
class BenchArticle:
    url: str
    outlet: str
    title: str
    published: str
    text: str
    story: str
    kind: str  # original, single, quote_negative, or a copy kind
    origin: str | None = None
    group: str | None = None  # the two articles of a quote-sharing pair
    links: list[str] = field(default_factory=list)


class CorpusBuilder:
    """Generates `n` articles with planted stories and negatives, in arrival order."""

    def __init__(self, n: int, seed: int) -> None:
        self.n = n
        self.rng = random.Random(seed)
        self.model = TextModel(source_texts(), self.rng)
        self.outlets = [f"bench-news{i}.com" for i in range(OUTLETS)]
        self.footers = {o: self.model.paragraph(18) + f" Follow {o} for more." for o in self.outlets}
        self.common_quote = "“" + self.model.paragraph(30) + "”"
        self.count = 0

    def build(self) -> list[BenchArticle]:
        articles: list[BenchArticle] = []
        late: list[BenchArticle] = []
        n_stories = int(self.n * STORY_SHARE)
        n_quote_pairs = int(self.n * QUOTE_PAIR_SHARE)
        for _ in range(n_stories):
            story = self._story()
            (late if self.rng.random() < LATE_ORIGIN_SHARE else articles).append(story[0])
            articles.extend(story[1:])
        for _ in range(n_quote_pairs):
            articles.extend(self._quote_pair())
        while len(articles) + len(late) < self.n:
            articles.append(self._article("single"))
        articles.sort(key=lambda a: a.published)
        return articles + late

    # -- pieces -------------------------------------------------------------------------------------
    def _article(self, kind: str, paragraphs: list[str] | None = None, story: str | None = None,
                 not_at: str | None = None) -> BenchArticle:
        self.count += 1
        outlet = self.rng.choice([o for o in self.outlets if o != not_at])  # sites republish others' articles
        paragraphs = paragraphs or self.model.paragraphs(self.rng.randint(250, 900))
        if self.rng.random() < COMMON_QUOTE_SHARE:
            paragraphs.insert(len(paragraphs) // 2, "As everybody recalls: " + self.common_quote)
        published = START + timedelta(minutes=self.rng.randint(0, 60 * 24 * 365))
        url = f"https://{outlet}/{published:%Y/%m/%d}/article-{self.count}"
        text = "\n".join(paragraphs + [self.footers[outlet]])
        return BenchArticle(url, outlet, self.model.title(), published.isoformat(), text, story or url, kind)

    def _story(self) -> list[BenchArticle]:
        origin = self._article("original")
        body = origin.text.split("\n")[:-1]  # without the origin outlet's footer
        copies: list[BenchArticle] = []
        for _ in range(self.rng.randint(1, 3)):
            kind = self.rng.choice(COPY_KINDS)
            source = self.rng.choice(copies) if kind == "crosspost" and copies else origin
            kind = kind if source is not origin else ("full" if kind == "crosspost" else kind)
            source_body = body if source is origin else source.text.split("\n")[:-1]
            copy = self._article(kind, self._transform(kind, list(source_body), source), origin.story, source.outlet)
            copy.origin = origin.url
            copy.published = (datetime.fromisoformat(source.published) + timedelta(minutes=self.rng.randint(10, 4000))).isoformat()
            copy.links = [source.url] if kind in ("teaser", "crosspost") else []
            copies.append(copy)
        return [origin, *copies]

    def _transform(self, kind: str, body: list[str], source: BenchArticle) -> list[str]:
        rng, model = self.rng, self.model
        if kind == "intro_added":
            return model.paragraphs(rng.randint(40, 150)) + body
        if kind == "trimmed":
            return body[: max(2, round(len(body) * rng.uniform(0.6, 0.85)))]
        if kind == "teaser":
            return body[:2] + ["Read more >>"]
        if kind == "excerpt_30":
            words = sum(len(p.split()) for p in body)
            start = rng.randrange(len(body))
            kept: list[str] = []
            for paragraph in body[start:] + body[:start]:
                kept.append(paragraph)
                if sum(len(p.split()) for p in kept) >= 0.3 * words:
                    break
            return model.paragraphs(rng.randint(400, 700)) + kept + model.paragraphs(rng.randint(400, 800))
        if kind == "captions":
            return _with_captions(body, rng, model)
        if kind == "new_headline":
            return [f"{source.outlet.split('.')[0].title()} | {datetime.fromisoformat(source.published):%B %d, %Y}"] + body
        if kind == "crosspost":
            return body + [source.outlet]
        return body

    def _quote_pair(self) -> list[BenchArticle]:
        """Two articles quoting one statement: in quotation marks, or (every other pair) as plain text."""
        statement = self.model.paragraph(self.rng.randint(35, 60))
        marked = self.rng.random() < 0.5
        pair = []
        for _ in range(2):
            article = self._article("quote_negative")
            article.group = statement[:40]
            lines = article.text.split("\n")
            quoted = f"The ministry said in a statement: “{statement}”" if marked else statement
            lines.insert(self.rng.randint(1, max(1, len(lines) - 2)), quoted)
            article.text = "\n".join(lines)
            pair.append(article)
        return pair


def _with_captions(body: list[str], rng: random.Random, model: TextModel) -> list[str]:
    """A SOTT-style copy: a captioned photo between paragraphs and one splitting a sentence (../shared/seeds/002)."""
    out = list(body)
    at = rng.randrange(len(out))
    words = out[at].split()
    cut = rng.randint(len(words) // 3, max(len(words) // 3, 2 * len(words) // 3))
    caption = [" ".join(model.sentence_words(3)[:4]).rstrip(".").lower(), "© Reuters", model.paragraph(12)]
    out[at : at + 1] = [" ".join(words[:cut]), *caption, " ".join(words[cut:])]
    out.insert(rng.randrange(len(out) + 1), "© Unknown\n" + model.paragraph(10))
    return out


def write_corpus(articles: list[BenchArticle], path: Path) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for article in articles:
            out.write(json.dumps(asdict(article)) + "\n")


def read_corpus(path: Path) -> Iterator[BenchArticle]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield BenchArticle(**json.loads(line))


# ----------------------------------------------------------------------------------------------- systems


def as_article(item: BenchArticle):
    from pipelines.models import Article

    return Article(url=item.url, outlet=item.outlet, domain=item.outlet, title=item.title,
                   published=datetime.fromisoformat(item.published), text=item.text, links=item.links)


def run_ours(corpus: Path, workdir: Path) -> dict:
    """Link every article through the real store; stories and origins as the store holds them."""
    from loguru import logger

    from crawlers.sources import load_sources
    from pipelines.linking import Linker
    from pipelines.settings import LinkSettings
    from pipelines.stores.sqlite import SqliteStore

    logger.remove()
    store = SqliteStore(workdir / f"{corpus.name}.db")
    store.db.execute("PRAGMA synchronous=OFF")  # a throwaway file: measure the index work, not the disk's fsync
    linker = Linker(store, load_sources(), LinkSettings())
    link_seconds, count, outcomes = 0.0, 0, Counter()
    for item in read_corpus(corpus):
        article = as_article(item)
        store.upsert([article])
        started = time.perf_counter()
        outcomes[linker.link(article).action] += 1
        link_seconds += time.perf_counter() - started
        count += 1
    stories = {a.url: a.story_id for a in store.iter_articles()}
    origins = {a.story_id: a.url for a in store.iter_articles() if a.is_origin}
    store.close()
    return {"stories": stories, "origins": origins, "seconds": link_seconds, "count": count,
            "outcomes": dict(outcomes), "peak_mb": _peak_mb()}


def run_minhash(corpus: Path, workdir: Path) -> dict:
    """MinHashLSH over the same comparison text; every threshold of the sweep, pairs grouped transitively."""
    from datasketch import MinHash, MinHashLSH

    from crawlers.sources import load_sources
    from pipelines.comparison_text import TextCleaner

    cleaner = TextCleaner(load_sources())
    started = time.perf_counter()
    keys, hashes = [], []
    for item in read_corpus(corpus):
        words = cleaner.clean(as_article(item)).words
        shingles = {" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))}
        minhash = MinHash(num_perm=NUM_PERM)
        minhash.update_batch(list(shingles))
        keys.append(item.url)
        hashes.append(minhash)
    hashing_seconds = time.perf_counter() - started
    sweep = {}
    for threshold in THRESHOLDS:
        started = time.perf_counter()
        lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        groups = _UnionFind()
        for key, minhash in zip(keys, hashes):
            for other in lsh.query(minhash):
                groups.union(key, other)
            lsh.insert(key, minhash)
        sweep[threshold] = {"stories": {k: groups.find(k) for k in keys}, "seconds": hashing_seconds + time.perf_counter() - started}
    return {"sweep": sweep, "count": len(keys), "peak_mb": _peak_mb()}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        parent = self.parent.setdefault(key, key)
        if parent != key:
            parent = self.parent[key] = self.find(parent)
        return parent

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Scores:
    recall_by_kind: dict[str, float]
    recall_partial: float
    recall_all: float
    precision: float
    f1: float
    quote_pairs_merged: int
    origin_accuracy: float | None


def score(truth: list[BenchArticle], stories: dict[str, str], origins: dict[str, str] | None = None) -> Scores:
    by_url = {a.url: a for a in truth}
    found: dict[str, list[bool]] = defaultdict(list)
    for article in truth:
        if article.origin:
            found[article.kind].append(stories[article.url] == stories[article.origin])
    clusters: dict[str, Counter] = defaultdict(Counter)
    for url, story in stories.items():
        clusters[story][by_url[url].story] += 1
    predicted = sum(sum(c.values()) * (sum(c.values()) - 1) // 2 for c in clusters.values())
    correct = sum(n * (n - 1) // 2 for c in clusters.values() for n in c.values())
    precision = correct / predicted if predicted else 1.0
    all_found = [f for values in found.values() for f in values]
    partial = [f for kind in PARTIAL_KINDS for f in found[kind]]
    recall = sum(all_found) / len(all_found)
    pairs: dict[str, list[str]] = defaultdict(list)
    for article in truth:
        if article.group:
            pairs[article.group].append(article.url)
    merged = sum(1 for a, b in pairs.values() if stories[a] == stories[b])
    accuracy = None
    if origins is not None:
        planted = [a for a in truth if a.kind == "original"]
        accuracy = sum(origins.get(stories[a.url]) == a.url for a in planted) / len(planted)
    return Scores(
        recall_by_kind={k: sum(v) / len(v) for k, v in sorted(found.items())},
        recall_partial=sum(partial) / len(partial),
        recall_all=recall,
        precision=precision,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        quote_pairs_merged=merged,
        origin_accuracy=accuracy,
    )


# ----------------------------------------------------------------------------------------------- main


def _in_children(*calls: tuple) -> list[dict]:
    """Each system in its own process, side by side (one core each on the 2-core machine)."""
    with multiprocessing.get_context("spawn").Pool(len(calls)) as pool:
        pending = [pool.apply_async(function, args) for function, *args in calls]
        return [p.get() for p in pending]


def bench_size(n: int, seed: int, workdir: Path) -> dict:
    started = time.perf_counter()
    truth = CorpusBuilder(n, seed).build()
    corpus = workdir / f"corpus-{n}.jsonl.gz"
    write_corpus(truth, corpus)
    generated = time.perf_counter() - started
    ours, baseline = _in_children((run_ours, corpus, workdir), (run_minhash, corpus, workdir))
    our_scores = score(truth, ours["stories"], ours["origins"])
    swept = {t: score(truth, r["stories"]) for t, r in baseline["sweep"].items()}
    best = max(swept, key=lambda t: (swept[t].f1, -t))
    return {
        "n": n,
        "copies": sum(1 for a in truth if a.origin),
        "generate_s": round(generated, 1),
        "ours": {**asdict(our_scores), "seconds": ours["seconds"], "per_s": ours["count"] / ours["seconds"],
                 "ms_per_article": 1000 * ours["seconds"] / ours["count"], "peak_mb": ours["peak_mb"], "outcomes": ours["outcomes"]},
        "minhash": {**asdict(swept[best]), "threshold": best, "seconds": baseline["sweep"][best]["seconds"],
                    "per_s": baseline["count"] / baseline["sweep"][best]["seconds"],
                    "ms_per_article": 1000 * baseline["sweep"][best]["seconds"] / baseline["count"],
                    "peak_mb": baseline["peak_mb"], "sweep_f1": {t: round(s.f1, 4) for t, s in swept.items()}},
    }


def print_table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Syndication linking: storytrail (containment over winnowed shingles) vs MinHashLSH")
    table.add_column("measure")
    for result in results:
        table.add_column(f"ours {result['n']:,}", justify="right")
        table.add_column(f"MinHash {result['n']:,} (t={result['minhash']['threshold']})", justify="right")
    kinds = sorted({k for r in results for k in r["ours"]["recall_by_kind"]})
    rows = [(f"recall {k}", lambda s, k=k: f"{s['recall_by_kind'].get(k, 0):.3f}") for k in kinds] + [
        ("recall partial (trimmed/teaser/excerpt)", lambda s: f"{s['recall_partial']:.3f}"),
        ("recall all copies", lambda s: f"{s['recall_all']:.3f}"),
        ("pairwise precision", lambda s: f"{s['precision']:.4f}"),
        ("quote-sharing pairs merged", lambda s: str(s["quote_pairs_merged"])),
        ("origin right", lambda s: "—" if s["origin_accuracy"] is None else f"{s['origin_accuracy']:.3f}"),
        ("articles linked / s", lambda s: f"{s['per_s']:.0f}"),
        ("ms per article", lambda s: f"{s['ms_per_article']:.2f}"),
        ("peak memory MB", lambda s: f"{s['peak_mb']:.0f}"),
    ]
    for label, cell in rows:
        table.add_row(label, *[cell(r[side]) for r in results for side in ("ours", "minhash")])
    Console(width=170).print(table)
    base = results[0]
    for result in results[1:]:
        ratio = result["ours"]["ms_per_article"] / base["ours"]["ms_per_article"]
        print(f"per-article linking time at {result['n']:,} is {ratio:.2f}x that at {base['n']:,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated store sizes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="storytrail-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            print(f"size {n:,}: generating, linking, baseline...", file=sys.stderr, flush=True)
            results.append(bench_size(n, args.seed, Path(tmp)))
    print_table(results)
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
