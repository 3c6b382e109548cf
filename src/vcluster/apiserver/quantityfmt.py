"""Canonical Kubernetes quantity strings (resource.Quantity.String) and Go duration strings.

The metrics API reports cpu as `resource.NewScaledQuantity(nanocores, -9)` (DecimalSI: `1500m`,
`12345678n`, `2`) and memory as bytes in BinarySI (`3284Ki`, `1Gi`, `1023`, `1k`), the way
metrics-server builds them; its `window` is a metav1.Duration, printed by Go's Duration.String
(`15s`, `10.5s`, `1m30s`, `500ms`).
"""

from __future__ import annotations

from fractions import Fraction

_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def decimal_si(value: int, scale: int = 0) -> str:
    """`value` * 10^`scale` in canonical DecimalSI form (int64Amount.AsCanonicalBytes)."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    mantissa, exponent = abs(value), scale
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    # the exponent goes down to a multiple of 3 (Go's % keeps the sign of the dividend)
    rem = exponent % 3
    if rem:
        mantissa *= 10**rem
        exponent -= rem
    while exponent > 18:
        mantissa *= 1000
        exponent -= 3
    if exponent < -9:  # finer than nano: Go rounds up to the next nano
        step = 10 ** (-9 - exponent)
        mantissa, exponent = -(-mantissa // step), -9
        return decimal_si(int(sign + str(mantissa)), exponent)
    return f"{sign}{mantissa}{_DECIMAL_SUFFIXES[exponent]}"


def binary_si(value: int) -> str:
    """An integer count of bytes in canonical BinarySI form; below 1024 it is DecimalSI as in Go."""
    if -1024 < value < 1024:
        return decimal_si(value)
    sign = "-" if value < 0 else ""
    n, i = abs(value), 0
    while n % 1024 == 0 and i < len(_BINARY_SUFFIXES) - 1:
        n //= 1024
        i += 1
    return f"{sign}{n}{_BINARY_SUFFIXES[i]}"


def cpu_string(nanocores: int) -> str:
    """CPU usage as metrics-server writes it (nanocores, canonical DecimalSI)."""
    return decimal_si(nanocores, -9)


def memory_string(nbytes: int) -> str:
    """Memory usage as metrics-server writes it (bytes, canonical BinarySI)."""
    return binary_si(nbytes)


def usage_string(resource: str, amount: Fraction | int) -> str:
    """A usage figure of `resource` (cpu in cores, others in base units) as metrics-server prints it."""
    if resource == "cpu":
        return cpu_string(int(Fraction(amount) * 1_000_000_000))
    return memory_string(int(amount))


def go_duration(seconds: float) -> str:
    """time.Duration.String of `seconds`, to the nanosecond: `15s`, `10.5s`, `2m0.5s`, `500ms`, `0s`."""
    ns = round(seconds * 1_000_000_000)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size or unit == "ns":
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _fraction(rest, 1_000_000_000) + "s"


def _fraction(value: int, unit: int) -> str:
    """`value / unit` with the trailing zeros of its decimal fraction dropped."""
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"
