"""Create and update validation of networking.k8s.io/v1 NetworkPolicy and IngressClass, as
kube-apiserver 1.32's `pkg/apis/networking/validation` (Ingress is admission.py's).

Runs on the defaulted object: NetworkPolicy ports carry a protocol, `policyTypes` is set, and an
IngressClass `parameters` reference has a scope.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from vcluster.apiserver.validate_common import (
    FIELD_IMMUTABLE,
    JSON,
    Cause,
    _d,
    _forbidden,
    _invalid,
    _is_valid_port_name,
    _is_valid_port_num,
    _l,
    _not_supported,
    _regex_error,
    _required,
    _s,
    _validate_label_selector,
    go_quote,
    is_int,
    parse_ip_sloppy,
)
from vcluster.apiserver.validation import is_dns1123_label, is_dns1123_subdomain, is_valid_path_segment_name

_NP_PROTOCOLS = ("TCP", "UDP", "SCTP")
_POLICY_TYPES = ("Ingress", "Egress")
_CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_MAX_CONTROLLER_LEN = 250
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = re.compile(r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+")
_PARAM_SCOPES = ("Cluster", "Namespace")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# ============================================================================ NetworkPolicy
def _parse_cidr_sloppy(value: str) -> Network | None:
    """netutils.ParseCIDRSloppy: the network (host bits cleared), or None."""
    addr, sep, bits = value.partition("/")
    if not sep or not bits.isascii() or not bits.isdigit() or len(bits) > 3:
        return None
    ip = parse_ip_sloppy(addr)
    width = 32 if ":" not in addr else 128
    if ip is None or int(bits) > width:
        return None
    if width == 128 and ip.version == 4:  # an IPv4-mapped address with an IPv6 prefix length
        if int(bits) < 96:
            return None
        return ipaddress.ip_network(f"{ip}/{int(bits) - 96}", strict=False)
    return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)


def _ip_block(ipb: JSON, path: str) -> list[Cause]:
    """ValidateIPBlock."""
    cidr = _s(ipb.get("cidr"))
    if not cidr:
        return [_required(path + ".cidr")]
    net = _parse_cidr_sloppy(cidr)
    if net is None:
        return [_invalid(path + ".cidr", go_quote(cidr), _CIDR_MSG)]
    causes: list[Cause] = []
    for i, exc in enumerate(_l(ipb.get("except"))):
        exc, p = _s(exc), f"{path}.except[{i}]"
        enet = _parse_cidr_sloppy(exc)
        if enet is None:
            causes.append(_invalid(p, go_quote(exc), _CIDR_MSG))
            continue
        if enet.version != net.version or enet.network_address not in net or net.prefixlen >= enet.prefixlen:
            causes.append(_invalid(p, go_quote(exc), "must be a strict subset of `cidr`"))
    return causes


def _np_port(port: JSON, path: str) -> list[Cause]:
    """ValidateNetworkPolicyPort."""
    causes: list[Cause] = []
    proto = port.get("protocol")
    if isinstance(proto, str) and proto not in _NP_PROTOCOLS:
        causes.append(_not_supported(path + ".protocol", proto, _NP_PROTOCOLS))
    value, end = port.get("port"), port.get("endPort")
    has_end = is_int(end)
    if is_int(value):
        causes.extend(_invalid(path + ".port", str(value), m) for m in _is_valid_port_num(value))
        if has_end:
            if end < value:
                causes.append(
                    _invalid(path + ".endPort", str(end), "must be greater than or equal to `port`")
                )
            causes.extend(_invalid(path + ".endPort", str(end), m) for m in _is_valid_port_num(end))
    elif isinstance(value, str):
        if has_end:
            causes.append(
                _invalid(path + ".endPort", str(end), "may not be specified when `port` is non-numeric")
            )
        causes.extend(_invalid(path + ".port", go_quote(value), m) for m in _is_valid_port_name(value))
    elif has_end:
        causes.append(
            _invalid(path + ".endPort", str(end), "may not be specified when `port` is not specified")
        )
    return causes


def _np_peer(peer: JSON, path: str) -> list[Cause]:
    """ValidateNetworkPolicyPeer."""
    causes: list[Cause] = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if isinstance(peer.get(key), dict):
            count += 1
            causes.extend(_validate_label_selector(peer[key], f"{path}.{key}"))
    ipb = peer.get("ipBlock")
    if isinstance(ipb, dict):
        count += 1
        causes.extend(_ip_block(ipb, path + ".ipBlock"))
    if count == 0:
        causes.append(_required(path, "must specify a peer"))
    elif count > 1 and isinstance(ipb, dict):
        causes.append(_forbidden(path, "may not specify both ipBlock and another peer"))
    return causes


def _np_rules(spec: JSON, direction: str, peers_key: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, rule in enumerate(_l(spec.get(direction))):
        rule, path = _d(rule), f"spec.{direction}[{i}]"
        for j, port in enumerate(_l(rule.get("ports"))):
            causes.extend(_np_port(_d(port), f"{path}.ports[{j}]"))
        for j, peer in enumerate(_l(rule.get(peers_key))):
            causes.extend(_np_peer(_d(peer), f"{path}.{peers_key}[{j}]"))
    return causes


def _policy_types(types: list[Any]) -> list[Cause]:
    if len(types) > len(_POLICY_TYPES):
        rendered = "[]networking.PolicyType{" + ", ".join(go_quote(_s(t)) for t in types) + "}"
        return [_invalid("spec.policyTypes", rendered, "may not specify more than two policyTypes")]
    return [
        _not_supported(f"spec.policyTypes[{i}]", t, _POLICY_TYPES)
        for i, t in enumerate(types)
        if t not in _POLICY_TYPES
    ]


def validate_network_policy(obj: JSON) -> list[Cause]:
    """ValidateNetworkPolicySpec."""
    spec = _d(obj.get("spec"))
    causes = _validate_label_selector(_d(spec.get("podSelector")), "spec.podSelector")
    causes += _np_rules(spec, "ingress", "from") + _np_rules(spec, "egress", "to")
    return causes + _policy_types(_l(spec.get("policyTypes")))


# ============================================================================ IngressClass
def _domain_prefixed_path(value: str, path: str) -> list[Cause]:
    """IsDomainPrefixedPath."""
    if not value:
        return [_required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [_invalid(path, go_quote(value), 'must be a domain-prefixed path (such as "acme.io/foo")')]
    causes = [_invalid(path, go_quote(host), m) for m in is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.fullmatch(rest):
        causes.append(_invalid(path, go_quote(rest), _regex_error("Invalid path", _HTTP_PATH_FMT)))
    return causes


def _name_part(params: JSON, key: str, path: str) -> list[Cause]:
    value = _s(params.get(key))
    if not value:
        return [_required(f"{path}.{key}")]
    return [_invalid(f"{path}.{key}", go_quote(value), m) for m in is_valid_path_segment_name(value)]


def _parameters(params: Any, path: str) -> list[Cause]:
    """validateIngressClassParametersReference."""
    if not isinstance(params, dict):
        return []
    causes: list[Cause] = []
    group = params.get("apiGroup")
    if isinstance(group, str):
        causes.extend(_invalid(path + ".apiGroup", go_quote(group), m) for m in is_dns1123_subdomain(group))
    causes += _name_part(params, "kind", path) + _name_part(params, "name", path)
    scope = params.get("scope")
    if not isinstance(scope, str):
        return [*causes, _required(path + ".scope")]
    ns = params.get("namespace")
    if scope not in _PARAM_SCOPES:
        causes.append(_not_supported(path + ".scope", scope, _PARAM_SCOPES))
    elif scope == "Namespace" and not isinstance(ns, str):
        causes.append(_required(path + ".namespace", "`parameters.scope` is set to 'Namespace'"))
    elif scope == "Namespace":
        causes.extend(_invalid(path + ".namespace", go_quote(ns), m) for m in is_dns1123_label(ns))
    elif isinstance(ns, str):
        causes.append(_forbidden(path + ".namespace", "`parameters.scope` is set to 'Cluster'"))
    return causes


def validate_ingress_class(obj: JSON) -> list[Cause]:
    """validateIngressClassSpec."""
    spec = _d(obj.get("spec"))
    controller = _s(spec.get("controller"))
    causes: list[Cause] = []
    if len(controller.encode()) > _MAX_CONTROLLER_LEN:
        msg = f"Too long: may not be more than {_MAX_CONTROLLER_LEN} bytes"
        causes.append(Cause("FieldValueTooLong", msg, "spec.controller"))
    causes += _domain_prefixed_path(controller, "spec.controller")
    return causes + _parameters(spec.get("parameters"), "spec.parameters")


def validate_ingress_class_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateIngressClassUpdate: the controller is immutable, then the new spec."""
    ncontroller = _d(new.get("spec")).get("controller")
    ocontroller = _d(old.get("spec")).get("controller")
    causes: list[Cause] = []
    if _s(ncontroller) != _s(ocontroller):
        rendered = go_quote(ncontroller) if isinstance(ncontroller, str) else go_quote("")
        causes.append(_invalid("spec.controller", rendered, FIELD_IMMUTABLE))
    return causes + validate_ingress_class(new)
