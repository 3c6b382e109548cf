"""`vcluster manifests NAME`: the YAML that runs a vCluster inside a real host cluster."""

from __future__ import annotations

from pathlib import Path

import click

from vcluster.cli.globalflags import UserCommand
from vcluster.deploy.manifests import DEFAULT_IMAGE


@click.command("manifests", cls=UserCommand)
@click.argument("name")
@click.option("-n", "--namespace", default=None, help="Host namespace (must exist) [default: vcluster-NAME].")
@click.option(
    "-f",
    "--values",
    "values",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A vcluster.yaml stored in Secret vc-config-NAME for `vcluster start --config`.",
)
@click.option("--image", default=DEFAULT_IMAGE, show_default=True, help="Image built from deploy/Dockerfile.")
@click.option("--storage", default="5Gi", show_default=True, help="Size of the data volume (state.db).")
def manifests(name: str, namespace: str | None, values: Path | None, image: str, storage: str) -> None:
    """Print manifests that run the vCluster as StatefulSet NAME (pod NAME-0, container `syncer`)
    with its RBAC, data volume and Service NAME (443 -> 8443); pipe them to `kubectl apply -f -`."""
    from vcluster.cli import lifecycle
    from vcluster.cli.valuesfile import load_values
    from vcluster.deploy.manifests import render, to_yaml

    lifecycle.validate_name(name)
    ns = namespace or f"vcluster-{name}"
    lifecycle.validate_namespace(ns)
    _, text = load_values(values)
    click.echo(to_yaml(render(name, ns, image=image, values=text, storage=storage)), nl=False)
