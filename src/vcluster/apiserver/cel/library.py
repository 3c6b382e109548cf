"""kube 1.32's CEL function libraries (k8s.io/apiserver/pkg/cel/library: lists, regex, urls, ip,
cidr, quantity, authz in ``authz.py``; cel-go's ext.Sets) declared for the C++ checker with Python
implementations.

The C++ runtime dispatches on value kinds, so a list function has one overload over ``list(dyn)``
(kube declares one per element type; the result is then ``dyn`` for the checker) and ``string()``
takes only an IP (``string(cidr)`` would collide with it: both are messages)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import re2
from cel_expr_python import cel

from ..defaults import parse_quantity
from . import authz, libnet, opaque
from .libnet import CelError

T = cel.Type
IP_T = T("net.IP")
CIDR_T = T("net.IPNet")
URL_T = T("kubernetes.URL")
QUANTITY_T = T("kubernetes.Quantity")
_LIST = T.List(T.DYN)
_INT64 = 2**63

# --- lists -------------------------------------------------------------------------------------


def _is_sorted(items: list[Any]) -> bool:
    seq = list(items)
    return all(not (seq[i + 1] < seq[i]) for i in range(len(seq) - 1))


def _sum(items: list[Any]) -> Any:
    seq = list(items)
    total: Any = 0.0 if seq and isinstance(seq[0], float) else 0
    for v in seq:
        total = total + v
    if isinstance(total, int) and not -_INT64 <= total < _INT64:
        raise CelError("integer overflow")
    return total


def _extreme(name: str, pick: Any) -> Any:
    def impl(items: list[Any]) -> Any:
        seq = list(items)
        if not seq:
            raise CelError(f"{name} called on empty list")
        return pick(seq)

    return impl


def cel_equal(a: Any, b: Any) -> bool:
    """CEL's heterogeneous equality on plain values (``true != 1``, ``1 == 1.0``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _index_of(items: list[Any], value: Any) -> int:
    for i, v in enumerate(items):
        if cel_equal(v, value):
            return i
    return -1


def _last_index_of(items: list[Any], value: Any) -> int:
    seq = list(items)
    for i in range(len(seq) - 1, -1, -1):
        if cel_equal(seq[i], value):
            return i
    return -1


# --- sets (cel-go ext.Sets) --------------------------------------------------------------------


def _contains_all(a: list[Any], b: list[Any]) -> bool:
    la = list(a)
    return all(any(cel_equal(x, y) for y in la) for x in b)


def _sets_equivalent(a: list[Any], b: list[Any]) -> bool:
    return _contains_all(a, b) and _contains_all(b, a)


def _sets_intersects(a: list[Any], b: list[Any]) -> bool:
    lb = list(b)
    return any(any(cel_equal(x, y) for y in lb) for x in a)


# --- regex -------------------------------------------------------------------------------------

_RE_CACHE: dict[str, Any] = {}


def _regex(pattern: str) -> Any:
    compiled = _RE_CACHE.get(pattern)
    if compiled is None:
        try:
            compiled = re2.compile(pattern)
        except re2.error as e:
            raise CelError(f"error parsing regexp: {e}") from None
        if len(_RE_CACHE) > 1024:
            _RE_CACHE.clear()
        _RE_CACHE[pattern] = compiled
    return compiled


def _find(s: str, pattern: str) -> str:
    m = _regex(pattern).search(s)
    return m.group(0) if m else ""


def _find_all(s: str, pattern: str) -> list[str]:
    return [m.group(0) for m in _regex(pattern).finditer(s)]


def _find_all_n(s: str, pattern: str, n: int) -> list[str]:
    out = _find_all(s, pattern)
    return out if n < 0 else out[:n]


# --- quantity ----------------------------------------------------------------------------------

_QUANTITY_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


def _q(value: Fraction) -> Any:
    return opaque.Quantity(value=f"{value.numerator}/{value.denominator}")


def _qv(msg: Any) -> Fraction:
    return Fraction(msg.value)


