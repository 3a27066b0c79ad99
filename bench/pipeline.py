"""Whole-pipeline throughput, cycle cost on a large store, and read-command start-up, each beside a baseline.

1. Import throughput. Input: the 181 real pages of ../shared/benchmarks/article-extraction, each at 10 URLs
   (one outlet per round, so every page becomes a story of about ten copies); one document in five is a
   copy of another page with a paragraph added. The 1,810 documents go through the whole pipeline
   (`storytrail import`: archive, extract, fingerprint, link, store) with 1 and with 2 workers, and, in the
   same run, through a bare `trafilatura.extract` loop (one process, trafilatura's defaults: the issue's
   baseline), through that loop at trafilatura's best settings for these pages (bench/extraction.py's
   TRAFILATURA_BEST: faster, and the fair baseline), and through the defaults' loop in two processes at once,
   each on every other document (what two cores give the baseline itself now: the reference for reading the
   2-worker wall ratio; tables in bench/pipeline_report.py). Ratios are throughput against throughput: by CPU
   time (all processes of a run) and by wall time, each against the mean of the bare loops run just before
   and just after its round (`--rounds`, 3: bare, best, ours with 1 and 2 workers, bare, best, ...), the
   median round reported.
2. Cycle cost. A SQLite store of N generated articles (bench/generated_store.py: the benchmark's words drawn
   by frequency, planted copies); then a cycle of 500 new articles (imported with their text, linked and stored) on it.
   Per-article cost on the 100k store against the same on a 1k store (median of 3 cycles), and the cycle's
   peak RSS.
3. Start-up. `storytrail search`, `stats` and `story` on the 1k store against
   `python -c "import scrapy, trafilatura"`; collapsed against uncollapsed search latency on the large store.

Every measured run is its own process (its CPU time and peak RSS are its own, pool workers included).
CPU is shared on the machines we measure on: compare the ratios of one run, not absolute times.

    nice -n 10 .venv/bin/python bench/pipeline.py [--parts import,cycle,startup] [--sizes 1000,100000] [--rounds 3]
        [--project /tmp/before]   # measure another checkout of the project with this same script
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from extraction import BENCHMARK_DIR, TRAFILATURA_BEST
from generated_store import build_store, cycle_input, site
from pipeline_report import print_cycle, print_import, print_startup

BENCH_ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 10  # each page at this many URLs
COPY_EVERY = 5  # one document in five is another page with a paragraph added
CYCLE_RUNS = 3  # each cycle is run this many times, on a fresh copy of its store; the median (by CPU) is reported
SEARCH_QUERY = "government"
SEARCH_REPEAT = 30


# -------------------------------------------------------------------------------------------- input
def build_input(path: Path) -> int:
    """The 1,810-document JSON Lines file; returns the number of documents."""
    from lxml import html as lxml_html

    truth = json.loads((BENCHMARK_DIR / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)
    pages = {key: gzip.decompress((BENCHMARK_DIR / "html" / f"{key}.html.gz").read_bytes()).decode("utf-8", "replace")
             for key in keys}
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for round_ in range(ROUNDS):
            for i, key in enumerate(keys):
                html = pages[key]
                if (i + round_) % COPY_EVERY == 0:
                    other = keys[(i + 1 + round_) % len(keys)]
                    html = _with_paragraph(pages[other], round_, lxml_html)
                url = f"https://www.outlet{round_}-news.com/{round_}/{key[:20]}.html"  # one site (outlet) per round
                out.write(json.dumps({"url": url, "html": html}) + "\n")
                count += 1
    return count


def _with_paragraph(page: str, round_: int, lxml_html) -> str:
    """The page with an introduction paragraph of its republisher before its first long paragraph."""
    tree = lxml_html.fromstring(page)
    first = next((p for p in tree.iter("p") if len(p.text_content()) > 120), None)
    intro = lxml_html.fromstring(
        f"<p>Republished by outlet {round_} with a note of its own: the piece below is shared for our readers, "
        f"who asked us to follow this story closely and to add the context that the original left out.</p>")
    if first is None:
        tree.find(".//body").insert(0, intro)
    else:
        first.addprevious(intro)
    return lxml_html.tostring(tree, encoding="unicode")


# -------------------------------------------------------------------------------------------- runs
def measure(argv: list[str], env: dict | None = None) -> dict:
    """Run a process to its end: its wall and CPU seconds (its pool workers included), peak RSS, JSON output."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - start
    usage = _last_child_usage(process)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({process.returncode}):\n{stderr[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return {"wall": wall, **usage, "out": json.loads(lines[-1]) if lines else {}}


_children_before = None


def _last_child_usage(process: subprocess.Popen) -> dict:
    """CPU seconds of the process just reaped (with its reaped descendants), from RUSAGE_CHILDREN deltas."""
    import resource

    global _children_before
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    before = _children_before
    _children_before = now
    cpu = now.ru_utime + now.ru_stime - ((before.ru_utime + before.ru_stime) if before else 0.0)
    return {"cpu": cpu}


def run_bare(input_path: Path, project: Path, best: bool = False) -> dict:
    """The bare loop at trafilatura's defaults (the issue's baseline), or at its best settings."""
    return measure([sys.executable, __file__, "--child", "bare-best" if best else "bare", "--project", str(project),
                    str(input_path)])


def run_bare_pair(input_path: Path, project: Path) -> dict:
    """The bare loop in two processes at once, each over every other document: what two cores give now, on
    this machine (the bare loop's own 2-process speed-up, to read a 2-worker run's wall ratio against)."""
    start = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, __file__, "--child", "bare", "--project", str(project),
                                   "--shard", f"{shard}/2", str(input_path)], stdout=subprocess.DEVNULL)
                 for shard in range(2)]
    if any(process.wait() != 0 for process in processes):
        raise SystemExit("the bare loop in two processes failed")
    return {"wall": time.perf_counter() - start, **_last_child_usage(processes[-1])}


