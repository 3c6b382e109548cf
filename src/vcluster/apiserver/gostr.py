"""Go's string formatting that kube-apiserver messages carry."""

from __future__ import annotations

_NAMED_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """Go's strconv.Quote (what `%q` prints): printable runes as they are, the rest escaped."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
            continue
        c = ord(ch)
        if 0xD800 <= c <= 0xDFFF:  # a lone surrogate: Go's decoder has made it U+FFFD already
            out.append("\ufffd")
        elif ch.isprintable():  # Unicode L, M, N, P, S and ASCII space: Go's unicode.IsPrint
            out.append(ch)
        elif ch in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[ch])
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\x{c:02x}")
        elif c < 0x10000:
            out.append(f"\\u{c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    out.append('"')
    return "".join(out)


_NAMED_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
