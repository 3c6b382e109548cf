"""Watch-based timing for the syncer benchmark: a watcher resolving waiters when an event matches,
percentiles, and /metrics readings."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from vcluster.client import ApiError, Client

Pred = Callable[[str, dict[str, Any]], bool]


class Watcher:
    """LIST then WATCH one resource (reconnecting); `expect(name, pred)` returns a future resolved
    with the monotonic arrival time of the first event for `name` satisfying `pred`; `on_event`
    callbacks see every event."""

    def __init__(
        self, client: Client, api_version: str, plural: str, namespace: str | None, label_selector: str = ""
    ) -> None:
        self.client = client
        self.args = (api_version, plural, namespace)
        self.label_selector = label_selector or None
        self.waiters: dict[str, list[tuple[Pred, asyncio.Future[float]]]] = {}
        self.callbacks: list[Callable[[str, dict[str, Any], float], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._rv = ""

    async def start(self) -> None:
        av, plural, ns = self.args
        page = await self.client.list(av, plural, ns, label_selector=self.label_selector, limit=1)
        self._rv = page["metadata"]["resourceVersion"]
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def expect(self, name: str, pred: Pred) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(name, []).append((pred, fut))
        return fut

    async def _run(self) -> None:
        av, plural, ns = self.args
        while True:
            try:
                async for etype, obj in self.client.watch(
                    av, plural, ns, resource_version=self._rv, label_selector=self.label_selector
                ):
                    now = time.monotonic()
                    self._rv = obj.get("metadata", {}).get("resourceVersion", self._rv)
                    if etype == "BOOKMARK":
                        continue
                    name = obj.get("metadata", {}).get("name", "")
                    for cb in self.callbacks:
                        cb(etype, obj, now)
                    pending = self.waiters.get(name)
                    if pending:
                        keep = []
                        for pred, fut in pending:
                            if fut.done():
                                continue
                            if pred(etype, obj):
                                fut.set_result(now)
                            else:
                                keep.append((pred, fut))
                        if keep:
                            self.waiters[name] = keep
                        else:
                            del self.waiters[name]
            except ApiError as e:
                if e.gone:
                    page = await self.client.list(av, plural, ns, label_selector=self.label_selector, limit=1)
                    self._rv = page["metadata"]["resourceVersion"]
                else:
                    await asyncio.sleep(0.2)


def added(etype: str, obj: dict[str, Any]) -> bool:
    return etype == "ADDED"


def has_label(key: str, value: str) -> Pred:
    return lambda etype, obj: (obj.get("metadata", {}).get("labels") or {}).get(key) == value


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


async def metric_samples(url: str, token: str, ca_file: str) -> list[tuple[str, dict[str, str], float]]:
    """The Prometheus samples of a server's /metrics as (name, labels, value)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{url}/metrics", headers={"Authorization": f"Bearer {token}"}, ssl=ctx) as r,
    ):
        text = await r.text()
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


WRITE_VERBS = ("create", "update", "patch", "delete")


def write_counts(samples: list[tuple[str, dict[str, str], float]]) -> dict[str, float]:
    """`apiserver_request_total` of write verbs per resource (key "*" = all resources)."""
    out: dict[str, float] = {"*": 0.0}
    for name, lab, value in samples:
        if name == "apiserver_request_total" and lab.get("verb") in WRITE_VERBS:
            res = lab.get("resource", "")
            out[res] = out.get(res, 0.0) + value
            out["*"] += value
    return out


def request_counts(samples: list[tuple[str, dict[str, str], float]]) -> dict[str, float]:
    """`apiserver_request_total` of every verb, per "verb resource[/subresource]"."""
    out: dict[str, float] = {}
    for name, lab, value in samples:
        if name == "apiserver_request_total":
            res = lab.get("resource", "") + (f"/{lab['subresource']}" if lab.get("subresource") else "")
            code = lab.get("code", "")
            key = f"{lab.get('verb', '')} {res}" + ("" if code.startswith("2") else f" ({code})")
            out[key] = out.get(key, 0.0) + value
    return out


def diff_counts(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0)}
