"""The Kubernetes base CEL environment (environment/base.go of 1.32) on the C++ runtime: compile
with kube's error texts, evaluate with kube's runtime error wording."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from cel_expr_python import cel
from cel_expr_python.ext import ext_bindings, ext_optional, ext_strings

from . import authz, library, opaque

T = cel.Type
STRINGS_VERSION = 2  # base.go: ext.Strings(ext.StringsVersion(2)) since 1.29


class CompileError(Exception):
    """A CEL expression that does not parse or type-check; ``str()`` is cel-go's issues text."""


@dataclass(frozen=True)
class EvalError(Exception):
    """A runtime error, worded as cel-go's (``no such key: x``, ``division by zero``, ...)."""

    message: str

    def __str__(self) -> str:
        return self.message


def _extensions(bindings: bool) -> list[Any]:
    exts = [
        ext_strings.ExtStrings(STRINGS_VERSION),
        ext_optional.ExtOptional(),
        library.kubernetes_extension(),
    ]
    if bindings:  # not in kube's base env: only for the programs this package wraps (optionalOldSelf)
        exts.append(ext_bindings.ExtBindings())
    return exts


def _variables_key(variables: dict[str, cel.Type]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in variables.items()))


_ENV_CACHE: dict[tuple[tuple[str, str], ...], cel.Env] = {}


def new_env(
    variables: dict[str, cel.Type], optional_vars: dict[str, str] | None = None, *, bindings: bool = False
) -> cel.Env:
    """An environment with the base libraries and ``variables``; ``optional_vars`` declares
    ``optional_type(<type name>)`` variables (only an env config can declare those); ``bindings``
    adds ``cel.bind`` (internal use). Cached."""
    key = (*_variables_key(variables), *sorted((optional_vars or {}).items()), ("", str(bindings)))
    env = _ENV_CACHE.get(key)
    if env is None:
        config = None
        if optional_vars:
            lines = ["variables:"]
            for name, type_name in optional_vars.items():
                lines += [
                    f'  - name: "{name}"',
                    '    type_name: "optional_type"',
                    "    params:",
                    f'      - type_name: "{type_name}"',
                ]
            config = cel.NewEnvConfigFromYaml("\n".join(lines) + "\n")
        env = cel.NewEnv(
            opaque.POOL,
            config=config,
            variables=variables,
            extensions=_extensions(bindings),
            functions=[authz.check_declaration()],
            function_impls=authz.CHECK_IMPLS,
        )
        if len(_ENV_CACHE) > 256:
            _ENV_CACHE.clear()
        _ENV_CACHE[key] = env
    return env


def _clean_status(text: str) -> str:
    """Drops absl's status code prefix/suffix (``INVALID_ARGUMENT: ... [INVALID_ARGUMENT]``)."""
    head, sep, rest = text.partition(": ")
    if sep and head.isupper() and head.replace("_", "").isalpha():
        text = rest
    if text.endswith("]"):
        start = text.rfind(" [")
        if start >= 0 and text[start + 2 : -1].replace("_", "").isupper():
            text = text[:start]
    return text


_UNDEFINED_FIELD = re.compile(r"(undefined field '[^']*') not found in struct '[^']*'")


def compile_expr(env: cel.Env, expr: str) -> cel.Expression:
    """Parses and type-checks ``expr``; raises CompileError with cel-go's issues text."""
    try:
        return env.compile(expr)
    except RuntimeError as e:
        raise CompileError(_UNDEFINED_FIELD.sub(r"\1", _clean_status(str(e)))) from None


def type_name(t: cel.Type) -> str:
    return t.name()


_RUNTIME_WORDING = (
    ("Key not found in map : ", "no such key: "),
    ("No matching overloads found", "no such overload"),
    ("divide by zero", "division by zero"),
    ("modulus by zero", "modulus by zero"),
)


def _runtime_message(text: str) -> str:
    text = _clean_status(text)
    for ours, theirs in _RUNTIME_WORDING:
        if text.startswith(ours):
            rest = text[len(ours) :]
            if theirs == "no such overload":
                return theirs  # cel-go gives no details
            if theirs == "no such key: " and len(rest) >= 2 and rest[0] == rest[-1] == '"':
                rest = rest[1:-1]
            return theirs + rest
    if text.startswith("Index error: index="):
        idx = text[len("Index error: index=") :].split(" ", 1)[0]
        return f"index out of bounds: {idx}"
    return text


@functools.cache
def _error_type() -> cel.Type:
    return T.ERROR


def evaluate(expr: cel.Expression, data: dict[str, Any]) -> Any:
    """The plain value of ``expr`` over ``data``; raises EvalError."""
    try:
        result = expr.eval(data=data)
    except RuntimeError as e:
        raise EvalError(_runtime_message(str(e))) from None
    if result.type() == _error_type():
        raise EvalError(_runtime_message(str(result.value())))
    return result.value()
