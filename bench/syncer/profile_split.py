"""Split a py-spy speedscope profile of `vcluster start` into its parts (syncer, API server,
controllers, store, shared informers, connections to the host, event loop) by the frames on each
sampled stack, so that the process CPU per synced pod can be divided among them.

A sample belongs to the first rule that matches its stack, in this order: the store's writer
thread; the in-process or HTTP API server (requests the syncer and the controllers send to their
own API server count here, not to the caller); the syncer (`vcluster/syncer/`); the controllers;
the informers' watch decoding (shared by controllers and syncer); the store's watch fan-out; the
aiohttp/TLS client side (every remote connection of the process goes to the host, for the
syncer); the rest (the event loop itself, timers, logging outside the parts above).

Usage:  python bench/syncer/profile_split.py PROFILE.json [CPU_MS_PER_POD]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("store writer thread", ("SqliteLog._write_loop",)),
    (
        "API server",
        ("APIServer.dispatch", "APIServer.handle_local", "RequestHandler.", "Application._handle"),
    ),
    ("syncer", ("/vcluster/syncer/",)),
    ("controllers", ("/vcluster/controllers/",)),
    ("informers (watch decoding, shared)", ("/vcluster/client/informer.py", "_watch_event")),
    ("store watch fan-out", ("/vcluster/store/",)),
    ("host connections (aiohttp client, TLS)", ("aiohttp/client", "ssl.py")),
)
OTHER = "event loop and the rest"


def split(path: Path) -> dict[str, float]:
    """Fraction of the sampled time per part (sums to 1)."""
    doc = json.loads(path.read_text())
    frames = doc["shared"]["frames"]
    keys = [f"{f.get('name', '')} {f.get('file', '')}" for f in frames]
    parts: Counter[str] = Counter()
    total = 0.0
    for prof in doc["profiles"]:
        for stack, weight in zip(prof["samples"], prof["weights"], strict=True):
            text = " | ".join(keys[i] for i in stack)
            total += weight
            for name, needles in RULES:
                if any(n in text for n in needles):
                    parts[name] += weight
                    break
            else:
                parts[OTHER] += weight
    return {k: v / total for k, v in parts.most_common()} if total else {}


def main() -> None:
    path = Path(sys.argv[1])
    per_pod = float(sys.argv[2]) if len(sys.argv) > 2 else None
    for name, frac in split(path).items():
        ms = f"  {frac * per_pod:.2f} ms/pod" if per_pod is not None else ""
        print(f"{frac * 100:5.1f} %  {name}{ms}")


if __name__ == "__main__":
    main()
