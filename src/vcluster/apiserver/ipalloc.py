"""Service ClusterIP and NodePort allocation, as kube-apiserver 1.32 does it in the Service REST
storage (pkg/registry/core/service/storage/alloc.go with the bitmap ipallocator/portallocator).

The allocator is an in-memory view of what the stored Services hold; the store is the truth and this
process its only writer, so `load()` rebuilds it at start and the REST create/update/delete paths
keep it current:

    alloc = ServiceIPAllocator(cidr="10.96.0.0/12", node_ports="30000-32767")
    alloc.load(stored_services)
    undo = alloc.allocate(svc)          # before the store create; mutates svc
    try: await store.create(...)
    except: undo(); raise
    undo = alloc.update(old, new)       # before the store update; mutates new
    alloc.release(svc)                  # after the store delete

Dynamic values are random and, like upstream since 1.27 (KEP-3070/3668), come from the upper part
of the range first so that the lower band stays free for static requests (e.g. a DNS service IP).
The first address of the CIDR (10.96.0.1) is reserved for the `default/kubernetes` Service.
"""

from __future__ import annotations

import ipaddress
import logging
import random
from collections.abc import Callable, Iterable
from typing import Any

from vcluster.apiserver.errors import Cause, StatusError, internal_error, invalid
from vcluster.apiserver.gostr import go_quote
from vcluster.jsonguards import as_dict as _d
from vcluster.jsonguards import as_str as _s

__all__ = ["DEFAULT_NODE_PORT_RANGE", "DEFAULT_SERVICE_CIDR", "ServiceIPAllocator"]

log = logging.getLogger("vcluster.apiserver.ipalloc")

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = "30000-32767"
IPV4 = "IPv4"
IPV6 = "IPv6"
NONE = "None"
_SUPPORTED_FAMILIES = (IPV4, IPV6)
_SUPPORTED_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_VALID_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"

Undo = Callable[[], None]


def _noop() -> None:
    return None