def _quantity(s: str) -> Any:
    q = parse_quantity(s)
    if q is None:
        raise CelError(_QUANTITY_ERROR)
    return _q(q.value)


def _is_quantity(s: str) -> bool:
    return parse_quantity(s) is not None


def _q_is_integer(q: Any) -> bool:
    v = _qv(q)
    return v.denominator == 1 and -_INT64 <= v.numerator < _INT64


def _q_as_integer(q: Any) -> int:
    if not _q_is_integer(q):
        raise CelError("cannot convert value to integer")
    return _qv(q).numerator


def _q_sign(q: Any) -> int:
    v = _qv(q)
    return (v > 0) - (v < 0)


def _q_cmp(a: Any, b: Any) -> int:
    x, y = _qv(a), _qv(b)
    return (x > y) - (x < y)


def _fn(name: str, *overloads: cel.Overload) -> cel.FunctionDecl:
    return cel.FunctionDecl(name, list(overloads))


def _member(oid: str, ret: cel.Type, params: list[cel.Type], impl: Any) -> cel.Overload:
    return cel.Overload(oid, ret, params, is_member=True, impl=impl)


def _global(oid: str, ret: cel.Type, params: list[cel.Type], impl: Any) -> cel.Overload:
    return cel.Overload(oid, ret, params, impl=impl)


