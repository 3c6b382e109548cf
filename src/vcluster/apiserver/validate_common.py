"""Helpers shared by the per-group validators (validate_core.py, validate_networking.py, ...):
Go renderings of values inside field errors, IP parsing as `netutils.ParseIPSloppy`, and the
apimachinery validators those modules need beyond admission.py's.

The cause constructors and selector validators themselves are admission.py's (`_invalid`,
`_required`, ...), re-exported here so the group modules import from one place.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from vcluster.apiserver.admission import (
    FIELD_IMMUTABLE,
    NULL,
    _d,
    _duplicate,
    _forbidden,
    _invalid,
    _invalid_v,
    _is_valid_port_name,
    _is_valid_port_num,
    _l,
    _label_name,
    _not_supported,
    _regex_error,
    _required,
    _s,
    _validate_label_selector,
    go_repr,
)
from vcluster.apiserver.defaults import canonical_quantity, parse_quantity
from vcluster.apiserver.errors import Cause
from vcluster.apiserver.gostr import go_quote
from vcluster.apiserver.validation import is_dns1123_label, is_dns1123_subdomain

__all__ = [
    "FIELD_IMMUTABLE",
    "JSON",
    "NULL",
    "Cause",
    "_d",
    "_duplicate",
    "_forbidden",
    "_invalid",
    "_invalid_v",
    "_is_valid_port_name",
    "_is_valid_port_num",
    "_l",
    "_label_name",
    "_not_supported",
    "_regex_error",
    "_required",
    "_s",
    "_validate_label_selector",
    "dns1123_label",
    "dns1123_subdomain",
    "go_int",
    "go_quantity",
    "go_quote",
    "go_repr",
    "is_int",
    "non_special_ip",
    "parse_ip_sloppy",
    "quantity_string",
    "too_many",
]

JSON = dict[str, Any]


def is_int(v: Any) -> bool:
    """A JSON integer (not a bool)."""
    return isinstance(v, int) and not isinstance(v, bool)


def go_int(v: Any) -> int:
    """The Go zero value for a missing integer."""
    return v if is_int(v) else 0


def too_many(path: str, actual: int, maximum: int) -> Cause:
    """field.TooMany."""
    unit = "item" if maximum == 1 else "items"
    return Cause("FieldValueTooMany", f"Too many: {actual}: must have at most {maximum} {unit}", path)


def dns1123_label(path: str, value: str) -> list[Cause]:
    """ValidateDNS1123Label."""
    return [_invalid(path, go_quote(value), m) for m in is_dns1123_label(value)]


def dns1123_subdomain(path: str, value: str) -> list[Cause]:
    """ValidateDNS1123Subdomain."""
    return [_invalid(path, go_quote(value), m) for m in is_dns1123_subdomain(value)]


# ---------------------------------------------------------------------------- quantities
def quantity_string(v: Any) -> str:
    """Quantity.String() of a stored quantity."""
    return str(canonical_quantity(v))


def go_quantity(v: Any) -> str:
    """`%#v` of a resource.Quantity, which is how ErrorBody prints a Quantity value (it has no
    value-receiver String method). Built from the stored text: a quantity written in a
    non-canonical form ("1000m") was canonicalised by defaulting, so its int64Amount is the
    canonical one, not the one Go would have parsed from the original text."""
    text = quantity_string(v)
    q = parse_quantity(text)
    if q is None:
        return "resource.Quantity{i:resource.int64Amount{value:0, scale:0}, d:resource.infDecAmount" \
            '{Dec:(*inf.Dec)(nil)}, s:"", Format:""}'  # fmt: skip
    if q.fast_scale is not None:
        mantissa = q.value / (10**q.fast_scale) if q.fast_scale >= 0 else q.value * 10 ** (-q.fast_scale)
        value, scale, dec = int(mantissa), q.fast_scale, "(*inf.Dec)(nil)"
    else:
        value, scale, dec = 0, 0, "(*inf.Dec)(0xc000010000)"
    return (
        f"resource.Quantity{{i:resource.int64Amount{{value:{value}, scale:{scale}}}, "
        f"d:resource.infDecAmount{{Dec:{dec}}}, s:{go_quote(q.keep)}, Format:{go_quote(q.fmt)}}}"
    )


# ---------------------------------------------------------------------------- IP addresses
def _parse_ipv4_sloppy(s: str) -> ipaddress.IPv4Address | None:
    """Go's parseIPv4 before 1.17: four decimal fields of at most 3 digits, leading zeros allowed."""
    parts = s.split(".")
    if len(parts) != 4:
        return None
    octets = []
    for p in parts:
        if not p or len(p) > 3 or not (p.isascii() and p.isdigit()) or int(p) > 255:
            return None
        octets.append(int(p))
    return ipaddress.IPv4Address(bytes(octets))


def parse_ip_sloppy(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """netutils.ParseIPSloppy; an IPv4-mapped IPv6 address counts as IPv4 (Go's To4)."""
    if "%" in s:  # zones are not accepted by net.ParseIP
        return None
    if ":" not in s:
        return _parse_ipv4_sloppy(s)
    try:
        ip = ipaddress.IPv6Address(s)
    except ValueError:
        head, _, tail = s.rpartition(":")
        v4 = _parse_ipv4_sloppy(tail) if "." in tail else None
        if v4 is None:
            return None
        try:
            ip = ipaddress.IPv6Address(f"{head}:{v4}")
        except ValueError:
            return None
    return ip.ipv4_mapped or ip


def non_special_ip(value: str, path: str) -> list[Cause]:
    """ValidateNonSpecialIP: no unspecified or link-local addresses. Upstream refuses loopback
    addresses too; here they are accepted, because a virtual cluster whose API server runs on this
    machine advertises 127.0.0.1 in default/kubernetes (controllers/bootstrap.py, the syncer)."""
    ip = parse_ip_sloppy(value)
    q = go_quote(value)
    if ip is None:
        return [_invalid(path, q, "must be a valid IP address")]
    causes: list[Cause] = []
    if ip.is_unspecified:
        causes.append(_invalid(path, q, f"may not be unspecified ({value})"))
    if ip in _LINK_LOCAL_UNICAST[ip.version]:
        causes.append(_invalid(path, q, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if _link_local_multicast(ip):
        causes.append(
            _invalid(path, q, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
        )
    return causes


def _link_local_multicast(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """net.IP.IsLinkLocalMulticast: 224.0.0.0/24, or an IPv6 multicast address of link-local scope."""
    b = ip.packed
    if ip.version == 4:
        return b[:3] == bytes((224, 0, 0))
    return b[0] == 0xFF and b[1] & 0x0F == 0x02


_LINK_LOCAL_UNICAST = {4: ipaddress.ip_network("169.254.0.0/16"), 6: ipaddress.ip_network("fe80::/10")}
