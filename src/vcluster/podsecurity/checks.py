"""The Pod Security Standards checks of k8s.io/pod-security-admission/policy (release-1.32), each
version of a check as its own function, with PodSecurity's reasons and details."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from vcluster.apiserver.gostr import go_quote

Pod = Mapping[str, Any]


class Violation(NamedTuple):
    """One failed check: PodSecurity's forbidden reason and detail."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason} ({self.detail})" if self.detail else self.reason


CheckFn = Callable[[Mapping[str, Any], Mapping[str, Any]], "Violation | None"]


def _join_quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(field) or []


def _sc(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return container.get("securityContext") or {}


def _psc(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    return spec.get("securityContext") or {}


def _named(kind: str, names: list[str]) -> str:
    return f"{_plural(kind, kind + 's', len(names))} {_join_quote(names)}"


def _is_windows(spec: Mapping[str, Any]) -> bool:
    return ((spec.get("os") or {}).get("name") or "") == "windows"


# ---------------------------------------------------------------- baseline checks


def app_armor(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    setters: list[str] = []
    bad: set[str] = set()
    allowed = ("RuntimeDefault", "Localhost")
    profile = _psc(spec).get("appArmorProfile")
    if profile is not None and profile.get("type") not in allowed:
        setters.append("pod")
        bad.add(profile.get("type") or "")
    names = []
    for ctr in _containers(spec):
        p = _sc(ctr).get("appArmorProfile")
        if p is not None and p.get("type") not in allowed:
            names.append(ctr.get("name", ""))
            bad.add(p.get("type") or "")
    if names:
        setters.append(_named("container", names))
    values = sorted(bad)
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    forbidden = sorted(
        f"{k}={go_quote(v)}"
        for k, v in (meta.get("annotations") or {}).items()
        if k.startswith(prefix) and v and v != "runtime/default" and not v.startswith("localhost/")
    )
    if forbidden:
        values += forbidden
        setters.append(_plural("annotation", "annotations", len(forbidden)))
    if not setters:
        return None
    return Violation(
        _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
        f"{' and '.join(setters)} must not set AppArmor profile type to {_join_quote(values)}",
    )


_BASELINE_CAPS = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}


def capabilities_baseline(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names, caps = [], set()
    for ctr in _containers(spec):
        added = (_sc(ctr).get("capabilities") or {}).get("add") or []
        bad = [x for x in added if x not in _BASELINE_CAPS]
        if bad:
            names.append(ctr.get("name", ""))
            caps.update(bad)
    if not names:
        return None
    return Violation(
        "non-default capabilities",
        f"{_named('container', names)} must not include {_join_quote(sorted(caps))} in "
        "securityContext.capabilities.add",
    )


def host_namespaces(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    found = [f"{f}=true" for f in ("hostNetwork", "hostPID", "hostIPC") if spec.get(f)]
    return Violation("host namespaces", ", ".join(found)) if found else None


def host_path_volumes(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names = [v.get("name", "") for v in spec.get("volumes") or [] if v.get("hostPath") is not None]
    return Violation("hostPath volumes", _named("volume", names)) if names else None


def host_ports(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names, ports = [], set()
    for ctr in _containers(spec):
        used = [str(p["hostPort"]) for p in ctr.get("ports") or [] if p.get("hostPort")]
        if used:
            names.append(ctr.get("name", ""))
            ports.update(used)
    if not names:
        return None
    return Violation(
        "hostPort",
        f"{_named('container', names)} {_plural('uses', 'use', len(names))} "
        f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


def privileged(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names = [ctr.get("name", "") for ctr in _containers(spec) if _sc(ctr).get("privileged")]
    if not names:
        return None
    return Violation(
        "privileged", f"{_named('container', names)} must not set securityContext.privileged=true"
    )


def proc_mount(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names, types = [], set()
    for ctr in _containers(spec):
        pm = _sc(ctr).get("procMount")
        if pm is not None and pm != "Default":
            names.append(ctr.get("name", ""))
            types.add(pm)
    if not names:
        return None
    return Violation(
        "procMount",
        f"{_named('container', names)} must not set securityContext.procMount to "
        f"{_join_quote(sorted(types))}",
    )


_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t"}


def selinux(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    setters, bad_types = [], set()
    flags = {"user": False, "role": False}

    def valid(opts: Mapping[str, Any]) -> bool:
        ok = True
        if (opts.get("type") or "") not in _SELINUX_TYPES:
            ok = False
            bad_types.add(opts.get("type") or "")
        for f in ("user", "role"):
            if opts.get(f):
                ok, flags[f] = False, True
        return ok

    opts = _psc(spec).get("seLinuxOptions")
    if opts is not None and not valid(opts):
        setters.append("pod")
    names = []
    for ctr in _containers(spec):
        o = _sc(ctr).get("seLinuxOptions")
        if o is not None and not valid(o):
            names.append(ctr.get("name", ""))
    if names:
        setters.append(_named("container", names))
    if not setters:
        return None
    data = []
    if bad_types:
        data.append(f"{_plural('type', 'types', len(bad_types))} {_join_quote(sorted(bad_types))}")
        if flags["user"]:
            data.append("user may not be set")
        if flags["role"]:
            data.append("role may not be set")
    return Violation(
        "seLinuxOptions",
        f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}",
    )


def _seccomp_valid(profile: Mapping[str, Any]) -> bool:
    return profile.get("type") in ("RuntimeDefault", "Localhost")


_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"


def _seccomp_annotation_ok(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_baseline_1_0(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    """v1.0-v1.18: the seccomp alpha annotations."""
    annotations = meta.get("annotations") or {}
    bad: set[str] = set()
    keys = [_SECCOMP_POD_ANNOTATION] + [
        _SECCOMP_CONTAINER_PREFIX + c.get("name", "") for c in _containers(spec)
    ]
    for key in keys:
        value = annotations.get(key)
        if value is not None and not _seccomp_annotation_ok(value):
            bad.add(f"{key}={go_quote(value)}")
    if not bad:
        return None
    return Violation(
        "seccompProfile",
        f"forbidden {_plural('annotation', 'annotations', len(bad))} {', '.join(sorted(bad))}",
    )


def seccomp_baseline_1_19(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    """v1.19+: the seccompProfile fields (only RuntimeDefault or Localhost when set)."""
    setters, bad = [], set()
    profile = _psc(spec).get("seccompProfile")
    if profile is not None and not _seccomp_valid(profile):
        setters.append("pod")
        bad.add(profile.get("type") or "")
    names = []
    for ctr in _containers(spec):
        p = _sc(ctr).get("seccompProfile")
        if p is not None and not _seccomp_valid(p):
            names.append(ctr.get("name", ""))
            bad.add(p.get("type") or "")
    if names:
        setters.append(_named("container", names))
    if not setters:
        return None
    return Violation(
        "seccompProfile",
        f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
        f"{_join_quote(sorted(bad))}",
    )


SYSCTLS_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
SYSCTLS_1_27 = SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_1_29 = SYSCTLS_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SYSCTLS_1_32 = SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def sysctls(allowed: frozenset[str]) -> CheckFn:
    """The sysctls check allowing `allowed` (one set per policy version)."""

    def check(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
        bad = [s.get("name", "") for s in _psc(spec).get("sysctls") or [] if s.get("name") not in allowed]
        return Violation("forbidden sysctls", ", ".join(bad)) if bad else None

    return check


def windows_host_process(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names = [
        c.get("name", "")
        for c in _containers(spec)
        if (_sc(c).get("windowsOptions") or {}).get("hostProcess")
    ]
    setters = ["pod"] if (_psc(spec).get("windowsOptions") or {}).get("hostProcess") else []
    if names:
        setters.append(_named("container", names))
    if not setters:
        return None
    return Violation(
        "hostProcess", f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"
    )


# ---------------------------------------------------------------- restricted checks


def allow_privilege_escalation_1_8(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names = [
        c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if not names:
        return None
    return Violation(
        "allowPrivilegeEscalation != false",
        f"{_named('container', names)} must set securityContext.allowPrivilegeEscalation=false",
    )


def capabilities_restricted_1_22(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    missing, adding, caps = [], [], set()
    for ctr in _containers(spec):
        cap = _sc(ctr).get("capabilities")
        if cap is None:
            missing.append(ctr.get("name", ""))
            continue
        if "ALL" not in (cap.get("drop") or []):
            missing.append(ctr.get("name", ""))
        bad = [x for x in cap.get("add") or [] if x != "NET_BIND_SERVICE"]
        if bad:
            adding.append(ctr.get("name", ""))
            caps.update(bad)
    details = []
    if missing:
        details.append(f'{_named("container", missing)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(
            f"{_named('container', adding)} must not include {_join_quote(sorted(caps))} in "
            "securityContext.capabilities.add"
        )
    return Violation("unrestricted capabilities", "; ".join(details)) if details else None


_ALLOWED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
_RESTRICTED_VOLUMES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def restricted_volumes(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    names, types = [], set()
    for vol in spec.get("volumes") or []:
        if any(vol.get(t) is not None for t in _ALLOWED_VOLUMES):
            continue
        names.append(vol.get("name", ""))
        types.add(next((t for t in _RESTRICTED_VOLUMES if vol.get(t) is not None), "unknown"))
    if not names:
        return None
    return Violation(
        "restricted volume types",
        f"{_named('volume', names)} {_plural('uses', 'use', len(names))} "
        f"{_plural('restricted volume type', 'restricted volume types', len(types))} "
        f"{_join_quote(sorted(types))}",
    )


def run_as_non_root(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    setters, explicit, implicit = [], [], []
    pod_value = _psc(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    for ctr in _containers(spec):
        v = _sc(ctr).get("runAsNonRoot")
        if v is False:
            explicit.append(ctr.get("name", ""))
        elif v is None and pod_value is not True:
            implicit.append(ctr.get("name", ""))
    if explicit:
        setters.append(_named("container", explicit))
    if setters:
        return Violation(
            "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
        )
    if implicit:
        return Violation(
            "runAsNonRoot != true",
            f"pod or {_named('container', implicit)} must set securityContext.runAsNonRoot=true",
        )
    return None


def run_as_user(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    setters = ["pod"] if _psc(spec).get("runAsUser") == 0 else []
    names = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if names:
        setters.append(_named("container", names))
    return Violation("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


def seccomp_restricted_1_19(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
    setters, bad, explicit, implicit = [], set(), [], []
    profile = _psc(spec).get("seccompProfile")
    pod_set = False
    if profile is not None:
        if _seccomp_valid(profile):
            pod_set = True
        else:
            setters.append("pod")
            bad.add(profile.get("type") or "")
    for ctr in _containers(spec):
        p = _sc(ctr).get("seccompProfile")
        if p is not None:
            if not _seccomp_valid(p):
                explicit.append(ctr.get("name", ""))
                bad.add(p.get("type") or "")
        elif not pod_set:
            implicit.append(ctr.get("name", ""))
    if explicit:
        setters.append(_named("container", explicit))
    if setters:
        return Violation(
            "seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
            f"{_join_quote(sorted(bad))}",
        )
    if implicit:
        return Violation(
            "seccompProfile",
            f"pod or {_named('container', implicit)} must set securityContext.seccompProfile.type to "
            '"RuntimeDefault" or "Localhost"',
        )
    return None


def linux_only(check: CheckFn) -> CheckFn:
    """The 1.25 variant of a restricted check: pods with `spec.os.name: windows` are exempt."""

    def exempting_windows(meta: Mapping[str, Any], spec: Mapping[str, Any]) -> Violation | None:
        return None if _is_windows(spec) else check(meta, spec)

    return exempting_windows
