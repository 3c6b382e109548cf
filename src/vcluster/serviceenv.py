"""Service environment variables as the kubelet writes them (pkg/kubelet/envvars.FromServices):
`<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT[_<PORT>]` and the Docker-link `<NAME>_PORT*` ones.
Shared by the syncer (vCluster injects them into host pods) and the simulated kubelet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def env_name(s: str) -> str:
    """makeEnvVariableName: upper case, `-` as `_`."""
    return s.replace("-", "_").upper()


def has_cluster_ip(svc: Mapping[str, Any]) -> bool:
    """IsServiceIPSet: a ClusterIP that is neither empty nor `None` (headless)."""
    ip = (svc.get("spec") or {}).get("clusterIP") or ""
    return ip not in ("", "None")


def join_host_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_env_vars(svc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The variables of one service with a ClusterIP, in the kubelet's order."""
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    if not ports:
        return []
    name, ip = env_name(svc["metadata"]["name"]), spec["clusterIP"]
    out = [(f"{name}_SERVICE_HOST", ip), (f"{name}_SERVICE_PORT", str(ports[0].get("port", 0)))]
    out += [
        (f"{name}_SERVICE_PORT_{env_name(p['name'])}", str(p.get("port", 0))) for p in ports if p.get("name")
    ]
    for i, p in enumerate(ports):
        proto = p.get("protocol") or "TCP"
        url = f"{proto.lower()}://{join_host_port(ip, p.get('port', 0))}"
        if i == 0:
            out.append((f"{name}_PORT", url))
        prefix = f"{name}_PORT_{p.get('port', 0)}_{proto.upper()}"
        out += [
            (prefix, url),
            (f"{prefix}_PROTO", proto.lower()),
            (f"{prefix}_PORT", str(p.get("port", 0))),
            (f"{prefix}_ADDR", ip),
        ]
    return out
