"""Writes the host kubeconfig Secret `vc-<name>` at start, retried every 10 s until the host takes
it (vCluster's start, spec §8.1 step 5); the Secret's shape is in syncer/kubeconfigsecret.py."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from vcluster.client import ApiError, Client
from vcluster.syncer import kubeconfigsecret as kcs
from vcluster.syncer.context import SyncContext

log = logging.getLogger("vcluster.syncer.kubeconfig")
RETRY_INTERVAL = 10.0


async def apply(host: Client, ctx: SyncContext, kubeconfig: Mapping[str, Any]) -> str:
    """Create the Secret, or patch it when it differs: "created", "updated" or "" (unchanged)."""
    want = kcs.kubeconfig_secret(ctx, kubeconfig)
    name, ns = want["metadata"]["name"], ctx.host_namespace
    try:
        cur = await host.get("v1", "secrets", name, ns)
    except ApiError as e:
        if not e.not_found:
            raise
        await host.create("v1", "secrets", want, ns)
        return "created"
    patch = kcs.update_patch(cur, want)
    if patch is None:
        return ""
    patch.setdefault("metadata", {})["resourceVersion"] = (cur.get("metadata") or {}).get("resourceVersion")
    await host.patch("v1", "secrets", name, patch, ns, patch_type="merge")
    return "updated"


async def keep_writing(host: Client, ctx: SyncContext, kubeconfig: Mapping[str, Any]) -> None:
    """`apply` until it succeeds, every RETRY_INTERVAL seconds (a refusal is logged each time)."""
    name = f"{ctx.host_namespace}/{kcs.secret_name(ctx.vcluster)}"
    while True:
        try:
            done = await apply(host, ctx, kubeconfig)
        except ApiError as e:
            log.warning(
                "writing the kubeconfig secret %s failed (retrying in %.0fs): %s", name, RETRY_INTERVAL, e
            )
        else:
            if done:
                log.info("kubeconfig secret %s %s", name, done)
            return
        await asyncio.sleep(RETRY_INTERVAL)
