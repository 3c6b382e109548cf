"""An API server run in the test process whose authorizer enforces the bootstrap RBAC policy (the
`vcluster` processes allow every authenticated user), for the authorization tests."""

from __future__ import annotations

from pathlib import Path

from vcluster.apiserver.reviews import Authorizer
from vcluster.apiserver.server import APIServer, ServerConfig

from .conftest import Kubectl
from .loopthread import LoopThread


class StrictServer(LoopThread):
    """An API server in this process whose authorizer enforces the bootstrap RBAC policy."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.srv: APIServer | None = None

    async def _start(self) -> None:
        self.srv = APIServer(ServerConfig(data_dir=self.data_dir, port=0))
        await self.srv.start()
        assert self.srv.authapi is not None
        self.srv.authapi.authorizer = Authorizer(all_authenticated_are_admins=False)

    async def _stop(self) -> None:
        if self.srv is not None:
            await self.srv.stop()


def intruder_token(k: Kubectl) -> str:
    """Against a StrictServer: a pod `target` and a token of the ServiceAccount `intruder`, which
    the bootstrap policy grants nothing."""
    k("create", "serviceaccount", "default")
    k("create", "serviceaccount", "intruder")
    k.apply(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: target\nspec:\n"
        "  containers:\n  - name: main\n    image: app:1\n"
    )
    return k("create", "token", "intruder").strip()
