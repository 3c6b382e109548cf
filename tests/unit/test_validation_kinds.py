# ruff: noqa: E501  (expected kube messages are compared whole)
"""Unit tests of the validators in apiserver/validate_*.py (through admission.validate_create /
validate_update, as the pipeline calls them, after defaulting)."""

from __future__ import annotations

from typing import Any

import pytest

from vcluster.apiserver import admission, defaults
from vcluster.apiserver.validate_common import go_quantity, parse_ip_sloppy


def _create(obj: dict[str, Any], group: str, kind: str, version: str = "v1") -> list[tuple[str, str]]:
    defaults.apply_defaults(obj, group, version, kind)
    return [(c.field, c.message) for c in admission.validate_create(obj, group, version, kind)]


def _update(old: dict[str, Any], new: dict[str, Any], group: str, kind: str) -> list[tuple[str, str]]:
    for o in (old, new):
        defaults.apply_defaults(o, group, "v1", kind)
    return [(c.field, c.message) for c in admission.validate_update(old, new, group, "v1", kind)]


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("1", 'value:1, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"1", Format:"DecimalSI"}'),
        (
            "500m",
            'value:500, scale:-3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"500m", Format:"DecimalSI"}',
        ),
        (
            "1Gi",
            'value:1073741824, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"1Gi", Format:"BinarySI"}',
        ),
        (
            "8Gi",
            'value:8589934592, scale:0}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"", Format:"BinarySI"}',
        ),
        (
            "2k",
            'value:2, scale:3}, d:resource.infDecAmount{Dec:(*inf.Dec)(nil)}, s:"2k", Format:"DecimalSI"}',
        ),
    ],
)
def test_go_quantity_is_the_struct_dump_of_go(text: str, rendered: str) -> None:
    assert go_quantity(text) == "resource.Quantity{i:resource.int64Amount{" + rendered


@pytest.mark.parametrize(
    ("text", "version"),
    [("10.0.0.1", 4), ("010.000.000.001", 4), ("::ffff:10.0.0.1", 4), ("fd00::1", 6), ("1.2.3", None),
     ("256.0.0.1", None), ("fe80::1%eth0", None), ("", None)],
)  # fmt: skip
def test_parse_ip_sloppy(text: str, version: int | None) -> None:
    ip = parse_ip_sloppy(text)
    assert (ip.version if ip is not None else None) == version


def test_limit_range_ratio_and_non_overcommit_rules() -> None:
    lr = {"spec": {"limits": [{"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "200m"},
                               "maxLimitRequestRatio": {"cpu": "3", "memory": "500m"},
                               "default": {"example.com/gpu": "2"}, "defaultRequest": {"example.com/gpu": "1"}}]}}  # fmt: skip
    causes = _create(lr, "", "LimitRange")
    assert [f for f, _ in causes] == [
        "spec.limits[0].maxLimitRequestRatio[cpu]",
        "spec.limits[0].defaultRequest[example.com/gpu]",
        "spec.limits[0].maxLimitRequestRatio[memory]",
    ]
    assert causes[0][1].endswith(": ratio 3 is greater than max/min = 2.000000")
    assert causes[1][1].endswith(": default value 2 must equal to defaultRequest value 1 in example.com/gpu")
    assert causes[2][1].endswith(": ratio 500m is less than 1")


def test_resource_quota_scopes_update_and_conflicts() -> None:
    old = {"spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}}
    new = {"spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort", "NotBestEffort"]}}
    scopes = '[]core.ResourceQuotaScope{"BestEffort", "NotBestEffort"}'
    assert _update(old, new, "", "ResourceQuota") == [
        ("spec.scopes", f"Invalid value: {scopes}: conflicting scopes"),
        ("spec.scopes", f"Invalid value: {scopes}: field is immutable"),
    ]


def test_events_v1_strict_create_rules() -> None:
    ev = {"metadata": {"namespace": "ns"}, "regarding": {"namespace": "ns"}, "reason": "R", "action": "A",
          "reportingController": "c", "reportingInstance": "i", "eventTime": "2024-01-01T00:00:00.000000Z",
          "type": "Weird", "deprecatedCount": 2, "deprecatedSource": {"component": "x"},
          "deprecatedFirstTimestamp": "2024-01-01T00:00:00Z", "series": {"count": 1}}  # fmt: skip
    assert _create(ev, "events.k8s.io", "Event") == [
        ("series.count", 'Invalid value: "": should be at least 2'),
        ("series.lastObservedTime", "Required value"),
        ("type", 'Invalid value: "": has invalid value: Weird'),
        ("firstTimestamp", 'Invalid value: "": needs to be unset'),
        ("count", 'Invalid value: "": needs to be unset'),
        ("source", 'Invalid value: "": needs to be unset'),
    ]


