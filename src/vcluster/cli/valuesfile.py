"""Loading a values file (`-f vcluster.yaml`) with errors that name the key path and its line."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from vcluster.cli.ui import CliError
from vcluster.config import ConfigError, VClusterConfig, load_config

_TOKEN = re.compile(r'\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def split_path(path: str) -> list[str | int]:
    """`sync.toHost.pods` → ['sync', 'toHost', 'pods']; `a[0]` → ['a', 0]; `a["b.c"]` → ['a', 'b.c']."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            break
        if m.group(1) is not None:
            parts.append(m.group(1))
        elif m.group(2) is not None:
            parts.append(int(m.group(2)))
        else:
            parts.append(m.group(3).replace('\\"', '"').replace("\\\\", "\\"))
        pos = m.end()
    return parts


def key_line(text: str, path: str) -> int | None:
    """The 1-based line of `path` in the YAML `text` (of its deepest existing part), or None."""
    try:
        node: Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = None
    for part in split_path(path):
        nxt: Node | None = None
        if isinstance(node, MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if getattr(k, "value", None) == part:
                    line = k.start_mark.line + 1
                    nxt = v
                    break
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            if line is None:
                line = node.start_mark.line + 1
            break
        node = nxt
    return line


def describe_error(e: ConfigError, text: str | None, shown: str) -> str:
    """All issues of `e` on one line, each with its line number when it can be found."""
    parts = []
    for issue in e.issues:
        if issue.path and text is not None:
            ln = key_line(text, issue.path)
            where = f"line {ln}: " if ln else ""
            parts.append(f"{where}{issue.path}: {issue.message}")
        else:
            parts.append(issue.message)
    return f"values file {shown} is invalid: " + "; ".join(parts)


def load_values(path: Path | None) -> tuple[VClusterConfig, str | None]:
    """The validated configuration and the file's text (None without a file); CliError otherwise."""
    if path is None:
        return load_config(None), None
    shown = str(path)
    if not path.exists():
        raise CliError(f"values file {shown} not found; check the path given with -f")
    try:
        text: str | None = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = None
    try:
        cfg = load_config(path)
    except ConfigError as e:
        raise CliError(describe_error(e, text, shown) + "; fix it and run the command again") from None
    return cfg, text


def _source_of(path: str, sources: list[tuple[str, str | None, Any]]) -> str:
    """`FILE line N: ` / `--set ARG: ` for the last source that sets `path` (helm's later-wins order)."""
    parts = split_path(path)
    for shown, text, data in reversed(sources):
        node = data
        for part in parts:
            in_map = isinstance(node, dict) and isinstance(part, str) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if in_map or in_list:
                node = node[part]
            else:
                node = _MISSING
                break
        if node is _MISSING:
            continue
        if text is None:
            return f"{shown}: "
        ln = key_line(text, path)
        return f"{shown} line {ln}: " if ln else f"{shown}: "
    return ""


_MISSING = object()


def decode_base64_values(arg: str) -> str | None:
    """The text of a `-f` argument given as base64 (vCluster's create: Go's base64.StdEncoding, which
    skips line breaks and needs the padding), None when it is not base64 or not UTF-8 text."""
    compact = arg.replace("\r", "").replace("\n", "")
    if not compact or len(compact) % 4:
        return None
    try:
        raw = base64.b64decode(compact, validate=True)
        return raw.decode("utf-8-sig")
    except (binascii.Error, ValueError):
        return None


def read_values_arg(arg: str | Path, index: int) -> tuple[str, str | None, Path | None]:
    """A `-f` argument as (name shown in errors, base64-decoded text or None, file path or None).
    An existing file is read as a file; otherwise a base64 string is its decoded text, as vCluster's
    create writes it to a temporary values file; anything else must be a file."""
    path = Path(arg)
    if isinstance(arg, str) and not path.is_file():
        text = decode_base64_values(arg)
        if text is not None:
            return f"<base64 -f #{index}>", text, None
    if not path.exists():
        raise CliError(f"values file {arg} not found; check the path given with -f")
    if path.is_dir():
        raise CliError(f"values file {arg} is a directory; give a vcluster.yaml file with -f")
    return str(path), None, path


def load_values_merged(paths: Sequence[str | Path], sets: list[str]) -> tuple[VClusterConfig, str | None]:
    """`-f` files (or base64 YAML, as vCluster's create takes) merged in order with `--set` arguments
    on top (as helm merges them for vCluster's chart); the validated configuration and the YAML to keep
    (the given text for one -f and no --set; None with neither). CliError naming the file (or base64
    value) and line, or the --set argument."""
    args = [read_values_arg(a, i) for i, a in enumerate(paths, start=1)]
    if not sets and len(args) == 1 and args[0][2] is not None:
        return load_values(args[0][2])
    if not sets and not args:
        return load_values(None)
    from vcluster.cli.setvalues import SetValueError, merge_maps, parse_set_into
    from vcluster.config.loader import validate_data
    from vcluster.config.yamlio import dump_yaml, parse_yaml

    merged: dict[str, Any] = {}
    sources: list[tuple[str, str | None, Any]] = []
    for shown, decoded, path in args:
        try:
            text = decoded if path is None else path.read_text(encoding="utf-8-sig")
            data = parse_yaml(text, shown)
        except (OSError, UnicodeDecodeError) as e:
            raise CliError(f"cannot read values file {shown}: {getattr(e, 'strerror', None) or e}") from None
        except ConfigError as e:
            raise CliError(describe_error(e, None, shown) + "; fix it and run the command again") from None
        if data is None:
            continue
        if not isinstance(data, dict):
            raise CliError(f"values file {shown} is invalid: expected a mapping at the top level")
        merged = merge_maps(merged, data)
        sources.append((shown, text, data))
    for arg in sets:
        one: dict[str, Any] = {}
        try:
            parse_set_into(arg, one)
            parse_set_into(arg, merged)
        except SetValueError as e:
            raise CliError(f"failed parsing --set data {arg!r}: {e}") from None
        sources.append((f"--set {arg}", None, one))
    try:
        cfg = validate_data(merged)
    except ConfigError as e:
        problems = "; ".join(
            f"{_source_of(i.path, sources) if i.path else ''}{i.path + ': ' if i.path else ''}{i.message}"
            for i in e.issues
        )
        raise CliError(f"the values are invalid: {problems}; fix them and run the command again") from None
    if not sets and len(args) == 1:
        return cfg, args[0][1]
    return cfg, dump_yaml(merged)
