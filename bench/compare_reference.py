"""Put kbench results of vcluster next to the issue's kube-apiserver 1.32 + etcd 3.5 figures.

Usage: .venv/bin/python bench/compare_reference.py bench/results/run1-ours.json [run2-ours.json ...]
Prints a Markdown table: for every reference figure, our median over the reps of each file,
the median over the files (like the reference's "median of 3 runs") and ours / reference.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

# (label, kbench summary key, reference value, unit, True if higher is better)
REFERENCE = [
    ("create ConfigMap c=1, throughput", "create.c1.rate_per_s", 426, "/s", True),
    ("create ConfigMap c=1, p50", "create.c1.p50_ms", 2.1, "ms", False),
    ("create ConfigMap c=16, throughput", "create.c16.rate_per_s", 1071, "/s", True),
    ("create ConfigMap c=16, p50", "create.c16.p50_ms", 13, "ms", False),
    ("create ConfigMap c=16, p99", "create.c16.p99_ms", 41, "ms", False),
    ("GET ConfigMap c=1, throughput", "get.c1.rate_per_s", 789, "/s", True),
    ("GET ConfigMap c=1, p50", "get.c1.p50_ms", 1.2, "ms", False),
    ("GET ConfigMap c=16, throughput", "get.c16.rate_per_s", 2302, "/s", True),
    ("LIST 2000 ConfigMaps (full), p50", "list.full.p50_ms", 23, "ms", False),
    ("watch delivery, 100 watchers, p50", "watch.n100.p50_ms", 1.5, "ms", False),
    ("watch delivery, 100 watchers, p99", "watch.n100.p99_ms", 8.6, "ms", False),
]

# figures without a reference, shown for completeness
EXTRA = [
    ("create ConfigMap c=1, p99", "create.c1.p99_ms", "ms"),
    ("create ConfigMap c=64, throughput", "create.c64.rate_per_s", "/s"),
    ("create ConfigMap c=64, p50", "create.c64.p50_ms", "ms"),
    ("create ConfigMap c=64, p99", "create.c64.p99_ms", "ms"),
    ("GET ConfigMap c=1, p99", "get.c1.p99_ms", "ms"),
    ("GET ConfigMap c=16, p50", "get.c16.p50_ms", "ms"),
    ("GET ConfigMap c=16, p99", "get.c16.p99_ms", "ms"),
    ("GET ConfigMap c=64, throughput", "get.c64.rate_per_s", "/s"),
    ("GET ConfigMap c=64, p50", "get.c64.p50_ms", "ms"),
    ("GET ConfigMap c=64, p99", "get.c64.p99_ms", "ms"),
    ("LIST 2000 ConfigMaps (full), p99", "list.full.p99_ms", "ms"),
    ("LIST 2000 ConfigMaps (limit=500, all pages), p50", "list.paged500.p50_ms", "ms"),
    ("LIST 2000 ConfigMaps (resourceVersion=0), p50", "list.full_rv0.p50_ms", "ms"),
    ("watch delivery, 1 watcher, p50", "watch.n1.p50_ms", "ms"),
    ("watch delivery, 1 watcher, p99", "watch.n1.p99_ms", "ms"),
    ("watch, 100 watchers, from create sent, p50", "watch.n100.from_send_p50_ms", "ms"),
    ("watch, 100 watchers, from create sent, p99", "watch.n100.from_send_p99_ms", "ms"),
    ("watch, 100 watchers, create latency p50", "watch.n100.create_p50_ms", "ms"),
    ("create Pod c=16, throughput", "pods.c16.rate_per_s", "/s"),
    ("create Pod c=16, p50", "pods.c16.p50_ms", "ms"),
    ("create Pod c=16, p99", "pods.c16.p99_ms", "ms"),
]


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"


def main(paths: list[str]) -> int:
    docs = [json.loads(Path(p).read_text()) for p in paths]
    names = [p.rsplit("/", 1)[-1].removesuffix(".json") for p in paths]

    def values(key: str) -> list[float | None]:
        return [(d["summary"].get(key) or {}).get("median") for d in docs]

    def across(vals: list[float | None]) -> float | None:
        nums = [v for v in vals if v is not None]
        return statistics.median(nums) if nums else None

    runs = " | ".join(names)
    print(f"| figure | kube-apiserver | ours: {runs} | ours, median | ours / ref | better is |")
    print("|---|---:|" + "---:|" * len(names) + "---:|---:|---|")
    for label, key, ref, unit, higher in REFERENCE:
        vals = values(key)
        med = across(vals)
        ratio = f"{med / ref:.2f}x" if med is not None else "-"
        beats = "" if med is None else (" ✓" if (med > ref if higher else med < ref) else " ✗")
        cells = " | ".join(fmt(v) for v in vals)
        print(
            f"| {label} ({unit}) | {fmt(ref)} | {cells} | {fmt(med)} | {ratio}{beats} | "
            f"{'higher' if higher else 'lower'} |"
        )
    print()
    print(f"| figure (no reference) | ours: {runs} | ours, median |")
    print("|---|" + "---:|" * len(names) + "---:|")
    for label, key, unit in EXTRA:
        vals = values(key)
        if all(v is None for v in vals):
            continue
        print(f"| {label} ({unit}) | {' | '.join(fmt(v) for v in vals)} | {fmt(across(vals))} |")
    print()
    print("| memory (RSS, MB) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for what in ("before", "after_warmup", "after_rep", "end"):
        cells = []
        for d in docs:
            m = d.get("memory") or {}
            v = m.get(what)
            if what == "after_rep":
                cells.append(", ".join(fmt(next(iter(x.values()))["rss_mb"]) for x in v or []))
            elif v:
                cells.append(fmt(next(iter(v.values()))["rss_mb"]))
            else:
                cells.append("-")
        print(f"| {what} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
