"""kube's IP, CIDR and URL libraries (k8s.io/apiserver/pkg/cel/library/{ip,cidr,urls}.go): Go's
netip and net/url parsing rules, its messages, and the values as ``opaque`` messages."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import parse_qs

from . import opaque

Addr = ipaddress.IPv4Address | ipaddress.IPv6Address
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


class CelError(Exception):
    """An evaluation error with the message kube's library gives."""


def _parse_addr(raw: str) -> Addr:
    """netip.ParseAddr: no leading zeros, no zone; None-free."""
    if "%" in raw:
        try:
            ipaddress.ip_address(raw)
        except ValueError:
            raise CelError(
                f'IP Address "{raw}" parse error during conversion from string: '
                f'ParseAddr("{raw}"): unable to parse IP'
            ) from None
        raise CelError(f'IP address "{raw}" with zone value is not allowed')
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        raise CelError(
            f'IP Address "{raw}" parse error during conversion from string: '
            f'ParseAddr("{raw}"): unable to parse IP'
        ) from None
    return addr


def parse_ip(raw: str) -> Addr:
    """kube's parseIPAddr: netip.ParseAddr without zones or IPv4-mapped IPv6 addresses."""
    addr = _parse_addr(raw)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise CelError(f'IPv4-mapped IPv6 address "{raw}" is not allowed')
    return addr


def parse_cidr(raw: str) -> tuple[Addr, int]:
    """kube's parseCIDR: netip.ParsePrefix (the address is kept, not masked)."""
    addr_text, sep, bits_text = raw.rpartition("/")
    err = f'network address "{raw}" parse error during conversion from string: netip.ParsePrefix("{raw}"): '
    if not sep:
        raise CelError(err + "no '/'")
    try:
        addr = _parse_addr(addr_text)
    except CelError:
        raise CelError(err + f'ParseAddr("{addr_text}"): unable to parse IP') from None
    if not bits_text.isascii() or not bits_text.isdigit() or (len(bits_text) > 1 and bits_text[0] == "0"):
        raise CelError(err + f'bad bits after slash: "{bits_text}"')
    bits = int(bits_text)
    if bits > addr.max_prefixlen:
        raise CelError(err + "prefix length out of range")
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        raise CelError(f'IPv4-mapped IPv6 address "{raw}" is not allowed')
    return addr, bits


def ip_value(addr: Addr) -> Any:
    return opaque.IP(addr=str(addr))


def cidr_value(addr: Addr, bits: int) -> Any:
    return opaque.IPNet(prefix=f"{addr}/{bits}")


def _addr(msg: Any) -> Addr:
    return ipaddress.ip_address(msg.addr)


def _prefix(msg: Any) -> tuple[Addr, int]:
    a, _, b = msg.prefix.rpartition("/")
    return ipaddress.ip_address(a), int(b)


def _network(addr: Addr, bits: int) -> Net:
    return ipaddress.ip_network(f"{addr}/{bits}", strict=False)


def _is_link_local_unicast(a: Addr) -> bool:
    if isinstance(a, ipaddress.IPv4Address):
        return a in ipaddress.IPv4Network("169.254.0.0/16")
    return a in ipaddress.IPv6Network("fe80::/10")


def _is_link_local_multicast(a: Addr) -> bool:
    if isinstance(a, ipaddress.IPv4Address):
        return a in ipaddress.IPv4Network("224.0.0.0/24")
    return a in ipaddress.IPv6Network("ff02::/16")


def _is_global_unicast(a: Addr) -> bool:
    """Go's IsGlobalUnicast: private and ULA addresses count, broadcast does not."""
    if isinstance(a, ipaddress.IPv4Address) and str(a) == "255.255.255.255":
        return False
    return not (a.is_unspecified or a.is_loopback or a.is_multicast or _is_link_local_unicast(a))


def string_to_ip(s: str) -> Any:
    return ip_value(parse_ip(s))


def is_ip(s: str) -> bool:
    try:
        parse_ip(s)
    except CelError:
        return False
    return True


def ip_is_canonical(s: str) -> bool:
    return str(parse_ip(s)) == s


def ip_to_string(ip: Any) -> str:
    return str(ip.addr)


def ip_family(ip: Any) -> int:
    return _addr(ip).version


