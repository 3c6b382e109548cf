"""The engine's own knobs (experimental.engine) are wired into the syncer, not only accepted."""

from __future__ import annotations

from typing import Any

from vcluster.config import load_config

HNS = "vc-host"


def test_engine_timing_knobs_reach_the_syncer(tmp_path: Any) -> None:
    """experimental.engine resyncPeriod / watchSilenceTimeout / conflictRequeueDelay are used, not
    only accepted; the first two need a restart, the conflict delay follows a live edit."""
    import asyncio

    from vcluster.client import Client
    from vcluster.config import restart_required
    from vcluster.syncer.engine.syncer import Syncer

    cfg = load_config(
        "experimental:\n  engine: {resyncPeriod: 600, watchSilenceTimeout: 30, conflictRequeueDelay: 0.2}\n"
    )

    async def build() -> Syncer:
        host, virtual = Client("https://127.0.0.1:1"), Client("https://127.0.0.1:2")
        try:
            return Syncer(
                name="vc",
                host_namespace=HNS,
                config=cfg,
                virtual=virtual,
                host=host,
                store=None,  # type: ignore[arg-type]
            )
        finally:
            await host.close()
            await virtual.close()

    s = asyncio.run(build())
    assert s.conflict_delay == 0.2
    for informers in (s.host_informers, s.virtual_informers):
        inf = informers.informer("v1", "pods")
        assert inf.resync_seconds == 600 and inf.silence_timeout == 30
    assert load_config("{}").experimental.engine.conflict_requeue_delay == 0.05
    assert restart_required(
        ["experimental.engine.resyncPeriod", "experimental.engine.watchSilenceTimeout"]
    ) == [
        "experimental.engine.resyncPeriod",
        "experimental.engine.watchSilenceTimeout",
    ]
    assert restart_required(["experimental.engine.conflictRequeueDelay"]) == []
