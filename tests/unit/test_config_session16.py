"""vcluster.yaml booleans as vCluster reads them (go-yaml v2: yes/no, on/off, y/n), nothing more."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcluster.cli.ui import CliError
from vcluster.cli.valuesfile import load_values
from vcluster.config import ConfigError, dump_config, load_config

# gopkg.in/yaml.v2 resolve.go's table, written out here so the test does not read the code under test
TRUE_WORDS = ["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"]
FALSE_WORDS = ["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"]
# plain scalars go-yaml v2 does not resolve to booleans: they stay strings (or numbers) and are refused
NOT_BOOLEANS = ["t", "f", "T", "F", "yES", "oN", "nO", "tRUE", "fALSE", "oFF", "enable", "yess", "ok"]


def errors_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(text)
    return str(info.value)


@pytest.mark.parametrize("word", TRUE_WORDS + FALSE_WORDS)
def test_go_yaml_v2_booleans_are_accepted(word: str) -> None:
    expected = word in TRUE_WORDS
    cfg = load_config(
        f"sync:\n  toHost:\n    ingresses: {{enabled: {word}}}\n    pods: {{enabled: {word}}}\n"
    )
    assert cfg.sync.to_host.ingresses.enabled is expected
    assert cfg.sync.to_host.pods.enabled is expected
    # an enabled: true|false|auto switch takes them too
    auto = load_config(f"sync: {{fromHost: {{csiDrivers: {{enabled: {word}}}}}}}").sync.from_host
    assert auto.model_dump(by_alias=True)["csiDrivers"]["enabled"] is expected


@pytest.mark.parametrize("word", NOT_BOOLEANS)
def test_other_spellings_are_refused(word: str) -> None:
    assert errors_of(f"sync: {{toHost: {{ingresses: {{enabled: {word}}}}}}}") == (
        f'sync.toHost.ingresses.enabled: expected a boolean, got "{word}"'
    )


@pytest.mark.parametrize("text", ["1", "0", "-1", "1.0"])
def test_numbers_are_not_booleans(text: str) -> None:
    assert errors_of(f"sync: {{toHost: {{ingresses: {{enabled: {text}}}}}}}").startswith(
        "sync.toHost.ingresses.enabled: expected a boolean, got "
    )


@pytest.mark.parametrize("word", ["yes", "true", "off", "Y"])
def test_quoted_boolean_words_are_strings_and_refused_with_a_hint(word: str) -> None:
    for quoted in (f'"{word}"', f"'{word}'"):
        assert errors_of(f"sync: {{toHost: {{ingresses: {{enabled: {quoted}}}}}}}") == (
            f'sync.toHost.ingresses.enabled: expected a boolean, got the string "{word}" '
            "(write it without quotes)"
        )


def test_explicit_bool_tag() -> None:
    assert load_config("sync: {toHost: {ingresses: {enabled: !!bool yes}}}").sync_enabled("ingresses")
    assert errors_of("sync: {toHost: {ingresses: {enabled: !!bool maybe}}}") == (
        "sync.toHost.ingresses.enabled: invalid bool value 'maybe' (line 1)"
    )


def test_boolean_words_in_string_fields() -> None:
    # quoted: the string itself
    cfg = load_config("sync: {fromHost: {nodes: {selector: {labels: {pool: 'on', gpu: \"n\"}}}}}")
    assert cfg.sync.from_host.nodes.selector.labels == {"pool": "on", "gpu": "n"}
    # unquoted: a boolean, refused by a string field with the way out
    assert errors_of("sync: {fromHost: {nodes: {selector: {labels: {pool: on}}}}}") == (
        "sync.fromHost.nodes.selector.labels.pool: expected a string, got true "
        "(quote true/false, yes/no, on/off, y/n to keep them as strings)"
    )
    # words go-yaml v2 leaves alone stay strings
    cfg = load_config("sync: {fromHost: {nodes: {selector: {labels: {a: yES, b: t, c: off-by-one}}}}}")
    assert cfg.sync.from_host.nodes.selector.labels == {"a": "yES", "b": "t", "c": "off-by-one"}


def test_boolean_keys_become_their_json_text() -> None:
    """ghodss/yaml turns a boolean map key into "true"/"false"; a quoted key stays as written."""
    cfg = load_config("sync: {fromHost: {nodes: {selector: {labels: {y: a, Off: b, 'on': c}}}}}")
    assert cfg.sync.from_host.nodes.selector.labels == {"true": "a", "false": "b", "on": "c"}
    assert errors_of("sync: {fromHost: {nodes: {selector: {labels: {yes: a, true: b}}}}}") == (
        "sync.fromHost.nodes.selector.labels.true: duplicate key (lines 1 and 1)"
    )


def test_strings_that_read_as_booleans_round_trip_quoted() -> None:
    words = {w: w for w in TRUE_WORDS + FALSE_WORDS + NOT_BOOLEANS}
    cfg = load_config({"sync": {"toHost": {"pods": {"translateImage": words}}}})
    text = dump_config(cfg)
    for w in TRUE_WORDS + FALSE_WORDS:
        assert f'"{w}": "{w}"' in text
    again = load_config(text)
    assert again == cfg and again.sync.to_host.pods.translate_image == words


def test_values_file_with_yes_is_accepted_by_the_cli_loader(tmp_path: Path) -> None:
    """The brief's reproduction (`vcluster create -f v.yaml`) goes through load_values."""
    values = tmp_path / "v.yaml"
    values.write_text("sync:\n  toHost:\n    ingresses: {enabled: yes}\n    secrets: {all: on}\n")
    cfg, _ = load_values(values)
    assert cfg.sync_enabled("ingresses") and cfg.sync.to_host.secrets.all is True
    values.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: 'yes'\n")
    with pytest.raises(CliError) as info:
        load_values(values)
    assert 'line 4: sync.toHost.ingresses.enabled: expected a boolean, got the string "yes"' in str(
        info.value.format_message()
    )
