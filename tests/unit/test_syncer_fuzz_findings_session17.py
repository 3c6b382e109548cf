"""Regression tests for what the schema-driven syncer fuzzer (tests/fuzz/syncer_fuzz.py) found."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest

from vcluster.client.errors import ApiError
from vcluster.syncer import kinds
from vcluster.syncer.context import SyncContext
from vcluster.syncer.engine.controller import SyncController
from vcluster.syncer.merge import merge_labels
from vcluster.syncer.metadata import names_other_object
from vcluster.syncer.names import label_key_to_host
from vcluster.syncer.resources import poddisruptionbudget

VC = "my-vcluster"
RELEASE_ON_HOST = label_key_to_host("release", VC)  # vcluster.loft.sh/label-my-vcluster-x-a4d451ec23


def test_forged_hashed_label_key_added_later_stays_virtual() -> None:
    """A tenant label spelled like `release`'s host key is not copied by an update either (the
    create path never copied it): on the host it would read back as `release`."""
    base_v = {"app": "a"}
    base_h = {"app": "a", "vcluster.loft.sh/managed-by": VC}
    v = {"app": "a", RELEASE_ON_HOST: "forged"}
    new_v, new_h, *_ = merge_labels(base_v, v, base_h, dict(base_h), VC)
    assert RELEASE_ON_HOST not in (new_h or {})
    assert new_v == v  # the tenant's label stays on the virtual object


def test_forged_hashed_label_key_beside_release() -> None:
    """With both `release` and its forged host spelling, the host key holds `release`'s value."""
    base_h = {"vcluster.loft.sh/managed-by": VC}
    v = {"release": "real", RELEASE_ON_HOST: "forged"}
    new_v, new_h, *_ = merge_labels({}, v, base_h, dict(base_h), VC)
    assert (new_h or {})[RELEASE_ON_HOST] == "real"
    assert new_v == v


def test_release_label_still_hashed() -> None:
    base_h = {"vcluster.loft.sh/managed-by": VC}
    new_v, new_h, *_ = merge_labels({}, {"release": "r"}, base_h, dict(base_h), VC)
    assert (new_h or {}).get(RELEASE_ON_HOST) == "r"
    assert "release" not in (new_h or {})
    assert new_v == {"release": "r"}


def test_names_other_object() -> None:
    """`a-x-b` in `c` and `a` in `b-x-c` join to one host name: the annotations tell them apart."""
    host = {
        "metadata": {
            "annotations": {"vcluster.loft.sh/object-name": "a-x-b", "vcluster.loft.sh/object-namespace": "c"}
        }
    }
    assert not names_other_object(host, "c", "a-x-b", kinds.CONFIGMAP)
    assert names_other_object(host, "b-x-c", "a", kinds.CONFIGMAP)
    assert not names_other_object({"metadata": {}}, "b-x-c", "a", kinds.CONFIGMAP)  # an older copy
    cluster = {"metadata": {"annotations": {"vcluster.loft.sh/object-name": "pc"}}}
    assert not names_other_object(cluster, "", "pc", kinds.PRIORITY_CLASS)
    assert names_other_object(cluster, "", "other", kinds.PRIORITY_CLASS)


def test_pdb_with_an_empty_spec_keeps_it_on_the_host() -> None:
    """`spec: {}` (every field optional) went to the host as `spec: null`."""
    ctx = SyncContext(vcluster=VC, host_namespace="vc-ns", owner_uid="svc-uid")
    vpdb = {"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": {}}
    assert poddisruptionbudget.translate_pdb(vpdb, ctx).obj["spec"] == {}
    host = poddisruptionbudget.translate_pdb({**vpdb, "spec": {"minAvailable": 1}}, ctx).obj
    res = poddisruptionbudget.sync_pdb(vpdb, host, None, None, ctx)
    assert res.host["spec"] == {}
    sel = {"matchLabels": {"release": "r"}}
    host = poddisruptionbudget.translate_pdb({**vpdb, "spec": {"selector": sel}}, ctx).obj
    assert host["spec"]["selector"]["matchLabels"] == {label_key_to_host("release", VC): "r"}


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def labels(self, *_: str) -> _Counter:
        return self

    def inc(self) -> None:
        self.n += 1

    def observe(self, _: float) -> None:
        pass


def _controller(error: ApiError) -> tuple[SyncController, list[tuple[str, float]], list[str]]:
    """A SyncController whose reconcile raises `error`, with the queue and events recorded."""
    requeued: list[tuple[str, float]] = []
    events: list[str] = []
    ctl = object.__new__(SyncController)
    ctl.ks = SimpleNamespace(name="pod")  # type: ignore[assignment]
    ctl.log = logging.getLogger("test")  # type: ignore[assignment]
    ctl._conflicts = {}
    ctl.queue = SimpleNamespace(add_after=lambda key, after: requeued.append((key, after)))  # type: ignore[assignment]
    ctl.vinf = SimpleNamespace(get=lambda name, ns: {"metadata": {"name": name, "namespace": ns}})  # type: ignore[assignment]
    ctl.engine = SimpleNamespace(  # type: ignore[assignment]
        conflict_delay=0.5,
        metrics=SimpleNamespace(errors=_Counter(), latency=_Counter()),
        virtual_events=SimpleNamespace(event=lambda obj, typ, reason, msg, **kw: events.append(reason)),
    )
    ctl.kind = kinds.POD  # type: ignore[misc]

    async def reconcile(key: str) -> None:
        raise error

    ctl.reconcile = reconcile  # type: ignore[method-assign]
    return ctl, requeued, events


def test_write_to_an_object_deleted_meanwhile_is_a_quiet_requeue() -> None:
    """A status patch of a virtual pod deleted with grace 0 since the read (404 on PATCH) is retried
    like a conflict, without a SyncError event on the pod (the fuzzer saw one)."""
    gone = ApiError(
        404, "NotFound", 'pods "p" not found', method="PATCH", path="/api/v1/namespaces/d/pods/p/status"
    )
    ctl, requeued, events = _controller(gone)
    asyncio.run(ctl._reconcile_key("d/p"))
    assert requeued == [("d/p", 0.5)] and events == []


def test_missing_namespace_on_create_is_still_an_error() -> None:
    missing = ApiError(
        404, "NotFound", 'namespaces "x" not found', method="POST", path="/api/v1/namespaces/x/pods"
    )
    ctl, requeued, events = _controller(missing)
    with pytest.raises(ApiError):
        asyncio.run(ctl._reconcile_key("d/p"))
    assert requeued == [] and events == ["SyncError"]
