"""An API server run in the test process (RBAC enforced, as every server), for the authorization tests
that need it in process."""

from __future__ import annotations

from pathlib import Path

from vcluster.apiserver.server import APIServer, ServerConfig

from .conftest import Kubectl
from .loopthread import LoopThread


class StrictServer(LoopThread):
    """An API server in this process, enforcing RBAC over the bootstrap policy and what tests add."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.srv: APIServer | None = None

    async def _start(self) -> None:
        self.srv = APIServer(ServerConfig(data_dir=self.data_dir, port=0))
        await self.srv.start()

    async def _stop(self) -> None:
        if self.srv is not None:
            await self.srv.stop()


def intruder_token(k: Kubectl) -> str:
    """Against a StrictServer: a pod `target` and a token of the ServiceAccount `intruder`, which may
    read pods (as kubectl exec/attach/port-forward need first) and nothing else."""
    k("create", "serviceaccount", "default")
    k("create", "serviceaccount", "intruder")
    k("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")
    k("create", "rolebinding", "intruder-reads", "--role=pod-reader", "--serviceaccount=default:intruder")
    k.apply(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: target\nspec:\n"
        "  containers:\n  - name: main\n    image: app:1\n"
    )
    return k("create", "token", "intruder").strip()
