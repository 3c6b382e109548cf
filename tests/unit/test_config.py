"""vcluster.yaml loading: spec §4.1 defaults, §4.2 resolution, exact error messages, round trips, fuzzing."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcluster.config import (
    ConfigError,
    VClusterConfig,
    default_values,
    dump_config,
    load_config,
    parse_toleration,
)
from vcluster.config._types import split_bind_address


def errors_of(source: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(source)
    return str(info.value)


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# ---- defaults: the spec's §4.1 block, transcribed (flow maps as in the spec, comments dropped)
SPEC_4_1 = """
sync:
  toHost:
    services:               {enabled: true}
    endpoints:              {enabled: true}
    endpointSlices:         {enabled: true}
    persistentVolumeClaims: {enabled: true}
    configMaps:             {enabled: true, all: false}
    secrets:                {enabled: true, all: false}
    pods:
      enabled: true
      translateImage: {}
      enforceTolerations: []
      useSecretsForSATokens: false
      runtimeClassName: ""
      priorityClassName: ""
      rewriteHosts:
        enabled: true
        initContainer:
          image: {registry: mirror.gcr.io, repository: library/alpine, tag: "3.20"}
          resources: {limits: {cpu: 30m, memory: 64Mi}, requests: {cpu: 30m, memory: 64Mi}}
      hybridScheduling: {enabled: false, hostSchedulers: []}
    ingresses:              {enabled: false}
    gatewayApi: {enabled: false, httpRoutes: {enabled: false}, gateways: {enabled: false},
                 tlsRoutes: {enabled: false}, backendTLSPolicies: {enabled: false},
                 referenceGrants: {enabled: auto}}
    priorityClasses:        {enabled: false}
    networkPolicies:        {enabled: false}
    podDisruptionBudgets:   {enabled: false}
    serviceAccounts:        {enabled: false}
    storageClasses:         {enabled: false}
    persistentVolumes:      {enabled: false}
    namespaces:             {enabled: false, mappingsOnly: false}
    resourceClaims:         {enabled: false}
    resourceClaimTemplates: {enabled: false}
  fromHost:
    events:               {enabled: true}
    configMaps:           {enabled: false, mappings: {byName: {}}}
    secrets:              {enabled: false, mappings: {byName: {}}}
    csiDrivers:           {enabled: auto}
    csiNodes:             {enabled: auto}
    csiStorageCapacities: {enabled: auto}
    storageClasses:       {enabled: auto}
    ingressClasses:       {enabled: false}
    gatewayClasses:       {enabled: false}
    gateways:             {enabled: false}
    runtimeClasses:       {enabled: false}
    priorityClasses:      {enabled: false}
    nodes:
      enabled: false
      syncBackChanges: false
      clearImageStatus: false
      selector: {all: false, labels: {}}
    deviceClasses:        {enabled: false}
"""

# §4.4 (and §3.2 / §8.6 / §8.7) knobs with their documented defaults
SPEC_4_4 = """
networking:
  advanced:
    clusterDomain: cluster.local
    fallbackHostCluster: false
    proxyKubelets: {byHostname: true, byIP: true}
  replicateServices: {toHost: [], fromHost: []}
experimental:
  syncSettings: {setOwner: true, hostMetricsBindAddress: "", virtualMetricsBindAddress: ""}
controlPlane:
  statefulSet:
    highAvailability: {replicas: 1, leaseDuration: 60, renewDeadline: 40, retryPeriod: 15}
  advanced:
    workloadServiceAccount: {name: ""}
policies:
  podSecurityStandard: ""
logging:
  encoding: console
