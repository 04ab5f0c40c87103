"""How fast are the estimator, the planner and the hardware search? Side by side, one run.

1. Hardware search over the whole catalogue (~5,000 accelerators, CPUs and instances):
   wattwise's two-pass search (token overlap for every entry, then the character
   similarity only where it could still enter the top ``limit``) against the one-pass
   scorer it replaced (the similarity computed for every entry with no token overlap),
   on the same queries, interleaved. Target: ≤ 50 ms per query, and the same top hits.
2. ``estimate()`` per call (hardware and FLOPs forms), ``compare_regions`` over every
   zone and ``compare_hardware`` over every accelerator. Targets: ≤ 1 ms, ≤ 100 ms, ≤ 200 ms.
3. ``wattwise estimate ... --compare-regions`` as a user runs it (a fresh process) against
   ``wattwise --version`` (the interpreter and click alone). Target: ≤ 0.5 s more.

    python benchmarks/estimate.py [--reps 7]
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from wattwise import catalogue as cat
from wattwise.estimating import CarbonBasis, estimate
from wattwise.planning import compare_hardware, compare_regions

QUERIES = ("h100", "A100 SXM4 80 GB", "xeon gold 6248", "p3.2xlarge", "rtx 4090", "tpu v3", "zz9")
BASIS = CarbonBasis("FRA", "France", "bench", 56.0, "bench", 1.58, "bench", 0.15, "USD", "bench")
WATTWISE = str(Path(sys.executable).with_name("wattwise"))


def one_pass(query: str, limit: int = 10, min_score: float = 0.3) -> list[str]:
    """The search before this issue's optimisation: every entry without a token overlap
    gets a full SequenceMatcher of its own (quick-ratio bounds first)."""
    q = cat._Query.of(query)
    hits: list[tuple[float, str]] = []
    for entry in cat.catalogue():
        score = cat._entry_score(q, entry)
        if score == 0:
            joined = " ".join(cat._tokens(entry.name))
            matcher = difflib.SequenceMatcher(None, q.joined, joined, autojunk=False)
            if matcher.real_quick_ratio() * 0.6 > 0 and matcher.quick_ratio() * 0.6 > 0:
                score = matcher.ratio() * cat.SIMILARITY_WEIGHT
                score *= cat.CPU_FACTOR if entry.kind == "cpu" else 1.0
        if score >= min_score:
            hits.append((round(score, 4), entry.name))
    hits.sort(key=lambda h: (-h[0], h[1].casefold()))
    return [name for _, name in hits[:limit]]


def best_ms(fn: Callable[[], object], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def median_s(cmd: list[str], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    reps = parser.parse_args().reps
    cat.catalogue()  # load the tables once, as any second call would find them

    print(f"1. hardware search over {len(cat.catalogue())} entries (best of {reps}, ms)")
    print(f"   {'query':<18} {'two-pass':>9} {'one-pass':>9} {'ratio':>6}  same top 10")
    worst = 0.0
    for query in QUERIES:
        new = best_ms(lambda q=query: cat.search(q), reps)  # type: ignore[misc]
        old = best_ms(lambda q=query: one_pass(q), reps)  # type: ignore[misc]
        same = [m.entry.name for m in cat.search(query)] == one_pass(query)
        worst = max(worst, new)
        print(f"   {query:<18} {new:9.1f} {old:9.1f} {old / new:5.1f}×  {same}")
    print(f"   slowest two-pass query: {worst:.1f} ms (target ≤ 50 ms)")

    print(f"2. API (best of {reps})")
    hw = best_ms(
        lambda: estimate(hardware="A100 SXM4 80 GB", count=8, hours=72, carbon=BASIS), reps
    )
    fl = best_ms(
        lambda: estimate(params=7e9, tokens=2e12, hardware="H100 SXM", count=64, carbon=BASIS),
        reps,
    )
    job = estimate(params=7e9, tokens=2e12, hardware="H100 SXM", count=64, carbon=BASIS)
    regions = best_ms(lambda: compare_regions(job, kind="all"), reps)
    n_regions = len(compare_regions(job, kind="all"))
    hardware = best_ms(lambda: compare_hardware(job), reps)
    n_hw = len(compare_hardware(job))
    print(f"   estimate(hardware=...)         {hw:8.2f} ms (target ≤ 1 ms; an exact name)")
    print(f"   estimate(params=..., tokens=...) {fl:6.2f} ms")
    print(f"   compare_regions, {n_regions} zones     {regions:8.2f} ms (target ≤ 100 ms)")
    print(f"   compare_hardware, {n_hw} devices    {hardware:8.2f} ms (target ≤ 200 ms)")

    print(f"3. the command line (median of {reps}, s)")
    base = median_s([WATTWISE, "--version"], reps)
    cmd = [WATTWISE, "estimate", "--gpu", "A100 SXM4 80 GB", "--count", "8", "--hours", "72",
           "--zone", "FRA", "--compare-regions"]  # fmt: skip
    full = median_s(cmd, reps)
    print(f"   wattwise --version                      {base:6.2f} s")
    print(f"   wattwise estimate ... --compare-regions {full:6.2f} s  (+{full - base:.2f} s, "
          f"{full / base:.1f}×; target ≤ +0.5 s)")  # fmt: skip


if __name__ == "__main__":
    main()
