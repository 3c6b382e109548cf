"""Load, validate and dump configurations; the host ConfigMap `<NAME>-config` that holds the effective one."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ._types import show
from .errors import ConfigError, ConfigIssue, issues_from_validation
from .models import VClusterConfig, default_values
from .validation import check_config
from .yamlio import dump_yaml, parse_yaml

CONFIG_MAP_KEY = "config.yaml"

Source = str | bytes | os.PathLike[str] | Mapping[str, Any] | VClusterConfig | None


def config_map_name(name: str) -> str:
    """The host ConfigMap holding the effective configuration of virtual cluster `name`."""
    return f"{name}-config"


def _read_file(path: os.PathLike[str]) -> str:
    shown = os.fspath(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(f'config file "{shown}" not found', shown) from None
    except IsADirectoryError:
        raise ConfigError(f'config file "{shown}" is a directory', shown) from None
    except OSError as e:
        raise ConfigError(f'cannot read config file "{shown}": {e.strerror or e}', shown) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f'config file "{shown}" is not valid UTF-8 (byte {e.start})', shown) from None


def validate_data(data: Any, source: str | None = None) -> VClusterConfig:
    """Plain vcluster.yaml data → VClusterConfig; ConfigError listing every problem."""
    if not isinstance(data, Mapping):
        where = f" in {source}" if source else ""
        raise ConfigError(
            [ConfigIssue("", f"expected a mapping at the top level{where}, got " + show(data))], source
        )
    try:
        cfg = VClusterConfig.model_validate(dict(data))
    except ValidationError as e:
        raise ConfigError(issues_from_validation(e), source) from None
    except (RecursionError, ValueError, TypeError) as e:  # pathological inputs pydantic cannot even walk
        raise ConfigError([ConfigIssue("", f"invalid configuration: {e}")], source) from None
    issues = check_config(cfg)
    if issues:
        raise ConfigError(issues, source)
    return cfg


def load_config(source: Source = None) -> VClusterConfig:
    """The validated configuration from YAML text (str/bytes), a file (os.PathLike), plain data
    (a Mapping) or None (all defaults). Raises ConfigError naming the key path of every problem.

    Note that a `str` is YAML text, never a file name: pass `pathlib.Path(name)` for a file.
    """
    if source is None:
        return VClusterConfig()
    if isinstance(source, VClusterConfig):
        return validate_data(source.model_dump(by_alias=True))
    if isinstance(source, Mapping):
        return validate_data(source)
    name: str | None = None
    if isinstance(source, os.PathLike):
        name = os.fspath(source)
        text = _read_file(source)
    elif isinstance(source, bytes):
        try:
            text = source.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ConfigError(f"configuration is not valid UTF-8 (byte {e.start})") from None
    elif isinstance(source, str):
        text = source
    else:
        raise TypeError(f"cannot load a configuration from {type(source).__name__}")
    data = parse_yaml(text, name)
    if data is None:
        what = f'config file "{name}"' if name else "configuration"
        raise ConfigError(f"{what} is empty (write {{}} to use all defaults)", name)
    return validate_data(data, name)


def _drop_empty_pro_keys(data: Any) -> Any:
    """Leave out `patches: []` and `customResources: {}` ([Pro] keys at their defaults) from dumps."""
    if isinstance(data, dict):
        return {
            k: _drop_empty_pro_keys(v)
            for k, v in data.items()
            if not ((k == "patches" and v == []) or (k == "customResources" and v == {}))
        }
    if isinstance(data, list):
        return [_drop_empty_pro_keys(v) for v in data]
    return data


def config_values(cfg: VClusterConfig) -> dict[str, Any]:
    """The effective configuration as vcluster.yaml data (camelCase keys, defaults filled; a
    default map entry the configuration deleted is written as `null`, so loading it back deletes it
    again)."""
    values = cfg.model_dump(by_alias=True)
    _mark_deleted(default_values(), values)
    return _drop_empty_pro_keys(values)


def _mark_deleted(defaults: Any, values: Any) -> None:
    if not isinstance(defaults, dict) or not isinstance(values, dict):
        return
    for key, default in defaults.items():
        if key not in values:
            values[key] = None
        else:
            _mark_deleted(default, values[key])


def dump_config(cfg: VClusterConfig) -> str:
    """YAML of the effective configuration with defaults filled, keys in spec order; load_config reads
    it back to an equal configuration."""
    return dump_yaml(config_values(cfg))


def effective_config_map(cfg: VClusterConfig, name: str, namespace: str) -> dict[str, Any]:
    """The host ConfigMap `<name>-config` in `namespace` with the effective config under `config.yaml`."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(name),
            "namespace": namespace,
            "labels": {"app": "vcluster", "release": name},
        },
        "data": {CONFIG_MAP_KEY: dump_config(cfg)},
    }


def config_from_config_map(config_map: Mapping[str, Any]) -> VClusterConfig:
    """The configuration stored in a (possibly user-edited) `<name>-config` ConfigMap."""
    meta = config_map.get("metadata") or {}
    where = f"ConfigMap {meta.get('namespace', '')}/{meta.get('name', '')}"
    data = config_map.get("data") or {}
    text = data.get(CONFIG_MAP_KEY) if isinstance(data, Mapping) else None
    if not isinstance(text, str):
        raise ConfigError(f'{where} has no key "{CONFIG_MAP_KEY}"', where)
    parsed = parse_yaml(text, where)
    if parsed is None:
        raise ConfigError(f'{where} key "{CONFIG_MAP_KEY}" is empty (write {{}} to use all defaults)', where)
    return validate_data(parsed, where)
