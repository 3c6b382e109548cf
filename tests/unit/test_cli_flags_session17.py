"""Session 17: helm's `--set` syntax and values merge for `vcluster create`, and vCluster's flags that
cannot apply here failing by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vcluster.cli.main import main
from vcluster.cli.setvalues import SetValueError, merge_maps, parse_set_into, typed_value
from vcluster.cli.ui import CliError, go_duration
from vcluster.cli.valuesfile import load_values_merged


def parsed(*lines: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in lines:
        parse_set_into(line, out)
    return out


def test_set_builds_maps_lists_and_types_as_strvals() -> None:
    assert parsed("a.b=1,c=true,d=FALSE,e=null,f=007,g=1.5,h=-3,i=") == {
        "a": {"b": 1},
        "c": True,
        "d": False,
        "e": None,
        "f": "007",
        "g": "1.5",
        "h": -3,
        "i": "",
    }
    assert parsed("x[0].y=z,x[1]=2") == {"x": [{"y": "z"}, 2]}
    assert parsed("l={a,0,true}") == {"l": ["a", 0, True]}
    assert parsed(r"k\.x=1,v=a\,b") == {"k.x": 1, "v": "a,b"}
    assert parsed("q.r[2]=x") == {"q": {"r": [None, None, "x"]}}
    assert parsed("a.b=1", "a.c=2", "a.b=3") == {"a": {"b": 3, "c": 2}}
    assert typed_value("99999999999999999999") == "99999999999999999999"  # past int64: a string


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.b", 'key "b" has no value'),
        ("a", 'key "a" has no value'),
        ("a,b=1", 'key "a" has no value (cannot end with ,)'),
        ("l={a,b", "list must terminate with '}'"),
        ("x[a]=1", 'strconv.Atoi: parsing "a"'),
        ("x[-1]=1", "negative -1 index not allowed"),
        ("x[70000]=1", "greater than maximum supported index of 65536"),
        ("x[0]y=1", 'unexpected data at end of array index: "y"'),
    ],
)
def test_set_errors_are_helms(line: str, message: str) -> None:
    with pytest.raises(SetValueError) as e:
        parsed(line)
    assert message in str(e.value)


def test_set_into_a_scalar_is_an_error_not_a_crash() -> None:
    with pytest.raises(SetValueError, match="not a map"):
        parsed("a=1", "a.b=2")
    with pytest.raises(SetValueError, match="not a list"):
        parsed("a=1", "a[0]=2")


def test_merge_maps_merges_maps_and_replaces_the_rest() -> None:
    a = {"s": {"t": {"x": 1, "y": [1]}, "u": 1}}
    b = {"s": {"t": {"y": [2], "z": None}, "u": {"v": 1}}}
    assert merge_maps(a, b) == {"s": {"t": {"x": 1, "y": [2], "z": None}, "u": {"v": 1}}}
    assert a == {"s": {"t": {"x": 1, "y": [1]}, "u": 1}}


def test_files_then_set_in_order(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: true\n    secrets:\n      all: true\n")
    b = tmp_path / "b.yaml"
    b.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: false\n")
    cfg, text = load_values_merged([a, b], ["sync.toHost.priorityClasses.enabled=true"])
    assert cfg.sync.to_host.ingresses.enabled is False and cfg.sync.to_host.secrets.all is True
    assert cfg.sync.to_host.priority_classes.enabled is True
    assert text is not None and "priorityClasses" in text
    cfg2, _ = load_values_merged([a], ["sync.toHost.ingresses.enabled=false"])
    assert cfg2.sync.to_host.ingresses.enabled is False
    assert load_values_merged([], [])[1] is None


def test_merged_errors_name_the_source(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: true\n")
    b = tmp_path / "b.yaml"
    b.write_text("# b\nsync:\n  toHost:\n    ingresses:\n      enabled: maybe\n")
    with pytest.raises(CliError, match=rf"{b} line 5: sync\.toHost\.ingresses\.enabled: expected a boolean"):
        load_values_merged([a, b], [])
    with pytest.raises(CliError, match=r"--set sync\.toHost\.ingresses\.enabled=7: sync\.toHost\.ingresses"):
        load_values_merged([a], ["sync.toHost.ingresses.enabled=7"])
    with pytest.raises(
        CliError, match=r"failed parsing --set data 'sync\.toHost': key \"toHost\" has no value"
    ):
        load_values_merged([a], ["sync.toHost"])
    with pytest.raises(CliError, match="not found; check the path given with -f"):
        load_values_merged([a, tmp_path / "missing.yaml"], [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "v", "--expose"], "--expose=true is not supported by this vcluster"),
        (["create", "v", "--chart-repo", "https://example.com"], "--chart-repo is not supported"),
        (["create", "v", "--distro", "k3s"], "--distro k3s is not supported"),
        (
            ["create", "v", "--project", "p"],
            "--project is not supported by this vcluster: there is no vCluster",
        ),
        (["connect", "v", "--local-port", "8443"], "--local-port is not supported"),
        (["connect", "v", "--pod", "v-0"], "--pod is not supported"),
        (["connect", "v", "--cluster-role", "view"], "expected --service-account to be defined as well"),
        (["list", "--driver", "platform"], "--driver is not supported"),
    ],
)
def test_flags_without_meaning_here_fail_by_name(tmp_path: Path, args: list[str], message: str) -> None:
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"), "XDG_DATA_HOME": str(tmp_path / "d")}
    r = CliRunner().invoke(main, args, env=env)
    assert r.exit_code == 1, r.output
    assert message in " ".join(r.stderr.split())
    assert not (tmp_path / "d").exists() and not (tmp_path / "none").exists()


def test_connect_takes_a_command_only_after_double_dash(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"), "XDG_DATA_HOME": str(tmp_path / "d")}
    r = CliRunner().invoke(main, ["connect", "v", "--no-such-flag"], env=env)
    assert r.exit_code == 1 and "No such option '--no-such-flag'" in r.stderr


def test_list_age_is_gos_duration_string() -> None:
    assert [go_duration(s) for s in (0, 45, 277, 3600, 93605)] == ["0s", "45s", "4m37s", "1h0m0s", "26h0m5s"]
