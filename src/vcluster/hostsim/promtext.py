"""The Prometheus text exposition format (0.0.4) as client_golang's expfmt writes it, with
component-base's stability prefix in HELP: families sorted by name, samples by label values, label
names sorted, floats as Go's strconv 'g' shortest form (`1.234567e+06`), optional millisecond
timestamps."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def go_float(v: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64), with expfmt's spellings of the special values."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    sign, digit_tuple, exp = Decimal(repr(float(v))).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    dp = len(digits) + exp  # digits before the decimal point
    neg = "-" if sign else ""
    x = dp - 1
    if x < -4 or x >= 6:  # %e: shortest digits, a two-digit exponent at least
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{neg}{digits}{'0' * (dp - len(digits))}"
    return f"{neg}{digits[:dp]}.{digits[dp:]}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


@dataclass
class Family:
    """One metric family: name, help (with its stability level, "" for none), type and samples."""

    name: str
    help: str
    type: str  # counter | gauge
    stability: str = "ALPHA"  # ALPHA | STABLE | "" (collectors outside component-base)
    samples: list[tuple[dict[str, str], float, float | None]] = field(default_factory=list)

    def add(self, value: float, labels: dict[str, str] | None = None, timestamp: float | None = None) -> None:
        """A sample; `timestamp` in epoch seconds (written as milliseconds)."""
        self.samples.append((labels or {}, value, timestamp))

    def render(self) -> str:
        if not self.samples:
            return ""  # expfmt writes no family without metrics
        prefix = f"[{self.stability}] " if self.stability else ""
        out = [f"# HELP {self.name} {prefix}{_escape_help(self.help)}", f"# TYPE {self.name} {self.type}"]
        for labels, value, ts in sorted(self.samples, key=lambda s: [s[0][k] for k in sorted(s[0])]):
            text = ",".join(f'{k}="{_escape_value(labels[k])}"' for k in sorted(labels))
            line = f"{self.name}{{{text}}} {go_float(value)}" if labels else f"{self.name} {go_float(value)}"
            if ts is not None:
                line += f" {int(ts * 1000)}"
            out.append(line)
        return "\n".join(out) + "\n"


def render(families: list[Family]) -> str:
    """A registry's exposition: the families sorted by name."""
    return "".join(f.render() for f in sorted(families, key=lambda f: f.name))
