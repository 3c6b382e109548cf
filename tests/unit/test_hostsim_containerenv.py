"""The simulated kubelet's container environment (hostsim/containerenv.py) against the rules of
kubelet 1.32's makeEnvironmentVariables."""

from __future__ import annotations

import base64
from typing import Any

from vcluster.hostsim.containerenv import EnvSources, container_env, field_value, referenced, resource_value


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _svc(name: str, ns: str, ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": list(ports)}}


POD: dict[str, Any] = {
    "metadata": {
        "name": "web-1",
        "namespace": "shop",
        "uid": "u-1",
        "labels": {"app": "web", "tier": "front"},
        "annotations": {"note": 'say "hi"'},
    },
    "spec": {"nodeName": "node-a", "serviceAccountName": "web"},
    "status": {
        "hostIP": "192.168.0.5",
        "hostIPs": [{"ip": "192.168.0.5"}, {"ip": "fd00::5"}],
        "podIP": "10.244.0.7",
        "podIPs": [{"ip": "10.244.0.7"}, {"ip": "fd01::7"}],
    },
}


def test_envfrom_then_env_in_order_with_expansion() -> None:
    container = {
        "envFrom": [
            {"configMapRef": {"name": "a"}, "prefix": "A_"},
            {"secretRef": {"name": "s"}},
            {"configMapRef": {"name": "b"}},  # a later source wins
        ],
        "env": [
            {"name": "KEY", "value": "from-env"},  # env overrides envFrom
            {"name": "JOINED", "value": "$(A_X)-$(KEY)-$(NOPE)-$$(KEY)-$$"},
            {"name": "LATER", "value": "$(AFTER)"},  # not defined yet: left as written
            {"name": "AFTER", "value": "now"},
            {"name": "EMPTY"},
        ],
    }
    sources = EnvSources(
        configmaps={"a": {"data": {"X": "1"}}, "b": {"data": {"KEY": "from-b", "token": "cm"}}},
        secrets={"s": {"data": {"token": _b64("secret"), "KEY": _b64("from-s")}}},
    )
    env = container_env(POD, container, sources)
    assert env == {
        "A_X": "1", "token": "cm", "KEY": "from-env", "JOINED": "1-from-env-$(NOPE)-$(KEY)-$",
        "LATER": "$(AFTER)", "AFTER": "now", "EMPTY": "",
    }  # fmt: skip
    assert referenced(container) == ({"a", "b"}, {"s"})


def test_missing_references_leave_the_variable_out() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "gone", "optional": True}}],
        "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "missing"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}},
            {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
            {"name": "D", "valueFrom": {"secretKeyRef": {"name": "bad", "key": "k"}}},  # not base64
        ],
    }
    sources = EnvSources(
        configmaps={"cm": {"data": {"k": "v"}, "binaryData": {"missing": "eA=="}}, "gone": None},
        secrets={"gone": None, "bad": {"data": {"k": "%%%"}}},
    )
    assert container_env(POD, container, sources) == {"C": "v"}


def test_downward_api_fields() -> None:
    assert field_value(POD, "metadata.name") == "web-1"
    assert field_value(POD, "metadata.namespace") == "shop"
    assert field_value(POD, "metadata.uid") == "u-1"
    assert field_value(POD, "metadata.labels['tier']") == "front"
    assert field_value(POD, "metadata.labels['nope']") == ""
    assert field_value(POD, "metadata.annotations['note']") == 'say "hi"'
    assert field_value(POD, "metadata.labels") == 'app="web"\ntier="front"'
    assert field_value(POD, "metadata.annotations") == 'note="say \\"hi\\""'
    assert field_value(POD, "spec.nodeName") == "node-a"
    assert field_value(POD, "spec.serviceAccountName") == "web"
    assert field_value(POD, "status.hostIP") == "192.168.0.5"
    assert field_value(POD, "status.hostIPs") == "192.168.0.5,fd00::5"
    assert field_value(POD, "status.podIP") == "10.244.0.7"
    assert field_value(POD, "status.podIPs") == "10.244.0.7,fd01::7"
    assert field_value(POD, "spec.restartPolicy") is None  # not a downward-API env field
    assert field_value({"metadata": {}, "status": {"podIP": "10.0.0.1"}}, "status.podIPs") == "10.0.0.1"


def test_resource_fields_round_up_and_default_limits_to_the_node() -> None:
    c = {
        "name": "app",
        "resources": {"requests": {"cpu": "250m", "memory": "100M"}, "limits": {"memory": "1Gi"}},
    }
    pod = {"spec": {"containers": [c, {"name": "side", "resources": {"limits": {"cpu": "2"}}}]}}
    node = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}

    def value(resource: str, divisor: str | None = None, container: str = "") -> str | None:
        ref: dict[str, Any] = {"resource": resource, "containerName": container}
        if divisor is not None:
            ref["divisor"] = divisor
        return resource_value(pod, c, ref, node)

    assert value("requests.cpu") == "1"  # 250m in whole cores, rounded up
    assert value("requests.cpu", "1m") == "250"
    assert value("requests.memory", "1Mi") == "96"  # 100,000,000 / 1,048,576 rounded up
    assert value("limits.memory", "1Mi") == "1024"
    assert value("limits.cpu") == "4"  # no limit: the node's allocatable
    assert value("limits.ephemeral-storage", "1Gi") == "100"
    assert value("requests.ephemeral-storage") == "0"
    assert value("limits.cpu", "0") == "4"  # a zero divisor counts as 1
    assert value("limits.cpu", "1m", container="side") == "2000"
    assert value("limits.cpu", container="nobody") is None
    assert value("limits.nvidia.com/gpu") is None


def test_service_variables() -> None:
    services = [
        _svc("kubernetes", "default", "10.96.0.1", {"name": "https", "port": 443}),
        _svc("web-api", "shop", "10.96.0.20", {"name": "http", "port": 80}, {"name": "grpc", "port": 9090}),
        _svc("headless", "shop", "None", {"port": 80}),
        _svc("elsewhere", "other", "10.96.0.30", {"port": 80}),
    ]
    container = {"env": [{"name": "KUBERNETES_SERVICE_HOST", "value": "mine"}]}
    env = container_env(POD, container, EnvSources(services=services))
    assert env["KUBERNETES_SERVICE_HOST"] == "mine"  # defined by the container: not replaced
    assert env["KUBERNETES_PORT_443_TCP_ADDR"] == "10.96.0.1"
    assert env["WEB_API_SERVICE_HOST"] == "10.96.0.20" and env["WEB_API_SERVICE_PORT"] == "80"
    assert env["WEB_API_SERVICE_PORT_GRPC"] == "9090"
    assert env["WEB_API_PORT_9090_TCP"] == "tcp://10.96.0.20:9090"
    assert not any(k.startswith(("HEADLESS_", "ELSEWHERE_")) for k in env)
    no_links = {**POD, "spec": {"enableServiceLinks": False}}
    env = container_env(no_links, {}, EnvSources(services=services))
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"  # the master service always
    assert not any(k.startswith("WEB_API_") for k in env)