def run_ours(input_path: Path, project: Path, workers: int, workdir: Path) -> dict:
    data = workdir / f"data-{workers}"
    shutil.rmtree(data, ignore_errors=True)
    return measure([sys.executable, __file__, "--child", "import", "--project", str(project), "--workers", str(workers),
                    "--data-dir", str(data), str(input_path)])


def child_bare(input_path: Path, shard: str = "0/1", options: dict | None = None) -> dict:
    import trafilatura

    chars, (mine, shards) = 0, map(int, shard.split("/"))
    for number, line in enumerate(input_path.open(encoding="utf-8")):
        if number % shards != mine:
            continue
        document = json.loads(line)
        chars += len(trafilatura.extract(document["html"], url=document["url"], **(options or {})) or "")
    return {"chars": chars, "rss_mb": _rss_mb("self")}


def child_import(input_path: Path, data_dir: Path, workers: int) -> dict:
    """`storytrail import` in this process, with per-stage CPU seconds (workers' stages summed over them;
    "writer, other": this process's CPU outside the stages: reading the input, archiving, handing pages over)."""
    from pipelines.cli.common import open_pipeline, settings_from
    from pipelines.logs import setup_logging

    setup_logging(False)
    overrides = {"process": {"workers": workers}} if _has_workers() else {}
    settings = settings_from(data_dir, None, None, **overrides)
    cpu = time.process_time()
    with open_pipeline(settings) as pipeline:
        timed = _timing_wrappers(pipeline) if not hasattr(pipeline.processor, "timings") else None
        imported, rejected = _import(input_path, pipeline.processor, settings)
        stages = dict(pipeline.processor.timings) if timed is None else timed
        stats = pipeline.store.stats()
    cpu = time.process_time() - cpu
    in_writer = sum(v for k, v in stages.items() if workers == 1 or k in ("store", "link", "extract (writer)"))
    stages["writer, other"] = max(0.0, cpu - in_writer)
    return {"imported": imported, "rejected": rejected, "articles": stats.articles, "stories": stats.stories,
            "stages": stages, "rss_mb": _rss_mb("self"), "workers_rss_mb": _rss_mb("children")}


def _has_workers() -> bool:
    from pipelines.settings import Settings

    return "process" in Settings.model_fields


def _timing_wrappers(pipeline) -> dict:
    """Per-stage seconds for a checkout without `processor.timings` (the code before issue 11)."""
    import pipelines.processing as processing

    stages: dict[str, float] = {"extract": 0.0, "store": 0.0, "link": 0.0}

    def timed(stage, function):
        def wrapper(*args, **kwargs):
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                stages[stage] += time.process_time() - start
        return wrapper

    processing.extract_article = timed("extract", processing.extract_article)
    pipeline.processor.store.upsert = timed("store", pipeline.processor.store.upsert)
    pipeline.processor.linker.link = timed("link", pipeline.processor.linker.link)
    return stages


