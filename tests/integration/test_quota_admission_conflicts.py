"""ResourceQuota admission with several quotas in a namespace when one quota's compare-and-swap
loses to a concurrent writer (the quota controller): only the lost quota is checked and raised
again, as kube's quota evaluator does, so the other is not charged twice; and if the re-check
refuses the object, what was already added to the other quota is taken back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from vcluster.apiserver.server import APIServer, ServerConfig
from vcluster.client import ApiError, Client

pytestmark = pytest.mark.integration

NS = "quota"


def _quota(name: str, hard: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"hard": {"count/configmaps": hard}},
    }


def _cm(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


async def _set_status(c: Client, name: str, hard: str, used: str) -> None:
    rq = await c.get("v1", "resourcequotas", name, NS)
    rq["status"] = {"hard": {"count/configmaps": hard}, "used": {"count/configmaps": used}}
    await c.update("v1", "resourcequotas", rq, NS, subresource="status")


async def _used(c: Client, name: str) -> str:
    rq = await c.get("v1", "resourcequotas", name, NS)
    return rq["status"]["used"]["count/configmaps"]


def _run(tmp_path: Path, check: Callable[[APIServer, Client], Awaitable[None]]) -> None:
    async def main() -> None:
        srv = APIServer(ServerConfig(data_dir=tmp_path, port=0))
        await srv.start()
        c = await Client.from_kubeconfig(str(srv.kubeconfig_path), unix_socket=str(srv.unix_socket))
        try:
            await c.create(
                "v1", "namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
            )
            for name, hard in (("a", "5"), ("b", "5")):
                await c.create("v1", "resourcequotas", _quota(name, hard), NS)
                await _set_status(c, name, hard, "0")
            await check(srv, c)
        finally:
            await c.close()
            await srv.stop()

    asyncio.run(main())


def _race_first_write_of(srv: APIServer, quota: str, meanwhile: Callable[[], Awaitable[None]]) -> list[str]:
    """Make the first admission write of `quota` lose its compare-and-swap: just before it, run
    `meanwhile` (a real write of that quota, as the quota controller would make)."""
    store = srv.store
    real_update = store.update
    raced: list[str] = []

    async def update(
        key: str, obj: dict[str, Any], *, expected_rev: int | None, dry_run: bool = False
    ) -> Any:
        if key.endswith(f"/resourcequotas/{NS}/{quota}") and not raced and expected_rev is not None:
            raced.append(key)
            await meanwhile()
        return await real_update(key, obj, expected_rev=expected_rev, dry_run=dry_run)

    store.update = update  # type: ignore[method-assign]
    return raced


def test_a_conflict_on_one_quota_does_not_charge_the_other_twice(tmp_path: Path) -> None:
    async def check(srv: APIServer, c: Client) -> None:
        async def controller_write() -> None:  # the controller counted one more object in b
            await _set_status(c, "b", "5", "1")

        raced = _race_first_write_of(srv, "b", controller_write)
        await c.create("v1", "configmaps", _cm("one"), NS)
        assert raced, "the injected conflict did not happen"
        assert await _used(c, "a") == "1", "quota a was charged again on the retry"
        assert await _used(c, "b") == "2"
        # and both keep counting right afterwards
        await c.create("v1", "configmaps", _cm("two"), NS)
        assert (await _used(c, "a"), await _used(c, "b")) == ("2", "3")

    _run(tmp_path, check)


def test_a_refusal_on_the_retry_takes_back_the_other_quotas_charge(tmp_path: Path) -> None:
    async def check(srv: APIServer, c: Client) -> None:
        async def controller_write() -> None:  # the controller counted objects: b is now full
            await _set_status(c, "b", "5", "5")

        raced = _race_first_write_of(srv, "b", controller_write)
        with pytest.raises(ApiError) as ei:
            await c.create("v1", "configmaps", _cm("one"), NS)
        assert raced, "the injected conflict did not happen"
        assert ei.value.status == 403, ei.value
        assert "exceeded quota: b" in ei.value.message
        assert await _used(c, "a") == "0", "the refused create's charge on quota a was not taken back"
        assert await _used(c, "b") == "5"
        with pytest.raises(ApiError) as missing:
            await c.get("v1", "configmaps", "one", NS)
        assert missing.value.status == 404

    _run(tmp_path, check)
