"""Loading a values file (`-f vcluster.yaml`) with errors that name the key path and its line."""

from __future__ import annotations

import re
from pathlib import Path

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
