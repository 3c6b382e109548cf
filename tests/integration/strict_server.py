"""An API server run in the test process whose authorizer enforces the bootstrap RBAC policy (the
`vcluster` processes allow every authenticated user), for the authorization tests."""

from __future__ import annotations

from pathlib import Path

from vcluster.apiserver.reviews import Authorizer
from vcluster.apiserver.server import APIServer, ServerConfig

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
