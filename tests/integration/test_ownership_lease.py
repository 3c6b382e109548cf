"""The syncer's ownership lease (`syncer/engine/ownership.py`) against a real API server: it is
renewed with the same holder, a second holder is refused while it is fresh, another holder that
takes it over is noticed (the process must stop), and a clean release deletes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from vcluster.apiserver.server import APIServer, ServerConfig
from vcluster.client import Client
from vcluster.syncer.engine import ownership
from vcluster.syncer.engine.ownership import API, HostLease, OwnershipError

pytestmark = pytest.mark.integration


def test_lease_renewed_refused_lost_and_released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ownership, "RENEW_EVERY", 0.2)

    async def main() -> None:
        srv = APIServer(ServerConfig(data_dir=tmp_path, port=0))
        await srv.start()
        c = await Client.from_kubeconfig(str(srv.kubeconfig_path), unix_socket=str(srv.unix_socket))
        lost: list[str] = []
        try:
            first = HostLease(c, "default", "vc", "host-a", lost.append)
            await first.acquire()
            before = await c.get(API, "leases", first.lease_name, "default")
            await asyncio.sleep(0.7)
            after = await c.get(API, "leases", first.lease_name, "default")
            assert after["spec"]["holderIdentity"] == "host-a"
            assert after["spec"]["renewTime"] > before["spec"]["renewTime"], "not renewed"
            with pytest.raises(OwnershipError, match="is already run by host-a"):
                await HostLease(c, "default", "vc", "host-b", lost.append).acquire()
            with pytest.raises(OwnershipError, match="already holds the virtual cluster 'vc'"):
                await HostLease(c, "default", "other", "host-c", lost.append).acquire()
            # someone takes it over (as a start would after it expired): the holder notices
            after["spec"]["holderIdentity"] = "host-b"
            await c.update(API, "leases", after, "default")
            for _ in range(20):
                if lost:
                    break
                await asyncio.sleep(0.1)
            assert lost and "now held by host-b" in lost[0]
            await first.release()  # not ours any more: left to its holder
            assert (await c.get(API, "leases", first.lease_name, "default"))["spec"][
                "holderIdentity"
            ] == "host-b"
            mine = HostLease(c, "default", "mine", "host-m", lost.append)
            await c.delete(API, "leases", first.lease_name, "default")
            await mine.acquire()
            await mine.release()
            assert not (await c.list(API, "leases", "default"))["items"]
        finally:
            await c.close()
            await srv.stop()

    asyncio.run(main())
