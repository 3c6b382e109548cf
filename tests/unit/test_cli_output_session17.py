"""Session 17: vCluster's global flags (--silent/-s, --debug, --log-output plain|raw|json) on the user
commands, exit code 1 for their usage errors (cobra's), base64 values for `create -f`, and `list -o json`
as vCluster prints it (`null` when empty, four-space indents)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from vcluster.cli import ui
from vcluster.cli.commands import go_indented_json
from vcluster.cli.main import main
from vcluster.cli.ui import CliError, go_time
from vcluster.cli.valuesfile import decode_base64_values, load_values_merged


def run(tmp_path: Path, *args: str) -> Result:
    """The CLI on a machine with no kube context and no state (nothing can start: KUBECONFIG is a
    missing file and the local host is never started by list/describe)."""
    env = {"HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"), "XDG_DATA_HOME": str(tmp_path / "d")}
    return CliRunner().invoke(main, list(args), env=env)


def json_lines(text: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------------- --log-output, --silent, --debug
def test_go_time_is_rfc3339nano() -> None:
    utc = dt.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=dt.UTC)
    assert go_time(utc) == "2026-01-02T03:04:05.12Z"
    assert go_time(utc.replace(microsecond=0)) == "2026-01-02T03:04:05Z"
    plus = dt.datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert go_time(plus) == "2026-01-02T03:04:05.000001+05:30"
    minus = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(-dt.timedelta(hours=2)))
    assert go_time(minus) == "2026-01-02T03:04:05-02:00"


def test_log_output_json_is_loft_logs_line_shape(tmp_path: Path) -> None:
    r = run(tmp_path, "list", "--log-output", "json")
    assert r.exit_code == 0 and r.stdout == ""
    (line,) = json_lines(r.stderr)
    assert list(line) == ["time", "message", "level"]  # loft-sh/log's Line field order
    assert line["level"] == "info" and line["message"].startswith("No vClusters on host context")
    assert dt.datetime.fromisoformat(line["time"].replace("Z", "+00:00")).tzinfo is not None
    # the final error is one fatal line, as log.Fatal writes it
    r = run(tmp_path, "describe", "nope", "-n", "ns", "--log-output=json")
    assert r.exit_code == 1
    (line,) = json_lines(r.stderr)
    assert line["level"] == "fatal" and line["message"].startswith("vCluster nope not found in namespace ns")


def test_log_output_raw_is_the_bare_message(tmp_path: Path) -> None:
    r = run(tmp_path, "--log-output", "raw", "list")  # before the command name, as a persistent flag
    assert r.exit_code == 0
    assert r.stderr.startswith("No vClusters on host context") and "info" not in r.stderr.split()[0]
    r = run(tmp_path, "describe", "nope", "-n", "ns", "--log-output", "raw")
    assert r.exit_code == 1 and r.stderr.startswith("vCluster nope not found")


def test_silent_keeps_only_the_final_error_and_the_data(tmp_path: Path) -> None:
    r = run(tmp_path, "list", "--silent")
    assert (r.exit_code, r.stderr) == (0, "")
    r = run(tmp_path, "-s", "list", "-o", "json")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "null\n", "")
    r = run(tmp_path, "describe", "nope", "-n", "ns", "-s")
    assert r.exit_code == 1 and r.stderr.startswith("error vCluster nope not found")
    # each command line starts from the defaults (the in-process runner keeps module state)
    assert "No vClusters" in run(tmp_path, "list").stderr


def test_debug_shows_debug_messages_and_the_stack_trace(tmp_path: Path) -> None:
    r = run(tmp_path, "list", "--debug")
    assert r.exit_code == 0 and "debug Host kube context vcluster-local-host" in r.stderr
    assert "debug" not in run(tmp_path, "list").stderr
    r = run(tmp_path, "--debug", "describe", "nope", "-n", "ns")
    assert r.exit_code == 1
    assert "Traceback (most recent call last)" in r.stderr and "in require" in r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("error vCluster nope not found")
    # --silent wins over --debug, as in vCluster's root command
    r = run(tmp_path, "list", "--debug", "--silent")
    assert (r.exit_code, r.stderr) == (0, "")
    # nothing is left behind for the next in-process caller
    run(tmp_path, "list", "--debug", "--log-output", "json")
    assert (ui.settings.level, ui.settings.fmt) == (ui.INFO, "plain")
    assert not any(isinstance(h, type(ui._bridge)) for h in logging.getLogger("vcluster").handlers)


# ---------------------------------------------------------------------- usage errors
@pytest.mark.parametrize(
    "args",
    [
        ["list", "--no-such-flag"],
        ["create"],  # missing NAME
        ["host", "up", "--no-such-flag"],
        ["no-such-command"],
        ["list", "--log-output", "yaml"],
        ["connect", "v", "--token-expiration", "x"],
    ],
)
def test_usage_errors_of_vcluster_commands_exit_1(tmp_path: Path, args: list[str]) -> None:
    r = run(tmp_path, *args)
    assert r.exit_code == 1, r.output
    assert "Error:" in r.stderr and not (tmp_path / "d").exists()


def test_usage_errors_in_json_output_are_one_fatal_line(tmp_path: Path) -> None:
    r = run(tmp_path, "list", "--log-output", "json", "--no-such-flag")
    assert r.exit_code == 1
    (line,) = json_lines(r.stderr)
    assert line["level"] == "fatal" and "No such option '--no-such-flag'" in line["message"]


def test_server_commands_keep_clicks_usage_exit_code(tmp_path: Path) -> None:
    r = run(tmp_path, "apiserver", "--no-such-flag")
    assert r.exit_code == 2 and "No such option" in r.stderr
    r = run(tmp_path, "host")  # the foreground host still needs its --data-dir
    assert r.exit_code == 2 and "--data-dir" in r.stderr


# ---------------------------------------------------------------------- base64 values (-f)
def test_decode_base64_values_as_gos_std_encoding() -> None:
    assert decode_base64_values(b64("sync: {}\n")) == "sync: {}\n"
    wrapped = b64("a" * 100)
    assert decode_base64_values(wrapped[:40] + "\n" + wrapped[40:]) == "a" * 100  # line breaks skipped
    assert decode_base64_values(b64("ab").rstrip("=")) is None  # padding is required
    assert decode_base64_values("values.yaml") is None  # '.' is not in the alphabet
    assert decode_base64_values(base64.b64encode(b"\xff\xfe\x00").decode()) is None  # not UTF-8 text
    assert decode_base64_values("") is None


def test_base64_values_are_merged_like_files(tmp_path: Path) -> None:
    one = b64("sync:\n  toHost:\n    ingresses:\n      enabled: true\n")
    cfg, text = load_values_merged([one], [])
    assert cfg.sync.to_host.ingresses.enabled is True
    assert text == "sync:\n  toHost:\n    ingresses:\n      enabled: true\n"  # kept as given
    f = tmp_path / "b.yaml"
    f.write_text("sync:\n  toHost:\n    ingresses:\n      enabled: false\n")
    cfg, _ = load_values_merged([one, str(f)], [])
    assert cfg.sync.to_host.ingresses.enabled is False  # later wins
    cfg, _ = load_values_merged([str(f), one], ["sync.toHost.secrets.all=true"])
    assert cfg.sync.to_host.ingresses.enabled is True and cfg.sync.to_host.secrets.all is True
    with pytest.raises(CliError, match=r"<base64 -f #2> line 3: sync.toHost.nope"):
        load_values_merged([str(f), b64("sync:\n  toHost:\n    nope: 1\n")], [])
    with pytest.raises(CliError, match=r"values file <base64 -f #1> is invalid: YAML syntax error"):
        load_values_merged([b64("sync: [")], [])


def test_an_existing_file_wins_over_base64(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("abcd").write_text("sync:\n  toHost:\n    ingresses:\n      enabled: true\n")  # valid base64 too
    cfg, _ = load_values_merged(["abcd"], [])
    assert cfg.sync.to_host.ingresses.enabled is True
    Path("dir").mkdir()
    with pytest.raises(CliError, match="is a directory"):
        load_values_merged(["dir"], [])


def test_create_refuses_bad_base64_values_before_anything_starts(tmp_path: Path) -> None:
    r = run(tmp_path, "create", "vc", "-n", "ns", "-f", b64("sync:\n  toHost:\n    nope: 1\n"))
    assert r.exit_code == 1 and "<base64 -f #1> line 3: sync.toHost.nope" in " ".join(r.stderr.split())
    assert not (tmp_path / ".kube").exists() and not (tmp_path / "d").exists()


# ---------------------------------------------------------------------- list -o json
def test_list_json_is_gos_marshal_indent() -> None:
    assert go_indented_json([]) == "null"
    row = {"Name": "a", "Connected": False, "AgeSeconds": 3}
    assert go_indented_json([row]) == (
        '[\n    {\n        "Name": "a",\n        "Connected": false,\n        "AgeSeconds": 3\n    }\n]'
    )
