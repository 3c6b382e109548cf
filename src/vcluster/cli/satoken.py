"""`vcluster connect --service-account [NS/]NAME [--cluster-role R] [--token-expiration S]`: a token of a
virtual service account in place of the admin client certificate (vCluster's
pkg/util/serviceaccount.CreateServiceAccountToken)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vcluster.cli import hostctx, ui
from vcluster.client import ApiError, Client, ConnectionFailed, load_kubeconfig
from vcluster.syncer.names import safe_concat_name

# The audiences vCluster asks for, and its "eternal" default of ten years.
AUDIENCES = (
    "https://kubernetes.default.svc.cluster.local",
    "https://kubernetes.default.svc",
    "https://kubernetes.default",
)
DEFAULT_EXPIRATION = 10 * 365 * 24 * 60 * 60


def split_account(ref: str) -> tuple[str, str]:
    """`NS/NAME` → (NS, NAME); a bare NAME lives in kube-system, as in vCluster."""
    if "/" not in ref:
        return "kube-system", ref
    parts = ref.split("/")
    if len(parts) != 2 or not all(parts):
        raise ui.CliError(
            f"unexpected service account reference {ref!r}, "
            "expected ServiceAccountNamespace/ServiceAccountName"
        )
    return parts[0], parts[1]


def binding_name(account: str, namespace: str) -> str:
    """The ClusterRoleBinding vCluster creates for --cluster-role."""
    return safe_concat_name("vcluster", "sa", account, namespace)


async def _ensure_account(client: Client, namespace: str, account: str, cluster_role: str) -> list[str]:
    """The account exists (created with --cluster-role), bound to the cluster role; what was done."""
    done: list[str] = []
    try:
        await client.get("v1", "namespaces", namespace)
    except ApiError as e:
        if e.not_found:
            raise ui.CliError(
                f"namespace {namespace} does not exist in the virtual cluster; create it or name the "
                "service account as NAMESPACE/NAME"
            ) from None
        raise
    try:
        await client.get("v1", "serviceaccounts", account, namespace)
    except ApiError as e:
        if not e.not_found:
            raise
        if not cluster_role:
            raise ui.CliError(
                f"service account {namespace}/{account} does not exist in the virtual cluster; create it, "
                "or pass --cluster-role to have it created and bound"
            ) from None
        body = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": account, "namespace": namespace},
        }
        await client.create("v1", "serviceaccounts", body, namespace)
        done.append(f"Created service account {namespace}/{account}")
    if cluster_role:
        name = binding_name(account, namespace)
        try:
            crb = await client.get("rbac.authorization.k8s.io/v1", "clusterrolebindings", name)
        except ApiError as e:
            if not e.not_found:
                raise
            crb = None
        if crb is not None and (crb.get("roleRef") or {}).get("name") != cluster_role:
            await client.delete("rbac.authorization.k8s.io/v1", "clusterrolebindings", name)
            crb = None
            done.append("Recreate cluster role binding for service account")
        if crb is None:
            body = {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": cluster_role,
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
            }
            await client.create("rbac.authorization.k8s.io/v1", "clusterrolebindings", body)
            done.append(f"Created cluster role binding for cluster role {cluster_role}")
    return done


def create_token(admin_kubeconfig: Path, server: str, ref: str, cluster_role: str, expiration: int) -> str:
    """A TokenRequest for the account (created and bound first with `cluster_role`) through the
    virtual cluster's admin credentials; CliError saying what to fix."""
    namespace, account = split_account(ref)
    seconds = expiration if expiration > 0 else DEFAULT_EXPIRATION
    ui.info(f"Create service account token for {namespace}/{account}")

    async def go() -> tuple[str, list[str]]:
        cfg = load_kubeconfig(admin_kubeconfig)
        client = Client(
            server or cfg.server, config=cfg, user_agent="vcluster-cli", timeout=hostctx.CLIENT_TIMEOUT
        )
        try:
            done = await _ensure_account(client, namespace, account, cluster_role)
            req: dict[str, Any] = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"audiences": list(AUDIENCES), "expirationSeconds": seconds},
            }
            out = await client.create(
                "v1", "serviceaccounts", req, namespace, name=account, subresource="token"
            )
            return str((out.get("status") or {}).get("token") or ""), done
        finally:
            await client.close()

    try:
        token, done = hostctx.run(go)
    except ConnectionFailed as e:
        raise ui.CliError(f"cannot reach the virtual cluster at {server} ({e.message or e})") from None
    except ApiError as e:
        raise ui.CliError(
            f"create service account token: the virtual cluster refused ({e.reason or e.status}: {e.message})"
        ) from None
    for line in done:
        ui.info(line)
    if not token:
        raise ui.CliError("create service account token: the virtual cluster returned no token")
    return token