# ---------------------------------------------------------------------------- small helpers
def _ld(v: Any) -> list[dict[str, Any]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _i(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _strs(v: Any) -> list[str]:
    return [_s(x) for x in v] if isinstance(v, list) else []


def _go_strings(v: list[str]) -> str:
    """%#v of a []string, as field.Invalid prints it."""
    return "[]string{" + ", ".join(go_quote(x) for x in v) + "}"


def _go_policy(v: Any) -> str:
    """%#v of a *IPFamilyPolicy inside field.Invalid (the pointer is dereferenced)."""
    return go_quote(v) if isinstance(v, str) else "null"


def _cause(path: str, rendered: str, detail: str) -> Cause:
    return Cause("FieldValueInvalid", f"Invalid value: {rendered}: {detail}", path)


def _family_of(ip: str) -> str:
    try:
        return IPV6 if ipaddress.ip_address(ip).version == 6 else IPV4
    except ValueError:
        return "unknown"


def _service_name(svc: dict[str, Any]) -> str:
    md = _d(svc.get("metadata"))
    return _s(md.get("name")) or _s(md.get("generateName"))


def _service_key(svc: dict[str, Any]) -> str:
    md = _d(svc.get("metadata"))
    return f"{_s(md.get('namespace'))}/{_s(md.get('name'))}"


def _is_headless(spec: dict[str, Any]) -> bool:
    ips = _strs(spec.get("clusterIPs"))
    if ips:
        return ips[0] == NONE
    return spec.get("clusterIP") == NONE


def _should_allocate_node_ports(spec: dict[str, Any]) -> bool:
    stype = spec.get("type")
    if stype == "NodePort":
        return True
    if stype == "LoadBalancer":
        return spec.get("allocateLoadBalancerNodePorts") is not False
    return False


def _needs_health_check(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _node_ports(spec: dict[str, Any]) -> list[int]:
    return [p for p in (_i(port.get("nodePort")) for port in _ld(spec.get("ports"))) if p]


class _Range:
    """A bitmap-like allocation range over integer offsets with kube's random-with-offset scan."""

    def __init__(self, size: int, offset: int, rng: random.Random) -> None:
        self.size = max(size, 0)
        self.offset = offset if 0 < offset < self.size else 0
        self.used: set[int] = set()
        self._rng = rng

    def free(self) -> int:
        return self.size - len(self.used)

    def take(self, i: int) -> bool:
        if i in self.used:
            return False
        self.used.add(i)
        return True

    def give(self, i: int) -> None:
        self.used.discard(i)

    def pick(self) -> int | None:
        """A free offset: random in [offset, size) first, then in [0, offset); None when full."""
        if len(self.used) >= self.size:
            return None
        for lo, hi in ((self.offset, self.size), (0, self.offset)):
            n = hi - lo
            if n <= 0:
                continue
            # Random probes are enough while the band is sparse; otherwise a wrapping scan.
            for _ in range(16):
                at = lo + self._rng.randrange(n)
                if at not in self.used:
                    return at
            start = self._rng.randrange(n)
            for k in range(n):
                at = lo + (start + k) % n
                if at not in self.used:
                    return at
        return None


class ServiceIPAllocator:
    """ClusterIP (one IP family, from `cidr`) and NodePort (from `node_ports`) allocation."""

    def __init__(
        self,
        cidr: str = DEFAULT_SERVICE_CIDR,
        node_ports: str = DEFAULT_NODE_PORT_RANGE,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._rng = rng or random.Random()
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(self.network)
        self.family = IPV6 if self.network.version == 6 else IPV4
        total = self.network.num_addresses
        # Neither the network address nor (IPv4) the broadcast address is allocatable.
        size = total - 2 if self.family == IPV4 else min(total - 1, 65536)
        self._base = int(self.network.network_address) + 1
        self._ips = _Range(size, _range_offset(total, 16, 256, 16), self._rng)
        lo, _, hi = node_ports.partition("-")
        self.port_base = int(lo)
        port_size = (int(hi) - self.port_base + 1) if hi else 1
        self.node_port_range = f"{self.port_base}-{self.port_base + port_size - 1}"
        self._ports = _Range(port_size, _range_offset(port_size, 16, 128, 32), self._rng)
        self.kubernetes_ip = str(self.network.network_address + 1) if size > 0 else ""
        self._reserve_kubernetes_ip()

    # ------------------------------------------------------------------ state
    def _reserve_kubernetes_ip(self) -> None:
        if self.kubernetes_ip:
            self._ips.take(0)

    def load(self, services: Iterable[dict[str, Any]]) -> None:
        """Forget everything and mark what the stored `services` hold (the repair step of
        kube-apiserver: values outside the ranges or held twice are logged and skipped)."""
        self._ips.used.clear()
        self._ports.used.clear()
        self._reserve_kubernetes_ip()
        for svc in services:
            spec = _d(svc.get("spec"))
            if spec.get("type") != "ExternalName" and not _is_headless(spec):
                for ip in _strs(spec.get("clusterIPs")) or [_s(spec.get("clusterIP"))]:
                    off = self._ip_offset(ip)
                    if off is None:
                        if ip and _family_of(ip) == self.family:
                            log.warning(
                                "service %s: clusterIP %s is not in %s", _service_key(svc), ip, self.cidr
                            )
                        continue
                    if not self._ips.take(off) and not (off == 0 and self._is_kubernetes_service(svc)):
                        log.warning("service %s: clusterIP %s is allocated twice", _service_key(svc), ip)
            ports = set(_node_ports(spec))
            if _needs_health_check(spec) and _i(spec.get("healthCheckNodePort")):
                ports.add(_i(spec.get("healthCheckNodePort")))
            for p in ports:
                if not self._port_in_range(p):
                    log.warning(
                        "service %s: nodePort %d is not in %s", _service_key(svc), p, self.node_port_range
                    )
                elif not self._ports.take(p - self.port_base):
                    log.warning("service %s: nodePort %d is allocated twice", _service_key(svc), p)

    def ip_allocated(self, ip: str) -> bool:
        off = self._ip_offset(ip)
        return off is not None and off in self._ips.used

    def port_allocated(self, port: int) -> bool:
        return self._port_in_range(port) and (port - self.port_base) in self._ports.used

    @property
    def free_ips(self) -> int:
        return self._ips.free()

    @property
    def free_ports(self) -> int:
        return self._ports.free()

    def _ip_offset(self, ip: str) -> int | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr.version != self.network.version or addr not in self.network:
            return None
        off = int(addr) - self._base
        return off if 0 <= off < self._ips.size else None

    def _ip_at(self, off: int) -> str:
        return str(ipaddress.ip_address(self._base + off))

    def _port_in_range(self, port: int) -> bool:
        return self.port_base <= port < self.port_base + self._ports.size

    @staticmethod
    def _is_kubernetes_service(svc: dict[str, Any]) -> bool:
        md = _d(svc.get("metadata"))
        return md.get("namespace") == "default" and md.get("name") == "kubernetes"

    # ------------------------------------------------------------------ primitive operations
    def _take_ip(self, svc: dict[str, Any], ip: str) -> tuple[int | None, str | None]:
        """Reserve a requested IP: (offset taken or None, error detail or None)."""
        off = self._ip_offset(ip)
        if off is None:
            return None, (
                f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.cidr}"
            )
        if off == 0 and self.kubernetes_ip == ip and self._is_kubernetes_service(svc):
            return None, None  # permanently reserved for it; nothing to release on undo
        if not self._ips.take(off):
            return None, "provided IP is already allocated"
        return off, None

    def _take_port(self, port: int) -> str | None:
        if not self._port_in_range(port):
            return (
                "provided port is not in the valid range. The range of valid ports is " + self.node_port_range
            )
        if not self._ports.take(port - self.port_base):
            return "provided port is already allocated"
        return None

    def _next_port(self, dry_run: bool) -> int:
        off = self._ports.pick()
        if off is None:
            raise internal_error("failed to allocate a nodePort: range is full")
        if not dry_run:
            self._ports.take(off)
        return self.port_base + off

    def _release_ip(self, ip: str) -> None:
        off = self._ip_offset(ip)
        if off is not None and off != 0:
            self._ips.give(off)

    def _release_port(self, port: int) -> None:
        if self._port_in_range(port):
            self._ports.give(port - self.port_base)

    # ------------------------------------------------------------------ ip families
    def _init_ip_families(self, svc: dict[str, Any], old: dict[str, Any] | None) -> None:
        """initIPFamilyFields for a single-stack cluster: default ipFamilyPolicy/ipFamilies and
        reject what this cluster cannot serve (kube's messages)."""
        spec = _d(svc.get("spec"))
        if spec.get("type") == "ExternalName":
            return
        ospec = _d(old.get("spec")) if old is not None else {}
        name = _service_name(svc)
        if spec.get("ipFamilyPolicy") is None:
            if old is not None and ospec.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = ospec["ipFamilyPolicy"]
            elif spec.get("clusterIP") == NONE and not spec.get("selector"):
                spec["ipFamilyPolicy"] = "RequireDualStack"
            else:
                spec["ipFamilyPolicy"] = "SingleStack"
        causes = _validate_cluster_ip_fields(spec)
        if causes:
            raise invalid("Service", "", name, causes)
        policy = spec["ipFamilyPolicy"]
        ips = _strs(spec.get("clusterIPs"))
        families = _strs(spec.get("ipFamilies"))
        if old is not None:
            oips, ofams = _strs(ospec.get("clusterIPs")), _strs(ospec.get("ipFamilies"))
            if policy == "SingleStack":
                if ips == oips and len(ips) > 1:
                    spec["clusterIPs"] = ips = ips[:1]
                if families == ofams and len(families) > 1:
                    spec["ipFamilies"] = families = families[:1]
            else:
                if ips and len(ips) < len(oips):
                    causes.append(
                        _cause(
                            "spec.ipFamilyPolicy",
                            _go_policy(policy),
                            "must be 'SingleStack' to release the secondary cluster IP",
                        )
                    )
                if families and len(families) < len(ofams):
                    causes.append(
                        _cause(
                            "spec.ipFamilyPolicy",
                            _go_policy(policy),
                            "must be 'SingleStack' to release the secondary IP family",
                        )
                    )
        if policy == "SingleStack":
            if len(ips) == 2:
                causes.append(
                    _cause(
                        "spec.ipFamilyPolicy",
                        _go_policy(policy),
                        "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are "
                        "specified",
                    )
                )
            if len(families) == 2:
                causes.append(
                    _cause(
                        "spec.ipFamilyPolicy",
                        _go_policy(policy),
                        "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are "
                        "specified",
                    )
                )
        for i, ip in enumerate(ips):
            if ip == NONE:
                break
            fam = _family_of(ip)
            if i >= len(families):
                if fam != self.family:
                    causes.append(
                        _cause(
                            f"spec.clusterIPs[{i}]",
                            _go_strings(ips),
                            f"{fam} is not configured on this cluster",
                        )
                    )
                else:
                    families.append(fam)
                    spec["ipFamilies"] = families
        if causes:
            raise invalid("Service", "", name, causes)
        if spec.get("clusterIP") == NONE and not spec.get("selector"):
            if not families:
                families = [self.family]
            if len(families) < 2 and policy != "SingleStack":
                families.append(IPV6 if families[0] == IPV4 else IPV4)
            spec["ipFamilies"] = families
            return
        if policy == "RequireDualStack":
            causes.append(
                _cause(
                    "spec.ipFamilyPolicy",
                    _go_policy(policy),
                    "this cluster is not configured for dual-stack services",
                )
            )
        for i, fam in enumerate(families):
            if fam != self.family:
                causes.append(
                    _cause(f"spec.ipFamilies[{i}]", go_quote(fam), "not configured on this cluster")
                )
        if causes:
            raise invalid("Service", "", name, causes)
        if not families:
            spec["ipFamilies"] = [self.family]

    # ------------------------------------------------------------------ cluster IPs
    def _alloc_cluster_ips(self, svc: dict[str, Any], dry_run: bool) -> list[int]:
        """allocClusterIPs: fill spec.clusterIP(s); returns the offsets taken."""
        spec = _d(svc.get("spec"))
        if spec.get("type") == "ExternalName":
            return []
        ips = _strs(spec.get("clusterIPs"))
        if ips and ips[0] == NONE:
            spec["clusterIP"] = NONE
            return []
        requested = ips[0] if ips else ""
        if requested:
            off, err = (
                self._take_ip(svc, requested) if not dry_run else (None, self._check_ip(svc, requested))
            )
            if err is not None:
                raise invalid(
                    "Service",
                    "",
                    _service_name(svc),
                    [
                        _cause(
                            "spec.clusterIPs",
                            _go_strings(ips),
                            f"failed to allocate IP {requested}: {err}",
                        )
                    ],
                )
            spec["clusterIP"] = requested
            spec["clusterIPs"] = [requested]
            return [off] if off is not None else []
        off = self._ips.pick()
        if off is None:
            raise internal_error("failed to allocate a serviceIP: range is full")
        if not dry_run:
            self._ips.take(off)
        ip = self._ip_at(off)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        return [] if dry_run else [off]

    def _check_ip(self, svc: dict[str, Any], ip: str) -> str | None:
        """The dry-run form of _take_ip (upstream checks only the range in a dry run)."""
        if self._ip_offset(ip) is None:
            return f"the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.cidr}"
        return None

    # ------------------------------------------------------------------ node ports
    def _init_node_ports(self, svc: dict[str, Any], taken: list[int], dry_run: bool) -> None:
        """initNodePorts (create): honour requested nodePorts, allocate the missing ones; ports
        with the same number (e.g. TCP and UDP 53) share one nodePort."""
        spec = _d(svc.get("spec"))
        ports = _ld(spec.get("ports"))
        allocate = _should_allocate_node_ports(spec)
        by_port: dict[int, int] = {}
        for i, sp in enumerate(ports):
            np = _i(sp.get("nodePort"))
            if not np and not allocate:
                continue
            pnum = _i(sp.get("port"))
            have = by_port.get(pnum, 0)
            if not have:
                want = next(
                    (_i(p.get("nodePort")) for p in ports if _i(p.get("port")) == pnum and p.get("nodePort")),
                    0,
                )
                if want:
                    self._claim_port(svc, i, want, taken, dry_run)
                    sp["nodePort"] = want
                    by_port[pnum] = want
                else:
                    got = self._next_port(dry_run)
                    if not dry_run:
                        taken.append(got)
                    sp["nodePort"] = got
                    by_port[pnum] = got
            elif np != have:
                if not np:
                    sp["nodePort"] = have
                else:
                    self._claim_port(svc, i, np, taken, dry_run)

    def _claim_port(self, svc: dict[str, Any], i: int, port: int, taken: list[int], dry_run: bool) -> None:
        if dry_run:
            err = (
                None
                if self._port_in_range(port)
                else "provided port is not in the valid range. The range of valid ports is "
                + self.node_port_range
            )
        else:
            err = self._take_port(port)
        if err is not None:
            raise invalid(
                "Service", "", _service_name(svc), [_cause(f"spec.ports[{i}].nodePort", str(port), err)]
            )
        if not dry_run:
            taken.append(port)

    def _alloc_health_check_port(self, svc: dict[str, Any], taken: list[int], dry_run: bool) -> None:
        spec = _d(svc.get("spec"))
        hc = _i(spec.get("healthCheckNodePort"))
        if hc:
            err = None if dry_run else self._take_port(hc)
            if err is not None:
                raise internal_error(f"failed to allocate requested HealthCheck NodePort {hc}: {err}")
            if not dry_run:
                taken.append(hc)
            return
        off = self._ports.pick()
        if off is None:
            raise internal_error("failed to allocate a HealthCheck NodePort 0: range is full")
        if not dry_run:
            self._ports.take(off)
            taken.append(self.port_base + off)
        spec["healthCheckNodePort"] = self.port_base + off

    # ------------------------------------------------------------------ public API
    def allocate(self, svc: dict[str, Any], *, dry_run: bool = False) -> Undo:
        """Allocate for a Service being created: ipFamilyPolicy/ipFamilies defaults, clusterIP(s)
        and nodePorts (and healthCheckNodePort) in place. Raises StatusError (422 with kube's causes,
        500 when a range is full); returns the function that gives everything back."""
        spec = svc.get("spec")
        if not isinstance(spec, dict):
            return _noop
        _normalize_cluster_ips_create(spec)
        self._init_ip_families(svc, None)
        ip_offsets: list[int] = []
        ports: list[int] = []
        try:
            ip_offsets = self._alloc_cluster_ips(svc, dry_run)
            if spec.get("type") in ("NodePort", "LoadBalancer"):
                self._init_node_ports(svc, ports, dry_run)
            if _needs_health_check(spec):
                self._alloc_health_check_port(svc, ports, dry_run)
        except StatusError:
            self._give_back(ip_offsets, ports)
            raise
        if dry_run:
            return _noop
        return lambda: self._give_back(ip_offsets, ports)

    def update(self, old: dict[str, Any], new: dict[str, Any], *, dry_run: bool = False) -> Undo:
        """Allocate/release for an update from `old` (stored) to `new` (mutated in place): IPs on
        ExternalName <-> other type changes (others keep theirs), nodePorts on type changes and
        for new ports. Released values are freed at once; the undo takes them back."""
        nspec = new.get("spec")
        if not isinstance(nspec, dict):
            return _noop
        ospec = _d(old.get("spec"))
        # patchAllocatedValues: a PUT that leaves out the allocated values keeps them.
        if ospec.get("type") != "ExternalName" and nspec.get("type") != "ExternalName":
            if not _s(nspec.get("clusterIP")) and ospec.get("clusterIP"):
                nspec["clusterIP"] = ospec["clusterIP"]
            if not _strs(nspec.get("clusterIPs")) and _strs(ospec.get("clusterIPs")):
                nspec["clusterIPs"] = list(ospec["clusterIPs"])
            if not _strs(nspec.get("ipFamilies")) and _strs(ospec.get("ipFamilies")):
                nspec["ipFamilies"] = list(ospec["ipFamilies"])
            oips, nips = _strs(ospec.get("clusterIPs")), _strs(nspec.get("clusterIPs"))
            if oips and nips and oips[0] != nips[0] and not (_is_headless(ospec) and _is_headless(nspec)):
                raise invalid(
                    "Service",
                    "",
                    _service_name(new),
                    [_cause("spec.clusterIPs[0]", _go_strings(nips), "may not change once set")],
                )
        self._init_ip_families(new, old)
        ip_offsets: list[int] = []
        ports: list[int] = []
        released_ips: list[str] = []
        released_ports: list[int] = []
        try:
            otype, ntype = ospec.get("type"), nspec.get("type")
            if otype == "ExternalName" and ntype != "ExternalName":
                _normalize_cluster_ips_create(nspec)
                ip_offsets = self._alloc_cluster_ips(new, dry_run)
            elif otype != "ExternalName" and ntype == "ExternalName" and not _is_headless(ospec):
                released_ips = [
                    ip for ip in _strs(ospec.get("clusterIPs")) or [_s(ospec.get("clusterIP"))] if ip
                ]
            old_np = _node_ports(ospec) if otype in ("NodePort", "LoadBalancer") else []
            if otype in ("NodePort", "LoadBalancer") and ntype in ("ExternalName", "ClusterIP"):
                released_ports.extend(old_np)
            if ntype in ("NodePort", "LoadBalancer"):
                self._update_node_ports(new, old_np, ports, released_ports, dry_run)
            self._update_health_check(new, old, ports, released_ports, dry_run)
        except StatusError:
            self._give_back(ip_offsets, ports)
            raise
        if dry_run:
            return _noop
        for ip in released_ips:
            self._release_ip(ip)
        for p in set(released_ports):
            self._release_port(p)

        def undo() -> None:
            self._give_back(ip_offsets, ports)
            for ip in released_ips:
                off = self._ip_offset(ip)
                if off is not None:
                    self._ips.take(off)
            for p in set(released_ports):
                if self._port_in_range(p):
                    self._ports.take(p - self.port_base)

        return undo

    def _update_node_ports(
        self, new: dict[str, Any], old_np: list[int], taken: list[int], released: list[int], dry_run: bool
    ) -> None:
        spec = _d(new.get("spec"))
        allocate = _should_allocate_node_ports(spec)
        claimed: set[int] = set()
        for i, sp in enumerate(_ld(spec.get("ports"))):
            np = _i(sp.get("nodePort"))
            if not np and not allocate:
                continue
            if np:
                if np not in old_np and np not in claimed:
                    self._claim_port(new, i, np, taken, dry_run)
                    claimed.add(np)
            else:
                sp["nodePort"] = self._next_port(dry_run)
                if not dry_run:
                    taken.append(sp["nodePort"])
        now = set(_node_ports(spec))
        released.extend(p for p in old_np if p not in now)

    def _update_health_check(
        self, new: dict[str, Any], old: dict[str, Any], taken: list[int], released: list[int], dry_run: bool
    ) -> None:
        nspec, ospec = _d(new.get("spec")), _d(old.get("spec"))
        needed, needs = _needs_health_check(ospec), _needs_health_check(nspec)
        if not needed and needs:
            self._alloc_health_check_port(new, taken, dry_run)
        elif needed and not needs:
            hc = _i(ospec.get("healthCheckNodePort"))
            if hc:
                released.append(hc)
            if _i(nspec.get("healthCheckNodePort")) == hc:
                nspec.pop("healthCheckNodePort", None)
        elif (
            needed
            and needs
            and not _i(nspec.get("healthCheckNodePort"))
            and ospec.get("healthCheckNodePort") is not None
        ):
            nspec["healthCheckNodePort"] = ospec["healthCheckNodePort"]

    def release(self, svc: dict[str, Any]) -> None:
        """Give back what a deleted Service held."""
        spec = _d(svc.get("spec"))
        if spec.get("type") != "ExternalName" and not _is_headless(spec):
            for ip in _strs(spec.get("clusterIPs")) or [_s(spec.get("clusterIP"))]:
                if ip and not (ip == self.kubernetes_ip and self._is_kubernetes_service(svc)):
                    self._release_ip(ip)
        for p in _node_ports(spec):
            self._release_port(p)
        if _needs_health_check(spec) and _i(spec.get("healthCheckNodePort")):
            self._release_port(_i(spec.get("healthCheckNodePort")))

    def _give_back(self, ip_offsets: list[int], ports: list[int]) -> None:
        for off in ip_offsets:
            if off != 0:
                self._ips.give(off)
        for p in ports:
            self._release_port(p)


# ---------------------------------------------------------------------------- module helpers
def _range_offset(size: int, lo: int, hi: int, step: int) -> int:
    """calculateRangeOffset: min(max(lo, size/step), hi); 0 for tiny ranges."""
    if size <= lo:
        return 0
    return min(max(lo, size // step), hi)


def _normalize_cluster_ips_create(spec: dict[str, Any]) -> None:
    """NormalizeClusterIPs on create: a client that set only clusterIP gets clusterIPs too (and the
    v1 conversion fills clusterIP from clusterIPs[0])."""
    cip = _s(spec.get("clusterIP"))
    ips = _strs(spec.get("clusterIPs"))
    if cip and not ips:
        spec["clusterIPs"] = [cip]
    elif ips and not cip and "clusterIP" not in spec:
        spec["clusterIP"] = ips[0]


def _validate_cluster_ip_fields(spec: dict[str, Any]) -> list[Cause]:
    """ValidateServiceClusterIPsRelatedFields (the loose pre-validation done at allocation)."""
    causes: list[Cause] = []
    cip = _s(spec.get("clusterIP"))
    ips = _strs(spec.get("clusterIPs"))
    rendered = _go_strings(ips)
    if cip:
        if not ips:
            causes.append(Cause("FieldValueRequired", "Required value", "spec.clusterIPs"))
        elif ips[0] != cip:
            causes.append(_cause("spec.clusterIPs", rendered, "first value must match `clusterIP`"))
    elif ips:
        causes.append(_cause("spec.clusterIPs", rendered, "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, fam in enumerate(_strs(spec.get("ipFamilies"))):
        if fam not in _SUPPORTED_FAMILIES:
            causes.append(
                Cause(
                    "FieldValueNotSupported",
                    f'Unsupported value: {go_quote(fam)}: supported values: "IPv4", "IPv6"',
                    f"spec.ipFamilies[{i}]",
                )
            )
        if fam in seen:
            causes.append(
                Cause("FieldValueDuplicate", f"Duplicate value: {go_quote(fam)}", f"spec.ipFamilies[{i}]")
            )
        seen.add(fam)
    pol = spec.get("ipFamilyPolicy")
    if pol is not None and pol not in _SUPPORTED_POLICIES:
        causes.append(
            Cause(
                "FieldValueNotSupported",
                f"Unsupported value: {_go_policy(pol)}: supported values: "
                + ", ".join(go_quote(p) for p in _SUPPORTED_POLICIES),
                "spec.ipFamilyPolicy",
            )
        )
    bad_ip = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == NONE:
            if len(ips) > 1:
                bad_ip = True
                causes.append(_cause("spec.clusterIPs", rendered, "'None' must be the first and only value"))
            continue
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            bad_ip = True
            causes.append(_cause(f"spec.clusterIPs[{i}]", go_quote(ip), _VALID_IP_MSG))
    if len(ips) > 2:
        causes.append(_cause("spec.clusterIPs", rendered, "may only hold up to 2 values"))
    if bad_ip:
        return causes
    if len(ips) > 1 and len({_family_of(ip) for ip in ips}) != len(ips):
        causes.append(
            _cause("spec.clusterIPs", rendered, "may specify no more than one IP for each IP family")
        )
    fams = _strs(spec.get("ipFamilies"))
    if not _is_headless(spec) and ips and fams:
        for i, ip in enumerate(ips[: len(fams)]):
            if fams[i] == IPV4 and _family_of(ip) == IPV6:
                causes.append(
                    _cause(
                        f"spec.clusterIPs[{i}]",
                        go_quote(ip),
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if fams[i] == IPV6 and _family_of(ip) != IPV6:
                causes.append(
                    _cause(
                        f"spec.clusterIPs[{i}]",
                        go_quote(ip),
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return causes