def _rss_mb(who: str) -> float:
    import resource

    kind = resource.RUSAGE_SELF if who == "self" else resource.RUSAGE_CHILDREN
    return resource.getrusage(kind).ru_maxrss / 1024


# -------------------------------------------------------------------------------------------- cycle
def child_cycle(input_path: Path, data_dir: Path) -> dict:
    """One import cycle of CYCLE_ARTICLES articles on an existing store: CPU seconds of the cycle alone."""
    from pipelines.cli.common import open_pipeline, settings_from
    from pipelines.logs import setup_logging

    setup_logging(False)
    settings = settings_from(data_dir, None, None, **({"process": {"workers": 1}} if _has_workers() else {}))
    with open_pipeline(settings) as pipeline:
        timed = _timing_wrappers(pipeline) if not hasattr(pipeline.processor, "timings") else None
        start, cpu = time.perf_counter(), time.process_time()
        imported, _ = _import(input_path, pipeline.processor, settings)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - start
        stages = dict(pipeline.processor.timings) if timed is None else timed
    return {"imported": imported, "cpu": cpu, "wall": wall, "stages": stages, "rss_mb": _rss_mb("self")}


def _import(input_path: Path, processor, settings) -> tuple[int, int]:
    from pipelines.importer import import_file

    if hasattr(settings, "importer"):
        return import_file(input_path, processor, settings.importer.max_document_bytes)
    return import_file(input_path, processor)  # the code before the hardening of import


