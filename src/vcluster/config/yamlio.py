"""YAML for configuration files: the scalars vCluster's YAML decoder resolves, duplicate keys and alias
bombs rejected, exact errors.

Booleans are go-yaml v2's (what vCluster's CLI and Helm decode values files with, see yamlbools.py):
`true`/`false`, `yes`/`no`, `on`/`off` and `y`/`n` in their listed case forms. Other scalars follow
the YAML 1.2 core schema (so `010` is the integer 10, unlike YAML 1.1's octal).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from .errors import ConfigError, ConfigIssue, join_path
from .yamlbools import BOOL_FIRST_CHARS, BOOL_RE, BOOL_WORDS

_T = "tag:yaml.org,2002:"
_INT_RE = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_MERGE_RE = re.compile(r"^(?:<<)$")

# Expanding aliases may multiply a small document; refuse anything beyond this many nodes.
NODE_BUDGET = 100_000


def _install_core_schema(cls: type[Resolver]) -> None:
    cls.yaml_implicit_resolvers = {}
    cls.add_implicit_resolver(_T + "bool", BOOL_RE, BOOL_FIRST_CHARS)
    cls.add_implicit_resolver(_T + "int", _INT_RE, list("-+0123456789"))
    cls.add_implicit_resolver(_T + "float", _FLOAT_RE, list("-+0123456789."))
    cls.add_implicit_resolver(_T + "null", _NULL_RE, ["~", "n", "N", ""])
    cls.add_implicit_resolver(_T + "merge", _MERGE_RE, ["<"])


class _Loader(yaml.SafeLoader):
    """Composer with the implicit tags above (go-yaml v2 booleans, YAML 1.2 core schema otherwise)."""


class _CoreResolver(Resolver):
    """Stand-alone resolver with the same rules, used to decide which strings need quotes."""


_install_core_schema(_Loader)
_install_core_schema(_CoreResolver)
_CORE = _CoreResolver()


class _Fail(Exception):
    def __init__(self, path: list[Any], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass
class _State:
    count: int = 0
    active: set[int] = field(default_factory=set)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _scalar(node: ScalarNode, path: list[Any]) -> Any:
    tag, text = node.tag, node.value
    if tag == _T + "str":
        return text
    if tag == _T + "null" and _NULL_RE.match(text):
        return None
    if tag == _T + "bool" and text in BOOL_WORDS:
        return BOOL_WORDS[text]
    if tag == _T + "int" and _INT_RE.match(text):
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)
    if tag == _T + "float" and _FLOAT_RE.match(text):
        low = text.lower()
        if low.endswith(".inf"):
            return -math.inf if low.startswith("-") else math.inf
        if low == ".nan":
            return math.nan
        return float(text)
    if tag in (_T + "null", _T + "bool", _T + "int", _T + "float"):
        raise _Fail(path, f"invalid {tag.removeprefix(_T)} value {text!r} (line {_line(node)})")
    shown = "!!" + tag.removeprefix(_T) if tag.startswith(_T) else tag
    raise _Fail(path, f"unsupported YAML tag {shown} (line {_line(node)})")


def _convert(node: Node, path: list[Any], state: _State) -> Any:
    state.count += 1
    if state.count > NODE_BUDGET:
        raise _Fail(path, "document too large (excessive aliasing)")
    if isinstance(node, ScalarNode):
        return _scalar(node, path)
    if id(node) in state.active:
        raise _Fail(path, f"recursive alias (line {_line(node)})")
    state.active.add(id(node))
    try:
        if isinstance(node, SequenceNode):
            return [_convert(child, [*path, i], state) for i, child in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return _mapping(node, path, state)
        raise _Fail(path, f"unsupported YAML node (line {_line(node)})")  # pragma: no cover
    finally:
        state.active.discard(id(node))


def _mapping(node: MappingNode, path: list[Any], state: _State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lines: dict[str, int] = {}
    merges: list[Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == _T + "merge":
            merges.append(value_node)
            continue
        if not isinstance(key_node, ScalarNode):
            raise _Fail(path, f"mapping keys must be scalars (line {_line(key_node)})")
        key = key_node.value
        if key_node.tag == _T + "bool" and key in BOOL_WORDS:  # ghodss/yaml writes a bool key as JSON text
            key = "true" if BOOL_WORDS[key] else "false"
        if key in lines:
            raise _Fail([*path, key], f"duplicate key (lines {lines[key]} and {_line(key_node)})")
        lines[key] = _line(key_node)
        out[key] = _convert(value_node, [*path, key], state)
    for merge in merges:  # `<<: *base` — explicit keys win, earlier merges win over later ones
        sources = merge.value if isinstance(merge, SequenceNode) else [merge]
        for src in sources:
            data = _convert(src, path, state)
            if not isinstance(data, dict):
                message = f"a merge key (<<) needs a mapping or a list of mappings (line {_line(src)})"
                raise _Fail(path, message)
            for k, v in data.items():
                out.setdefault(k, v)
    return out


def _syntax_message(e: yaml.YAMLError, where: str, text: str) -> str:
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        return (
            f"YAML syntax error{where} at line {line}, column {column}: "
            f"unacceptable character #x{e.character:04x}: {e.reason}"
        )
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None)
    context = getattr(e, "context", None)
    if mark is None or problem is None:  # pragma: no cover - every PyYAML error has a mark
        return f"YAML syntax error{where}: {' '.join(str(e).split())}"
    at = f"at line {mark.line + 1}, column {mark.column + 1}"
    if context == "expected a single document in the stream":
        return f"YAML syntax error{where} {at}: expected a single YAML document, found another one"
    msg = f"YAML syntax error{where} {at}: {problem}"
    if context:
        msg += f" ({context})"
    return msg


def parse_yaml(text: str, source: str | None = None) -> Any:
    """One YAML document as plain data (None when empty); ConfigError with line and column on errors."""
    where = f" in {source}" if source else ""
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
    except yaml.YAMLError as e:
        raise ConfigError([ConfigIssue("", _syntax_message(e, where, text))], source) from None
    except RecursionError:
        raise ConfigError([ConfigIssue("", f"YAML document{where} is nested too deeply")], source) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        return None
    try:
        return _convert(node, [], _State())
    except _Fail as f:
        raise ConfigError([ConfigIssue(join_path(f.path), f.message)], source) from None
    except RecursionError:
        raise ConfigError([ConfigIssue("", f"YAML document{where} is nested too deeply")], source) from None


class _Dumper(yaml.SafeDumper):
    """SafeDumper that also quotes strings the loader would read as something else (`1e5`, `0o7`, `y`)."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = '"' if _CORE.resolve(ScalarNode, data, (True, False)) != _T + "str" else None
    return dumper.represent_scalar(_T + "str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: Any) -> str:
    """Block-style YAML keeping key order; every string reads back as the same string."""
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=4096
    )