def _declarations() -> list[cel.FunctionDecl]:
    n = libnet
    s, b, i, d = T.STRING, T.BOOL, T.INT, T.DOUBLE
    return [
        # lists
        _fn("isSorted", _member("list_is_sorted", b, [_LIST], _is_sorted)),
        _fn("sum", _member("list_sum", T.DYN, [_LIST], _sum)),
        _fn("min", _member("list_min", T.DYN, [_LIST], _extreme("min", min))),
        _fn("max", _member("list_max", T.DYN, [_LIST], _extreme("max", max))),
        _fn("indexOf", _member("list_index_of", i, [_LIST, T.DYN], _index_of)),
        _fn("lastIndexOf", _member("list_last_index_of", i, [_LIST, T.DYN], _last_index_of)),
        # sets
        _fn("sets.contains", _global("list_sets_contains_list", b, [_LIST, _LIST], _contains_all)),
        _fn("sets.equivalent", _global("list_sets_equivalent_list", b, [_LIST, _LIST], _sets_equivalent)),
        _fn("sets.intersects", _global("list_sets_intersects_list", b, [_LIST, _LIST], _sets_intersects)),
        # regex
        _fn("find", _member("string_find_string", s, [s, s], _find)),
        _fn(
            "findAll",
            _member("string_find_all_string", T.List(s), [s, s], _find_all),
            _member("string_find_all_string_int", T.List(s), [s, s, i], _find_all_n),
        ),
        # URLs
        _fn("url", _global("string_to_url", URL_T, [s], n.string_to_url)),
        _fn("isURL", _global("is_url_string", b, [s], n.is_url)),
        _fn("getScheme", _member("url_get_scheme", s, [URL_T], n.url_scheme)),
        _fn("getHost", _member("url_get_host", s, [URL_T], n.url_host)),
        _fn("getHostname", _member("url_get_hostname", s, [URL_T], n.url_hostname)),
        _fn("getPort", _member("url_get_port", s, [URL_T], n.url_port)),
        _fn("getEscapedPath", _member("url_get_escaped_path", s, [URL_T], n.url_escaped_path)),
        _fn("getQuery", _member("url_get_query", T.Map(s, T.List(s)), [URL_T], n.url_query)),
        # IP
        _fn(
            "ip",
            _global("string_to_ip", IP_T, [s], n.string_to_ip),
            _member("cidr_ip", IP_T, [CIDR_T], n.cidr_ip),
        ),
        _fn("isIP", _global("is_ip", b, [s], n.is_ip)),
        _fn("ip.isCanonical", _global("ip_is_canonical", b, [s], n.ip_is_canonical)),
        _fn("family", _member("ip_family", i, [IP_T], n.ip_family)),
        _fn("isUnspecified", _member("ip_is_unspecified", b, [IP_T], n.ip_is_unspecified)),
        _fn("isLoopback", _member("ip_is_loopback", b, [IP_T], n.ip_is_loopback)),
        _fn(
            "isLinkLocalMulticast",
            _member("ip_is_link_local_multicast", b, [IP_T], n.ip_is_link_local_multicast),
        ),
        _fn("isLinkLocalUnicast", _member("ip_is_link_local_unicast", b, [IP_T], n.ip_is_link_local_unicast)),
        _fn("isGlobalUnicast", _member("ip_is_global_unicast", b, [IP_T], n.ip_is_global_unicast)),
        _fn("string", _global("ip_to_string", s, [IP_T], n.ip_to_string)),
        # CIDR
        _fn("cidr", _global("string_to_cidr", CIDR_T, [s], n.string_to_cidr)),
        _fn("isCIDR", _global("is_cidr", b, [s], n.is_cidr)),
        _fn(
            "containsIP",
            _member("cidr_contains_ip_string", b, [CIDR_T, s], n.cidr_contains_ip),
            _member("cidr_contains_ip_ip", b, [CIDR_T, IP_T], n.cidr_contains_ip),
        ),
        _fn(
            "containsCIDR",
            _member("cidr_contains_cidr_string", b, [CIDR_T, s], n.cidr_contains_cidr),
            _member("cidr_contains_cidr", b, [CIDR_T, CIDR_T], n.cidr_contains_cidr),
        ),
        _fn("masked", _member("cidr_masked", CIDR_T, [CIDR_T], n.cidr_masked)),
        _fn("prefixLength", _member("cidr_prefix_length", i, [CIDR_T], n.cidr_prefix_length)),
        # quantity
        _fn("quantity", _global("string_to_quantity", QUANTITY_T, [s], _quantity)),
        _fn("isQuantity", _global("is_quantity_string", b, [s], _is_quantity)),
        _fn("sign", _member("quantity_sign", i, [QUANTITY_T], _q_sign)),
        _fn("isInteger", _member("quantity_is_integer", b, [QUANTITY_T], _q_is_integer)),
        _fn("asInteger", _member("quantity_get_int", i, [QUANTITY_T], _q_as_integer)),
        _fn("asApproximateFloat", _member("quantity_get_float", d, [QUANTITY_T], lambda q: float(_qv(q)))),
        _fn(
            "add",
            _member("quantity_add", QUANTITY_T, [QUANTITY_T, QUANTITY_T], lambda a, c: _q(_qv(a) + _qv(c))),
            _member("quantity_add_int", QUANTITY_T, [QUANTITY_T, i], lambda a, c: _q(_qv(a) + c)),
        ),
        _fn(
            "sub",
            _member("quantity_sub", QUANTITY_T, [QUANTITY_T, QUANTITY_T], lambda a, c: _q(_qv(a) - _qv(c))),
            _member("quantity_sub_int", QUANTITY_T, [QUANTITY_T, i], lambda a, c: _q(_qv(a) - c)),
        ),
        _fn(
            "isGreaterThan",
            _member("quantity_is_greater_than", b, [QUANTITY_T, QUANTITY_T], lambda a, c: _q_cmp(a, c) > 0),
        ),
        _fn(
            "isLessThan",
            _member("quantity_less_than", b, [QUANTITY_T, QUANTITY_T], lambda a, c: _q_cmp(a, c) < 0),
        ),
        _fn("compareTo", _member("quantity_compare_to", i, [QUANTITY_T, QUANTITY_T], _q_cmp)),
    ]


def kubernetes_extension() -> cel.CelExtension:
    """All of kube's libraries (with the authz ones: kube's base environment has them everywhere,
    the ``authorizer`` variable only in admission expressions) as one extension."""
    return cel.CelExtension("kubernetes", _declarations() + authz.declarations())
