"""Micro-benchmark: what the admission webhook hooks cost a write that no webhook matches.

    .venv/bin/python bench/webhook_overhead.py

Times `webhookadmission.mutate` + `validate` for a ConfigMap create (the two calls the write pipeline
makes) with no request state, with no configurations, and with configurations whose rules name other
resources (the candidate cache answers after the first call), next to a bare coroutine call.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from vcluster.apiserver import webhookadmission as wa
from vcluster.apiserver.resources import Registry

N = 200_000


def _config(name: str, resources: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.example.com",
                "clientConfig": {"url": "https://127.0.0.1:1/x"},
                "rules": [
                    {
                        "operations": ["CREATE", "UPDATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": resources,
                    }
                ],
                "namespaceSelector": {"matchLabels": {"x": "y"}},
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }


async def _noop() -> None:
    return None


async def _measure(label: str, obj: dict[str, Any], rt: Any) -> None:
    t0 = time.perf_counter()
    for _ in range(N):
        await wa.mutate(rt, "CREATE", "default", obj, None, manager="bench")
        await wa.validate(rt, "CREATE", "default", obj, None, manager="bench")
    dt = time.perf_counter() - t0
    print(f"{label:<55} {dt / N * 1e9:8.0f} ns per write")


async def main() -> None:
    reg = Registry()
    rt = reg.get("", "v1", "configmaps")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    t0 = time.perf_counter()
    for _ in range(N):
        await _noop()
        await _noop()
    per = (time.perf_counter() - t0) / N * 1e9
    print(f"{'two empty coroutine calls (reference)':<55} {per:8.0f} ns per write")
    await _measure("no request state (in-process writes without a server)", obj, rt)
    adm = wa.WebhookAdmission(None, reg)  # type: ignore[arg-type]
    token = wa.REQUEST_STATE.set(wa.RequestState(adm))
    try:
        await _measure("server, no webhook configurations", obj, rt)
        for i in range(20):
            adm.index.put(f"/m{i}", _config(f"m{i}", ["secrets", "pods"]), True)
            adm.index.put(f"/v{i}", _config(f"v{i}", ["services", "pods/status"]), False)
        await _measure("server, 40 configurations, none matching configmaps", obj, rt)
    finally:
        wa.REQUEST_STATE.reset(token)


if __name__ == "__main__":
    asyncio.run(main())
