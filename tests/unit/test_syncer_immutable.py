"""Immutable ConfigMaps and Secrets (§6.3): `immutable` reaches the host, and the data of an
immutable virtual object no longer takes host changes (its API server refuses them for good)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from vcluster.syncer.context import SyncContext
from vcluster.syncer.resources import configmap, secret

CTX = SyncContext(vcluster="my-vc", host_namespace="vc-ns", owner_uid="svc-uid")

KINDS: list[tuple[Callable[..., Any], Callable[..., Any], dict[str, Any]]] = [
    (
        configmap.translate_configmap,
        configmap.sync_configmap,
        {"data": {"a": "1"}, "binaryData": {"b": "AA=="}},
    ),
    (secret.translate_secret, secret.sync_secret, {"type": "Opaque", "data": {"a": "MQ=="}}),
]


def _virtual(body: dict[str, Any], **extra: Any) -> dict[str, Any]:
    meta = {"name": "cfg", "namespace": "default", "uid": "u1", "resourceVersion": "4"}
    return {"metadata": meta, **copy.deepcopy(body), **extra}


@pytest.mark.parametrize(("translate", "sync", "body"), KINDS)
def test_immutable_set_later_reaches_the_host(translate: Any, sync: Any, body: dict[str, Any]) -> None:
    v = _virtual(body)
    h = translate(v, CTX).obj
    v2 = _virtual(body, immutable=True)
    res = sync(v2, h, v, h, CTX)
    assert res.host_patch == {"immutable": True} and res.virtual_patch is None


@pytest.mark.parametrize(("translate", "sync", "body"), KINDS)
def test_host_data_change_does_not_reach_an_immutable_virtual_object(
    translate: Any, sync: Any, body: dict[str, Any]
) -> None:
    """The host copy was changed before it became immutable too: the virtual data stays (a patch
    would be refused, again and again) and the host copy gets the virtual data back."""
    v = _virtual(body)
    h = translate(v, CTX).obj
    h_changed = copy.deepcopy(h)
    h_changed["data"]["a"] = "Mg=="
    v2 = _virtual(body, immutable=True)
    res = sync(v2, h_changed, v2, h, CTX)
    assert res.virtual_patch is None
    assert res.host_patch == {"immutable": True, "data": {"a": body["data"]["a"]}}
    # both immutable: nothing can change on either side, so nothing is written
    h_frozen = {**h_changed, "immutable": True}
    res = sync(v2, h_frozen, v2, h, CTX)
    assert res.virtual_patch is None and res.host_patch is None


@pytest.mark.parametrize(("translate", "sync", "body"), KINDS)
def test_host_immutable_alone_is_left_to_the_host(translate: Any, sync: Any, body: dict[str, Any]) -> None:
    """A host admin froze the host copy: nothing tries to unfreeze it (which the host refuses)."""
    v = _virtual(body)
    h = {**translate(v, CTX).obj, "immutable": True}
    res = sync(v, h, v, h, CTX)
    assert res.host_patch is None and res.virtual_patch is None
