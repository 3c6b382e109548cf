"""kube-apiserver's front-proxy flags (--requestheader-*, --proxy-client-*) for `vcluster apiserver`,
with kubeadm's values as defaults and the data dir's pki/front-proxy-* files when no file is given."""

from __future__ import annotations

import csv
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from vcluster.apiserver.requestheader import (
    DEFAULT_ALLOWED_NAMES,
    DEFAULT_EXTRA_PREFIXES,
    DEFAULT_GROUP_HEADERS,
    DEFAULT_USERNAME_HEADERS,
    RequestHeaderOptions,
    parse_ca_bundle,
)

_META = "requestheader"


def _string_slice(values: tuple[str, ...]) -> tuple[str, ...]:
    """pflag's StringSlice: each occurrence is CSV, occurrences append; "" is the empty list."""
    out: list[str] = []
    for v in values:
        if v:
            out.extend(next(csv.reader([v])))
    return tuple(out)


def _keep(key: str, convert: Callable[[Any], Any]) -> Callable[[click.Context, click.Parameter, Any], None]:
    def keep(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value == ():
            return
        try:
            ctx.meta.setdefault(_META, {})[key] = convert(value)
        except ValueError as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from None

    return keep


def _ca_bundle(path: Path) -> Path:
    parse_ca_bundle(path.read_bytes(), str(path))
    return path.resolve()


def _list_flag(flag: str, key: str, default: tuple[str, ...], what: str) -> Any:
    return click.option(
        flag,
        multiple=True,
        expose_value=False,
        callback=_keep(key, _string_slice),
        help=f"{what} (comma-separated) [default: {','.join(default)}].",
    )


def _file_flag(flag: str, key: str, what: str, convert: Callable[[Path], Path] = Path.resolve) -> Any:
    return click.option(
        flag,
        default=None,
        expose_value=False,
        callback=_keep(key, convert),
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help=what,
    )


def requestheader_options(fn: Any) -> Any:
    """The front-proxy flags; `requestheader_from_context()` gives their RequestHeaderOptions."""
    for deco in reversed(
        (
            _file_flag(
                "--requestheader-client-ca-file",
                "client_ca_file",
                "CA bundle that verifies the front proxy's client certificate before its X-Remote-* headers "
                "are trusted [default: DATA_DIR/pki/front-proxy-ca.crt].",
                _ca_bundle,
            ),
            _list_flag(
                "--requestheader-allowed-names",
                "allowed_names",
                DEFAULT_ALLOWED_NAMES,
                "Common names the front proxy's client certificate may have; '' allows any",
            ),
            _list_flag(
                "--requestheader-username-headers",
                "username_headers",
                DEFAULT_USERNAME_HEADERS,
                "Headers naming the user (the first non-empty one wins)",
            ),
            _list_flag(
                "--requestheader-group-headers",
                "group_headers",
                DEFAULT_GROUP_HEADERS,
                "Headers naming groups",
            ),
            _list_flag(
                "--requestheader-extra-headers-prefix",
                "extra_headers_prefix",
                DEFAULT_EXTRA_PREFIXES,
                "Header prefixes of the user's extra",
            ),
            _file_flag(
                "--proxy-client-cert-file",
                "proxy_client_cert_file",
                "Client certificate the aggregator presents to aggregated API servers "
                "[default: DATA_DIR/pki/front-proxy-client.crt].",
            ),
            _file_flag(
                "--proxy-client-key-file",
                "proxy_client_key_file",
                "Key of --proxy-client-cert-file [default: DATA_DIR/pki/front-proxy-client.key].",
            ),
        )
    ):
        fn = deco(fn)
    return fn


def requestheader_from_context() -> RequestHeaderOptions:
    """The front-proxy flags of the current command (UsageError for a bad combination)."""
    given = dict(click.get_current_context().meta.get(_META, {}))
    try:
        opts = RequestHeaderOptions(**given)
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    if opts.proxy_client_cert_file is not None and opts.proxy_client_key_file is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            ctx.load_cert_chain(str(opts.proxy_client_cert_file), str(opts.proxy_client_key_file))
        except (ssl.SSLError, OSError) as e:
            raise click.UsageError(f"--proxy-client-cert-file/--proxy-client-key-file: {e}") from None
    return opts
