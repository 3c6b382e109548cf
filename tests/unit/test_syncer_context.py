"""SyncContext: immutability, derived names, and construction from a vcluster.yaml."""

from __future__ import annotations

import dataclasses

import pytest

from vcluster.config import load_config
from vcluster.syncer.configctx import context_from_config
from vcluster.syncer.context import SyncContext


def test_context_is_frozen_and_mappings_are_read_only() -> None:
    ctx = SyncContext(vcluster="vc", host_namespace="hns", translate_image={"a": "b"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.vcluster = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ctx.translate_image["x"] = "y"  # type: ignore[index]
    assert ctx.replace(vcluster="x").vcluster == "x" and ctx.vcluster == "vc"
    assert ctx.rewrite_hosts_resources["limits"]["cpu"] == "30m"


def test_defaults_from_an_empty_config() -> None:
    ctx = context_from_config(load_config(None), name="my-vc", host_namespace="vc-ns", kube_ip="10.0.0.1")
    assert ctx.workload_sa == "vc-workload-my-vc"
    assert ctx.cluster_domain == "cluster.local"
    assert ctx.rewrite_hosts and ctx.rewrite_hosts_image == "mirror.gcr.io/library/alpine:3.20"
    assert ctx.set_owner and not ctx.sync_service_accounts and not ctx.sync_priority_classes
    assert not ctx.real_nodes and ctx.proxy_kubelets_by_hostname and ctx.proxy_kubelets_by_ip
    assert ctx.from_host_ingress_class_selector is None and ctx.pod_security_standard == ""


def test_switches_from_config() -> None:
    cfg = load_config(
        """
sync:
  toHost:
    configMaps: {all: true}
    serviceAccounts: {enabled: true}
    priorityClasses: {enabled: true}
    pods:
      enforceTolerations: ["a=b:NoSchedule"]
      translateImage: {nginx: my/nginx}
      useSecretsForSATokens: true
      rewriteHosts: {enabled: false}
  fromHost:
    ingressClasses: {enabled: true, selector: {matchLabels: {a: b}}}
    runtimeClasses: {selector: {matchLabels: {ignored: "yes"}}}
    nodes: {enabled: true, clearImageStatus: true, selector: {labels: {pool: x}}}
networking:
  advanced: {clusterDomain: corp.local}
controlPlane:
  advanced: {workloadServiceAccount: {name: runner}}
policies: {podSecurityStandard: restricted}
"""
    )
    ctx = context_from_config(cfg, name="vc", host_namespace="hns")
    assert ctx.configmaps_all and not ctx.secrets_all
    assert ctx.sync_service_accounts and ctx.sync_priority_classes
    assert ctx.enforce_tolerations == ("a=b:NoSchedule",)
    assert dict(ctx.translate_image) == {"nginx": "my/nginx"}
    assert ctx.use_secrets_for_sa_tokens and not ctx.rewrite_hosts
    assert ctx.from_host_ingress_class_selector == {"matchLabels": {"a": "b"}}
    assert ctx.from_host_runtime_class_selector is None  # the switch is off
    assert ctx.real_nodes and ctx.clear_image_status and dict(ctx.node_selector_labels) == {"pool": "x"}
    assert ctx.cluster_domain == "corp.local" and ctx.workload_sa == "runner"
    assert ctx.pod_security_standard == "restricted"