def bench_cycle(projects: list[Path], sizes: list[int], workdir: Path, seed: int) -> dict:
    """Per store size: build the store once (kept in `workdir` for later runs), then for each project
    CYCLE_RUNS cycles, each on a fresh copy of it (the median is kept: a single cycle varied by 15% here)."""
    results: dict = {}
    for size in sizes:
        built = workdir / f"store-{size}"
        if not (built / "built").exists():
            shutil.rmtree(built, ignore_errors=True)
            started = time.perf_counter()
            kept = build_store(built, size, seed)
            cycle_input(built / "cycle.jsonl", kept, seed)
            (built / "built").write_text(f"{time.perf_counter() - started:.0f} s\n")
            print(f"store of {size} built in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for project in projects:
            runs = sorted((_cycle_run(project, built, workdir) for _ in range(CYCLE_RUNS)), key=lambda r: r["out"]["cpu"])
            results.setdefault(str(project), {})[size] = runs[len(runs) // 2]
    return results


def _cycle_run(project: Path, built: Path, workdir: Path) -> dict:
    """One cycle on a fresh copy of the built store, with the search latencies measured on the result."""
    data = workdir / "cycle-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    shutil.copy(built / "storytrail.db", data / "storytrail.db")
    run = measure([sys.executable, __file__, "--child", "cycle", "--project", str(project), "--data-dir",
                   str(data), str(built / "cycle.jsonl")])
    run["search"] = measure([sys.executable, __file__, "--child", "search", "--project", str(project),
                             str(data / "storytrail.db")])["out"]
    shutil.rmtree(data, ignore_errors=True)
    return run


def search_latency(db: Path) -> dict:
    """Median and p95 milliseconds of a search for a word in about one article in five, collapsed or not."""
    from pipelines.stores.sqlite import SqliteStore

    found = {}
    with SqliteStore(db) as store:
        for collapse in (False, True):
            times = []
            for _ in range(SEARCH_REPEAT):
                start = time.perf_counter()
                hits = store.search(SEARCH_QUERY, limit=20, collapse_stories=collapse)
                times.append((time.perf_counter() - start) * 1000)
            times.sort()
            found["collapsed" if collapse else "uncollapsed"] = {
                "median_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))], "hits": len(hits)}
        found["matches"] = store.db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?",
                                            (SEARCH_QUERY,)).fetchone()[0]
    return found


# -------------------------------------------------------------------------------------------- start-up
def bench_startup(project: Path, data_dir: Path, story_url: str) -> dict:
    """CPU seconds (user + system) to run each command, median of 5, interleaved with the baseline."""
    commands = {
        "python -c 'import scrapy, trafilatura'": [sys.executable, "-c", "import scrapy, trafilatura"],
        "storytrail search": [sys.executable, "-m", "pipelines.cli", "search", SEARCH_QUERY, "--data-dir", str(data_dir)],
        "storytrail stats": [sys.executable, "-m", "pipelines.cli", "stats", "--data-dir", str(data_dir)],
        "storytrail story": [sys.executable, "-m", "pipelines.cli", "story", story_url, "--data-dir", str(data_dir)],
    }
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(5):
        for name, argv in commands.items():
            run = measure(argv)
            runs[name].append((run["cpu"], run["wall"]))
    return {name: {"cpu": statistics.median(c for c, _ in r), "wall": statistics.median(w for _, w in r)}
            for name, r in runs.items()}


# -------------------------------------------------------------------------------------------- report
def bench_import(project: Path, workers_list: list[int], workdir: Path, rounds: int) -> dict:
    """`rounds` rounds of our import with each worker count, each round between two runs of the bare loop (a
    round's reference is their mean): this machine's CPU speed drifts by up to a quarter over minutes (two bare
    loops over the first 600 documents: 10.4 and 12.8 s of CPU), so a run is compared with bare runs made just
    before and just after it, and the median round is reported."""
    input_path = workdir / "input.jsonl"
    documents = build_input(input_path)
    print(f"input: {documents} documents ({input_path.stat().st_size / 1e6:.0f} MB)", file=sys.stderr)
    bares, bests, runs = [run_bare(input_path, project)], [run_bare(input_path, project, best=True)], []
    for _ in range(rounds):
        ours = {f"ours-{w}": run_ours(input_path, project, w, workdir) for w in workers_list}
        pair = run_bare_pair(input_path, project)
        bares.append(run_bare(input_path, project))
        bests.append(run_bare(input_path, project, best=True))
        runs.append({"bare": _mean_run(bares[-2], bares[-1]), "bares": bares[-2:], "best": _mean_run(bests[-2], bests[-1]),
                     "bare pair": pair} | ours)
    return {"documents": documents, "urls_per_page": ROUNDS, "copy_every": COPY_EVERY, "rounds": runs}


def _mean_run(before: dict, after: dict) -> dict:
    return {"cpu": (before["cpu"] + after["cpu"]) / 2, "wall": (before["wall"] + after["wall"]) / 2, "out": before["out"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="import,cycle,startup")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=3, help="Rounds of the import part (ours with each worker count, between two bare runs).")
    parser.add_argument("--project", type=Path, default=BENCH_ROOT, help="The checkout to measure.")
    parser.add_argument("--sizes", default="1000,100000", help="Store sizes for the cycle part.")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--before", type=Path, action="append", default=[],
                        help="Another checkout whose cycle runs on the same stores (the code before a change).")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--shard", default="0/1", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("input", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(args.project.resolve()))
    os.chdir(args.project)
    if args.child:
        result = {"bare": lambda: child_bare(args.input, args.shard),
                  "bare-best": lambda: child_bare(args.input, args.shard, TRAFILATURA_BEST),
                  "import": lambda: child_import(args.input, args.data_dir, int(args.workers)),
                  "cycle": lambda: child_cycle(args.input, args.data_dir),
                  "search": lambda: search_latency(args.input)}[args.child]()
        print(json.dumps(result))
        return 0
    parts = args.parts.split(",")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="storytrail-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {"project": str(args.project)}
    if "import" in parts:
        report["import"] = bench_import(args.project, [int(w) for w in args.workers.split(",")], workdir, args.rounds)
        print_import(report["import"])
    if "cycle" in parts:
        sizes = [int(n) for n in args.sizes.split(",")]
        report["cycle"] = bench_cycle([args.project, *args.before], sizes, workdir, args.seed)
        print_cycle(report["cycle"])
    if "startup" in parts:
        small = workdir / f"store-{min(int(n) for n in args.sizes.split(','))}"
        if not (small / "built").exists():
            bench_cycle([], [min(int(n) for n in args.sizes.split(","))], workdir, args.seed)
        story_url = f"https://{site(1)}/news/1.html"
        report["startup"] = bench_startup(args.project, small, story_url)
        print_startup(report["startup"])
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
