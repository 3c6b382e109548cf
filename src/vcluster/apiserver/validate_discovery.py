"""Create and update validation of discovery.k8s.io/v1 EndpointSlice, as kube-apiserver 1.32's
`pkg/apis/discovery/validation` (ValidateEndpointSliceCreate / ValidateEndpointSliceUpdate).

Runs on the defaulted object: ports carry a name ("") and a protocol.
"""

from __future__ import annotations

from vcluster.apiserver.validate_common import (
    FIELD_IMMUTABLE,
    JSON,
    NULL,
    Cause,
    _d,
    _duplicate,
    _invalid,
    _l,
    _not_supported,
    _required,
    _s,
    dns1123_label,
    go_quote,
    non_special_ip,
    parse_ip_sloppy,
    too_many,
)
from vcluster.apiserver.validation import (
    is_dns1123_label,
    is_dns1123_subdomain,
    validate_labels,
    validate_qualified_name,
)

_ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
_DEPRECATED_ADDRESS_TYPES = ("FQDN", "IP", "IPv4", "IPv6")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_MAX_TOPOLOGY_LABELS = 16
_MAX_ADDRESSES = 100
_MAX_PORTS = 100
_MAX_ENDPOINTS = 1000
_VALID_IP_MSG = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def _fqdn(value: str, path: str) -> list[Cause]:
    """IsFullyQualifiedDomainName."""
    if not value:
        return [_required(path)]
    name = value[:-1] if value.endswith(".") else value
    errs = is_dns1123_subdomain(name)
    if errs:
        return [_invalid(path, go_quote(name), ",".join(errs))]
    labels = name.split(".")
    if len(labels) < 2:
        return [
            _invalid(path, go_quote(name), "should be a domain with at least two segments separated by dots")
        ]
    for label in labels:
        errs = is_dns1123_label(label)
        if errs:
            return [_invalid(path, go_quote(label), ",".join(errs))]
    return []


def _address(addr_type: str, address: str, path: str) -> list[Cause]:
    """One address, checked against the slice's address type (unknown types are not checked)."""
    ip = parse_ip_sloppy(address)
    q = go_quote(address)
    if addr_type == "IP":
        return [] if ip is not None else [_invalid(path, q, _VALID_IP_MSG)]
    if addr_type == "IPv4":
        bad = (
            [] if ip is not None and ip.version == 4 else [_invalid(path, q, "must be a valid IPv4 address")]
        )
        return bad + non_special_ip(address, path)
    if addr_type == "IPv6":
        bad = (
            [] if ip is not None and ip.version == 6 else [_invalid(path, q, "must be a valid IPv6 address")]
        )
        return bad + non_special_ip(address, path)
    if addr_type == "FQDN":
        return _fqdn(address, path)
    return []


def _endpoint(ep: JSON, addr_type: str, path: str) -> list[Cause]:
    causes: list[Cause] = []
    addrs = _l(ep.get("addresses"))
    if not addrs:
        causes.append(_required(path + ".addresses", "must contain at least 1 address"))
    elif len(addrs) > _MAX_ADDRESSES:
        causes.append(too_many(path + ".addresses", len(addrs), _MAX_ADDRESSES))
    for i, address in enumerate(addrs):
        causes.extend(_address(addr_type, _s(address), f"{path}.addresses[{i}]"))
    topology = ep.get("deprecatedTopology")
    if isinstance(topology, dict) and len(topology) > _MAX_TOPOLOGY_LABELS:
        causes.append(too_many(path + ".deprecatedTopology", len(topology), _MAX_TOPOLOGY_LABELS))
    causes.extend(validate_labels(topology, path + ".deprecatedTopology"))
    hostname = ep.get("hostname")
    if isinstance(hostname, str):
        causes.extend(dns1123_label(path + ".hostname", hostname))
    return causes


def _endpoints(endpoints: list[object], addr_type: str) -> list[Cause]:
    if len(endpoints) > _MAX_ENDPOINTS:
        return [too_many("endpoints", len(endpoints), _MAX_ENDPOINTS)]
    causes: list[Cause] = []
    for i, ep in enumerate(endpoints):
        causes.extend(_endpoint(_d(ep), addr_type, f"endpoints[{i}]"))
    return causes


def _ports(ports: list[object]) -> list[Cause]:
    if len(ports) > _MAX_PORTS:
        return [too_many("ports", len(ports), _MAX_PORTS)]
    causes: list[Cause] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port, path = _d(port), f"ports[{i}]"
        name = _s(port.get("name"))
        if name:
            causes.extend(dns1123_label(path + ".name", name))
        if name in names:
            causes.append(_duplicate(path + ".name", go_quote(name)))
        names.add(name)
        proto = port.get("protocol")
        if not isinstance(proto, str):
            causes.append(_required(path + ".protocol"))
        elif proto not in _PROTOCOLS:
            causes.append(_not_supported(path + ".protocol", proto, _PROTOCOLS))
        app = port.get("appProtocol")
        if isinstance(app, str):
            causes.extend(
                _invalid(path + ".appProtocol", go_quote(app), m) for m in validate_qualified_name(app)
            )
    return causes


def _validate(obj: JSON, valid_types: tuple[str, ...]) -> list[Cause]:
    addr_type = obj.get("addressType")
    causes: list[Cause] = []
    if not isinstance(addr_type, str) or not addr_type:
        causes.append(_required("addressType"))
    elif addr_type not in valid_types:
        causes.append(_not_supported("addressType", addr_type, valid_types))
    causes += _endpoints(_l(obj.get("endpoints")), _s(addr_type))
    return causes + _ports(_l(obj.get("ports")))


def validate_endpoint_slice(obj: JSON) -> list[Cause]:
    """ValidateEndpointSliceCreate."""
    return _validate(obj, _ADDRESS_TYPES)


def validate_endpoint_slice_update(new: JSON, old: JSON) -> list[Cause]:
    """ValidateEndpointSliceUpdate: the deprecated "IP" type is still accepted; addressType is fixed."""
    causes = _validate(new, _DEPRECATED_ADDRESS_TYPES)
    nt, ot = new.get("addressType"), old.get("addressType")
    if _s(nt) != _s(ot):
        causes.append(_invalid("addressType", go_quote(nt) if isinstance(nt, str) else NULL, FIELD_IMMUTABLE))
    return causes
