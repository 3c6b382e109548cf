"""Helm's `--set` syntax (helm.sh/helm/v3/pkg/strvals) and its values merge, as `vcluster create`
passes `-f`/`--set` to `helm upgrade --install`: files merged in order, then each `--set` on top."""

from __future__ import annotations

import re
from typing import Any

MAX_INDEX = 65536  # strvals.MaxIndex
MAX_NESTED_NAME_LEVEL = 30  # strvals.MaxNestedNameLevel
_INT = re.compile(r"[+-]?[0-9]+")  # what strconv.ParseInt / Atoi accept in base 10


class SetValueError(ValueError):
    """A `--set` line strvals refuses; the message is helm's."""


class _Scanner:
    """A rune reader over one `--set` argument (bytes.Buffer in strvals)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def read(self) -> str | None:
        if self.pos >= len(self.text):
            return None
        ch = self.text[self.pos]
        self.pos += 1
        return ch

    def unread(self) -> None:
        self.pos -= 1

    def until(self, stop: str) -> tuple[str, str | None]:
        """runesUntil: the runes before one of `stop` (backslash escapes the next rune) and that rune
        (None at the end of the text)."""
        out: list[str] = []
        while True:
            ch = self.read()
            if ch is None:
                return "".join(out), None
            if ch in stop:
                return "".join(out), ch
            if ch == "\\":
                nxt = self.read()
                if nxt is None:
                    return "".join(out), None
                out.append(nxt)
            else:
                out.append(ch)


def typed_value(val: str) -> Any:
    """strvals.typedVal: true/false/null (any case), an integer not starting with 0, else the string."""
    low = val.lower()
    if low == "true":
        return True
    if low == "false":
        return False
    if low == "null":
        return None
    if val == "0":
        return 0
    if val and val[0] != "0" and _INT.fullmatch(val):
        n = int(val, 10)
        if -(2**63) <= n < 2**63:  # strconv.ParseInt(val, 10, 64)
            return n
    return val


class _EOF(Exception):
    """The end of the argument (io.EOF in strvals): not an error after a complete key."""


class _NotList(Exception):
    """The value does not start with `{` (strvals.ErrNotList)."""


def _map_at(data: dict[str, Any], key: str) -> dict[str, Any]:
    cur = data.get(key, {})
    if not isinstance(cur, dict):
        raise SetValueError(f"unable to parse key: key {key!r} holds a {type(cur).__name__}, not a map")
    return cur


def _list_at(data: dict[str, Any], key: str) -> list[Any]:
    cur = data.get(key, [])
    if not isinstance(cur, list):
        raise SetValueError(f"unable to parse key: key {key!r} holds a {type(cur).__name__}, not a list")
    return cur


def _set(data: dict[str, Any], key: str, val: Any) -> None:
    if key:
        data[key] = val


def _set_index(lst: list[Any], index: int, val: Any) -> list[Any]:
    if index < 0:
        raise SetValueError(f"negative {index} index not allowed")
    if index > MAX_INDEX:
        raise SetValueError(f"index of {index} is greater than maximum supported index of {MAX_INDEX}")
    if len(lst) <= index:
        lst = lst + [None] * (index + 1 - len(lst))
    lst[index] = val
    return lst


class _Parser:
    def __init__(self, text: str, data: dict[str, Any]) -> None:
        self.sc = _Scanner(text)
        self.data = data

    def parse(self) -> None:
        while True:
            try:
                self.key(self.data, 0)
            except _EOF:
                return

    def key(self, data: dict[str, Any], level: int) -> None:
        k, last = self.sc.until("=[,.")
        if last is None:
            if not k:
                raise _EOF
            raise SetValueError(f'key "{k}" has no value')
        if last == "[":
            index = self.key_index()
            lst = self.list_item(_list_at(data, k), index, level)
            _set(data, k, lst)
            return
        if last == "=":
            try:
                _set(data, k, self.val_list())
                return
            except _EOF:
                _set(data, k, "")
                raise
            except _NotList:
                rs, end = self.sc.until(",")
                _set(data, k, typed_value(rs))
                if end is None:
                    raise _EOF from None
                return
        if last == ",":
            _set(data, k, "")
            raise SetValueError(f'key "{k}" has no value (cannot end with ,)')
        level += 1  # last == "."
        if level > MAX_NESTED_NAME_LEVEL:
            raise SetValueError(
                "value name nested level is greater than maximum supported nested level of "
                f"{MAX_NESTED_NAME_LEVEL}"
            )
        inner = _map_at(data, k)
        try:
            self.key(inner, level)
        except _EOF:
            if inner:
                _set(data, k, inner)
            raise
        if not inner:
            raise SetValueError(f'key map "{k}" has no value')
        _set(data, k, inner)

    def key_index(self) -> int:
        v, last = self.sc.until("]")
        if last is None:
            raise SetValueError("error parsing index: unexpected end of the line after '['")
        if not _INT.fullmatch(v):
            raise SetValueError(f'error parsing index: strconv.Atoi: parsing "{v}": invalid syntax')
        return int(v, 10)

    def list_item(self, lst: list[Any], i: int, level: int) -> list[Any]:
        if i < 0:
            raise SetValueError(f"negative {i} index not allowed")
        k, last = self.sc.until("[.=")
        if k:
            raise SetValueError(f'unexpected data at end of array index: "{k}"')
        if last is None:
            raise _EOF
        if last == "=":
            try:
                return _set_index(lst, i, self.val_list())
            except _EOF:
                return _set_index(lst, i, "")
            except _NotList:
                rs, _ = self.sc.until(",")
                return _set_index(lst, i, typed_value(rs))
        if last == "[":
            nxt = self.key_index()
            cur = lst[i] if len(lst) > i and lst[i] is not None else []
            if not isinstance(cur, list):
                raise SetValueError(
                    f"unable to parse key: index {i} holds a {type(cur).__name__}, not a list"
                )
            return _set_index(lst, i, self.list_item(cur, nxt, level))
        inner: dict[str, Any] = {}  # last == "."
        if len(lst) > i:
            if not isinstance(lst[i], dict):
                lst[i] = {}
            inner = lst[i]
        self.key(inner, level)
        return _set_index(lst, i, inner)

    def val_list(self) -> list[Any]:
        ch = self.sc.read()
        if ch is None:
            raise _EOF
        if ch != "{":
            self.sc.unread()
            raise _NotList
        out: list[Any] = []
        while True:
            rs, last = self.sc.until(",}")
            if last is None:
                raise SetValueError("list must terminate with '}'")
            out.append(typed_value(rs))
            if last == "}":
                nxt = self.sc.read()
                if nxt is not None and nxt != ",":
                    self.sc.unread()
                return out


def parse_set_into(line: str, dest: dict[str, Any]) -> None:
    """strvals.ParseInto: merge one `--set` argument (`a.b=1,c[0]=x,d={x,y}`) into `dest`."""
    try:
        _Parser(line, dest).parse()
    except RecursionError:
        raise SetValueError("value is nested too deeply") from None


def merge_maps(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """helm's values.mergeMaps: `b` over `a`, maps merged key by key, anything else replaced."""
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_maps(out[k], v)
        else:
            out[k] = v
    return out