"""


def assert_subset(expected: Any, actual: Any, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing from the defaults"
            assert_subset(value, actual[key], f"{path}.{key}")
    else:
        assert actual == expected and type(actual) is type(expected), f"{path}: {actual!r} != {expected!r}"


@pytest.mark.parametrize("table", [SPEC_4_1, SPEC_4_4])
def test_defaults_equal_the_spec(table: str) -> None:
    spec = yaml.safe_load(table)
    assert_subset(spec, default_values())
    assert_subset(spec, yaml.safe_load(dump_config(VClusterConfig())))
    assert_subset(spec, yaml.safe_load(dump_config(load_config("{}"))))


def test_every_spec_kind_and_nothing_else() -> None:
    spec = yaml.safe_load(SPEC_4_1)["sync"]
    ours = default_values()["sync"]
    assert list(ours["toHost"]) == [*spec["toHost"], "customResources"]
    assert list(ours["fromHost"]) == [*spec["fromHost"], "customResources"]


def test_dump_starts_with_sync_in_spec_order() -> None:
    lines = dump_config(VClusterConfig()).splitlines()
    assert lines[:5] == ["sync:", "  toHost:", "    services:", "      enabled: true", "    endpoints:"]
    assert "patches" not in "\n".join(lines)  # [Pro] keys at their defaults are left out


DEFAULT_ON = {
    ("toHost", "pods"),
    ("toHost", "services"),
    ("toHost", "endpoints"),
    ("toHost", "endpointslices"),
    ("toHost", "configmaps"),
    ("toHost", "secrets"),
    ("toHost", "persistentvolumeclaims"),
    ("fromHost", "events"),
    ("fromHost", "nodes"),
}


def test_default_switches_after_resolution() -> None:
    cfg = load_config(None)
    assert set(cfg.enabled_kinds()) == DEFAULT_ON
    for kind in [
        "ingresses",
        "serviceaccounts",
        "networkpolicies",
        "poddisruptionbudgets",
        "priorityclasses",
    ]:
        assert cfg.sync_enabled(kind) is False
    # `auto` resolves to off without scheduling inside the virtual cluster (spec §4.2)
    for kind in ["storageclasses", "csidrivers", "csinodes", "csistoragecapacities"]:
        assert cfg.sync_enabled(kind, "fromHost") is False
    assert cfg.sync_enabled("nodes") is True and cfg.real_nodes is False
    assert cfg.sync_all_nodes is False


def test_enabling_kinds_and_directions() -> None:
    cfg = load_config(
        y("""
        sync:
          toHost:
            ingresses: {enabled: true}
            serviceAccounts: {enabled: true}
            networkPolicies: {enabled: true}
            podDisruptionBudgets: {enabled: true}
            priorityClasses: {enabled: true}
            configMaps: {enabled: false}
            gatewayApi: {httpRoutes: {enabled: true}}
          fromHost:
            ingressClasses: {enabled: true}
            storageClasses: {enabled: true}
            nodes: {enabled: true, selector: {labels: {pool: a}}}
        """)
    )
    for kind in [
        "ingresses",
        "serviceaccounts",
        "networkpolicies",
        "poddisruptionbudgets",
        "priorityclasses",
    ]:
        assert cfg.sync_enabled(kind) is True
    assert cfg.sync_enabled("configmaps") is False
    assert cfg.sync_enabled("configmaps", "fromHost") is False
    assert cfg.sync_enabled("storageclasses") is True  # defaults to the from-host direction
    assert cfg.sync_enabled("storageclasses", "toHost") is False
    assert cfg.sync_enabled("ingressclasses") is True
    assert cfg.sync_enabled("httproutes") is False  # the gatewayApi master switch is off
    assert cfg.real_nodes is True and cfg.sync_all_nodes is False
    with pytest.raises(ValueError, match="unknown kind 'widgets'"):
        cfg.sync_enabled("widgets")
    with pytest.raises(ValueError, match="'pods' is not synced fromHost"):
        cfg.sync_enabled("pods", "fromHost")


def test_auto_resolution_with_scheduling_in_the_virtual_cluster() -> None:
    # hybrid scheduling is refused by load_config ([Pro]); the resolution rules are still the spec's
    base = {"sync": {"toHost": {"pods": {"hybridScheduling": {"enabled": True}}}}}
    cfg = VClusterConfig.model_validate(base)
    for kind in ["storageclasses", "csidrivers", "csinodes", "csistoragecapacities"]:
        assert cfg.sync_enabled(kind, "fromHost") is True
    assert cfg.sync_all_nodes is True
    both = {"sync": {"toHost": {**base["sync"]["toHost"], "storageClasses": {"enabled": True}}}}
    cfg = VClusterConfig.model_validate(both)
    assert cfg.sync_enabled("storageclasses", "fromHost") is False
    assert cfg.sync_enabled("csinodes", "fromHost") is True
    no_pvc = {"sync": {"toHost": {**base["sync"]["toHost"], "persistentVolumeClaims": {"enabled": False}}}}
    assert VClusterConfig.model_validate(no_pvc).sync_enabled("csidrivers", "fromHost") is False
    labelled = {"sync": {**base["sync"], "fromHost": {"nodes": {"selector": {"labels": {"a": "b"}}}}}}
    assert VClusterConfig.model_validate(labelled).sync_all_nodes is False


def test_values_merge_over_defaults_like_helm() -> None:
    cfg = load_config(
        y("""
        sync:
          toHost:
            services: {}
            pods:
              rewriteHosts:
                initContainer:
                  image: {tag: "3.21"}
                  resources: {limits: {cpu: 100m}, requests: {memory: null}}
            secrets:
        """)
    )
    pods = cfg.sync.to_host.pods
    assert cfg.sync.to_host.services.enabled is True  # a partial map keeps the other defaults
    assert cfg.sync.to_host.secrets.enabled is True  # an empty value means the default
    assert pods.rewrite_hosts.init_container.resources.limits == {"cpu": "100m", "memory": "64Mi"}
    assert pods.rewrite_hosts.init_container.resources.requests == {"cpu": "30m"}  # null deletes
    assert cfg.rewrite_hosts_image == "mirror.gcr.io/library/alpine:3.21"


def test_accessors() -> None:
    cfg = load_config(
        y("""
        sync:
          toHost:
            pods:
              enforceTolerations: ["*", "dedicated=tenant:NoSchedule", "spot:", "gpu"]
        controlPlane:
          advanced: {defaultImageRegistry: registry.example.com}
        experimental:
          engine: {workers: 4, workersPerKind: {pods: 16}}
        """)
    )
    assert cfg.enforced_tolerations() == [
        {"operator": "Exists"},
        {"key": "dedicated", "operator": "Equal", "value": "tenant", "effect": "NoSchedule"},
        {"key": "spot", "operator": "Exists"},
        {"key": "gpu"},
    ]
    assert cfg.rewrite_hosts_image == "registry.example.com/library/alpine:3.20"
    assert cfg.workers_for("pods") == 16 and cfg.workers_for("services") == 4
    assert cfg.workload_service_account("my-vc") == "vc-workload-my-vc"
    assert cfg.cluster_domain == "cluster.local"
    named = load_config("controlPlane: {advanced: {workloadServiceAccount: {name: runner}}}")
    assert named.workload_service_account("my-vc") == "runner"


@pytest.mark.parametrize(
    ("spec", "want"),
    [  # the vectors of vCluster's toleration_test.go
        ("*", {"operator": "Exists"}),
        ("key", {"key": "key"}),
        ("key=value", {"key": "key", "value": "value"}),
        (
            "key=value:NoSchedule",
            {"key": "key", "value": "value", "effect": "NoSchedule", "operator": "Equal"},
        ),
        ("key:NoSchedule", {"key": "key", "effect": "NoSchedule", "operator": "Exists"}),
        (":NoExecute", {"effect": "NoExecute", "operator": "Exists"}),
    ],
)
def test_parse_toleration(spec: str, want: dict[str, str]) -> None:
    assert parse_toleration(spec) == want


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("key=value,wrong:NoSchedule", "invalid toleration spec: key=value,wrong:NoSchedule, a valid label"),
        ("key=value:Effec:Effect", "invalid toleration spec: key=value:Effec:Effect"),
        ("key=value=value", "invalid toleration spec: key=value=value"),
        (
            "key:Sometimes",
            "invalid toleration spec: key:Sometimes, "
            "effect must be one of NoSchedule, PreferNoSchedule, NoExecute",
        ),
        (
            "=v:NoSchedule",
            "invalid toleration spec: =v:NoSchedule, the key must not be empty (use * for all)",
        ),
    ],
)
def test_parse_toleration_errors(spec: str, error: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_toleration(spec)
    assert str(info.value).startswith(error)


# ---- round trips
RICH = y("""
sync:
  toHost:
    configMaps: {all: true}
    secrets: {all: true}
    ingresses: {enabled: true}
    pods:
      translateImage: {"nginx:1.25": "mirror.example.com/nginx:1.25", "1e5": "0o17", "yes": "on"}
      enforceTolerations: ["*"]
      useSecretsForSATokens: true
      runtimeClassName: gvisor
      rewriteHosts: {enabled: false, initContainer: {resources: {limits: {cpu: 1}}}}
  fromHost:
    ingressClasses: {enabled: true, selector: {matchExpressions: [{key: tier, operator: In, values: [a]}]}}
    nodes: {enabled: true, clearImageStatus: true, selector: {labels: {pool: tenants}}}
    secrets: {enabled: true, mappings: {byName: {"shared/*": "imported/*", "": "from-host"}}}
