"""`sync.toHost.pods.useSecretsForSATokens` (spec §3.4, §3.9e): a pod's service-account token goes
to the host in a Secret `<pod>-sa-token-x-<ns>-x-<vc>` that the host pod reads; the Secret is made
owned by the host pod (not left with the vCluster Service), so it goes when the pod goes."""

from __future__ import annotations

import base64

import pytest

from .syncer_harness import (
    HOST_NS,
    Pair,
    get_json,
    host_name,
    pair_fixture,
    pod_manifest,
    pod_running,
    virtual_namespace,
    wait_until,
)

pytestmark = pytest.mark.integration

pair = pair_fixture("sync:\n  toHost:\n    pods:\n      useSecretsForSATokens: true\n")


def test_token_secret_is_owned_by_its_host_pod_and_goes_with_it(pair: Pair) -> None:
    p = pair
    ns = virtual_namespace(p.kv, "tokens")
    p.kv.create(pod_manifest("api", ns))
    wait_until(lambda: pod_running(p.kv, "api", ns), 30, what="pod Running")
    hpod = get_json(p.kh, "pod", host_name("api", ns), "-n", HOST_NS)
    assert hpod is not None
    secret_name = host_name("api-sa-token", ns)
    sources = [s for v in hpod["spec"]["volumes"] for s in (v.get("projected") or {}).get("sources", [])]
    assert any((s.get("secret") or {}).get("name") == secret_name for s in sources), sources
    assert not any(k.startswith("vcluster.loft.sh/token-") for k in hpod["metadata"].get("annotations", {}))

    def owned_by_pod() -> dict | None:
        sec = get_json(p.kh, "secret", secret_name, "-n", HOST_NS)
        owners = (sec or {}).get("metadata", {}).get("ownerReferences") or []
        return sec if [(o["kind"], o["uid"]) for o in owners] == [("Pod", hpod["metadata"]["uid"])] else None

    secret = wait_until(owned_by_pod, 10, what="the token Secret owned by the host pod alone")
    token = base64.b64decode(next(iter(secret["data"].values()))).decode()
    assert token.count(".") == 2  # a JWT minted by the virtual API server

    p.kv("delete", "pod", "api", "-n", ns)
    wait_until(
        lambda: get_json(p.kh, "pod", host_name("api", ns), "-n", HOST_NS) is None, 20, what="host pod gone"
    )
    wait_until(
        lambda: get_json(p.kh, "secret", secret_name, "-n", HOST_NS) is None,
        20,
        what="the token Secret gone with its pod (host garbage collector)",
    )
