"""Micro-benchmark: what the PodSecurity admission plugin costs a pod create.

    .venv/bin/python bench/podsecurity_overhead.py

Times `pipeline.prepare_create` of a restricted-compliant pod (everything between the decoded body
and the stored object: defaults, the built-in admission, validation, PodSecurity, managedFields) in
a namespace without PodSecurity labels and in one labelled `enforce=restricted` (+ warn and audit),
and the plugin's own hook (`podsecurityadmission.admit`) alone in both, over a dict-backed store.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

import orjson

from vcluster.apiserver import pipeline, podsecurityadmission
from vcluster.apiserver.resources import Registry
from vcluster.store.interface import Entry, ListResult

N = 3_000
N_HOOK = 50_000


class DictStore:
    """The two reads the pipeline makes (get, list) over a dict of objects."""

    def __init__(self) -> None:
        self.entries: dict[str, Entry] = {}

    def put(self, key: str, obj: dict[str, Any]) -> None:
        labels = (obj.get("metadata") or {}).get("labels")
        self.entries[key] = Entry(key, 1, 1, orjson.dumps(obj), labels)

    async def get(self, key: str) -> Entry | None:
        return self.entries.get(key)

    async def list(self, prefix: str, **_: Any) -> ListResult:
        found = [e for k, e in self.entries.items() if k.startswith(prefix)]
        return ListResult(found, 1, False, 0)


POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "uid": "u1"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "c",
                "image": "nginx",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
    },
}
LABELS = {
    "kubernetes.io/metadata.name": "",
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


async def main() -> None:
    reg = Registry()
    store = DictStore()
    ns_rt, sa_rt, pod_rt = (
        reg.get("", "v1", "namespaces"),
        reg.get("", "v1", "serviceaccounts"),
        reg.get("", "v1", "pods"),
    )
    assert ns_rt is not None and sa_rt is not None and pod_rt is not None
    for ns, labels in (("plain", {"kubernetes.io/metadata.name": "plain"}), ("strict", LABELS)):
        store.put(f"{ns_rt.key_prefix}{ns}", {"metadata": {"name": ns, "labels": labels}})
        store.put(f"{sa_rt.key_prefix}{ns}/default", {"metadata": {"name": "default", "namespace": ns}})
    results: dict[str, float] = {}
    for ns in ("plain", "strict"):
        pods = [
            copy.deepcopy(POD) | {"metadata": {"name": "p", "namespace": ns, "uid": "u"}} for _ in range(N)
        ]
        t0 = time.perf_counter()
        for obj in pods:
            await pipeline.prepare_create(store, reg, pod_rt, ns, obj, pipeline.WriteContext("bench"))  # type: ignore[arg-type]
        results[f"prepare_create, namespace {ns}"] = (time.perf_counter() - t0) / N
        obj = copy.deepcopy(POD) | {"metadata": {"name": "p", "namespace": ns}}
        t0 = time.perf_counter()
        for _ in range(N_HOOK):
            await podsecurityadmission.admit(store, reg, pod_rt, ns, obj, None, "")  # type: ignore[arg-type]
        results[f"podsecurityadmission.admit, namespace {ns}"] = (time.perf_counter() - t0) / N_HOOK
    for label, secs in results.items():
        print(f"{label:<55} {secs * 1e6:8.1f} µs per pod")


if __name__ == "__main__":
    asyncio.run(main())
