"""Store benchmark: articles indexed per second and the latency of a typical saved search, per store and size.

Stores: the SQLite store on a temporary file, the Elasticsearch store on osmem-server (in memory, started
here on a free loopback port), and a live cluster when STORYTRAIL_ES_URL is set (credentials from
STORYTRAIL_ES_*; indices under a throwaway prefix, deleted afterwards). Each size starts from an empty store.

Data: synthetic articles (seeded): 150-350 words drawn from a 5,000-word vocabulary, 12 outlets, a year of
publication dates, a third of them in stories of 2-6 copies; 8% mention an "air strike", 5% have Ukraine in
the title, so the saved search below matches a few hundred articles per 10,000.

Indexing is `store.upsert` in batches of `store.bulk_docs` (500), as the pipeline calls it, then timed to
the point where search sees everything. The query runs `--runs` times after one warm-up, plain and
collapsed to one hit per story, 20 hits each.

    /work/venv/bin/python bench/index.py [--sizes 10000,100000] [--stores sqlite,osmem,live] [--runs 50]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger  # noqa: E402
from osmem_server import OsmemServer  # noqa: E402

from pipelines.models import Article  # noqa: E402
from pipelines.settings import StoreSettings  # noqa: E402
from pipelines.stores.base import Store  # noqa: E402
from pipelines.stores.factory import open_store  # noqa: E402

SAVED_SEARCH = '"air strike" AND outlet:sputnik NOT title:ukraine'
OUTLETS = ["sputnik", "rt", "tass", "globalresearch", "aletho", "sott", "wsws", "antimedia", "cradle",
           "strategic-culture", "neo", "presstv"]
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


def synthetic_articles(n: int, seed: int) -> Iterator[Article]:
    rng = random.Random(seed)
    vocabulary = [_word(rng) for _ in range(5000)]
    story = 0
    remaining_in_story = 0
    for k in range(n):
        if remaining_in_story == 0 and rng.random() < 0.1:
            story += 1
            remaining_in_story = rng.randint(2, 6)
        story_id = f"story-{story}" if remaining_in_story else None
        remaining_in_story = max(0, remaining_in_story - 1)
        words = rng.choices(vocabulary, k=rng.randint(150, 350))
        if rng.random() < 0.08:
            at = rng.randrange(len(words))
            words[at:at] = ["air", "strike"]
        title = " ".join(rng.choices(vocabulary, k=6)).capitalize()
        if rng.random() < 0.05:
            title += " in Ukraine"
        outlet = rng.choice(OUTLETS)
        published = START + timedelta(minutes=rng.randrange(365 * 24 * 60))
        yield Article(
            url=f"https://{outlet}.example/{published:%Y/%m}/{k:07d}", outlet=outlet, domain=f"{outlet}.example",
            title=title, text=" ".join(words) + ".", authors=[f"Author {rng.randrange(400)}"], language="en",
            published=published, fetched_at=published + timedelta(minutes=rng.randrange(600)), story_id=story_id,
        )


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnoprstuvwy") for _ in range(rng.randint(3, 10)))


def measure(store: Store, n: int, seed: int, batch: int, runs: int) -> dict[str, float]:
    started = time.perf_counter()
    articles = synthetic_articles(n, seed)
    while True:
        chunk = [a for _, a in zip(range(batch), articles)]
        if not chunk:
            break
        store.upsert(chunk)
    hits = len(store.search(SAVED_SEARCH, limit=min(n, 10_000)))  # also makes every write visible (refresh)
    elapsed = time.perf_counter() - started
    print(f"  ... {type(store).__name__}: {n} articles indexed in {elapsed:.1f} s", file=sys.stderr, flush=True)
    row = {"docs_per_s": n / elapsed, "index_s": elapsed, "hits": hits}
    for name, collapse in (("plain", False), ("collapsed", True)):
        store.search(SAVED_SEARCH, collapse_stories=collapse)  # warm-up
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            store.search(SAVED_SEARCH, limit=20, collapse_stories=collapse)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        row[f"{name}_median_ms"] = statistics.median(times)
        row[f"{name}_p95_ms"] = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    return row


def open_fresh(kind: str, workdir: Path, osmem: OsmemServer | None) -> tuple[Store, callable]:
    """A new empty store of `kind`, and how to dispose of it."""
    if kind == "sqlite":
        path = workdir / f"{uuid.uuid4().hex}.db"
        store = open_store(f"sqlite:///{path}")
        return store, store.close
    if kind == "osmem":
        clone = osmem.clone()
        store = open_store(f"{clone.url}?compat=off")

        def dispose() -> None:
            store.close()
            clone.close()

        return store, dispose
    prefix = f"storytrail-bench-{uuid.uuid4().hex[:8]}"
    store = open_store(os.environ["STORYTRAIL_ES_URL"], settings=StoreSettings(index_prefix=prefix))

    def drop() -> None:
        for name in store.client.indices.get(index=f"{prefix}-*").body:
            store.client.indices.delete(index=name)
        store.client.indices.delete_index_template(name=f"{prefix}-articles")
        store.close()

    return store, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="article counts, comma-separated")
    parser.add_argument("--stores", default="sqlite,osmem,live", help="sqlite, osmem, live (needs STORYTRAIL_ES_URL)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs of each query")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [k for k in args.stores.split(",") if k != "live" or os.environ.get("STORYTRAIL_ES_URL")]
    if "live" in args.stores and "live" not in kinds:
        print("live: skipped (STORYTRAIL_ES_URL not set)")
    batch = StoreSettings().bulk_docs
    osmem = OsmemServer.start(japanese=False) if "osmem" in kinds else None
    print(f"saved search: {SAVED_SEARCH}   ({args.runs} runs, 20 hits)")
    header = f"{'store':8} {'articles':>9} {'docs/s':>8} {'index s':>8} {'matches':>8} " \
             f"{'median ms':>10} {'p95 ms':>8} {'collapsed median':>17} {'p95':>7}"
    print(header)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in sizes:
                for kind in kinds:
                    store, dispose = open_fresh(kind, Path(tmp), osmem)
                    try:
                        r = measure(store, n, args.seed, batch, args.runs)
                    finally:
                        dispose()
                    print(f"{kind:8} {n:>9} {r['docs_per_s']:>8.0f} {r['index_s']:>8.1f} {r['hits']:>8} "
                          f"{r['plain_median_ms']:>10.2f} {r['plain_p95_ms']:>8.2f} "
                          f"{r['collapsed_median_ms']:>17.2f} {r['collapsed_p95_ms']:>7.2f}", flush=True)
    finally:
        if osmem:
            osmem.close()


if __name__ == "__main__":
    main()