def ip_is_unspecified(ip: Any) -> bool:
    return _addr(ip).is_unspecified


def ip_is_loopback(ip: Any) -> bool:
    return _addr(ip).is_loopback


def ip_is_link_local_multicast(ip: Any) -> bool:
    return _is_link_local_multicast(_addr(ip))


def ip_is_link_local_unicast(ip: Any) -> bool:
    return _is_link_local_unicast(_addr(ip))


def ip_is_global_unicast(ip: Any) -> bool:
    return _is_global_unicast(_addr(ip))


def string_to_cidr(s: str) -> Any:
    return cidr_value(*parse_cidr(s))


def is_cidr(s: str) -> bool:
    try:
        parse_cidr(s)
    except CelError:
        return False
    return True


def cidr_contains_ip(cidr: Any, ip: Any) -> bool:
    addr = parse_ip(ip) if isinstance(ip, str) else _addr(ip)
    net = _network(*_prefix(cidr))
    return addr.version == net.version and addr in net


def cidr_contains_cidr(cidr: Any, other: Any) -> bool:
    o_addr, o_bits = parse_cidr(other) if isinstance(other, str) else _prefix(other)
    addr, bits = _prefix(cidr)
    if addr.version != o_addr.version:
        return False
    return bits <= o_bits and _network(addr, bits).overlaps(_network(o_addr, o_bits))


def cidr_ip(cidr: Any) -> Any:
    return ip_value(_prefix(cidr)[0])


def cidr_masked(cidr: Any) -> Any:
    addr, bits = _prefix(cidr)
    return cidr_value(_network(addr, bits).network_address, bits)


def cidr_prefix_length(cidr: Any) -> int:
    return _prefix(cidr)[1]


def cidr_to_string(cidr: Any) -> str:
    return str(cidr.prefix)


# --- URLs: net/url.ParseRequestURI -------------------------------------------------------------

_SCHEME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:")


def _url_error(raw: str, err: str) -> CelError:
    return CelError(f'URL parse error during conversion from string: parse "{raw}": {err}')


def _split_url(raw: str) -> tuple[str, str, str, str]:
    """(scheme, host, path, rawQuery) as ParseRequestURI, raising its errors."""
    if raw == "":
        raise _url_error(raw, "empty url")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _url_error(raw, "net/url: invalid control character in URL")
    scheme, rest = "", raw
    m = _SCHEME_RE.match(raw)
    if m:
        scheme, rest = raw[: m.end() - 1].lower(), raw[m.end() :]
    elif raw.startswith(":"):
        raise _url_error(raw, "missing protocol scheme")
    rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return scheme, "", rest, query  # opaque
        raise _url_error(raw, "invalid URI for request")
    host, path = "", rest
    if scheme and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        path = slash + tail
        host = authority.rpartition("@")[2]
        if host.startswith("["):
            end = host.find("]")
            if end < 0:
                raise _url_error(raw, "missing ']' in host")
            port = host[end + 1 :]
            if port and (not port.startswith(":") or not (port[1:].isdigit() or port == ":")):
                raise _url_error(raw, f'invalid port "{port}" after host')
        elif ":" in host:
            port = host[host.rfind(":") + 1 :]
            if port and not (port.isascii() and port.isdigit()):
                raise _url_error(raw, f'invalid port ":{port}" after host')
    return scheme, host, path, query


def string_to_url(s: str) -> Any:
    _split_url(s)
    return opaque.URL(url=s)


def is_url(s: str) -> bool:
    try:
        _split_url(s)
    except CelError:
        return False
    return True


def url_scheme(u: Any) -> str:
    return _split_url(u.url)[0]


def url_host(u: Any) -> str:
    return _split_url(u.url)[1]


def url_hostname(u: Any) -> str:
    host = _split_url(u.url)[1]
    if host.startswith("["):
        return host[1 : host.find("]")]
    return host.rpartition(":")[0] if ":" in host else host


def url_port(u: Any) -> str:
    host = _split_url(u.url)[1]
    if host.startswith("["):
        host = host[host.find("]") + 1 :]
    return host.rpartition(":")[2] if ":" in host else ""


def url_escaped_path(u: Any) -> str:
    return _split_url(u.url)[2]


def url_query(u: Any) -> dict[str, list[str]]:
    return parse_qs(_split_url(u.url)[3], keep_blank_values=True)
