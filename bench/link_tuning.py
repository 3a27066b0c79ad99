"""How the copy thresholds were chosen: a sweep over article pairs of the linking benchmark's tuning split.

Pairs: every planted copy with the article it was made from (positives: the verdict linking must give), every
pair of different articles carrying one primary-source passage, every one-sentence citation, and every other
pair sharing two or more winnowed fingerprints (what the index would make candidates: chance phrases, outlets'
footers). Each pair is aligned once; each setting's verdict (pipelines/shared_sources.py `relation`) is then
scored: pair precision, recall, and shared-source pairs taken for copies. Only the tuning split is read; the
held-out split is what bench/linking.py reports.

    .venv/bin/python bench/link_tuning.py [--size 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from linking import as_article  # noqa: E402
from real_prose import CorpusBuilder  # noqa: E402

GRID = {
    "min_coverage": (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4),
    "shared_source_own_share": (0.2, 0.3, 0.35, 0.4, 0.5, 0.6),
    "min_shared_words": (24, 32, 40, 50, 60),
    "min_credited_words": (12, 16, 24, 32, 40),
    "same_outlet_coverage": (0.5, 0.6, 0.7, 0.8, 0.9),
}


def labelled_pairs(truth: list) -> dict[tuple[str, str], str]:
    """(a, b) -> "copy" or "apart", for the tuning split."""
    from crawlers.sources import load_sources
    from pipelines.comparison_text import TextCleaner
    from pipelines.fingerprints import fingerprints

    tune = [a for a in truth if a.split == "tune"]
    by_url = {a.url: a for a in tune}
    labels: dict[tuple[str, str], str] = {}
    for a in tune:
        source = a.links[0] if a.kind in ("crosspost", "teaser", "quoted_excerpt") and a.links else a.origin
        if a.origin and source in by_url:
            labels[(source, a.url)] = "copy"
        if a.kind == "citing" and a.links and a.links[0] in by_url:
            labels[(a.links[0], a.url)] = "apart"
    groups = defaultdict(list)
    for a in tune:
        if a.group:
            groups[a.group].append(a.url)
    labels.update({(x, y): "apart" for x, y in groups.values()})
    cleaner = TextCleaner(load_sources())
    index: dict[int, list[str]] = defaultdict(list)
    for a in tune:
        for h in fingerprints(cleaner.clean(as_article(a)).words, 5, 12):
            index[h].append(a.url)
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for urls in index.values():
        if len(urls) <= 100:  # link.max_doc_freq
            for x, y in itertools.combinations(sorted(urls), 2):
                shared[(x, y)] += 1
    for (x, y), n in shared.items():  # two copies of one story need not be copies of each other: left out
        if n >= 2 and (x, y) not in labels and (y, x) not in labels and by_url[x].story != by_url[y].story:
            labels[(x, y)] = "apart"
    return labels


def main(argv: list[str] | None = None) -> int:
    from crawlers.sources import load_sources
    from pipelines.alignment import align
    from pipelines.attribution import AttributionParser
    from pipelines.chains import Member
    from pipelines.comparison_text import TextCleaner
    from pipelines.settings import LinkSettings
    from pipelines.shared_sources import Relation, relation

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    truth = CorpusBuilder(args.size, args.seed).build()
    by_url = {a.url: a for a in truth}
    labels = labelled_pairs(truth)
    sources = load_sources()
    cleaner, attribution = TextCleaner(sources), AttributionParser(sources)
    texts, members = {}, {}
    for url in {u for pair in labels for u in pair}:
        article = as_article(by_url[url])
        texts[url] = cleaner.clean(article)
        members[url] = Member.of(article, attribution.evidence(article), sources)
    aligned = {pair: align(texts[pair[0]], texts[pair[1]], LinkSettings().min_run_words) for pair in labels}
    shared_pairs = {pair for pair in labels if by_url[pair[0]].group and by_url[pair[0]].group == by_url[pair[1]].group}
    print(f"{len(labels):,} tuning pairs: {sum(v == 'copy' for v in labels.values()):,} copies, "
          f"{len(shared_pairs):,} shared-source pairs")
    defaults = LinkSettings()
    print("Each setting swept with the others at their defaults:\n")
    print("| setting | value | pair precision | pair recall | F1 | shared-source pairs merged |")
    print("|---|---|---|---|---|---|")
    for name, values in GRID.items():
        for value in values:
            settings = defaults.model_copy(update={name: value})
            said = {p: relation(aligned[p], members[p[0]], members[p[1]], settings) is Relation.COPY for p in labels}
            tp = sum(said[p] and labels[p] == "copy" for p in labels)
            fp = sum(said[p] and labels[p] == "apart" for p in labels)
            fn = sum(not said[p] and labels[p] == "copy" for p in labels)
            precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
            f1 = 2 * precision * recall / max(1e-9, precision + recall)
            chosen = " (default)" if getattr(defaults, name) == value else ""
            print(f"| {name} | {value}{chosen} | {precision:.4f} | {recall:.4f} | {f1:.4f} | "
                  f"{sum(said[p] for p in shared_pairs)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
