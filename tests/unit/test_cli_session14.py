"""`vcluster create` input checks that need no host: a missing values file, an external database
that is refused before anything is started."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from vcluster.cli.main import main


def _create(tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"HOME": str(tmp_path), "KUBECONFIG": "", "XDG_DATA_HOME": ""}
    r = CliRunner().invoke(main, ["create", "vc", "-n", "ns", *args], env=env)
    return r.exit_code, r.stderr


def test_a_missing_values_file_is_named_and_nothing_starts(tmp_path: Path) -> None:
    code, err = _create(tmp_path, "-f", str(tmp_path / "nope.yaml"))
    assert (code, err.strip()) == (
        1,
        f"error values file {tmp_path / 'nope.yaml'} not found; check the path given with -f",
    )
    assert not (tmp_path / ".kube").exists() and not (tmp_path / ".local").exists()


def test_a_connector_is_refused_before_a_host_is_started(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        "controlPlane:\n  backingStore:\n    database:\n      external:\n        enabled: true\n"
        "        connector: platform-db\n"
    )
    code, err = _create(tmp_path, "-f", str(values))
    assert code == 1 and "line 6: controlPlane.backingStore.database.external.connector: not supported" in err
    assert not (tmp_path / ".kube").exists() and not (tmp_path / ".local").exists()
