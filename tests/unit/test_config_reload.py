"""The host ConfigMap `<NAME>-config` and applying an edited configuration (diff + reload classes)."""

from __future__ import annotations

import pytest
import yaml

from vcluster.config import (
    CONFIG_MAP_KEY,
    ConfigError,
    config_from_config_map,
    diff_config,
    effective_config_map,
    hot_reloadable,
    load_config,
    reload_class,
    restart_required,
)


def test_effective_config_map() -> None:
    cfg = load_config("sync: {toHost: {ingresses: {enabled: true}}}")
    cm = effective_config_map(cfg, "my-vcluster", "test-namespace")
    assert cm["apiVersion"] == "v1" and cm["kind"] == "ConfigMap"
    assert cm["metadata"] == {
        "name": "my-vcluster-config",
        "namespace": "test-namespace",
        "labels": {"app": "vcluster", "release": "my-vcluster"},
    }
    assert list(cm["data"]) == [CONFIG_MAP_KEY]
    text = cm["data"]["config.yaml"]
    # what `kubectl get cm -n NS NAME-config -o yaml | grep -A 20 "sync:"` shows: the sync tree first
    lines = text.splitlines()
    assert lines[0] == "sync:" and lines[1] == "  toHost:"
    assert "    ingresses:\n      enabled: true\n" in text
    assert yaml.safe_load(text)["sync"]["toHost"]["configMaps"] == {"enabled": True, "all": False}
    assert config_from_config_map(cm) == cfg


def test_edited_config_map() -> None:
    cm = effective_config_map(load_config(None), "vc", "ns")
    edited = {
        **cm,
        "data": {CONFIG_MAP_KEY: cm["data"][CONFIG_MAP_KEY].replace("all: false", "all: true", 1)},
    }
    new = config_from_config_map(edited)
    assert new.sync.to_host.config_maps.all is True and new.sync.to_host.secrets.all is False

    typo = {**cm, "data": {CONFIG_MAP_KEY: "sync: {toHost: {pods: {enabeld: false}}}"}}
    with pytest.raises(ConfigError) as info:
        config_from_config_map(typo)
    assert str(info.value) == "sync.toHost.pods.enabeld: unknown key"
    assert info.value.source == "ConfigMap ns/vc-config"

    for data in [{}, None, {CONFIG_MAP_KEY: 5}]:
        with pytest.raises(ConfigError) as info:
            config_from_config_map({**cm, "data": data})
        assert str(info.value) == 'ConfigMap ns/vc-config has no key "config.yaml"'
    with pytest.raises(ConfigError) as info:
        config_from_config_map({**cm, "data": {CONFIG_MAP_KEY: "sync:\n  toHost: [\n"}})
    assert str(info.value).startswith("YAML syntax error in ConfigMap ns/vc-config at line 3, column 1: ")
    with pytest.raises(ConfigError) as info:
        config_from_config_map({**cm, "data": {CONFIG_MAP_KEY: ""}})
    assert (
        str(info.value) == 'ConfigMap ns/vc-config key "config.yaml" is empty (write {} to use all defaults)'
    )


def test_diff_and_reload_of_sync_switches() -> None:
    old = load_config(None)
    new = load_config(
        """
        sync:
          toHost:
            ingresses: {enabled: true}
            secrets: {all: true}
            pods: {translateImage: {"nginx:1.25": "mirror/nginx:1.25"}}
          fromHost:
            nodes: {enabled: true, selector: {labels: {pool: a}}}
            storageClasses: {enabled: false}
        policies: {podSecurityStandard: baseline}
        """
    )
    paths = diff_config(old, new)
    assert paths == [
        "sync.toHost.secrets.all",
        'sync.toHost.pods.translateImage["nginx:1.25"]',
        "sync.toHost.ingresses.enabled",
        "sync.fromHost.storageClasses.enabled",
        "sync.fromHost.nodes.enabled",
        "sync.fromHost.nodes.selector.labels.pool",
        "policies.podSecurityStandard",
    ]
    assert hot_reloadable(paths) and restart_required(paths) == []
    assert diff_config(new, new) == [] and diff_config(old, load_config("{}")) == []
    assert diff_config(new, old) == paths  # removed map entries are changes too


def test_changes_that_need_a_restart() -> None:
    old = load_config(None)
    new = load_config(
        """
        networking: {advanced: {clusterDomain: corp.local}, serviceCIDR: 10.96.0.0/12}
        experimental:
          syncSettings: {setOwner: false, hostMetricsBindAddress: ":8080"}
          engine: {workers: 3, hostQPS: 80}
        controlPlane: {advanced: {workloadServiceAccount: {name: runner}}}
        logging: {encoding: json}
        """
    )
    paths = diff_config(old, new)
    assert restart_required(paths) == [
        "networking.serviceCIDR",
        "networking.advanced.clusterDomain",
        "controlPlane.advanced.workloadServiceAccount.name",
        "experimental.syncSettings.hostMetricsBindAddress",
        "experimental.engine.workers",
    ]
    assert not hot_reloadable(paths)
    live = [p for p in paths if reload_class(p) == "live"]
    assert live == ["experimental.syncSettings.setOwner", "experimental.engine.hostQPS", "logging.encoding"]


@pytest.mark.parametrize(
    ("path", "cls"),
    [
        ("sync.toHost.pods.enabled", "live"),
        ('sync.toHost.pods.translateImage["a:b"]', "live"),
        ("sync.toHost.namespaces.enabled", "restart"),
        ("networking.replicateServices.fromHost", "live"),
        ("networking.advanced.proxyKubelets.byIP", "restart"),
        ("experimental.engine.workersPerKind.pods", "restart"),
        ("experimental.engine.workersX", "live"),  # prefix match is per key, not per character
        ("somethingElse", "restart"),
    ],
)
def test_reload_class(path: str, cls: str) -> None:
    assert reload_class(path) == cls