def test_events_v1_update_keeps_fields() -> None:
    old = {"metadata": {"namespace": "ns"}, "regarding": {"kind": "Pod", "namespace": "ns"}, "reason": "R",
           "action": "A", "reportingController": "c", "reportingInstance": "i", "type": "Normal",
           "eventTime": "2024-01-01T00:00:00.000000Z"}  # fmt: skip
    new = {**old, "reason": "S", "eventTime": "2024-01-02T00:00:00.500000Z"}
    assert _update(old, new, "events.k8s.io", "Event") == [
        ("reason", 'Invalid value: "S": field is immutable'),
        ("reason", 'Invalid value: "S": field is immutable'),
        ("eventTime", "Invalid value: 2024-01-02 00:00:00.5 +0000 UTC: field is immutable"),
    ]


def test_core_events_written_by_kubelets_and_controllers_are_valid() -> None:
    recorder = {"metadata": {"namespace": "default"}, "involvedObject": {"kind": "Node", "name": "n1"},
                "reason": "Starting", "source": {"component": "kubelet"}, "count": 1,
                "firstTimestamp": "2024-01-01T00:00:00Z", "eventTime": None}  # fmt: skip
    assert _create(recorder, "", "Event") == []
    scheduler = {"metadata": {"namespace": "ns"}, "involvedObject": {"kind": "Pod", "namespace": "ns"},
                 "reason": "Scheduled", "action": "Binding", "reportingComponent": "default-scheduler",
                 "reportingInstance": "default-scheduler-x", "eventTime": "2024-01-01T00:00:00.000000Z"}  # fmt: skip
    assert _create(scheduler, "", "Event") == []


def test_persistent_volume_update_rules() -> None:
    old = {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                    "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "failure-domain.beta.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}]}}}}  # fmt: skip
    new = {"spec": {**old["spec"], "csi": {**old["spec"]["csi"],
                                           "controllerExpandSecretRef": {"name": "s", "namespace": "ns"}},
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}]}}}}  # fmt: skip
    assert _update(old, new, "", "PersistentVolume") == []
    new["spec"]["csi"]["volumeHandle"] = "vol-2"
    new["spec"]["nodeAffinity"] = None
    causes = _update(old, new, "", "PersistentVolume")
    assert [f for f, _ in causes] == ["spec.persistentvolumesource", "nodeAffinity"]
    assert (
        causes[1][1] == 'Invalid value: "null": field is immutable, except for updating from beta label to GA'
    )


def test_storage_class_topologies_and_update_order() -> None:
    sc = {"provisioner": "a.b/c", "allowedTopologies": [
        {"matchLabelExpressions": [{"key": "zone", "values": ["a", "a"]}, {"key": "zone", "values": ["b"]}]}]}  # fmt: skip
    assert _create(sc, "storage.k8s.io", "StorageClass") == [
        ("allowedTopologies[0].matchLabelExpressions[0].values[1]", 'Duplicate value: "a"'),
        ("allowedTopologies[0].matchLabelExpressions[1].key", 'Duplicate value: "zone"'),
    ]
    old = {"provisioner": "a.b/c"}
    new = {"provisioner": "", "reclaimPolicy": "Retain"}
    assert _update(old, new, "storage.k8s.io", "StorageClass") == [
        ("provisioner", "Required value"),
        ("provisioner", "Forbidden: updates to provisioner are forbidden."),
        ("reclaimPolicy", "Forbidden: updates to reclaimPolicy are forbidden."),
    ]


def test_endpoint_slice_fqdn_and_deprecated_ip_type() -> None:
    es = {"addressType": "FQDN", "endpoints": [{"addresses": ["example", "Bad_Host.com", "a.example.com."]}]}
    causes = _create(es, "discovery.k8s.io", "EndpointSlice")
    assert [f for f, _ in causes] == ["endpoints[0].addresses[0]", "endpoints[0].addresses[1]"]
    assert causes[0][1].endswith("should be a domain with at least two segments separated by dots")
    assert causes[1][1].startswith('Invalid value: "Bad_Host.com": a lowercase RFC 1123 subdomain')
    old = {"addressType": "IP", "endpoints": [{"addresses": ["10.0.0.1"]}]}
    assert _update(old, {**old}, "discovery.k8s.io", "EndpointSlice") == []
    assert _create({**old}, "discovery.k8s.io", "EndpointSlice") == [
        ("addressType", 'Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"')
    ]


def test_network_policy_ipv6_and_mixed_family_except() -> None:
    np = {
        "spec": {
            "egress": [{"to": [{"ipBlock": {"cidr": "fd00::/64", "except": ["fd00::/72", "10.0.0.0/8"]}}]}]
        }
    }
    assert _create(np, "networking.k8s.io", "NetworkPolicy") == [
        (
            "spec.egress[0].to[0].ipBlock.except[1]",
            'Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
        )
    ]
