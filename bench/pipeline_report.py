"""The tables bench/pipeline.py prints: its import rounds, cycles and start-ups, as measured."""

from __future__ import annotations

from generated_store import CYCLE_ARTICLES, CYCLE_COPY_EVERY


def _ratios(run: dict, bare: dict) -> tuple[float, float]:
    return bare["cpu"] / run["cpu"], bare["wall"] / run["wall"]


def print_import(results: dict) -> None:
    n, rounds = results["documents"], results["rounds"]
    print(f"\n## Import: {n} documents (181 real pages x {results['urls_per_page']} URLs, 1 in {results['copy_every']} a copy "
          "with a paragraph added)")
    print(f"Ratios to the mean of the bare runs just before and after the round (at trafilatura's defaults, and at its best "
          f"settings in the last column); the round with the median CPU ratio is shown, all {len(rounds)} rounds' ratios "
          "(CPU / wall) after it.")
    print("| run | docs/s (wall) | CPU s | ratio to bare, CPU | ratio to bare, wall | peak RSS MB (writer / worker) | every round "
          "| ratio to best settings, CPU / wall |")
    print("|---|---|---|---|---|---|---|---|")
    keys = [key for key in rounds[0] if key.startswith("ours-")]
    shown = {key: sorted(rounds, key=lambda r: _ratios(r[key], r["bare"])[0])[len(rounds) // 2] for key in keys}
    first = shown[keys[0]] if keys else rounds[0]
    bare = first["bare"]
    every = "; ".join(" / ".join(f"{b['cpu']:.1f}" for b in r["bares"]) + " s" for r in rounds)
    print(f"| bare trafilatura.extract | {n / bare['wall']:.1f} | {bare['cpu']:.1f} | 1.00 | 1.00 | "
          f"{bare['out']['rss_mb']:.0f} | CPU {every} | {'{:.2f} / {:.2f}'.format(*_ratios(bare, first['best']))} |")
    for key in keys:
        run = shown[key][key]
        cpu, wall = _ratios(run, shown[key]["bare"])
        every = "; ".join("{:.2f} / {:.2f}".format(*_ratios(r[key], r["bare"])) for r in rounds)
        print(f"| storytrail import, {key[5:]} worker(s) | {n / run['wall']:.1f} | {run['cpu']:.1f} | {cpu:.2f} | "
              f"{wall:.2f} | {run['out']['rss_mb']:.0f} / {run['out']['workers_rss_mb']:.0f} | {every} | "
              f"{'{:.2f} / {:.2f}'.format(*_ratios(run, shown[key]['best']))} |")
    pairs = [_ratios(r["bare pair"], r["bare"])[1] for r in rounds]
    print(f"- two cores on this machine in this run: the bare loop in 2 processes at once (each on every other "
          f"document) ran {sorted(pairs)[len(pairs) // 2]:.2f}x as fast as in one, by wall time (rounds: "
          f"{', '.join(f'{p:.2f}' for p in pairs)})")
    for key in keys:
        out = shown[key][key]["out"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in out["stages"].items())
        print(f"- {key}: {out['imported']} imported, {out['articles']} articles in {out['stories']} stories; "
              f"seconds per stage: {stages}")


def print_cycle(all_results: dict) -> None:
    for project, results in all_results.items():
        print(f"\n## A cycle of {CYCLE_ARTICLES} new articles (1 in {CYCLE_COPY_EVERY} a copy) on a store of N articles ({project})")
        _print_cycle(results)


def _print_cycle(results: dict) -> None:
    print("| store | ms per article (CPU) | ms per article (wall) | peak RSS MB | stages, s | search ms uncollapsed / collapsed "
          "(median, p95) | matches |")
    print("|---|---|---|---|---|---|---|")
    for size, run in results.items():
        out, search = run["out"], run["search"]
        stages = ", ".join(f"{k} {v:.1f}" for k, v in out["stages"].items())
        un, co = search["uncollapsed"], search["collapsed"]
        print(f"| {int(size):,} | {1000 * out['cpu'] / out['imported']:.1f} | {1000 * out['wall'] / out['imported']:.1f} | "
              f"{out['rss_mb']:.0f} | {stages} | {un['median_ms']:.1f}, {un['p95_ms']:.1f} / {co['median_ms']:.1f}, "
              f"{co['p95_ms']:.1f} | {search['matches']:,} |")
    sizes = sorted(results, key=int)
    if len(sizes) > 1:
        small, large = results[sizes[0]]["out"], results[sizes[-1]]["out"]
        ratio = (large["cpu"] / large["imported"]) / (small["cpu"] / small["imported"])
        co, un = results[sizes[-1]]["search"]["collapsed"], results[sizes[-1]]["search"]["uncollapsed"]
        print(f"- per-article cost at {int(sizes[-1]):,} / at {int(sizes[0]):,}: {ratio:.2f}x; collapsed / uncollapsed "
              f"search at {int(sizes[-1]):,}: {co['median_ms'] / un['median_ms']:.2f}x (median)")


def print_startup(results: dict) -> None:
    base = results["python -c 'import scrapy, trafilatura'"]
    print("\n## Start-up (median of 5 runs, on the 1k store)")
    print("| command | CPU s | wall s | ratio to `import scrapy, trafilatura`, CPU | ratio, wall |")
    print("|---|---|---|---|---|")
    for name, run in results.items():
        print(f"| {name} | {run['cpu']:.2f} | {run['wall']:.2f} | {run['cpu'] / base['cpu']:.2f} | {run['wall'] / base['wall']:.2f} |")
