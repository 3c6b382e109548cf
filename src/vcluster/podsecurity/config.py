"""PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1): the defaults for namespaces
without labels and the exempt usernames, runtime classes and namespaces, read from the `PodSecurity`
plugin entry of an AdmissionConfiguration file (kube-apiserver's --admission-control-config-file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vcluster.podsecurity.api import DEFAULT_POLICY, LevelVersion, Policy, parse_level, parse_version

CONFIG_GROUP = "pod-security.admission.config.k8s.io"
CONFIG_VERSIONS = ("v1", "v1beta1", "v1alpha1")


class ConfigError(ValueError):
    """An AdmissionConfiguration or PodSecurityConfiguration kube-apiserver would refuse to start with."""


@dataclass(frozen=True, slots=True)
class PodSecurityConfiguration:
    """The plugin's configuration: default policy and exemptions (none by default, as upstream)."""

    defaults: Policy = DEFAULT_POLICY
    usernames: frozenset[str] = field(default_factory=frozenset)
    runtime_classes: frozenset[str] = field(default_factory=frozenset)
    namespaces: frozenset[str] = field(default_factory=frozenset)


def _strings(doc: Mapping[str, Any], key: str) -> list[str]:
    items = doc.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"exemptions.{key}: must be a list of strings")
    return items


def _exemptions(items: list[str], path: str, check: Any) -> tuple[frozenset[str], list[str]]:
    """Validate one exemption list as upstream's validation (invalid names, duplicates)."""
    errs: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        problems = check(item)
        if problems:
            errs.append(f'{path}[{i}]: Invalid value: "{item}": {", ".join(problems)}')
        elif item in seen:
            errs.append(f'{path}[{i}]: Duplicate value: "{item}"')
        else:
            seen.add(item)
    return frozenset(seen), errs


def parse_pod_security_configuration(doc: Mapping[str, Any]) -> PodSecurityConfiguration:
    """A PodSecurityConfiguration document, defaulted (`privileged`, `latest`) and validated."""
    from vcluster.apiserver.validation import is_dns1123_label, is_dns1123_subdomain

    api_version = str(doc.get("apiVersion") or "")
    group, _, version = api_version.rpartition("/")
    if (
        group != CONFIG_GROUP
        or version not in CONFIG_VERSIONS
        or doc.get("kind") != "PodSecurityConfiguration"
    ):
        raise ConfigError(
            f"PodSecurity configuration: want kind PodSecurityConfiguration of {CONFIG_GROUP}/v1, "
            f"got {doc.get('kind')!r} of {api_version!r}"
        )
    defaults = doc.get("defaults") or {}
    exemptions = doc.get("exemptions") or {}
    if not isinstance(defaults, Mapping) or not isinstance(exemptions, Mapping):
        raise ConfigError("PodSecurity configuration: defaults and exemptions must be objects")
    errs: list[str] = []
    modes: list[LevelVersion] = []
    for mode in ("enforce", "audit", "warn"):
        raw_level = str(defaults.get(mode) or "privileged")
        raw_version = str(defaults.get(f"{mode}-version") or "latest")
        level, err = parse_level(raw_level)
        if err:
            errs.append(f'defaults.{mode}: Invalid value: "{raw_level}": {err}')
        ver, err = parse_version(raw_version)
        if err:
            errs.append(f'defaults.{mode}-version: Invalid value: "{raw_version}": {err}')
        modes.append(LevelVersion(level, ver))
    namespaces, e1 = _exemptions(
        _strings(exemptions, "namespaces"), "exemptions.namespaces", is_dns1123_label
    )
    classes, e2 = _exemptions(
        _strings(exemptions, "runtimeClasses"), "exemptions.runtimeClasses", is_dns1123_subdomain
    )
    users, e3 = _exemptions(
        _strings(exemptions, "usernames"),
        "exemptions.usernames",
        lambda u: ["username must not be empty"] if u == "" else [],
    )
    errs += e1 + e2 + e3
    if errs:
        raise ConfigError("invalid PodSecurity configuration: " + "; ".join(errs))
    return PodSecurityConfiguration(Policy(*modes), users, classes, namespaces)


def load_admission_config(path: Path) -> PodSecurityConfiguration:
    """The PodSecurity configuration of an AdmissionConfiguration file (inline `configuration` or a
    `path` relative to the file); the defaults when the file names no PodSecurity plugin."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"reading admission configuration {path}: {e}") from e
    if not isinstance(doc, Mapping) or doc.get("kind") != "AdmissionConfiguration":
        raise ConfigError(f"{path}: want an AdmissionConfiguration (apiserver.config.k8s.io/v1)")
    for plugin in doc.get("plugins") or []:
        if not isinstance(plugin, Mapping) or plugin.get("name") != "PodSecurity":
            continue
        conf = plugin.get("configuration")
        if conf is None and plugin.get("path"):
            where = path.parent / str(plugin["path"])
            try:
                conf = yaml.safe_load(where.read_text())
            except (OSError, yaml.YAMLError) as e:
                raise ConfigError(f"reading PodSecurity configuration {where}: {e}") from e
        if not isinstance(conf, Mapping):
            raise ConfigError(f"{path}: the PodSecurity plugin has no configuration")
        return parse_pod_security_configuration(conf)
    return PodSecurityConfiguration()
