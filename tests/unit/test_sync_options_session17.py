"""`sync:` options checked one by one (session 17): the combinations refused at load, and which
changes need a restart."""

from __future__ import annotations

import pytest

from vcluster.config import ConfigError, load_config
from vcluster.config.reload import reload_class


def test_services_off_while_pods_are_synced_is_refused_naming_both_keys() -> None:
    """A synced pod's nameserver is the host copy of kube-system/kube-dns, which only the service
    syncer makes: with services off and pods on no pod would ever reach the host."""
    with pytest.raises(ConfigError) as info:
        load_config("sync:\n  toHost:\n    services:\n      enabled: false\n")
    message = str(info.value)
    assert "sync.toHost.services.enabled" in message
    assert "sync.toHost.pods.enabled" in message and "kube-dns" in message


def test_services_off_with_pods_off_is_accepted() -> None:
    cfg = load_config("sync:\n  toHost:\n    services: {enabled: false}\n    pods: {enabled: false}\n")
    assert not cfg.sync_enabled("services") and not cfg.sync_enabled("pods")


def test_switching_service_sync_needs_a_restart() -> None:
    """Whether the virtual API server allocates ClusterIPs itself is decided when it starts."""
    assert reload_class("sync.toHost.services.enabled") == "restart"
    assert reload_class("sync.toHost.ingresses.enabled") == "live"


def test_refused_kinds_are_exactly_those_without_a_syncer() -> None:
    """`kinds.NOT_SYNCED` (refused at load) and the engine's syncers cover every kind once, so a
    kind never passes validation without being synced (`toHost.namespaces` is refused as Pro)."""
    from vcluster.config import kinds
    from vcluster.syncer.engine import registry
    from vcluster.syncer.engine.classes import FROM_HOST_CLASSES
    from vcluster.syncer.engine.imports import IMPORTED_KINDS

    served = {
        "toHost": set(registry.SUPPORTED_TO_HOST),
        "fromHost": {"events", "nodes", *FROM_HOST_CLASSES, *IMPORTED_KINDS},
    }
    assert set(kinds.TO_HOST) - served["toHost"] == kinds.NOT_SYNCED["toHost"] | {"namespaces"}
    assert set(kinds.FROM_HOST) - served["fromHost"] == kinds.NOT_SYNCED["fromHost"]
    assert not served["toHost"] & kinds.NOT_SYNCED["toHost"]


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("sync: {toHost: {gatewayApi: {enabled: true}}}", "sync.toHost.gatewayApi.enabled"),
        ("sync: {toHost: {resourceClaims: {enabled: true}}}", "sync.toHost.resourceClaims.enabled"),
        (
            "sync: {toHost: {resourceClaimTemplates: {enabled: true}}}",
            "sync.toHost.resourceClaimTemplates.enabled",
        ),
        ("sync: {fromHost: {deviceClasses: {enabled: true}}}", "sync.fromHost.deviceClasses.enabled"),
        ("sync: {fromHost: {gatewayClasses: {enabled: true}}}", "sync.fromHost.gatewayClasses.enabled"),
        ("sync: {fromHost: {gateways: {enabled: true}}}", "sync.fromHost.gateways.enabled"),
        (
            "sync: {fromHost: {csiStorageCapacities: {enabled: 'true'}}}",
            "sync.fromHost.csiStorageCapacities.enabled",
        ),
    ],
)
def test_kinds_without_a_syncer_are_refused_at_their_switch(text: str, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(text)
    assert f"{path}: not implemented" in str(info.value)


def test_gateway_api_switched_off_and_auto_csi_capacities_are_accepted() -> None:
    """The sub-switches do nothing while `gatewayApi.enabled` is false, and `auto` CSI storage
    capacities stay off without scheduling in the virtual cluster (spec §4.2)."""
    cfg = load_config(
        "sync:\n  toHost:\n    gatewayApi: {enabled: false, httpRoutes: {enabled: true}}\n"
        "  fromHost:\n    csiStorageCapacities: {enabled: auto}\n"
    )
    assert not cfg.sync_enabled("httproutes") and not cfg.sync_enabled("csistoragecapacities")
