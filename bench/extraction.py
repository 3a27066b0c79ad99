"""Main-text extraction benchmark: storytrail's `extract_article` against bare trafilatura, in one run.

Data: ../shared/benchmarks/article-extraction (181 pages and their hand-made `articleBody`, from
scrapinghub/article-extraction-benchmark). Metric, as its README describes: `\\w+` tokens, overlapping 4-grams,
per page the multiset true/false positives and false negatives normalised by their sum; precision averaged
over the pages with a prediction, recall over the pages with a truth; F1 from the two averages. A page an
extractor fails on counts as an empty prediction.

    /work/venv/bin/python bench/extraction.py [--limit N] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCHMARK_DIR = PROJECT_ROOT / ".." / "shared" / "benchmarks" / "article-extraction"
SHINGLE_SIZE = 4
_TOKEN = re.compile(r"\w+")

TpFpFn = tuple[float, float, float]


def shingle_match(true: str, pred: str, n: int = SHINGLE_SIZE) -> TpFpFn:
    """(tp, fp, fn) over the multisets of n-token shingles of `true` and `pred`, normalised to sum to 1
    (all zero when both texts are empty). A text of fewer than n tokens is one shingle."""
    truth, predicted = _shingles(true, n), _shingles(pred, n)
    tp = sum((truth & predicted).values())
    fp = sum((predicted - truth).values())
    fn = sum((truth - predicted).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float


def score(matches: list[TpFpFn]) -> Scores:
    """Average per-page precision (pages with a prediction) and recall (pages with a truth), F1 of the two."""
    precisions = [_ratio(tp, fp, fn) for tp, fp, fn in matches if tp + fp > 0]
    recalls = [_ratio(tp, fn, fp) for tp, fp, fn in matches if tp + fn > 0]
    precision = statistics.mean(precisions) if precisions else 0.0
    recall = statistics.mean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1)


def _ratio(hit: float, miss: float, other: float) -> float:
    # a page where both texts agree exactly (nothing missed either way) scores 1
    if miss == other == 0:
        return 1.0
    return hit / (hit + miss) if hit + miss else 0.0


def _shingles(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


@dataclass(frozen=True)
class Page:
    key: str
    url: str
    html: bytes
    truth: str


def load_pages(limit: int | None = None, directory: Path = BENCHMARK_DIR) -> Iterator[Page]:
    """The benchmark's pages in key order, the first `limit` of them if given."""
    truth = json.loads((directory / "ground-truth.json").read_text(encoding="utf-8"))
    for key in sorted(truth)[:limit]:
        html = gzip.decompress((directory / "html" / f"{key}.html.gz").read_bytes())
        yield Page(key, truth[key]["url"], html, truth[key].get("articleBody") or "")


@dataclass
class Run:
    name: str
    matches: list[TpFpFn]
    seconds: float = 0.0
    failures: int = 0

    def summary(self) -> dict:
        pages = len(self.matches)
        return {
            "extractor": self.name,
            **asdict(score(self.matches)),
            "pages": pages,
            "pages_per_s": pages / self.seconds if self.seconds else 0.0,
            "failures": self.failures,
        }


def run_benchmark(limit: int | None = None) -> list[dict]:
    """Both extractors over the same pages, timed separately; one summary dict per extractor."""
    import trafilatura

    from crawlers.extraction import ExtractionError, extract_article

    def bare(page: Page) -> str | None:
        # the benchmark's own trafilatura runner reads the pages as UTF-8 text
        return trafilatura.extract(page.html.decode("utf-8"))

    def ours(page: Page) -> str | None:
        try:
            return extract_article(page.html, page.url).text
        except ExtractionError:
            return None

    extractors: dict[str, Callable[[Page], str | None]] = {"trafilatura (bare)": bare, "storytrail": ours}
    runs = {name: Run(name, []) for name in extractors}
    for page in load_pages(limit):
        for name, extract in extractors.items():
            started = time.perf_counter()
            predicted = extract(page)
            runs[name].seconds += time.perf_counter() - started
            runs[name].failures += not predicted
            runs[name].matches.append(shingle_match(page.truth, predicted or ""))
    return [run.summary() for run in runs.values()]


def format_table(summaries: list[dict]) -> str:
    lines = [f"{'extractor':<20} {'precision':>9} {'recall':>7} {'F1':>6} {'pages/s':>8} {'failures':>8}"]
    for s in summaries:
        lines.append(
            f"{s['extractor']:<20} {s['precision']:>9.3f} {s['recall']:>7.3f} {s['f1']:>6.3f} "
            f"{s['pages_per_s']:>8.1f} {s['failures']:>5}/{s['pages']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N pages (by key)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(PROJECT_ROOT))
    from loguru import logger

    # per-page debug lines and trafilatura's "discarding data" warnings would drown the table
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logging.getLogger(name).setLevel(logging.CRITICAL)

    summaries = run_benchmark(args.limit)
    print(json.dumps(summaries, indent=2) if args.json else format_table(summaries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
