"""CPU of `metadata.managedFields` per synced pod on the host, in process: the create's record (the
syncer's manager, every field) and the kubelet's status write, for a burst of the host pods the
syncer makes (bench/fixtures/hostsim_synced_pod.json), each with its own token annotation key and
kube-api-access-xxxxx volume, as in a real burst, and the same burst with one shared key and volume
(the whole-set FieldsV1 caches then hit).

The main thread's CPU time (time.thread_time), best of --repeat rounds, so other processes on the
machine disturb it little, with the API server's garbage-collector settings (`tune_gc`); the
figures of two source trees compare with PYTHONPATH=OTHER/src.

Usage:  .venv/bin/python bench/syncer/managed_fields_cost.py [-n 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import orjson

from vcluster.apiserver import fieldmanager as fm
from vcluster.apiserver.server import tune_gc
from vcluster.hostsim.podstatus import running_status

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hostsim_synced_pod.json"
TOKEN_PREFIX = "vcluster.loft.sh/token-"


def synced_pod(template: dict[str, Any], i: int, unique: bool) -> dict[str, Any]:
    pod = copy.deepcopy(template)
    pod["metadata"]["name"] = f"p{i}-x-default-x-my-vcluster"
    if unique:
        ann = pod["metadata"]["annotations"]
        old = next(k for k in ann if k.startswith(TOKEN_PREFIX))
        new = f"{TOKEN_PREFIX}{i:08x}"
        ann[new] = ann.pop(old)
        volume = f"kube-api-access-{i:05x}"
        pod["spec"]["volumes"][0]["name"] = volume
        pod["spec"]["containers"][0]["volumeMounts"][0]["name"] = volume
        for src in pod["spec"]["volumes"][0]["projected"]["sources"]:
            for item in (src.get("downwardAPI") or {}).get("items") or []:
                if item["fieldRef"]["fieldPath"] == f"metadata.annotations['{old}']":
                    item["fieldRef"]["fieldPath"] = f"metadata.annotations['{new}']"
    return pod


def round_us(template: dict[str, Any], n: int, unique: bool, offset: int) -> tuple[float, float]:
    """Microseconds per create record and per kubelet status record over n pods."""
    pods = [synced_pod(template, offset + i, unique) for i in range(n)]
    t0 = time.thread_time()
    for p in pods:
        fm.update_managed_fields(
            None, p, "vcluster", group="", version="v1", kind="Pod", now="2026-01-01T00:00:00Z"
        )
    create = (time.thread_time() - t0) / n * 1e6
    olds = [orjson.loads(orjson.dumps(p)) for p in pods]
    news = []
    now = time.time()
    for i, old in enumerate(olds):
        new = orjson.loads(orjson.dumps(old))
        new["spec"]["nodeName"] = f"node-{i % 20}"
        host_ip, pod_ip = f"10.0.0.{i % 20}", f"10.1.{(offset + i) // 250 % 250}.{(offset + i) % 250}"
        new["status"] = running_status(new, host_ip, pod_ip, now, True, now)
        news.append(new)
    t0 = time.thread_time()
    for old, new in zip(olds, news, strict=True):
        fm.update_managed_fields(
            old,
            new,
            "kubelet",
            group="",
            version="v1",
            kind="Pod",
            now="2026-01-01T00:00:01Z",
            subresource="status",
        )
    status = (time.thread_time() - t0) / n * 1e6
    return create, status


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1000, help="pods per round")
    ap.add_argument("--repeat", type=int, default=5, help="rounds; the best is shown")
    args = ap.parse_args()
    template = json.loads(FIXTURE.read_text())
    tune_gc()
    tree = os.environ.get("PYTHONPATH") or "this tree"
    for unique in (True, False):
        rounds = [round_us(template, args.n, unique, r * args.n) for r in range(args.repeat)]
        create, status = min(r[0] for r in rounds), min(r[1] for r in rounds)
        what = "own token key and volume per pod" if unique else "one shared token key and volume"
        print(f"[{tree}] {what}: create {create:.0f} µs, kubelet status {status:.0f} µs per pod", flush=True)


if __name__ == "__main__":
    main()
