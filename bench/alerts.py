"""Alerts benchmark: evaluating 1,000 saved searches after a cycle, beside the cycle itself, per store.

For each store (SQLite on a temporary file; Elasticsearch on osmem-server, started here on a free loopback
port): a base of `--base` articles (bench/index.py's seeded synthetic articles, 12 outlets, a third in stories),
then a cycle of `--new` articles indexed and linked one at a time exactly as the pipeline does it
(`store.upsert([article])` then `Linker.link`): 80% new articles, 20% copies of base articles on another outlet
(their originals were linked before, so each copy is verified and joins the story). Then `--searches` saved
searches are evaluated (pipelines.alerts.evaluation.evaluate plus the outbox transaction), the measured
figure; composing their messages is timed apart. No mail is sent.

Searches: words of the synthetic vocabulary, a fifth each of `w1 AND w2`, `"w1 w2"`, `w1 AND outlet:X`,
`(w1 OR w2) AND w3 NOT title:w4`, `w1 w2 published:[2024-01-01 TO 2024-12-31]`; every search began before the
cycle, and the stories of the copied originals were already sent to three searches each, so their new copies
give "now also on" entries.

What the cycle time leaves out makes it SMALLER than a real cycle's: no fetching, no extraction, and the base
articles other than the copied originals carry no fingerprints, so linking an unrelated article finds no
candidate to verify. The comparison is therefore conservative for the goal (evaluation cheaper than the cycle).

    nice -n 10 .venv/bin/python bench/alerts.py [--base 100000] [--new 500] [--searches 1000] [--stores sqlite,osmem]
    nice -n 10 .venv/bin/python bench/alerts.py --base 5000 --new 200 --searches 200     # a quick run
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from itertools import islice
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger  # noqa: E402
from osmem_server import OsmemServer  # noqa: E402

from bench.index import OUTLETS, open_fresh, synthetic_articles  # noqa: E402
from crawlers.sources import DEFAULT_SOURCES_FILE, load_sources  # noqa: E402
from pipelines.alerts.delivery import due_messages  # noqa: E402
from pipelines.alerts.evaluation import evaluate  # noqa: E402
from pipelines.alerts.ledger import AlertsDb, Seen  # noqa: E402
from pipelines.alerts.saved_searches import new_search  # noqa: E402
from pipelines.linking import Linker  # noqa: E402
from pipelines.models import Article  # noqa: E402
from pipelines.settings import AlertSettings, LinkSettings, MailSettings, StoreSettings  # noqa: E402
from pipelines.stores import es_mapping  # noqa: E402
from pipelines.stores import sqlite as sqlite_store  # noqa: E402
from pipelines.stores.base import Store  # noqa: E402
from pipelines.stores.factory import open_store  # noqa: E402

COPY_SHARE = 0.2
SENT_TO = 3  # searches that had already sent each copied original's story


def make_queries(n: int, rng: random.Random, vocabulary: list[str]) -> list[str]:
    shapes = [
        lambda w: f"{w[0]} AND {w[1]}",
        lambda w: f'"{w[0]} {w[1]}"',
        lambda w: f"{w[0]} AND outlet:{rng.choice(OUTLETS)}",
        lambda w: f"({w[0]} OR {w[1]}) AND {w[2]} NOT title:{w[3]}",
        lambda w: f"{w[0]} {w[1]} published:[2024-01-01 TO 2024-12-31]",
    ]
    return [shapes[k % len(shapes)](rng.sample(vocabulary, 4)) for k in range(n)]


def vocabulary_of(articles: list[Article]) -> list[str]:
    return sorted({w.strip(".") for a in articles[:2000] for w in a.text.split()})


def cycle_articles(base: list[Article], n: int, rng: random.Random, start: int) -> tuple[list[Article], list[Article]]:
    """(the cycle's new articles, the base originals some of them copy)."""
    fresh = [replace(a, url=a.url.replace("/0", "/new-0", 1), story_id=None,
                     fetched_at=datetime.now(timezone.utc))
             for a in synthetic_articles(int(n * (1 - COPY_SHARE)), seed=start)]
    originals = rng.sample(base, n - len(fresh))
    copies = []
    for k, original in enumerate(originals):
        outlet = next(o for o in OUTLETS[::-1] if o != original.outlet)
        copies.append(replace(
            original, url=f"https://{outlet}.example/copy/{k:06d}", outlet=outlet, domain=f"{outlet}.example",
            story_id=None, is_origin=False, published=original.published + timedelta(hours=3),
            fetched_at=datetime.now(timezone.utc)))
    mixed = fresh + copies
    rng.shuffle(mixed)
    return mixed, originals


def measure(kind: str, store: Store, args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    rng = random.Random(args.seed)
    sources = load_sources(DEFAULT_SOURCES_FILE)
    linker = Linker(store, sources, LinkSettings())
    started = time.perf_counter()
    base: list[Article] = []
    with _clock_back(timedelta(days=1)):  # the base was indexed before the searches' last evaluation
        for batch in _batches(synthetic_articles(args.base, args.seed), StoreSettings().bulk_docs):
            batch = [replace(a, story_id=None) for a in batch]  # linked stories only (the originals below)
            base.extend(batch)
            store.upsert(batch)
        start = datetime.now(timezone.utc).isoformat()
    print(f"  ... {kind}: base of {args.base} articles in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    new, originals = cycle_articles(base, args.new, rng, args.seed + 1)
    for original in originals:  # fingerprinted and linked, as they would be in a store that has been running
        linker.link(original)
    vocabulary = vocabulary_of(base)
    db = AlertsDb(workdir / f"alerts-{kind}.db")
    stored = {a.url: a for a in store.get_many([o.url for o in originals]).values()}
    for k, query in enumerate(make_queries(args.searches, rng, vocabulary)):
        search = new_search(f"s{k:04d}", query, "r@example.org", start=start)
        sent = [Seen(o.url, o.outlet, stored[o.url].story_id or o.url) for o in originals if hash((k, o.url)) % args.searches < SENT_TO]
        db.add(search, sent)

    cycle_started = time.perf_counter()
    for article in new:
        store.upsert([article])
        linker.link(article)
    cycle_s = time.perf_counter() - cycle_started

    searches = db.searches()
    now = datetime.now(timezone.utc)
    eval_started = time.perf_counter()
    found = evaluate(db, store, searches, now, timedelta(minutes=AlertSettings().overlap_min))
    with db.transaction():
        found.record(db)
    eval_s = time.perf_counter() - eval_started
    compose_started = time.perf_counter()
    messages, _ = due_messages(db, searches, MailSettings(), AlertSettings(), now)
    compose_s = time.perf_counter() - compose_started
    kinds = {k: sum(1 for e in found.entries if e.kind == k) for k in ("new", "also")}
    db.close()
    return {"cycle_s": cycle_s, "eval_s": eval_s, "compose_s": compose_s, "read": found.new_articles,
            "entries_new": kinds["new"], "entries_also": kinds["also"], "messages": len(messages)}


def open_osmem(osmem: OsmemServer) -> tuple[Store, callable]:
    """A fresh osmem clone, with a long request timeout: the in-memory server slows down as it fills on a
    busy machine (the default 30 s ended a 100k run at 44,500 articles)."""
    clone = osmem.clone()
    store = open_store(f"{clone.url}?compat=off", settings=StoreSettings(timeout_s=600))

    def dispose() -> None:
        store.close()
        try:
            clone.close()
        except OSError as exc:  # the server goes with this process anyway
            print(f"  ... osmem clone not closed: {exc}", file=sys.stderr)

    return store, dispose


@contextmanager
def _clock_back(delta: timedelta):
    """The stores stamp `indexed_at` with datetime.now(): run them `delta` in the past meanwhile."""

    class Earlier(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) - delta

    modules = [sqlite_store, es_mapping]
    saved = [module.datetime for module in modules]
    for module in modules:
        module.datetime = Earlier
    try:
        yield
    finally:
        for module, original in zip(modules, saved):
            module.datetime = original


def _batches(articles, size: int):
    while batch := list(islice(articles, size)):
        yield batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=int, default=100_000, help="articles in the store before the cycle")
    parser.add_argument("--new", type=int, default=500, help="articles the cycle adds")
    parser.add_argument("--searches", type=int, default=1000, help="saved searches evaluated")
    parser.add_argument("--stores", default="sqlite,osmem", help="sqlite, osmem")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    kinds = args.stores.split(",")
    osmem = OsmemServer.start(japanese=False) if "osmem" in kinds else None
    print(f"{args.searches} saved searches evaluated after a cycle adding {args.new} articles to {args.base} "
          f"({COPY_SHARE:.0%} of them copies of stored stories)")
    print(f"{'store':8} {'cycle s':>8} {'evaluate s':>11} {'eval/cycle':>10} {'compose s':>10} {'read':>6} "
          f"{'new entries':>12} {'also entries':>13} {'messages':>9}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in kinds:
                store, dispose = open_fresh(kind, Path(tmp), osmem) if kind == "sqlite" else open_osmem(osmem)
                try:
                    r = measure(kind, store, args, Path(tmp))
                finally:
                    dispose()
                print(f"{kind:8} {r['cycle_s']:>8.1f} {r['eval_s']:>11.2f} {r['eval_s'] / r['cycle_s']:>10.3f} "
                      f"{r['compose_s']:>10.2f} {r['read']:>6} {r['entries_new']:>12} {r['entries_also']:>13} "
                      f"{r['messages']:>9}", flush=True)
    finally:
        if osmem:
            osmem.close()


if __name__ == "__main__":
    main()
