"""The `default/kubernetes` Endpoints' port reconcile (leaseEndpointReconciler, reconcilePorts)."""

from __future__ import annotations

from vcluster.apiserver.bootstrap import kubernetes_endpoints
from vcluster.controllers.bootstrap import reconciled_endpoints


def test_ports_are_reset_only_when_reconciling_ports() -> None:
    old = kubernetes_endpoints("10.0.0.1", 6443)
    assert reconciled_endpoints(old, "10.0.0.1", 7443) == (old, False)
    body, changed = reconciled_endpoints(old, "10.0.0.1", 7443, reconcile_ports=True)
    assert changed
    assert body["subsets"] == [
        {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"name": "https", "port": 7443, "protocol": "TCP"}]}
    ]
    assert reconciled_endpoints(body, "10.0.0.1", 7443, reconcile_ports=True) == (body, False)


def test_a_port_with_other_fields_is_reset_when_reconciling_ports() -> None:
    odd = kubernetes_endpoints("10.0.0.1", 6443)
    odd["subsets"][0]["ports"][0]["appProtocol"] = "h2"
    body, changed = reconciled_endpoints(odd, "10.0.0.1", 6443, reconcile_ports=True)
    assert changed and body["subsets"][0]["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