networking:
  serviceCIDR: 10.96.0.0/12
  replicateServices: {fromHost: [{from: kube-system/dns, to: default/host-dns}]}
  advanced: {clusterDomain: corp.local}
policies: {podSecurityStandard: restricted}
experimental:
  syncSettings: {setOwner: false}
  engine: {hostQPS: 100, resyncPeriod: 0, workersPerKind: {pods: 20}}
logging: {encoding: json}
""")


@pytest.mark.parametrize("source", [None, "{}", RICH])
def test_round_trip_is_identity(source: str | None) -> None:
    cfg = load_config(source)
    text = dump_config(cfg)
    again = load_config(text)
    assert again == cfg
    assert dump_config(again) == text
    assert load_config(cfg) == cfg


def test_round_trip_keeps_strings_that_yaml_would_reinterpret() -> None:
    cfg = load_config(RICH)
    images = load_config(dump_config(cfg)).sync.to_host.pods.translate_image
    assert images == {"nginx:1.25": "mirror.example.com/nginx:1.25", "1e5": "0o17", "yes": "on"}
    assert load_config(dump_config(cfg)).experimental.engine.host_qps == 100.0


def _bool_leaves(data: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _bool_leaves(v, (*path, k))]
    return [path] if isinstance(data, bool) else []


BOOL_LEAVES = _bool_leaves(default_values())


def _with(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = dict(data)
    out[path[0]] = value if len(path) == 1 else _with(out.get(path[0], {}), path[1:], value)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sets(st.sampled_from(BOOL_LEAVES), max_size=8))
def test_round_trip_of_flipped_switches(flips: set[tuple[str, ...]]) -> None:
    data: dict[str, Any] = {}
    defaults = default_values()
    for path in flips:
        value = defaults
        for key in path:
            value = value[key]
        data = _with(data, path, not value)
    try:
        cfg = load_config(data)
    except ConfigError:
        return  # some combinations are mutually exclusive; those have their own tests
    assert load_config(dump_config(cfg)) == cfg


# ---- error messages (exact text)
def test_unknown_key() -> None:
    assert (
        errors_of("sync:\n  toHost:\n    pods:\n      enabeld: true\n")
        == "sync.toHost.pods.enabeld: unknown key"
    )
    assert errors_of("synk: {}") == "synk: unknown key"
    assert errors_of("sync: {toHost: {volumeSnapshots: {enabled: true}}}") == (
        "sync.toHost.volumeSnapshots: unknown key (removed in vCluster v0.36)"
    )
    # snake_case spellings are not vcluster.yaml keys
    assert errors_of("sync: {to_host: {}}") == "sync.to_host: unknown key"


def test_wrong_types() -> None:
    text = y("""
    sync:
      toHost:
        configMaps: {all: "yes"}
        secrets: {all: yES}
        pods:
          enforceTolerations: "*"
          translateImage: {"nginx:1.25": 5}
          runtimeClassName: 7
        ingresses: []
      fromHost:
        csiDrivers: {enabled: sometimes}
        nodes: {selector: {labels: {pool: true}}}
    experimental:
      engine: {workers: 2.5, hostQPS: fast, hostBurst: 0, retryMaxDelay: .nan}
    controlPlane:
      statefulSet: {highAvailability: {replicas: "3"}}
    """)
    assert errors_of(text).splitlines() == [
        'sync.toHost.configMaps.all: expected a boolean, got the string "yes" (write it without quotes)',
        'sync.toHost.secrets.all: expected a boolean, got "yES"',
        'sync.toHost.pods.translateImage["nginx:1.25"]: expected a string, got 5',
        'sync.toHost.pods.enforceTolerations: expected a list, got "*"',
        "sync.toHost.pods.runtimeClassName: expected a string, got 7",
        "sync.toHost.ingresses: expected a mapping, got a list",
        'sync.fromHost.csiDrivers.enabled: expected true, false or "auto", got "sometimes"',
        "sync.fromHost.nodes.selector.labels.pool: expected a string, got true "
        "(quote true/false, yes/no, on/off, y/n to keep them as strings)",
        'controlPlane.statefulSet.highAvailability.replicas: expected an integer, got "3"',
        "experimental.engine.workers: expected an integer, got 2.5",
        'experimental.engine.hostQPS: expected a number, got "fast"',
        "experimental.engine.hostBurst: must be >= 1, got 0",
        "experimental.engine.retryMaxDelay: expected a finite number, got .nan",
    ]


def test_value_errors() -> None:
    text = y("""
    sync:
      toHost:
        pods:
          enforceTolerations: ["a=b=c", "ok:NoSchedule", "k:Bad"]
          priorityClassName: High_Priority
          rewriteHosts: {initContainer: {resources: {limits: {cpu: lots}}}}
      fromHost:
        ingressClasses: {selector: {matchExpressions: [{key: tier, operator: Near, values: [a]}]}}
        runtimeClasses: {selector: {matchExpressions: [{operator: Exists}]}}
    networking:
      serviceCIDR: 10.96.0.1/12
      replicateServices: {toHost: [{from: a/b/c, to: x}]}
      advanced: {clusterDomain: ""}
    policies: {podSecurityStandard: strict}
    logging: {encoding: xml}
    """)
    assert errors_of(text).splitlines() == [
        "sync.toHost.pods.enforceTolerations[0]: invalid toleration spec: a=b=c",
        "sync.toHost.pods.enforceTolerations[2]: invalid toleration spec: k:Bad, "
        "effect must be one of NoSchedule, PreferNoSchedule, NoExecute",
        'sync.toHost.pods.priorityClassName: invalid name "High_Priority": a lowercase RFC 1123 subdomain '
        "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        "sync.toHost.pods.rewriteHosts.initContainer.resources.limits.cpu: "
        'expected a resource quantity such as "30m" or "64Mi", got "lots"',
        "sync.fromHost.ingressClasses.selector: invalid selector: "
        '"Near" is not a valid label selector operator',
        "sync.fromHost.runtimeClasses.selector.matchExpressions[0].key: required key is missing",
        'networking.serviceCIDR: invalid CIDR "10.96.0.1/12": 10.96.0.1/12 has host bits set',
        'networking.replicateServices.toHost[0].from: expected NAME or NAMESPACE/NAME, got "a/b/c"',
        "networking.advanced.clusterDomain: must not be empty",
        'policies.podSecurityStandard: invalid pod security standard "strict", '
        "must be one of: privileged, baseline, restricted (or empty)",
        'logging.encoding: invalid log encoding "xml", must be one of: console, json',
    ]


def test_mutually_exclusive_options() -> None:
    text = y("""
    sync:
      toHost:
        storageClasses: {enabled: true}
        priorityClasses: {enabled: true}
      fromHost:
        storageClasses: {enabled: true}
        priorityClasses: {enabled: true}
        nodes: {selector: {all: true, labels: {pool: a}}, syncBackChanges: true}
    controlPlane:
      statefulSet: {highAvailability: {replicas: 3}}
    """)
    assert errors_of(text).splitlines() == [
        "sync.fromHost.storageClasses.enabled: you cannot enable both sync.fromHost.storageClasses.enabled "
        "and sync.toHost.storageClasses.enabled at the same time. Choose only one of them",
        "sync.fromHost.priorityClasses.enabled: "
        "cannot sync priorityclasses to and from host at the same time",
        "sync.fromHost.nodes.selector: all and labels are mutually exclusive: "
        "sync all nodes or only those with the labels",
        "sync.fromHost.nodes.selector.all: needs sync.fromHost.nodes.enabled: true (real nodes); "
        "fake nodes exist only for nodes that run pods",
        "sync.fromHost.nodes.syncBackChanges: needs sync.fromHost.nodes.enabled: true (real nodes); "
        "fake nodes have no host node to change",
        "controlPlane.statefulSet.highAvailability.replicas: "
        "embedded database is not supported with multiple replicas",
    ]
    # `auto` never conflicts: it resolves to off while toHost.storageClasses is on
    cfg = load_config("sync: {toHost: {storageClasses: {enabled: true}}}")
    assert cfg.sync_enabled("storageclasses", "toHost") and not cfg.sync_enabled("storageclasses", "fromHost")
    # real nodes with all: true, or with labels, are fine
    assert load_config("sync: {fromHost: {nodes: {enabled: true, selector: {all: true}}}}").sync_all_nodes


def test_pro_features_are_refused() -> None:
    text = y("""
    sync:
      toHost:
        namespaces: {enabled: true}
        services: {patches: [{path: metadata.annotations.x, expression: '"y"'}]}
        pods: {hybridScheduling: {enabled: true}}
        customResources: {"widgets.example.com": {enabled: true}}
    """)
    assert errors_of(text).splitlines() == [
        "sync.toHost.namespaces.enabled: multi-namespace mode is a vCluster Pro feature and is not supported",
        "sync.toHost.customResources: custom resource sync is a vCluster Pro feature and is not supported",
        "sync.toHost.pods.hybridScheduling.enabled: hybrid scheduling is a vCluster Pro feature and is not "
        "supported",
        "sync.toHost.services.patches: translate patches are a vCluster Pro feature and are not supported",
        "sync.fromHost.nodes.enabled: is false, but required if using hybrid scheduling or virtual scheduler",
    ]
    # a typo inside a patch is still reported as such
    assert (
        errors_of("sync: {toHost: {pods: {patches: [{pth: x}]}}}")
        == "sync.toHost.pods.patches[0].pth: unknown key"
    )


def test_from_host_mappings() -> None:
    text = y("""
    sync:
      fromHost:
        configMaps: {enabled: true}
        secrets:
          enabled: true
          mappings:
            byName: {"foo": "bar", "a/*": "b/c", "": "x/y", "ns/ok": "vns/ok", "Bad_NS/x": "v/x"}
    """)
    assert errors_of(text).splitlines() == [
        "sync.fromHost.configMaps.mappings.byName: "
        "must not be empty when sync.fromHost.configMaps.enabled is true",
        "sync.fromHost.secrets.mappings.byName.foo: key has an invalid format (expected NAMESPACE/NAME, "
        'NAMESPACE/*, /NAME or ""), got "foo"',
        'sync.fromHost.secrets.mappings.byName["a/*"]: key matches all objects of a namespace, so the value '
        'must be NAMESPACE/*, got "b/c"',
        'sync.fromHost.secrets.mappings.byName[""]: key "" matches the host namespace, so the value must be '
        'NAMESPACE or NAMESPACE/*, got "x/y"',
        'sync.fromHost.secrets.mappings.byName["Bad_NS/x"]: invalid namespace "Bad_NS": a lowercase RFC 1123 '
        "label must consist of lower case alphanumeric characters or '-', and must start and end with an "
        "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    ]


def test_engine_cross_checks() -> None:
    text = (
        "experimental: {engine: {workersPerKind: {pods: 2, widgets: 3}, retryBaseDelay: 5, retryMaxDelay: 1}}"
    )
    lines = errors_of(text).splitlines()
    assert lines[0].startswith(
        'experimental.engine.workersPerKind.widgets: unknown kind "widgets"; known kinds: '
    )
    assert "persistentvolumeclaims" in lines[0]
    assert (
        lines[1]
        == "experimental.engine.retryBaseDelay: must not exceed experimental.engine.retryMaxDelay (1.0)"
    )


def test_yaml_problems() -> None:
    assert errors_of("sync:\n  toHost: [\n") == (
        "YAML syntax error at line 3, column 1: expected the node content, but found '<stream end>' "
        "(while parsing a flow node)"
    )
    assert errors_of("sync:\n  toHost: {}\n   bad: x\n") == (
        "YAML syntax error at line 3, column 4: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block mapping)"
    )
    assert errors_of("sync:\n  toHost: {}\n  toHost: {}\n") == "sync.toHost: duplicate key (lines 2 and 3)"
    assert errors_of("a: 1\n---\nb: 2\n") == (
        "YAML syntax error at line 2, column 1: expected a single YAML document, found another one"
    )
    assert (
        errors_of("sync: *nowhere\n")
        == "YAML syntax error at line 1, column 7: found undefined alias 'nowhere'"
    )
    assert errors_of("a: !!binary aGk=\n") == "a: unsupported YAML tag !!binary (line 1)"
    assert errors_of("ok: 1\nbad: \x07\n") == (
        "YAML syntax error at line 2, column 6: "
        "unacceptable character #x0007: special characters are not allowed"
    )
    assert errors_of("- sync\n") == "expected a mapping at the top level, got a list"
    assert errors_of("vcluster.yaml") == 'expected a mapping at the top level, got "vcluster.yaml"'
    for empty in ["", "\n", "# only a comment\n", "~\n"]:
        assert errors_of(empty) == "configuration is empty (write {} to use all defaults)"


def test_alias_bombs_and_recursion_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    msg = errors_of("\n".join(lines) + "\n")
    assert msg.endswith(": document too large (excessive aliasing)")
    assert errors_of("a: &a [*a]\n") == "a[0]: recursive alias (line 1)"
    assert errors_of("[" * 2000 + "]" * 2000) == "YAML document is nested too deeply"


def test_yaml_scalars() -> None:
    cfg = load_config("sync: {toHost: {pods: {translateImage: {a: 'on', b: off-by-one, c: '010'}}}}")
    assert cfg.sync.to_host.pods.translate_image == {"a": "on", "b": "off-by-one", "c": "010"}
    assert load_config("sync: {toHost: {ingresses: {enabled: on}}}").sync_enabled("ingresses")
    assert load_config("sync: {toHost: {ingresses: {enabled: TRUE}}}").sync_enabled("ingresses")
    assert load_config("experimental: {engine: {workers: 0x10}}").experimental.engine.workers == 16


def test_merge_keys() -> None:
    cfg = load_config("sync: {toHost: {ingresses: &on {enabled: true}, serviceAccounts: {<<: *on}}}")
    assert cfg.sync_enabled("ingresses") and cfg.sync_enabled("serviceaccounts")


def test_files(tmp_path: Path) -> None:
    good = tmp_path / "vcluster.yaml"
    good.write_bytes(b"\xef\xbb\xbfsync:\n  toHost:\n    ingresses: {enabled: true}\n")
    assert load_config(good).sync_enabled("ingresses")
    missing = tmp_path / "nope.yaml"
    assert errors_of(missing) == f'config file "{missing}" not found'
    assert errors_of(tmp_path) == f'config file "{tmp_path}" is a directory'
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    assert errors_of(empty) == f'config file "{empty}" is empty (write {{}} to use all defaults)'
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"sync: \xff\n")
    assert errors_of(binary) == f'config file "{binary}" is not valid UTF-8 (byte 6)'
    broken = tmp_path / "broken.yaml"
    broken.write_text("sync:\n  toHost: {\n")
    assert errors_of(broken) == (
        f"YAML syntax error in {broken} at line 3, column 1: expected the node content, "
        "but found '<stream end>' (while parsing a flow node)"
    )
    typo = tmp_path / "typo.yaml"
    typo.write_text("policies: {podSecurityStandrd: baseline}\n")
    with pytest.raises(ConfigError) as info:
        load_config(typo)
    assert str(info.value) == "policies.podSecurityStandrd: unknown key"
    assert info.value.source == str(typo) and info.value.paths == ["policies.podSecurityStandrd"]


# ---- fuzzing: anything a user can write fails only with ConfigError
def _paths(data: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(data, dict):
        return [prefix] * bool(prefix) + [p for k, v in data.items() for p in _paths(v, (*prefix, k))]
    return [prefix]


PATHS = sorted(set(_paths(default_values())))  # every key path of the real tree
KEYS = sorted(
    {k for p in PATHS for k in p} | {"patches", "matchExpressions", "from", "to", "key", "operator"}
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["auto", "true", "*", "30m", "a/b", "", "10.0.0.0/8", "baseline", "NoSchedule"]),
)
KEY = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(0, 3))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEY, inner, max_size=5)),
    max_leaves=30,
)


def _nest(paths: list[list[str]], leaf: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path in paths:
        cur = out
        for key in path[:-1]:
            nxt = cur.get(key)
            if not isinstance(nxt, dict):
                nxt = cur[key] = {}
            cur = nxt
        cur[path[-1]] = leaf
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    VALUES,
    # real key paths, sometimes with a random key appended, so errors happen deep in the tree too
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.lists(KEY.map(str), max_size=1)).map(lambda t: [*t[0], *t[1]]),
        max_size=3,
    ),
    VALUES,
)
def test_fuzz_random_data_only_raises_config_error(data: Any, paths: list[list[str]], leaf: Any) -> None:
    for candidate in (data, _nest(paths, leaf), {"sync": data}, {"sync": {"toHost": data, "fromHost": data}}):
        try:
            cfg = (
                load_config(candidate)
                if isinstance(candidate, dict)
                else load_config(yaml.safe_dump(candidate))
            )
        except ConfigError as e:
            assert str(e) and all(str(i) for i in e.issues)
        else:
            assert load_config(dump_config(cfg)) == cfg


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("sync:toHost{}[]-,&*!|> \n\t'\"#%@`ab1.~<=")), max_size=60))
def test_fuzz_random_text_only_raises_config_error(text: str) -> None:
    try:
        load_config(text)
    except ConfigError as e:
        assert str(e)


def test_float_rendering_in_errors() -> None:
    assert errors_of("experimental: {engine: {hostQPS: -.inf}}") == (
        "experimental.engine.hostQPS: expected a finite number, got -.inf"
    )
    assert math.isclose(
        load_config("experimental: {engine: {hostQPS: 1e3}}").experimental.engine.host_qps, 1000
    )


def test_a_deleted_default_map_entry_survives_dump_and_load() -> None:
    """`null` deletes a default map entry (Helm); the dump writes the deletion so loading it back
    gives the same configuration (found by the fuzz test)."""
    cfg = load_config({"sync": {"toHost": {"pods": {"rewriteHosts": {"initContainer": {"resources": {
        "limits": {"cpu": None}}}}}}}})  # fmt: skip
    limits = cfg.sync.to_host.pods.rewrite_hosts.init_container.resources.limits
    assert "cpu" not in limits and "memory" in limits
    assert load_config(dump_config(cfg)) == cfg


def test_accepted_but_unimplemented_options_are_named() -> None:
    assert load_config("{}").unimplemented() == []
    cfg = load_config(
        "sync:\n  fromHost:\n    nodes: {enabled: true, syncBackChanges: true}\n"
        "networking:\n  advanced: {fallbackHostCluster: true}\n"
        "experimental:\n  syncSettings: {hostMetricsBindAddress: ':8081'}\n"
    )
    assert [u.split(":")[0] for u in cfg.unimplemented()] == ["networking.advanced.fallbackHostCluster"]
    assert "controlPlane.coredns.enabled is false" in cfg.unimplemented()[0]
    with_dns = load_config(
        "networking:\n  advanced: {fallbackHostCluster: true}\ncontrolPlane:\n  coredns: {enabled: true}\n"
    )
    assert with_dns.unimplemented() == []


def test_metrics_bind_addresses() -> None:
    assert load_config("{}").metrics_bind_addresses() == []
    cfg = load_config(
        "experimental:\n  syncSettings:\n"
        "    hostMetricsBindAddress: ':8081'\n    virtualMetricsBindAddress: '127.0.0.1:8082'\n"
    )
    assert cfg.metrics_bind_addresses() == [":8081", "127.0.0.1:8082"]
    same = load_config(
        "experimental:\n  syncSettings: {hostMetricsBindAddress: ':9', virtualMetricsBindAddress: ':9'}\n"
    )
    assert same.metrics_bind_addresses() == [":9"]
    off = load_config("experimental:\n  syncSettings: {hostMetricsBindAddress: '0'}\n")
    assert off.metrics_bind_addresses() == []
    assert split_bind_address("[::1]:8080") == ("::1", 8080) and split_bind_address(":1") == ("", 1)
    assert split_bind_address("0") is None
    for bad in ("8080", "localhost", ":0", ":65536", "::1:80", "a b:80", ":http"):
        with pytest.raises(ConfigError) as e:
            load_config(f"experimental:\n  syncSettings: {{hostMetricsBindAddress: '{bad}'}}\n")
        msg = str(e.value)
        assert "experimental.syncSettings.hostMetricsBindAddress" in msg and "invalid listen address" in msg
    with pytest.raises(ConfigError, match="expected a string"):
        load_config("experimental:\n  syncSettings: {virtualMetricsBindAddress: 8080}\n")


def test_vcluster_deployment_sections_are_accepted_and_named_as_not_used() -> None:
    """A real vcluster.yaml carries sections for vCluster's own deployment (distro, backing store,
    telemetry, ...): they are accepted, listed as not used, and left out of the effective config;
    their type is still checked, and the legacy hostPathMapper reaches the pod translation."""
    from vcluster.syncer.configctx import context_from_config

    cfg = load_config(
        "controlPlane:\n"
        "  distro: {k8s: {enabled: true}}\n"
        "  backingStore: {database: {embedded: {enabled: true}}}\n"
        "  hostPathMapper: {enabled: true}\n"
        "  advanced: {serviceAccount: {name: x}}\n"
        "telemetry: {enabled: false}\n"
        "exportKubeConfig: {context: foo}\n"
        "rbac: {}\n"
    )
    assert cfg.not_used_sections() == [
        "telemetry",
        "exportKubeConfig",
        "controlPlane.distro",
        "controlPlane.backingStore",
        "controlPlane.advanced.serviceAccount",
    ]
    dumped = cfg.model_dump(by_alias=True)
    assert "telemetry" not in dumped and "distro" not in dumped["controlPlane"]
    assert context_from_config(cfg, name="vc", host_namespace="ns").host_path_mapper
    with pytest.raises(ConfigError, match=r"controlPlane\.distro: expected a mapping, got 5"):
        load_config("controlPlane: {distro: 5}")
    with pytest.raises(
        ConfigError, match=r"controlPlane\.advanced\.virtualScheduler\.enabled: not supported"
    ):
        load_config("controlPlane: {advanced: {virtualScheduler: {enabled: true}}}")
